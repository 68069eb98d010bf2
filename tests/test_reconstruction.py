"""CMCrystal reconstruction: symmetry-correct decoding, vectorised fitness against the
foundation's contact maps, GA runs that recover textbook structures, cancellation,
the parallel runner, evaluation and CLI."""

import json

import numpy as np
import pytest
import spglib
from conftest import FIXTURES, nacl, rutile, wurtzite
from pymatgen.core import Lattice, Structure

from core.cli import main
from core.contact.contact_map import compute_contact_map, contact_counts
from core.crystal.elements import atomic_numbers
from core.crystal.matching import structure_match
from core.errors import AlphaCrystalError
from core.reconstruction import (
    CancelToken,
    GASettings,
    enumerate_assignments,
    escalate,
    oracle_target,
    plan_jobs,
    run_job,
)
from core.reconstruction.assignments import Assignment
from core.reconstruction.evaluation import evaluate_reconstruction, merge
from core.reconstruction.fitness import ContactFitness
from core.reconstruction.genome import Decoder
from core.reconstruction.inputs import target_from_dict
from core.reconstruction.job import ReconstructionResult
from core.reconstruction.runner import run_jobs

CASES = [  # (space group, species, orbits, conventional lattice)
    (225, ("Na", "Cl"), (("4a",), ("4b",)), (5.64, 5.64, 5.64, 90, 90, 90)),
    (136, ("Ti", "O"), (("2a",), ("4f",)), (4.59, 4.59, 2.96, 90, 90, 90)),
    (62, ("Ca", "Si", "O"), (("4c",), ("4c",), ("4c", "8d")), (5.5, 3.9, 10.2, 90, 90, 90)),
    (166, ("Bi", "Se"), (("6c",), ("3a", "6c")), (4.14, 4.14, 28.6, 90, 90, 120)),
    (12, ("Al", "O"), (("4i",), ("4i", "4i")), (11.8, 2.9, 5.6, 90, 104, 90)),
    (191, ("Mg", "B"), (("1a",), ("6l",)), (6.1, 6.1, 3.5, 90, 90, 120)),
    (14, ("Ag", "F"), (("2a",), ("4e",)), (3.7, 5.1, 6.0, 90, 122.8, 90)),
    # MP-20's range: 20 atoms (CaTiO3 perovskite, Pnma) and 14 (MgAl2O4 spinel, centred Fd-3m)
    (62, ("Ca", "Ti", "O"), (("4c",), ("4b",), ("4c", "8d")), (5.44, 7.64, 5.38, 90, 90, 90)),
    (227, ("Mg", "Al", "O"), (("8a",), ("16d",), ("32e",)), (8.08, 8.08, 8.08, 90, 90, 90)),
]


def _decoder(sg, species, orbits, lattice):
    from core.reconstruction.assignments import orbit_dof

    dof = sum(orbit_dof(sg, lab) for o in orbits for lab in o)
    return Decoder(Assignment(sg, species, orbits, dof), lattice)


@pytest.mark.parametrize("sg, species, orbits, lattice", CASES)
def test_decoding_keeps_the_space_group(sg, species, orbits, lattice):
    decoder = _decoder(sg, species, orbits, lattice)
    rng = np.random.default_rng(sg)
    genes = rng.random((8, decoder.n_genes))
    frac, lat = decoder.frac_coords(genes), decoder.lattice_matrices(genes)
    from pyxtal.symmetry import Group

    from core.crystal.spacegroups import centring_points

    group = Group(sg)
    expected_atoms = sum(int(lab[:-1]) for o in orbits for lab in o) // centring_points(sg)
    point_ops = group[0].multiplicity // centring_points(sg)
    numbers = atomic_numbers(decoder.species)
    exact = 0
    for f, m in zip(frac, lat):
        assert len(f) == expected_atoms  # primitive cell of a centred group: centring copies dropped
        ops = spglib.get_symmetry((m, f, numbers), symprec=1e-4)
        assert len(ops["rotations"]) >= point_ops  # the given group, or a supergroup
        exact += spglib.get_spacegroup((m, f, numbers), symprec=1e-4).endswith(f"({sg})")
    assert exact >= 6  # generic genomes keep exactly the given group


def test_coupled_coordinates_stay_coupled():
    decoder = _decoder(136, ("Ti", "O"), (("2a",), ("4f",)), (4.59, 4.59, 2.96, 90, 90, 90))
    assert decoder.n_genes == 1  # (x, x, 0): one gene, not two
    frac = decoder.frac_coords(np.array([[0.3]]))[0]
    o = frac[np.array(decoder.species) == "O"]
    assert any(np.allclose(p, [0.3, 0.3, 0.0]) for p in o)


def _cuzn_b2() -> Structure:
    return Structure(Lattice.cubic(2.95), ["Cu", "Zn"], [[0, 0, 0], [0.5, 0.5, 0.5]])


def _mgcu2_laves() -> Structure:
    """MgCu2 (C15 Laves phase, Fd-3m, a = 7.04 Å), conventional cell."""
    return Structure.from_spacegroup(227, Lattice.cubic(7.04), ["Mg", "Cu"], [[0.125] * 3, [0.5] * 3])


INTERMETALLICS = {"CuZn": _cuzn_b2, "MgCu2": _mgcu2_laves}


@pytest.mark.parametrize("name, rule", [(n, "paper") for n in sorted(FIXTURES)]
                         + [(n, r) for n in sorted({**FIXTURES, **INTERMETALLICS}) for r in ("metallic",)]
                         + [(n, "paper") for n in sorted(INTERMETALLICS)])
def test_vectorised_contacts_equal_the_foundation(name, rule):
    structure = {**FIXTURES, **INTERMETALLICS}[name]()
    cells = [structure]
    for k in range(4):  # perturbed, compressed and expanded copies: bonds, short contacts, none
        s = structure.copy()
        s.perturb(0.3 * k, 0.0, seed=k)
        s.scale_lattice(s.volume * (0.85 + 0.1 * k))
        cells.append(s)
    species = [site.specie.symbol for site in structure]
    fit = ContactFitness(species, np.zeros((len(species), len(species))), rule=rule)
    frac = np.array([c.frac_coords for c in cells])
    lat = np.array([c.lattice.matrix for c in cells])
    maps, n_valid, n_short, _ = fit.contacts(frac, lat)
    for c, m, nv, ns in zip(cells, maps, n_valid, n_short):
        ref = contact_counts(c.lattice.matrix, c.frac_coords, atomic_numbers(species), rule=rule)
        assert np.array_equal(m, ref.bonded) and nv == ref.n_valid_bonds and ns == ref.n_short_contacts


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_fitness_is_one_on_the_true_structure_and_permutation_invariant(name):
    structure = FIXTURES[name]()
    from core.crystal.symmetry import primitive_cell

    cell = primitive_cell(structure)
    cmap = compute_contact_map(cell)
    frac = cell.frac_coords[cmap.order]
    fit = ContactFitness(list(cmap.species), cmap.matrix)
    ev = fit.evaluate(frac[None], cell.lattice.matrix[None])
    assert ev.fitness[0] == pytest.approx(1.0) and ev.dice[0] == pytest.approx(1.0)
    # shuffling same-element atoms changes nothing
    rng = np.random.default_rng(0)
    perm = np.arange(len(frac))
    for el in set(cmap.species):
        idx = np.flatnonzero(np.array(cmap.species) == el)
        perm[idx] = rng.permutation(idx)
    ev2 = fit.evaluate(frac[perm][None], cell.lattice.matrix[None])
    assert ev2.dice[0] == pytest.approx(1.0)


@pytest.mark.parametrize("name", ["TiO2", "SrTiO3"])
def test_any_structure_is_scored_against_a_map_in_any_site_order(name):
    from core.crystal.symmetry import primitive_cell
    from core.reconstruction.fitness import score_structure

    cell = primitive_cell(FIXTURES[name]())
    cmap = compute_contact_map(cell)
    shuffled = Structure.from_sites([cell[i] for i in np.random.default_rng(1).permutation(len(cell))])
    ev = score_structure(shuffled, list(cmap.species), cmap.matrix)
    assert ev.fitness[0] == pytest.approx(1.0) and ev.dice[0] == pytest.approx(1.0)
    apart = shuffled.copy()
    apart.scale_lattice(shuffled.volume * 3.0)  # every distance x1.44: no bond left in the window
    ev = score_structure(apart, list(cmap.species), cmap.matrix)
    assert ev.dice[0] == pytest.approx(0.0) and ev.fitness[0] == pytest.approx(0.0)
    with pytest.raises(AlphaCrystalError, match="not the map's"):
        score_structure(shuffled, ["Ti"] * len(shuffled), cmap.matrix)


def test_matched_dice_beats_positional_dice():
    species = ["Na", "Na", "Cl", "Cl"]
    target = np.array([[0, 0, 1, 0], [0, 0, 0, 1], [1, 0, 0, 0], [0, 1, 0, 0]])
    swapped = target[[1, 0, 2, 3]][:, [1, 0, 2, 3]]  # same map with the two Na swapped
    fit = ContactFitness(species, target)
    assert fit.matched_overlap(swapped[None].astype(np.uint8))[0] == target.sum()


def test_assignments_are_ranked_by_the_prior():
    from core.reconstruction.assignments import prior_cost, prototype_count, prototype_key

    found = enumerate_assignments(136, {"Ti": 2, "O": 4})
    keys = [(prototype_count(a) == 0, round(prior_cost(a), 9)) for a in found]
    assert found and keys == sorted(keys)  # occupations seen in training first, then by the prior
    assert prototype_key(136, [["2a"], ["4f"]]) == prototype_key(136, [["4f"], ["2a"]]) == "136|a;f"
    assert prototype_count(found[0]) > 0
    assert any(a.orbits == (("2a",), ("4f",)) for a in found[:3])  # rutile's own assignment ranks high
    assert enumerate_assignments(225, {"Na": 1, "Cl": 1})[0].dof == 0
    # assignments without free parameters are always tried, beyond the top N
    jobs = plan_jobs(oracle_target(rutile()), n_assignments=1)
    assert len(jobs) > 1 and all(j.assignment.dof == 0 for j in jobs[1:])
    # the window groups fitness curves by candidate: every id names its target (job_target)
    from dataclasses import replace

    from core.reconstruction.job import job_target

    named = replace(oracle_target(rutile()), name="sg136-z2")
    ids = [j.job_id for j in plan_jobs(named, n_assignments=2, restarts=2)]
    assert ids and {job_target(i) for i in ids} == {"sg136-z2"} and job_target("other") == "other"
    with pytest.raises(AlphaCrystalError):
        plan_jobs(target_from_dict({"species": ["Na", "Cl"], "spacegroup": 230, "lattice": [5, 5, 5, 90, 90, 90],
                                    "contact_map": [[0, 1], [1, 0]]}))


@pytest.mark.parametrize("builder, assignments", [(nacl, 1), (rutile, 3), (wurtzite, 3)])
def test_seeded_run_recovers_the_structure(builder, assignments):
    structure = builder()
    target = oracle_target(structure)
    results = [run_job(j) for j in plan_jobs(target, assignments, settings=GASettings(generations=150))]
    best = max(results, key=lambda r: r.fitness)
    assert best.fitness == pytest.approx(1.0)
    assert structure_match(best.structure, structure).matched


def test_runs_are_reproducible():
    target = oracle_target(wurtzite())
    job = plan_jobs(target, 1, settings=GASettings(generations=30, patience=5))[0]
    a, b = run_job(job), run_job(job)
    assert a.fitness == b.fitness and np.allclose(a.structure.frac_coords, b.structure.frac_coords)


def test_cancellation_stops_within_one_generation():
    target = oracle_target(wurtzite())
    job = next(j for j in plan_jobs(target, 4, settings=GASettings(generations=1000))
               if j.assignment.orbits == (("2a",), ("2a",)))  # never reaches fitness 1
    token = CancelToken()
    seen = []

    def progress(state):
        seen.append(state.generation)
        if state.generation == 5:
            assert len(state.best_structure) == 4 and state.mean_fitness <= state.best_fitness
            token.cancel()

    result = run_job(job, progress, token)
    assert result.cancelled and result.generations <= 6 and max(seen) <= 6


def test_parallel_runner_matches_sequential():
    target = oracle_target(rutile())
    jobs = plan_jobs(target, 4, settings=GASettings(generations=20, patience=3))
    seen = []
    parallel = run_jobs(jobs, workers=2, progress=lambda jid, info: seen.append(jid))
    sequential = run_jobs(jobs, workers=1)
    assert [r.job_id for r in parallel] == [j.job_id for j in jobs]
    assert [r.fitness for r in parallel] == [r.fitness for r in sequential]
    assert set(seen) <= {j.job_id for j in jobs} and seen


def _result(job, fitness, cancelled=False):
    return ReconstructionResult(job.job_id, wurtzite(), fitness, fitness, 1.0, 4, 0, job.assignment, (3.2,) * 3,
                                10, 1000, 0.1, cancelled, assignment_rank=job.assignment_rank)


def test_escalation_adds_lower_ranked_assignments_only_when_no_run_reaches_fitness_one():
    target = oracle_target(rutile())
    first = plan_jobs(target, 2)
    failed = [_result(j, 0.8) for j in first]
    more = escalate(target, failed, 2, 8)
    every = enumerate_assignments(target.spacegroup, target.species_counts)
    expected = [k for k, a in enumerate(every[:8]) if k >= 2 and a.dof]
    assert [j.assignment_rank for j in more] == expected  # dof-0 ones already ran in the first call
    assert all(j.assignment == every[j.assignment_rank] for j in more)
    assert not {j.job_id for j in more} & {j.job_id for j in first}
    assert escalate(target, failed[:1] + [_result(first[1], 1.0)], 2, 8) == []  # one run reached fitness 1
    assert escalate(target, [_result(first[0], 0.8, cancelled=True)], 2, 8) == []  # the user stopped it
    assert escalate(target, failed, 2, 2) == []  # nothing further to try


def test_evaluation_keys():
    result = evaluate_reconstruction([("nacl", nacl()), ("zno", wurtzite())], n_assignments=4,
                                     settings=GASettings(generations=100), workers=1)
    for key in ("n", "match_rate", "dice_mean", "rmsd_mean", "mae_mean", "evals_per_s_per_core",
                "seconds_per_structure"):
        assert key in result
    assert result["n"] == 2 and result["match_rate"] == 1.0
    assert result["escalated"] == 0  # both reach fitness 1 with their first assignments
    json.dumps(result)

    # two disjoint samples merged give the joint run's figures (seeds depend on the structure only)
    parts = [evaluate_reconstruction([item], n_assignments=4, settings=GASettings(generations=100), workers=1)
             for item in (("nacl", nacl()), ("zno", wurtzite()))]
    merged = merge([json.loads(json.dumps(p)) for p in parts])
    for key in ("n", "match_rate", "dice_mean", "fitness_1_fraction", "rmsd_mean", "mae_mean", "escalated",
                "settings"):
        assert merged[key] == pytest.approx(result[key]) if isinstance(result[key], float) else \
            merged[key] == result[key], key
    def timeless(rows: list[dict]) -> str:  # JSON text: NaN (a 2-atom cell's RMSD) compares equal
        return json.dumps([{k: v for k, v in row.items() if k != "seconds"} for row in rows])

    assert timeless(merged["structures"]) == timeless(result["structures"])
    with pytest.raises(ValueError, match="more than one evaluation: nacl"):
        merge([parts[0], parts[0]])
    with pytest.raises(ValueError, match="different settings"):
        merge([parts[0], {**parts[1], "settings": {**parts[1]["settings"], "generations": 7}}])
    with pytest.raises(ValueError, match="different settings"):  # the contact rule is a setting too
        merge([parts[0], {**parts[1], "settings": {**parts[1]["settings"], "rule": "metallic"}}])
    pool = {"data": "a.csv", "split": "test", "max_atoms": 20, "min_atoms": 13, "compositions": "any", "seed": 0}
    with pytest.raises(ValueError, match="different pools"):
        merge([{**parts[0], "sample": pool | {"n": 1}}, {**parts[1], "sample": pool | {"min_atoms": 1, "n": 1}}])
    both = merge([{**parts[0], "sample": pool | {"n": 1, "exclude_from": []}},
                  {**parts[1], "sample": pool | {"n": 1, "exclude_from": ["first.json"]}}])
    assert both["sample"] == pool | {"n": 2}
    with pytest.raises(ValueError, match="more than one evaluation: 7"):  # ids may be numbers; skipped count
        merge([{**parts[0], "skipped": [{"id": 7, "reason": "x"}]}, {**parts[1], "skipped": [{"id": 7, "reason": "x"}]}])


def test_target_json_errors():
    with pytest.raises(AlphaCrystalError, match="missing key"):
        target_from_dict({"formula": "NaCl"})
    with pytest.raises(AlphaCrystalError, match="2x2"):
        target_from_dict({"formula": "NaCl", "z": 1, "spacegroup": 225, "lattice": [5.6] * 3 + [90] * 3,
                          "contact_map": [[0]]})
    with pytest.raises(AlphaCrystalError, match=r"must hold 0 and 1 only \(row 1 has 2\)"):
        target_from_dict({"formula": "NaCl", "z": 1, "spacegroup": 225, "lattice": [5.6] * 3 + [90] * 3,
                          "contact_map": [[0, 2], [1, 0]]})
    with pytest.raises(AlphaCrystalError, match=r"must be symmetric \(row 1 differs from column 1\)"):
        target_from_dict({"formula": "NaCl", "z": 1, "spacegroup": 225, "lattice": [5.6] * 3 + [90] * 3,
                          "contact_map": [[0, 0], [1, 0]]})
    # a symbol of another setting names its group, but a lattice in that setting's axes is another cell
    with pytest.raises(AlphaCrystalError, match=r"spacegroup 'P2_1/n' is group 14 in a non-standard setting; the "
                                                r"lattice is read in the standard setting P2_1/c"):
        target_from_dict({"formula": "NaCl", "z": 2, "spacegroup": "P2_1/n", "lattice": [5.6, 5.7, 5.8, 90, 91.2, 90],
                          "contact_map": [[0, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0]]})
    # contact-map FILE --json is not a target: said so, with what to do (a new user's trial)
    with pytest.raises(AlphaCrystalError, match=r"output of contact-map FILE --json: reconstruct rutile.cif itself"):
        target_from_dict({"file": "rutile.cif", "formula": "TiO2", "spacegroup_number": 136, "matrix": [[0]]})
    # a lattice by name is read by name; anything else says what a lattice is
    named = {"a": 5.6, "b": 5.6, "c": 5.6, "alpha": 90, "beta": 90, "gamma": 90}
    target = target_from_dict({"formula": "NaCl", "z": 1, "spacegroup": 225, "lattice": named,
                               "contact_map": [[0, 1], [1, 0]]})
    assert target.lattice == (5.6, 5.6, 5.6, 90.0, 90.0, 90.0)
    with pytest.raises(AlphaCrystalError, match="lattice given by name lacks gamma"):
        target_from_dict({"formula": "NaCl", "z": 1, "spacegroup": 225, "contact_map": [[0, 1], [1, 0]],
                          "lattice": {k: v for k, v in named.items() if k != "gamma"}})
    with pytest.raises(AlphaCrystalError, match=r"lattice must be six numbers .* got \['a', 5.6\]"):
        target_from_dict({"formula": "NaCl", "z": 1, "spacegroup": 225, "lattice": ["a", 5.6],
                          "contact_map": [[0, 1], [1, 0]]})
    with pytest.raises(AlphaCrystalError, match=r"contact_map has 1 on its diagonal \(row 1\)"):
        target_from_dict({"formula": "NaCl", "z": 1, "spacegroup": 225, "lattice": named,
                          "contact_map": [[1, 1], [1, 0]]})
    # a space-group symbol, as --spacegroup takes it (it was refused: "must be a number 1-230")
    for given in ("Fm-3m", "fm3m", "225", 225.0):
        assert target_from_dict({"formula": "NaCl", "z": 1, "spacegroup": given, "lattice": named,
                                 "contact_map": [[0, 1], [1, 0]]}).spacegroup == 225
    for bad in ("Xy-9", 231, True, [225]):
        with pytest.raises(AlphaCrystalError, match="spacegroup must be a number 1-230 or a symbol"):
            target_from_dict({"formula": "NaCl", "z": 1, "spacegroup": bad, "lattice": named,
                              "contact_map": [[0, 1], [1, 0]]})


def test_cli_reconstruct_oracle_and_json(tmp_path, capsys):
    cif = tmp_path / "rutile.cif"
    rutile().to(filename=str(cif))
    out = tmp_path / "out"
    report = tmp_path / "r.json"
    assert main(["reconstruct", str(cif), "--out", str(out), "--assignments", "8", "--generations", "100",
                 "--jobs", "1", "--json", str(report)]) == 0
    payload = json.loads(report.read_text())
    assert payload["results"][0]["fitness"] == pytest.approx(1.0) and payload["results"][0]["matches_input"]
    assert (out / "rutile-rank1-sg136.cif").exists()
    from core.crystal.symmetry import space_group_or_p1

    for row in payload["results"]:  # each file is named by its structure's own group (a rank 2 of I4/mmm
        own = space_group_or_p1(Structure.from_file(row["cif"]))[0]  # was once "-sg136")
        assert row["cif"].endswith(f"-sg{own}.cif") and row["structure_spacegroup"] == own
    spec = {"formula": "NaCl", "z": 1, "spacegroup": 225, "lattice": [5.64, 5.64, 5.64, 90, 90, 90],
            "contact_map": [[0, 1], [1, 0]], "name": "nacl"}
    inp = tmp_path / "nacl.json"
    inp.write_text(json.dumps(spec))
    assert main(["reconstruct", str(inp), "--out", str(out), "--jobs", "1"]) == 0
    s = Structure.from_file(str(out / "nacl-rank1-sg225.cif"))
    assert structure_match(s, Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"],
                                                        [[0, 0, 0], [0.5, 0.5, 0.5]])).matched
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert main(["reconstruct", str(bad)]) == 2
    assert "bad.json" in capsys.readouterr().err
    # a re-run into the same folder neither replaces the user's (edited) files nor mixes two runs
    edited = out / "nacl-rank1-sg225.cif"
    edited.write_text(edited.read_text() + "# my note\n")
    (out / "nacl-rank3-sg225.cif").write_text("an earlier run's third\n")
    capsys.readouterr()
    assert main(["reconstruct", str(inp), "--out", str(out), "--jobs", "1", "--keep", "1"]) == 2
    assert "already holds nacl-rank1-sg225.cif" in capsys.readouterr().err
    assert edited.read_text().endswith("# my note\n")
    assert main(["reconstruct", str(inp), "--out", str(out), "--jobs", "1", "--keep", "1", "--overwrite"]) == 0
    assert "replaced 2 files of an earlier reconstruction of nacl" in capsys.readouterr().out
    assert sorted(p.name for p in out.glob("nacl-*")) == ["nacl-rank1-sg225.cif"]
    assert "# my note" not in edited.read_text()
    # a cell no structure fits is refused before any run (it ran the GA for minutes, every run broken):
    # --overwrite removes nothing, the earlier files stay
    tiny = tmp_path / "tiny.json"
    tiny.write_text(json.dumps({"species": ["Na", "Cl"], "spacegroup": 221, "lattice": [0.55] * 3 + [90] * 3,
                                "contact_map": [[0, 1], [1, 0]], "name": "nacl"}))
    assert main(["reconstruct", str(tiny), "--out", str(out), "--jobs", "1", "--overwrite"]) == 2
    assert "no structure fits it" in capsys.readouterr().err
    assert sorted(p.name for p in out.glob("nacl-*")) == ["nacl-rank1-sg225.cif"]
    # without a name the files are named by the formula, never "-rank1-..."
    inp.write_text(json.dumps({k: v for k, v in spec.items() if k != "name"}))
    assert main(["reconstruct", str(inp), "--out", str(tmp_path / "unnamed"), "--jobs", "1", "--keep", "1"]) == 0
    assert [p.name for p in (tmp_path / "unnamed").iterdir()] == ["NaCl-rank1-sg225.cif"]
    # the output of contact-map --json feeds in once a space group and a lattice are added
    assert main(["contact-map", "NaCl", "--z", "1", "--json", str(tmp_path / "map.json")]) == 0
    mapped = json.loads((tmp_path / "map.json").read_text())
    (tmp_path / "map.json").write_text(json.dumps(mapped))
    assert main(["reconstruct", str(tmp_path / "map.json"), "--out", str(tmp_path / "m")]) == 2
    assert "needs a space group and a lattice added" in capsys.readouterr().err
    (tmp_path / "map.json").write_text(json.dumps({**mapped, "spacegroup": 225, "lattice": spec["lattice"]}))
    assert main(["reconstruct", str(tmp_path / "map.json"), "--out", str(tmp_path / "m"), "--jobs", "1"]) == 0
    assert (tmp_path / "m" / "NaCl-rank1-sg225.cif").exists()
    # a structure of higher symmetry than the group it was built in says so (two Na on 4a and 4b of Fm-3m
    # are a primitive cubic cell of half the edge)
    inp.write_text(json.dumps({"species": ["Na", "Na"], "spacegroup": 225, "lattice": [4.2, 4.2, 4.2, 90, 90, 90],
                               "contact_map": [[0, 0], [0, 0]]}))
    assert main(["reconstruct", str(inp), "--out", str(tmp_path / "na"), "--jobs", "1"]) == 0
    assert "(built in group 225; the structure's own group is Pm-3m (221))" in capsys.readouterr().out
    # a lattice that does not fit the group's crystal system is an error, not silently changed
    inp.write_text(json.dumps({**spec, "spacegroup": 186, "lattice": [3.25, 3.25, 5.2, 90, 90, 90]}))
    assert main(["reconstruct", str(inp), "--out", str(tmp_path / "hex"), "--jobs", "1"]) == 2
    err = capsys.readouterr().err
    assert "does not fit space group 186 (hexagonal); give hexagonal axes (a = b, α = β = 90°, γ = 120°" in err
    assert not (tmp_path / "hex").exists()


def test_vectorised_lattice_matrices_equal_pymatgen():
    from core.reconstruction.genome import conventional_matrices

    params = np.array([[4.0, 5.0, 6.0, 80.0, 104.0, 95.0], [3.0, 3.0, 9.0, 90.0, 90.0, 120.0]])
    for row, m in zip(params, conventional_matrices(params)):
        assert np.allclose(m, Lattice.from_parameters(*row).matrix)
    decoder = _decoder(136, ("Ti", "O"), (("2a",), ("4f",)), (4.59, 4.59, 2.96, 90, 90, 90))
    strained = Decoder(decoder.assignment, decoder.params, max_strain=0.1)
    assert strained.n_genes == 3  # x of 4f + strain of a (= b) + strain of c
    p = strained.lattice_params(np.array([[0.3, 1.0, -1.0]]))[0]
    assert p[0] == p[1] == pytest.approx(4.59 * 1.1) and p[2] == pytest.approx(2.96 * 0.9)


def test_stalled_run_stops_early():
    target = oracle_target(wurtzite())
    settings = GASettings(generations=1000, patience=10**6, stall=25)
    job = next(j for j in plan_jobs(target, 4, settings=settings)
               if j.assignment.orbits == (("2a",), ("2a",)))  # never reaches fitness 1
    history = run_job(job).history
    best = [b for b, _ in history]
    assert len(history) < 1000
    last_gain = max((k for k in range(1, len(best)) if best[k] > best[k - 1] + 1e-9), default=0)
    assert len(history) - 1 - last_gain >= 25  # it waited the full stall window after the last gain


def test_energy_ranked_evaluation_relaxes_results_and_the_truth():
    from core.relax.relaxer import RelaxSettings

    result = evaluate_reconstruction([("nacl", nacl())], n_assignments=3, settings=GASettings(generations=50),
                                     workers=1, relax=RelaxSettings(steps=20, fmax=0.2), relax_top=2)
    row = result["structures"][0]
    assert row["relaxed"] >= 1 and row["matched_energy"] and row["matched_any_relaxed"]
    assert np.isfinite(row["energy"]) and np.isfinite(row["true_energy"])
    assert result["match_rate_energy"] == 1.0 and result["energy_misses"] == 0
    json.dumps(result)


def test_assignment_without_free_coordinates_costs_one_generation():
    """NaCl on 4a/4b: the atoms cannot move, only the cell's lengths (strain genes): one
    generation of strains is scored, not a stall budget of flat generations."""
    target = oracle_target(nacl())
    target = type(target)(**{**target.__dict__, "lattice": tuple(v * (1.15 if k < 3 else 1) for k, v in
                                                                  enumerate(target.lattice))})  # 15 % too large: no bond
    settings = GASettings(population=40, generations=1000, patience=10**6, stall=200)
    job = next(j for j in plan_jobs(target, 1, settings=settings, max_strain=0.2) if j.assignment.dof == 0)
    result = run_job(job)
    assert result.generations == 1 and result.evaluations == 40 and len(result.history) == 1
    assert result.fitness == pytest.approx(1.0)  # a strain among the 40 brings the bonds back
    unstrained = run_job(next(j for j in plan_jobs(target, 1, settings=settings) if j.assignment.dof == 0))
    assert unstrained.generations == 0 and unstrained.evaluations == 1 and unstrained.fitness == 0.0


def test_the_one_loop_escalates_only_targets_below_fitness_one():
    """Two targets on one pool: wurtzite's true map (reached by its best assignment) and a
    map no structure can have (every pair in contact, Zn-Zn and O-O included): only the
    second goes on to lower-ranked assignments, once, and each target is reported done once."""
    from dataclasses import replace

    from core.reconstruction.loop import LoopSettings, reconstruct

    good = oracle_target(wurtzite(), name="good")
    n = len(good.species)
    impossible = replace(good, name="impossible", contact_map=np.ones((n, n), dtype=int) - np.eye(n, dtype=int))
    settings = LoopSettings(n_assignments=1, ga=GASettings(population=20, generations=60, patience=5, stall=20),
                            escalate_to=4, workers=1)
    done, planned = {}, []
    outcome = reconstruct({"good": good, "impossible": impossible}, settings, on_planned=planned.append,
                          on_target_done=lambda name, results: done.setdefault(name, []).append(len(results)))
    assert outcome.escalated == ["impossible"]
    assert max(r.fitness for r in outcome.results["good"]) == pytest.approx(1.0)
    assert max(r.fitness for r in outcome.results["impossible"]) < 1
    ranks = {r.assignment_rank for r in outcome.results["impossible"]}
    assert 0 in ranks and max(ranks) >= 1  # the first assignment and escalated ones
    assert all(r.assignment_rank == 0 or r.assignment.dof > 0 for r in outcome.results["impossible"]
               if r.job_id.split("-")[-2].startswith("x"))  # escalation adds assignments with free coordinates
    assert {k: len(v) for k, v in done.items()} == {"good": 1, "impossible": 1}
    assert done["impossible"] == [len(outcome.results["impossible"])] and planned[-1] == len(outcome.jobs) > planned[0]
    keys = [r.rank_key for r in outcome.results["impossible"]]
    assert keys == sorted(keys)  # best first


def test_the_loop_runs_each_target_on_its_own_ga_settings():
    """A prediction's GA budget depends on the cell's size, so a target may carry its own GA
    settings: its runs stop within them, a target without any uses the loop's."""
    from dataclasses import replace

    from core.reconstruction.loop import LoopSettings, reconstruct

    impossible = oracle_target(wurtzite(), name="own")
    n = len(impossible.species)
    impossible = replace(impossible, contact_map=np.ones((n, n), dtype=int) - np.eye(n, dtype=int))  # never fitness 1
    own = replace(impossible, ga=GASettings(population=20, generations=1000, patience=5, stall=7))
    loops = replace(impossible, name="loops")
    settings = LoopSettings(n_assignments=1, ga=GASettings(population=20, generations=1000, patience=5, stall=25),
                            workers=1)
    outcome = reconstruct({"own": own, "loops": loops}, settings)
    free = {name: [r.generations for r in results if r.assignment.dof]
            for name, results in outcome.results.items()}
    assert free["own"] and free["loops"]
    assert max(free["own"]) < 25 <= min(free["loops"])  # stalled after 7 flat generations, not 25


def test_a_sixteen_atom_oracle_reconstruction_on_a_small_budget():
    """MP-20's range beyond the paper's 12 atoms: LiTiO2 (Fd-3m, 16 atoms in the primitive
    cell; a training structure of the shipped template library) rebuilt from its true map,
    space group and lattice with a small GA budget."""
    from core.reconstruction.loop import LoopSettings, reconstruct
    from core.templates import load_library

    library = load_library()
    k = next(i for i in range(len(library)) if library.formulas[i] == "LiTiO2" and library.spacegroups[i] == 227
             and library.nsites[i] == 16)
    truth = library.structure(k)
    target = oracle_target(truth, name="LiTiO2")
    assert len(target.species) == 16
    settings = LoopSettings(n_assignments=3, ga=GASettings(population=40, generations=150, patience=10, stall=40),
                            workers=1)
    best = reconstruct({"LiTiO2": target}, settings).results["LiTiO2"][0]
    assert best.fitness == pytest.approx(1.0)
    assert structure_match(best.structure, truth).matched


def _ti3al() -> Structure:
    """Ti3Al (D0_19, P6_3/mmc): Ti on 6h (x = 0.8333), Al on 2c; a = 5.78, c = 4.64 Å."""
    return Structure.from_spacegroup(194, Lattice.hexagonal(5.78, 4.64), ["Ti", "Al"],
                                     [[0.8333, 0.6666, 0.25], [1 / 3, 2 / 3, 0.25]])


def test_the_metallic_rule_gives_intermetallics_a_map():
    from core.contact.contact_rule import metallic_radius, pair_windows
    from core.crystal.elements import element_table

    cuzn = _cuzn_b2()
    assert compute_contact_map(cuzn).matrix.sum() == 0  # the paper's rule: metals never bond
    metallic = compute_contact_map(cuzn, rule="metallic")
    assert metallic.matrix.tolist() == [[0, 1], [1, 0]] and metallic.rule == "metallic"
    # bcc: 8 unlike neighbours at 2.55 Å and 6 like ones at 2.95 Å (the 14 of the rhombic dodecahedron)
    assert metallic.coordination_numbers.tolist() == [14, 14]
    nacl_map = compute_contact_map(nacl())  # a cell with a non-metal: the paper's rule under either name
    nacl_metallic = compute_contact_map(nacl(), rule="metallic")
    assert np.array_equal(nacl_map.matrix, nacl_metallic.matrix) and nacl_metallic.rule == "paper"
    table = element_table()
    z = [table.z_of(s) for s in ("Sn", "Pb", "Bi", "Fe")]
    assert np.all(metallic_radius()[z] > 1.2)  # no gaps in the table (pymatgen lacks Sn, Pb, Bi)
    fe = table.z_of("Fe")
    window = pair_windows(np.array([fe]), np.array([fe]), rule="metallic")
    assert window.low[0] < 2.48 < window.high[0]  # bcc Fe nearest neighbours
    with pytest.raises(AlphaCrystalError, match="unknown contact rule"):
        compute_contact_map(cuzn, rule="covalent")


def test_an_intermetallic_oracle_reconstruction_with_the_metallic_rule():
    """Ti3Al: an empty map under the paper's rule, a map the GA fits under the metallic
    rule; rebuilt from that map, space group and lattice (Ti on 6h has a free x)."""
    from core.reconstruction.loop import LoopSettings, reconstruct

    truth = _ti3al()
    assert oracle_target(truth).contact_map.sum() == 0
    target = oracle_target(truth, name="Ti3Al", rule="metallic")
    assert target.contact_map.sum() > 0 and target.rule == "metallic"
    settings = LoopSettings(n_assignments=5, ga=GASettings(population=40, generations=150, patience=10, stall=40),
                            workers=1)
    best = reconstruct({"Ti3Al": target}, settings).results["Ti3Al"][0]
    assert best.fitness == pytest.approx(1.0)
    assert structure_match(best.structure, truth).matched


def test_reconstruct_takes_the_rule(tmp_path, capsys):
    from core.io.write import write_cif

    cif = tmp_path / "Ti3Al.cif"
    write_cif(_ti3al(), cif)
    assert main(["contact-map", str(cif), "--rule", "metallic", "--json", str(tmp_path / "m.json")]) == 0
    assert json.loads((tmp_path / "m.json").read_text())["rule"] == "metallic"
    assert main(["contact-map", "Ti3Al", "--rule", "metallic"]) == 2
    assert "predicted maps follow the paper's rule" in capsys.readouterr().err
    payload = {"formula": "Ti3Al", "z": 2, "spacegroup": 194, "lattice": [5.78, 5.78, 4.64, 90, 90, 120],
               "contact_map": [[0] * 8] * 8, "rule": "ionic"}
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(payload))
    assert main(["reconstruct", str(bad)]) == 2
    assert "rule must be one of paper, metallic" in capsys.readouterr().err
    bad.write_text(json.dumps({**payload, "rule": "paper"}))
    assert main(["reconstruct", str(bad), "--rule", "metallic"]) == 2  # the file and the option disagree
    assert "follows the 'paper' contact rule, not 'metallic'" in capsys.readouterr().err
    from core.reconstruction.inputs import target_from_dict

    assert target_from_dict({k: v for k, v in payload.items() if k != "rule"}, rule="metallic").rule == "metallic"


def test_assignment_primitive_counts():
    """Orbit multiplicities (conventional cell) over the group's lattice points."""
    from core.reconstruction.assignments import Assignment

    assert Assignment(225, ("Na", "Cl"), (("4a",), ("4b",)), 0).primitive_counts == {"Na": 1, "Cl": 1}
    assert Assignment(136, ("Ti", "O"), (("2a",), ("4f",)), 1).primitive_counts == {"Ti": 2, "O": 4}
    spinel = Assignment(227, ("Mg", "Al", "O"), (("8a",), ("16d",), ("32e",)), 1)
    assert spinel.primitive_counts == {"Mg": 2, "Al": 4, "O": 8}
    assert Assignment.from_dict(spinel.to_dict()) == spinel
    with pytest.raises(AlphaCrystalError, match="'8a' is not a Wyckoff position of space group 225"):
        Assignment.from_dict({"spacegroup": 225, "species": ["Na", "Cl"], "orbits": [["8a"], ["4b"]], "dof": 0})
    with pytest.raises(AlphaCrystalError, match="'4z' is not a Wyckoff position"):
        Assignment.from_dict({"spacegroup": 225, "species": ["Na", "Cl"], "orbits": [["4a"], ["4z"]], "dof": 0})


def test_oracle_target_group_places_the_cells_atoms():
    """A slightly distorted superstructure (here rock salt doubled, one Na moved 0.03 Å) is a
    4-atom primitive cell at 0.01 Å but Fm-3m with 2 atoms at 0.1 Å: the target takes the
    group that can place its 4 atoms (seen: Sr4Hf2Cr2O12, 20 atoms, read as Fm-3m)."""
    from pymatgen.core import Lattice, Structure

    from core.reconstruction.assignments import enumerate_assignments
    from core.reconstruction.job import oracle_target

    primitive = Structure(Lattice([[0, 2.82, 2.82], [2.82, 0, 2.82], [2.82, 2.82, 0]]), ["Na", "Cl"],
                          [[0, 0, 0], [0.5, 0.5, 0.5]])
    doubled = primitive * (2, 1, 1)
    doubled.translate_sites([0], [0.03, 0, 0], frac_coords=False)
    target = oracle_target(doubled)
    assert len(target.species) == 4 and target.spacegroup != 225
    assert enumerate_assignments(target.spacegroup, target.species_counts)
    assert oracle_target(primitive).spacegroup == 225  # an undistorted cell keeps MP-20's reading
