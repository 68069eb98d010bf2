"""The template channel: library file, retrieval, substitution, pooled ranking, leakage."""

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure
from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

from core.cli import main
from core.crystal.symmetry import SPACEGROUP_SYMPREC
from core.predict.pipeline import predict_structures
from core.predict.settings import PredictionSettings
from core.templates.library import TemplateLibrary, TemplateLibraryError, load_library
from core.templates.retrieval import retrieve_templates

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mp" / "structures.csv.gz"


def rock_salt(a, b, lattice):
    return Structure.from_spacegroup("Fm-3m", Lattice.cubic(lattice), [a, b], [[0, 0, 0], [0.5, 0.5, 0.5]])


def caesium_chloride(a, b, lattice):
    return Structure(Lattice.cubic(lattice), [a, b], [[0, 0, 0], [0.5, 0.5, 0.5]])


def heusler(x, y, z, lattice):
    return Structure.from_spacegroup("Fm-3m", Lattice.cubic(lattice), [x, y, z],
                                     [[0.25, 0.25, 0.25], [0, 0, 0], [0.5, 0.5, 0.5]])


@pytest.fixture(scope="module")
def small_library():
    structures = [rock_salt("Na", "Cl", 5.64).get_primitive_structure(),
                  caesium_chloride("Cs", "Cl", 4.12),
                  heusler("Cu", "Mn", "Al", 5.95).get_primitive_structure()]
    # the shipped library's volume model: three structures cannot fit one volume per element
    return TemplateLibrary.from_structures(structures, ["mp-22862", "mp-22865", "mp-3574"],
                                           element_volumes=load_library().element_volumes)


def test_rock_salt_template_comes_first_for_kbr(small_library):
    found = retrieve_templates("KBr", z=1, top_k=5, library=small_library)
    assert [c.template_id for c in found] == ["mp-22862", "mp-22865"]
    best = found[0]
    assert best.scorer == "mendeleev" and best.score > found[1].score  # K is nearer Na than Cs on Pettifor's scale
    assert dict(best.mapping) == {"Na": "K", "Cl": "Br"} and best.source == "template mp-22862"
    assert best.structure.composition.reduced_formula == "KBr"
    assert best.wyckoff == "Br 4b, K 4a"


def test_substitution_keeps_the_space_group_and_rescales_the_volume(small_library):
    for formula in ("KBr", "MgO", "CsI"):
        for cand in retrieve_templates(formula, z=1, library=small_library):
            assert SpacegroupAnalyzer(cand.structure, symprec=SPACEGROUP_SYMPREC).get_space_group_number() == cand.spacegroup
            assert cand.structure.volume == pytest.approx(cand.volume)
    kbr = retrieve_templates("KBr", z=1, library=small_library)[0]
    nacl = small_library.structure(0)
    assert kbr.volume > 1.2 * nacl.volume  # K and Br are larger than Na and Cl
    assert kbr.volume == pytest.approx(2 * 36.6, rel=0.1)  # KBr rock salt: a = 6.60 Å, 71.9 Å^3 per primitive cell


def test_an_intermetallic_gets_templates_by_mendeleev_distance(small_library):
    found = retrieve_templates("Ni2MnGa", z=1, library=small_library)
    assert found and found[0].template_id == "mp-3574" and found[0].scorer == "mendeleev"
    assert found[0].spacegroup == 225 and dict(found[0].mapping) == {"Cu": "Ni", "Mn": "Mn", "Al": "Ga"}
    assert retrieve_templates("Ni2MnGa", z=2, library=small_library) == []  # no 8-atom (2,2,4) template


def test_ionic_scorer_uses_substitution_probabilities(small_library):
    found = retrieve_templates("KBr", z=1, library=small_library, scorer="ionic")
    assert {c.scorer for c in found} == {"ionic"} and all(c.score < 0 for c in found)
    assert retrieve_templates("Ni2MnGa", z=1, library=small_library, scorer="auto")[0].scorer == "mendeleev"


def test_excluded_formula_and_space_group_filter(small_library):
    assert [c.template_id for c in retrieve_templates("NaCl", z=1, library=small_library,
                                                      exclude_formulas=("NaCl",))] == ["mp-22865"]
    assert [c.spacegroup for c in retrieve_templates("KBr", z=1, library=small_library, spacegroups=(221,))] == [221]


def test_library_round_trip_and_corrupt_files(small_library, tmp_path):
    path = small_library.save(tmp_path / "lib.npz")
    again = TemplateLibrary.load(path)
    assert list(again.material_ids) == list(small_library.material_ids)
    assert np.allclose(again.frac_coords, small_library.frac_coords, atol=1e-4)
    assert list(again.wyckoffs) == list(small_library.wyckoffs)
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip file at all")
    with pytest.raises(TemplateLibraryError, match="bad.npz: not a readable template library"):
        TemplateLibrary.load(bad)
    with pytest.raises(TemplateLibraryError, match="missing.npz: no such template library"):
        TemplateLibrary.load(tmp_path / "missing.npz")
    small_library.offsets = small_library.offsets.copy()
    broken = TemplateLibrary(**{**small_library.__dict__, "offsets": small_library.offsets[:-1]})
    with pytest.raises(TemplateLibraryError, match="offsets"):
        TemplateLibrary.load(broken.save(tmp_path / "broken.npz"))


def test_shipped_library_loads_and_finds_a_perovskite():
    library = load_library()
    assert len(library) > 30000 and library.meta["licence"].endswith("CC BY 4.0")
    found = retrieve_templates("SrTiO3", z=1, top_k=3)
    assert found[0].spacegroup == 221 and found[0].template_formula != "SrTiO3" or "SrTiO3" in library.formula_set


def test_pooled_ranking_orders_by_energy_and_keeps_the_source(small_library, tmp_path):
    settings = PredictionSettings(top_k=1, n_assignments=1, population=20, generations=20, patience=5,
                                  relax_per_candidate=1, relax_steps=20, prerelax_steps=10, fmax=0.3, jobs=1)
    templates = retrieve_templates("KBr", z=1, library=small_library)
    result = predict_structures("KBr", settings, out_dir=tmp_path / "run", templates=templates)
    energies = [e.energy_per_atom for e in result.ranked]
    assert energies == sorted(energies) and len(result.pool) >= len(result.ranked)
    sources = {e.source for e in result.pool}
    assert "template mp-22862" in sources and any(s.startswith("CMCrystal sg") for s in sources)
    rows = json.loads((tmp_path / "run" / "summary.json").read_text())["structures"]
    assert [r["source"] for r in rows] == [e.source for e in result.ranked]
    for e in result.ranked:
        folder = tmp_path / "run" / e.folder.name
        assert json.loads((folder / "result.json").read_text())["source"] == e.source
        assert (folder / ("template.cif" if e.template is not None else "reconstructed.cif")).is_file()
    header = (tmp_path / "run" / "summary.csv").read_text().splitlines()[0].split(",")
    assert "source" in header and "template_formula" in header


def test_all_metal_runs_cmcrystal_only_without_a_template(small_library):
    settings = PredictionSettings(top_k=1, n_assignments=1, population=20, generations=20, patience=5,
                                  relax=False, jobs=1)
    templates = retrieve_templates("Ni2MnGa", z=1, library=small_library)
    result = predict_structures("Ni2MnGa", settings, templates=templates)
    assert not result.candidates and result.ranked and {e.route for e in result.ranked} == {"templates"}
    assert any("all-metal" in n and "CMCrystal is skipped" in n for n in result.notes)
    # no template: CMCrystal is the only route and runs, saying its map is empty
    alone = predict_structures("Ni2MnGa", settings, templates=[])
    assert alone.candidates and {e.route for e in alone.ranked} == {"contact"}
    assert any("empty by definition" in n for n in alone.notes)
    # the user asks for CMCrystal: it runs
    asked = predict_structures("Ni2MnGa", replace(settings, sources=("contact",)))
    assert asked.candidates and not any("skipped" in n for n in asked.notes)
    # a compound with a non-metal keeps both routes
    kbr = predict_structures("KBr", settings, templates=retrieve_templates("KBr", z=1, library=small_library))
    assert kbr.candidates and {e.route for e in kbr.pool} == {"contact", "templates"}


def test_cli_templates(capsys, tmp_path):
    out = tmp_path / "t.json"
    assert main(["templates", "KBr", "--z", "1", "--top-k", "3", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "Fm-3m (225)" in text and "template mp-" in text
    payload = json.loads(out.read_text())
    assert payload["templates"][0]["spacegroup"] == 225 and "structure" in payload["templates"][0]
    assert main(["templates", "Xx2O"]) == 2
    assert "unknown element 'Xx'" in capsys.readouterr().err
    assert main(["templates", "NaCl", "--z", "11"]) == 2
    assert "up to 20 atoms" in capsys.readouterr().err


@pytest.mark.data
@pytest.mark.skipif(not DATA.exists(), reason="needs ../shared/data")
def test_no_held_out_formula_is_in_the_shipped_library():
    from core.data.formula_split import full_range_split

    split = full_range_split(DATA)
    library = load_library()
    held_out = set(split.validation.formulas.astype(str)) | set(split.test.formulas.astype(str))
    assert not held_out & library.formula_set
    assert library.formula_set == set(split.train.formulas.astype(str))
    sample = sorted(held_out)[:: max(1, len(held_out) // 40)]
    for formula in sample:
        assert all(c.template_formula != formula for c in retrieve_templates(formula, top_k=5))


# ---------------------------------------------------------------- Z census (issue 17: LiFePO4)
def _rocksalt(a: float, species=("Na", "Cl")):
    from pymatgen.core import Lattice, Structure

    return Structure(Lattice.cubic(a), list(species), [[0, 0, 0], [0.5, 0.5, 0.5]])


def test_z_census_counts_known_structures_by_formula_units():
    from core.crystal.composition import parse_formula
    from core.templates import TemplateLibrary
    from core.templates.z_census import z_census

    cells = [_rocksalt(3.0), _rocksalt(3.2, ("K", "Br")), _rocksalt(3.1, ("Na", "F")),
             _rocksalt(3.0) * (2, 1, 1), _rocksalt(3.3, ("K", "I")) * (2, 1, 1), _rocksalt(3.1, ("Rb", "Cl")) * (1, 1, 3)]
    library = TemplateLibrary.from_structures(cells, [f"mp-{k}" for k in range(len(cells))])
    census = z_census(parse_formula("LiF"), library, data_max_atoms=6)
    assert census.anonymous_formula == "AB" and census.atoms_per_formula_unit == 2
    assert census.counts == {1: 3, 2: 2, 3: 1} and census.total == 6
    assert census.common == [1, 2]  # Z = 3 holds 1 of 6, under the 25 % that makes a Z common
    assert census.largest_z_in_data == 3
    assert z_census(parse_formula("CaF2"), library, 6).counts == {} and z_census(parse_formula("CaF2"), library, 6).common == []


def test_cell_size_note_names_the_limits_for_lifepo4():
    """LiFePO4 (olivine: Z = 4, 28 atoms) must not run without a word: the training
    data's ABCD4 cells are mostly Z = 2, the largest MP-20 holds (automatic Z proposes
    it: cells up to 20 atoms)."""
    from core.crystal.composition import MP20_MAX_ATOMS, parse_formula
    from core.predict.scope import automatic_z_max_atoms, cell_size_note
    from core.predict.settings import PredictionSettings

    note = cell_size_note(parse_formula("LiFePO4"), PredictionSettings())
    assert note is not None and note.startswith("LiFePO4: of the ")
    assert "ABCD4" in note and "have Z = 2 (14 atoms)" in note
    assert f"{MP20_MAX_ATOMS}-atom limit" in note
    assert ("limit of automatic Z" in note) is (automatic_z_max_atoms() < 14)  # 20 with the 20-atom models
    assert cell_size_note(parse_formula("LiFePO4"), PredictionSettings(z=1)) is None  # the user chose Z
    assert cell_size_note(parse_formula("NaCl"), PredictionSettings()) is None
    templates_only = cell_size_note(parse_formula("LiFePO4"), PredictionSettings(sources=("templates",)))
    assert "contact-map" not in templates_only and f"{MP20_MAX_ATOMS}-atom limit" in templates_only


def test_predict_says_the_cell_size_note_before_work_starts(monkeypatch, capsys, tmp_path):
    import core.predict.pipeline
    from core.cli import main

    def stop(*args, **kwargs):
        print("WORK STARTS")
        raise core.predict.settings.PredictionError("stopped by the test")

    monkeypatch.setattr(core.predict.pipeline, "predict_structures", stop)
    assert main(["predict", "LiFePO4", "--out", str(tmp_path / "out")]) == 2
    out = capsys.readouterr().out
    assert out.index("note: LiFePO4: of the ") < out.index("WORK STARTS")


def _distorted_rock_salt_supercell() -> Structure:
    """A 12-atom NaCl cell (mp-1120767's coordinates): P-62m at 0.01 Å, but within 0.1 Å of a
    4-atom P6_3/mmc cell."""
    cl = [(0, 0, 0.750916), (0, 0, 0.249084), (0.666672, 0.333328, 0.749557), (0.666672, 0.333328, 0.250443),
          (0.333328, 0.666672, 0.749557), (0.333328, 0.666672, 0.250443)]
    na = [(0, 0.336578, 0), (0.663422, 0.663422, 0), (0.336578, 0, 0), (0, 0.669205, 0.5), (0.669205, 0, 0.5),
          (0.330795, 0.330795, 0.5)]
    return Structure(Lattice.hexagonal(6.799634, 7.094838), ["Cl"] * 6 + ["Na"] * 6, cl + na)


def test_a_templates_orbits_add_up_to_its_own_cell():
    """A cell that is a distorted superstructure at 0.1 Å is labelled at the tolerance it was found
    at: its group and Wyckoff orbits describe its 12 atoms (Z = 6), not the 4-atom cell of P6_3/mmc
    (which read 'Cl 2a, 2a, 2a' for six chlorine atoms). An ordinary cell keeps the 0.1 Å labels."""
    from core.crystal.symmetry import cell_wyckoff_letters as template_labels

    cell = _distorted_rock_salt_supercell()
    numbers = np.array([site.specie.Z for site in cell])
    group, letters = template_labels(cell.lattice.matrix, cell.frac_coords, numbers)
    # P-62m: Cl 2e + 4h, Na 3f + 3g; the 0.1 Å rule gave P6_3/mmc with 'a' (a 2-fold fixed site) six times
    assert (group, letters) == (189, ["e", "e", "h", "h", "h", "h", "f", "f", "f", "g", "g", "g"])
    rock_salt = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"],
                                          [[0, 0, 0], [0.5, 0.5, 0.5]]).get_primitive_structure()
    assert template_labels(rock_salt.lattice.matrix, rock_salt.frac_coords, np.array([11, 17]))[0] == 225


def test_a_formula_withheld_from_the_templates_says_so(capsys):
    """`templates TiO2` put baddeleyite-type HfO2 first without a word that rutile and anatase, TiO2's own
    structures, are withheld (TiO2 is a test formula): every command that proposes structures says so."""
    from core.cli import main
    from core.crystal.composition import parse_formula
    from core.predict.scope import _reference_partitions, held_out_note

    if _reference_partitions().get("TiO2") != "test":
        pytest.skip("the shipped reference phases are not here")
    assert "TiO2 is one of the formulas withheld from the template library" in held_out_note(parse_formula("TiO2"))
    assert held_out_note(parse_formula("NaCl")) is None  # a training formula
    assert "Fe is one of the formulas withheld" in held_out_note(parse_formula("Fe"))  # an element: no bcc template
    assert held_out_note(parse_formula("W")) is None  # an element the library holds
    assert held_out_note(parse_formula("Xe3Cl17")) is None  # not in the data
    for command in (["templates", "TiO2"], ["contact-map", "TiO2"]):
        assert main(command) == 0
        assert "note: TiO2 is one of the formulas withheld" in capsys.readouterr().out
