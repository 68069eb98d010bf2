"""Energy above the convex hull of known phases (core.stability.hull, core.stability.references)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from core.stability.hull import HullJudge, StabilityError, label_for
from core.stability.references import ReferencePhases, fit_chemical_potentials, formation_energy

MU = {"Na": -1.3, "Cl": -1.8, "K": -1.1}
"""The potential's chemical potentials of the built references, eV/atom."""


def _references() -> ReferencePhases:
    """Na-Cl-K phases built in code: NaCl at -2.0 eV/atom formation energy (MP), NaCl3 at
    -0.9 (above the hull of NaCl + Cl), KCl at -2.1; the potential's energies at the stored
    geometry are MP's formation energies plus μ, plus 0.05 eV/atom for KCl."""
    formulas = np.array(["Cl", "K", "KCl", "Na", "NaCl", "NaCl3"])
    mp = np.array([0.0, 0.0, -2.1, 0.0, -2.0, -0.9])
    from pymatgen.core import Composition

    energy = np.array([formation_energy(Composition(f), e, MU) for f, e in zip(formulas, -mp)]) * -1
    energy[2] += 0.05
    elements = np.array(["Na", "Cl", "K"])
    mu = {kind: np.array([MU[e] for e in elements]) for kind in ("crystal", "static", "fitted")}
    return ReferencePhases("chgnet", formulas, np.array([f"mp-{k}" for k in range(6)]), mp, energy, elements, mu)


def _energy(formula: str, ef: float) -> float:
    """The potential's total energy per atom of ``formula`` at formation energy ``ef``."""
    from pymatgen.core import Composition

    fractions = Composition(formula).fractional_composition
    return ef + sum(float(x) * MU[str(el)] for el, x in fractions.items())


def test_the_built_references_have_the_formation_energies_they_were_given():
    refs = _references()
    from pymatgen.core import Composition

    nacl = list(refs.formulas).index("NaCl")
    assert formation_energy(Composition("NaCl"), refs.potential_energy[nacl], MU) == pytest.approx(-2.0)


def test_a_structure_on_the_hull_is_stable_and_one_above_it_decomposes():
    judge = HullJudge(_references(), "mp-fitted", threshold=0.1)
    on = judge.assess("NaCl", _energy("NaCl", -2.0))
    assert on.e_above_hull == pytest.approx(0.0, abs=1e-9) and on.label == "stable"
    assert on.decomposition == (("NaCl (mp-4)", pytest.approx(1.0)),)  # the known phase and its MP entry
    # Na2Cl at -0.6 eV/atom: the hull there is 1/3 Na + 2/3 NaCl (by atom) at -4/3 eV/atom
    above = judge.assess("Na2Cl", _energy("Na2Cl", -0.6))
    assert above.e_above_hull == pytest.approx(-0.6 + 4 / 3)
    assert above.label == "unstable"
    assert dict(above.decomposition) == pytest.approx({"NaCl (mp-4)": 2 / 3, "Na (mp-3)": 1 / 3})
    assert above.decomposition_text() == "0.667 NaCl (mp-4) + 0.333 Na (mp-3)"
    row = above.row()
    assert row["e_above_hull_meV"] == pytest.approx(733.3, abs=0.1) and row["stability"] == "unstable"
    assert "unstable: +733 meV/atom, above the hull" in above.describe()


def test_a_new_compound_below_the_known_hull_is_stable_with_a_negative_energy_above_it():
    judge = HullJudge(_references(), "mp-fitted")
    below = judge.assess("NaCl2", _energy("NaCl2", -1.5))  # the hull: 2/3 NaCl + 1/3 Cl at -4/3
    assert below.e_above_hull == pytest.approx(-1.5 + 4 / 3) and below.label == "stable"
    assert "below the hull" in below.describe()


def test_labels_follow_the_threshold():
    assert label_for(0.0005, 0.05) == "stable"
    assert label_for(0.03, 0.05) == "metastable"
    assert label_for(0.06, 0.05) == "unstable"


def test_the_potential_frame_uses_the_potentials_own_reference_energies():
    refs = _references()
    mp = HullJudge(refs, "mp-fitted").assess("KCl", _energy("KCl", -2.1))
    own = HullJudge(refs, "potential").assess("KCl", _energy("KCl", -2.1))
    assert mp.e_above_hull == pytest.approx(0.0, abs=1e-9)
    assert own.e_above_hull == pytest.approx(-0.05)  # the potential put known KCl 50 meV/atom higher


def test_a_formula_can_be_judged_without_its_own_known_phases():
    judge = HullJudge(_references(), "mp-fitted", exclude=frozenset({"NaCl"}))
    alone = judge.assess("NaCl", _energy("NaCl", -2.0))
    # without NaCl, the hull at NaCl is 2/3 NaCl3 + 1/3 Na at 2/3 x -0.9 eV/atom
    assert dict(alone.decomposition) == pytest.approx({"NaCl3 (mp-5)": 2 / 3, "Na (mp-3)": 1 / 3})
    assert alone.e_above_hull == pytest.approx(-2.0 + 0.6)


def test_clear_errors_for_a_missing_element_and_an_unknown_frame():
    judge = HullJudge(_references())
    with pytest.raises(StabilityError, match="no reference energy for Xe"):
        judge.assess("XeCl2", -2.0)
    with pytest.raises(StabilityError, match="unknown stability frame 'dft'"):
        HullJudge(_references(), "dft")


def test_fitted_chemical_potentials_recover_the_frame_shift():
    formulas = ["NaCl", "NaCl3", "Na2Cl", "KCl", "K2Cl"]
    from pymatgen.core import Composition

    formation = np.array([-2.0, -0.9, -0.5, -2.1, -0.7])
    energies = np.array([_energy(f, e) for f, e in zip(formulas, formation)])
    assert all(Composition(f) for f in formulas)
    mu = fit_chemical_potentials(formulas, energies, formation, ["Na", "Cl", "K", "Xe"])
    assert mu[:3] == pytest.approx([MU["Na"], MU["Cl"], MU["K"]]) and np.isnan(mu[3])


def test_references_round_trip_through_their_file(tmp_path):
    refs = _references()
    back = ReferencePhases.load(refs.save(tmp_path / "refs.npz"))
    assert list(back.formulas) == list(refs.formulas) and back.potential == "chgnet"
    assert np.allclose(back.potential_energy, refs.potential_energy)
    assert back.chemical_potentials("fitted") == pytest.approx(MU)


def test_the_hull_picture_of_a_binary_names_phases_tie_lines_and_results():
    from core.stability.picture import hull_picture

    judge = HullJudge(_references(), "mp-fitted")
    rows = [{"rank": 1, "formula": "Na2Cl", **judge.assess("Na2Cl", _energy("Na2Cl", -0.6)).row()}]
    picture = hull_picture(rows, judge)
    assert picture.drawable and picture.elements == ("Na", "Cl")
    stable = {p["name"] for p in picture.phases if p["stable"]}
    assert stable == {"Na", "Cl", "NaCl"}  # NaCl3 lies above NaCl + Cl
    assert ("Na", "NaCl") in picture.edges and ("Cl", "NaCl") in picture.edges
    (mark,) = picture.predictions
    assert mark["hull_text"] == "+733 meV/atom above the hull"
    assert mark["index"] == 0 and mark["fractions"] == pytest.approx((2 / 3, 1 / 3))
    assert mark["formation_energy"] == pytest.approx(-0.6) and mark["e_above_hull"] == pytest.approx(0.733, abs=1e-3)
    assert hull_picture([{"rank": 1, "formula": "NaCl", "formation_energy_per_atom": None}], judge) is None
    assert rows[0]["hull_frame"] == "chgnet:mp-fitted"


def test_the_automatic_frame_is_the_one_chosen_for_the_potential():
    from dataclasses import replace

    refs = _references()
    assert HullJudge(refs, "auto").frame_name == "mp-fitted"  # CHGNet's
    assert HullJudge(replace(refs, potential="sevennet"), "auto").frame_name == "potential"
    assert HullJudge(replace(refs, potential="sevennet"), "mp-crystal").frame_name == "mp-crystal"


def test_a_runs_polymorphs_are_judged_against_its_own_lowest_structure():
    """NaCl2 is not a known phase: the run's lowest structure lies 0.167 eV/atom below the known
    hull and the others are measured from it, not from the known hull far above them both."""
    from core.stability.hull import place_polymorphs

    judge = HullJudge(_references(), "mp-fitted", threshold=0.1)
    energies = [_energy("NaCl2", ef) for ef in (-1.5, -1.45, -1.2)]
    best, near, far = place_polymorphs(judge, "NaCl2", energies)
    assert best.e_above_hull == pytest.approx(-1.5 + 4 / 3) and best.label == "uncertain"  # not "stable"
    assert best.note.startswith("NaCl2 is not among the reference phases") and "withheld" in best.note
    # 167 meV/atom below every known combination is beyond the frame's error: the user is told to check
    assert "far below the known hull (NaCl (mp-4) + Cl (mp-0)), beyond the frame's error" in best.note
    assert best.warning.startswith("far below the known hull") and best.row()["hull_warning"] == best.warning
    assert "far below" not in near.note and not near.warning and near.row()["hull_warning"] == ""
    assert near.e_above_hull == pytest.approx(0.05) and near.label == "metastable"
    assert far.e_above_hull == pytest.approx(0.3) and far.label == "unstable"
    assert far.decomposition == (("NaCl2 (this run's lowest)", 1.0),)
    assert "measured from this run's lowest structure, 167 meV/atom below the known hull" in far.describe()
    assert far.row()["hull_note"] == far.note
    # a structure 10 meV/atom below the known phase found again: both figures are the potential's now,
    # so both carry the frame's error; the known phase reads +10 from the run's lowest
    energies = [_energy("NaCl", -2.0 + 0.022), _energy("NaCl", -2.0 + 0.012)]
    known, lower = place_polymorphs(judge, "NaCl", energies, [{"mp-4"}, set()])
    assert lower.e_above_hull == pytest.approx(-0.010) and known.e_above_hull == pytest.approx(0.010)
    assert known.near_hull and lower.near_hull and "not told apart" in known.row()["hull_note"]
    assert "far below" not in lower.note
    # the hull plot's words: a point drawn under the known hull is not "+50 meV/atom above the hull"
    from core.stability.picture import hull_picture

    rows = [{"rank": k + 1, "formula": "NaCl2", **s.row()} for k, s in enumerate((best, near, far))]
    words = [m["hull_text"] for m in hull_picture(rows, judge).predictions]
    assert words[0] == "167 meV/atom below the known hull (this run's lowest structure)"
    assert words[1] == "+50 meV/atom above this run's lowest structure, which lies 167 meV/atom below the known hull"
    # without polymorphs below the known hull each keeps its own place
    above = place_polymorphs(judge, "Na2Cl", [_energy("Na2Cl", -0.6)])[0]
    assert above.e_above_hull == pytest.approx(-0.6 + 4 / 3) and above.label == "unstable"


def test_the_known_phase_found_again_sits_where_it_sits_on_the_known_hull():
    """A run that finds NaCl's known phase (mp-4) with an energy the frame puts 22 meV/atom off
    the hull: that structure is the phase on the hull (0, stable); a polymorph 30 meV/atom above it
    in the potential's energies is 30 meV/atom above the hull."""
    from core.stability.hull import place_polymorphs

    judge = HullJudge(_references(), "mp-fitted", threshold=0.1)
    energies = [_energy("NaCl", -2.0 + 0.022), _energy("NaCl", -2.0 + 0.052)]
    known, other = place_polymorphs(judge, "NaCl", energies, [{"mp-4"}, set()])
    assert known.e_above_hull == pytest.approx(0.0, abs=1e-9) and known.label == "stable"
    assert known.note == "the known phase mp-4"
    assert other.e_above_hull == pytest.approx(0.030) and other.label == "metastable"
    assert "+30 meV/atom from the known phase mp-4" in other.note
    # the same energies without the match keep the frame's figures, and say that the known phase was missed
    plain = place_polymorphs(judge, "NaCl", energies, [set(), set()], known_symbol="Fm-3m")
    assert plain[0].e_above_hull == pytest.approx(0.022)
    assert plain[0].note.startswith("no structure of this run was found to be the known phase mp-4 (Fm-3m)")
    # two structures taken for the known phase: the lower one is it, whatever their order
    for order in ([0, 1], [1, 0]):
        both = place_polymorphs(judge, "NaCl", [energies[k] for k in order], [{"mp-4"}, {"mp-4"}])
        assert [both[k].e_above_hull for k in order] == pytest.approx([0.0, 0.030])
        assert both[order.index(0)].note == "the known phase mp-4"
    # a "match" that would move the run by more than the frame's error is a wrong match: not used
    far = [_energy("NaCl", -2.0 + 0.40), _energy("NaCl", -2.0 + 0.052)]
    refused = place_polymorphs(judge, "NaCl", far, [{"mp-4"}, set()])
    assert refused[0].e_above_hull == pytest.approx(0.40) and "beyond the frame's error" in refused[0].note
    # a formula judged without its own known phases is never anchored on them
    excluded = HullJudge(_references(), "mp-fitted", exclude=frozenset({"NaCl"}))
    assert place_polymorphs(excluded, "NaCl", energies, [{"mp-4"}, set()])[0].note.startswith("NaCl is not among")


def test_a_run_that_missed_the_known_phase_is_placed_from_its_stored_energy():
    """The potential puts known KCl (mp-2) 50 meV/atom above where the fitted frame expects it. A run
    of KCl that did not find mp-2, with a structure 30 meV/atom above mp-2's stored energy, reads +30
    (its difference to the known phase, from that phase's place on the hull), not the frame's +80; the
    same structure in a run that found mp-2 at its stored energy reads the same; where the file holds
    another polymorph's energy, or in the potential frame, the figure is the frame's."""
    from core.stability.hull import ANCHORED_EHULL_ERROR_EV, place_polymorphs

    refs = _references()
    judge = HullJudge(refs, "mp-fitted", threshold=0.1)
    stored = float(refs.potential_energy[2])
    assert judge.stored_energy("KCl") == pytest.approx(stored) and judge.known_place("KCl") == pytest.approx(0.0)
    assert judge.assess("KCl", stored + 0.030).e_above_hull == pytest.approx(0.080)  # the frame's estimate
    (missed,) = place_polymorphs(judge, "KCl", [stored + 0.030], [set()], known_symbol="Fm-3m")
    assert missed.e_above_hull == pytest.approx(0.030) and missed.label == "metastable"
    assert missed.formation_energy_per_atom == pytest.approx(-2.1 + 0.030)
    assert missed.note.startswith("no structure of this run was found to be the known phase mp-2 (Fm-3m); placed by "
                                  "the chgnet energy difference to that phase at its Materials Project geometry")
    assert missed.error == ANCHORED_EHULL_ERROR_EV.get("chgnet", judge.error)
    _, other = place_polymorphs(judge, "KCl", [stored, stored + 0.030], [{"mp-2"}, set()])
    assert other.e_above_hull == pytest.approx(missed.e_above_hull)
    # the file's energy is of another polymorph than MP's lowest: no stored anchor, the frame's estimate
    ids = refs.potential_ids.copy()
    ids[2] = "mp-99"
    other_polymorph = HullJudge(dataclasses.replace(refs, potential_ids=ids), "mp-fitted")
    assert other_polymorph.stored_energy("KCl") is None
    (plain,) = place_polymorphs(other_polymorph, "KCl", [stored + 0.030], [set()])
    assert plain.e_above_hull == pytest.approx(0.080) and "the frame's estimate" in plain.note
    assert "holds chgnet's energy of another polymorph" in plain.note and not plain.warning
    # a stored energy far from the known phase's place (a wrong entry) is not used, and the figure is doubted
    energies = refs.potential_energy.copy()
    energies[2] += 0.3
    far = HullJudge(dataclasses.replace(refs, potential_energy=energies), "mp-fitted")
    (doubt,) = place_polymorphs(far, "KCl", [stored + 0.030], [set()])
    assert doubt.e_above_hull == pytest.approx(0.080) and "beyond the frame's error: not used" in doubt.warning
    # the potential frame's hull already holds the potential's own energy of the known phase
    (own,) = place_polymorphs(HullJudge(refs, "potential"), "KCl", [stored + 0.030], [set()])
    assert own.e_above_hull == pytest.approx(0.030) and "the frame's estimate" in own.note
    # a formula left out of the references has no anchor
    assert HullJudge(refs, "mp-fitted", exclude=frozenset({"KCl"})).stored_energy("KCl") is None


def test_a_result_within_the_frames_error_of_the_hull_says_the_label_cannot_tell():
    """CHGNet's mp-fitted frame is off by 20 meV/atom on average (FRAME_EHULL_ERROR_EV): a result 10
    meV/atom above or below the hull carries that caveat in its note and description, one 50 meV/atom
    above does not, and the known phase found again (Materials Project's own place) never does."""
    from core.stability.hull import FRAME_EHULL_ERROR_EV, place_polymorphs

    judge = HullJudge(_references(), "mp-fitted", threshold=0.1)
    assert judge.error == FRAME_EHULL_ERROR_EV[("chgnet", "mp-fitted")] == 0.020
    near_above = judge.assess("NaCl", _energy("NaCl", -2.0 + 0.010))
    near_below = judge.assess("NaCl", _energy("NaCl", -2.0 - 0.010))
    far = judge.assess("NaCl", _energy("NaCl", -2.0 + 0.050))
    assert near_above.label == "metastable" and near_below.label == "stable"
    for near in (near_above, near_below):
        assert near.near_hull and "about ±20 meV/atom" in near.row()["hull_note"]
        assert "stable and metastable are not told apart" in near.describe()
    assert not far.near_hull and far.row()["hull_note"] == ""
    known, other = place_polymorphs(judge, "NaCl", [_energy("NaCl", -2.0 + 0.022), _energy("NaCl", -2.0 + 0.032)],
                                     [{"mp-4"}, set()])
    assert known.row()["hull_note"] == "the known phase mp-4" and not known.near_hull
    assert other.near_hull and other.row()["hull_note"].startswith("+10 meV/atom from the known phase mp-4")
    assert "not told apart" in other.row()["hull_note"]
    # an "unstable" figure is never called a stable/metastable toss-up, whatever the frame's error
    strict = HullJudge(_references(), "mp-fitted", threshold=0.005)
    assert not strict.assess("NaCl", _energy("NaCl", -2.0 + 0.010)).near_hull
    # the missed known phase is the frame's lowest: MP's, or in the potential frame the potential's own
    own = HullJudge(_references(), "potential")
    missed = place_polymorphs(own, "NaCl", [_energy("NaCl", -2.0 + 0.05)], [set()])[0]
    assert "chgnet's lowest-energy NaCl" in missed.note
    from core.stability.hull import MAX_ANCHOR_SHIFT_EV, far_below

    assert far_below(0.020) == MAX_ANCHOR_SHIFT_EV and far_below(0.123) == pytest.approx(0.369)
    # a frame nobody measured makes no claim
    unmeasured = HullJudge(dataclasses.replace(_references(), potential="other"), "mp-fitted")
    assert not unmeasured.assess("NaCl", _energy("NaCl", -2.0 + 0.010)).near_hull


def test_the_known_phase_is_recognised_by_what_it_is_not_by_its_route():
    """Rock-salt NaCl is the shipped references' NaCl phase, whichever route made it; a CsCl-type
    NaCl is not (core.predict.ordering._known_phase_relations, with the shipped library and references)."""
    from conftest import cscl, nacl

    from core.predict.ordering import _known_phase_relations
    from core.stability.hull import hull_judge
    from core.stability.identity import SAME_PHASE

    class Entry:
        def __init__(self, structure):
            self.structure = structure

    rock_salt = nacl()
    caesium_type = cscl().copy()
    caesium_type.replace_species({"Cs": "Na"})
    judge = hull_judge("chgnet")
    reference = judge.reference_id("NaCl")
    assert reference is not None
    relations, symbol = _known_phase_relations([Entry(rock_salt), Entry(caesium_type)], judge, "NaCl")
    assert (relations, symbol) == ([(reference, SAME_PHASE), (reference, None)], "Fm-3m")
    assert _known_phase_relations([Entry(rock_salt)], judge, "Na3Cl7") == ([("", None)], None)  # no known phase


def test_a_structure_with_other_bonds_is_not_the_known_phase():
    """StructureMatcher at the CSP tolerances pairs structures whose bonds differ; the bonds decide.
    Rutile with one oxygen moved to 1.5 Å of another (an O-O bond that rutile lacks) still matches
    rutile at those tolerances but is not rutile; relaxed-looking copies (cell 4 % larger, strained
    unevenly, atoms shaken, a doubled cell) are."""
    from conftest import rutile
    from pymatgen.core import Lattice, Structure

    from core.crystal.matching import structure_match
    from core.crystal.symmetry import primitive_cell
    from core.stability.identity import is_same_phase

    known = primitive_cell(rutile())
    relaxed = known.copy()
    relaxed.scale_lattice(known.volume * 1.04)
    relaxed.perturb(0.05, min_distance=0.05, seed=0)
    assert is_same_phase(relaxed, known)
    # bonds near the window's edges may cross them under a relaxation's strain: not a difference
    strained = known.copy()
    strained.lattice = Lattice(known.lattice.matrix @ np.diag([1.03, 1.0, 0.99]))
    strained.perturb(0.03, min_distance=0.01, seed=1)
    assert is_same_phase(strained, known)
    doubled = known.copy()  # the same phase in a doubled cell, with a relaxation's noise
    doubled.make_supercell([1, 1, 2])
    doubled.perturb(0.005, min_distance=0.002, seed=2)
    assert is_same_phase(doubled, known)
    oxygens = [i for i, site in enumerate(known) if site.specie.symbol == "O"]
    d, a, b = min((known.get_distance(a, b), a, b) for a in oxygens for b in oxygens if a < b)
    _, image = known[a].distance_and_image(known[b])
    towards = known.lattice.get_cartesian_coords(known[b].frac_coords + image - known[a].frac_coords)
    peroxide = known.copy()
    peroxide.translate_sites([a], towards / np.linalg.norm(towards) * (d - 1.5), frac_coords=False)
    assert structure_match(peroxide, known).matched and not is_same_phase(peroxide, known)
    # rock salt (six neighbours) and zinc blende (four) are paired by StructureMatcher at the CSP
    # tolerances; stretched to one volume no bond of rock salt is left in the window's margin, so
    # the first shells decide
    zinc_blende = Structure.from_spacegroup("F-43m", Lattice.cubic(5.42), ["Cu", "Cl"],
                                            [[0, 0, 0], [0.25, 0.25, 0.25]]).get_primitive_structure()
    rock_salt = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.0), ["Cu", "Cl"],
                                          [[0, 0, 0], [0.5, 0.5, 0.5]]).get_primitive_structure()
    assert structure_match(rock_salt, zinc_blende).matched
    assert not is_same_phase(rock_salt, zinc_blende) and not is_same_phase(zinc_blende, rock_salt)


def test_the_undistorted_parent_of_a_distorted_known_phase_is_not_it():
    """A known phase that is a distortion (CuF2-type AgF2, a monoclinic rutile) is not recognised in
    a result that lacks the distortion (rutile, P4_2/mnm: same bonds and shells, another energy), while
    a result that is a little *less* symmetric than the known structure (a relaxation's strain) is."""
    from conftest import rutile
    from pymatgen.core import Lattice

    from core.crystal.symmetry import primitive_cell, space_group_or_p1
    from core.stability.identity import is_same_phase

    parent = primitive_cell(rutile())
    distorted = parent.copy()
    a, b, c, alpha, beta, gamma = parent.lattice.parameters
    distorted.lattice = Lattice.from_parameters(a * 1.01, b * 0.99, c, alpha, beta + 4, gamma)
    assert (space_group_or_p1(parent)[0], space_group_or_p1(distorted)[0]) == (136, 14)
    assert not is_same_phase(parent, distorted)  # the known phase is the distorted one
    assert is_same_phase(distorted, parent)  # the known phase is rutile; the result a strained copy
    # a result whose lost symmetry shows only below the engine's 0.1 Å (an oxygen 0.03 Å off its rutile
    # place: P4_2/mnm at 0.1 Å, not at 0.01 Å) is not an undistorted parent: the bonds decide, and it is it
    slightly = parent.copy()
    oxygen = next(k for k, site in enumerate(parent) if site.specie.symbol == "O")
    slightly.translate_sites([oxygen], [0.03, 0.0, 0.0], frac_coords=False)
    assert space_group_or_p1(slightly)[0] == 136 and space_group_or_p1(slightly, 0.01)[0] != 136
    assert is_same_phase(slightly, distorted)
    # what the rutile is, said: the distorted phase's undistorted parent (and a strained copy is not one)
    from core.stability.identity import (
        SAME_PHASE,
        UNDISTORTED_PARENT,
        is_undistorted_parent,
        phase_relation,
    )

    assert is_undistorted_parent(parent, distorted) and not is_undistorted_parent(distorted, parent)
    assert not is_undistorted_parent(slightly, distorted)
    assert [phase_relation(x, distorted) for x in (parent, slightly)] == [UNDISTORTED_PARENT, SAME_PHASE]
    # and the run's note on it says so beside "not found"
    from core.predict.ordering import _parent_said
    from core.stability.hull import Stability

    class Entry:
        def __init__(self, structure):
            self.structure = structure

        def crystallography(self):
            return {"relaxed_symbol": space_group_or_p1(self.structure)[1]}

    missed = Stability(0.0, 0.025, (), "metastable", "mp-fitted", 0.1,
                       note="no structure of this run was found to be the known phase mp-0 (P2_1/c)")
    said = _parent_said(Entry(parent), missed, "P2_1/c").note
    assert said.startswith(missed.note) and "this structure (P4_2/mnm) is the known phase's undistorted parent" in said


def test_an_element_is_measured_from_its_own_crystal():
    """An elemental structure's formation energy is its energy above the potential's own elemental
    crystal, not above a fitted chemical potential (Fe's fitted μ lies 73 meV/atom below CHGNet's bcc Fe)."""
    refs = _references()
    refs.mu["fitted"] = refs.mu["fitted"] - 0.073
    judge = HullJudge(refs, "mp-fitted")
    assert judge.assess("Na", MU["Na"] + 0.012).e_above_hull == pytest.approx(0.012)
    assert judge.assess("NaCl", _energy("NaCl", -2.0)).formation_energy_per_atom == pytest.approx(-2.0 + 0.073)


def test_anchoring_on_a_known_phase_above_the_hull_keeps_its_place():
    """NaCl3 (mp-5) lies 0.1 eV/atom above NaCl + Cl (the hull there: -1.0 eV/atom). Found
    again 0.02 eV/atom too high in the frame, it is put back at +0.10; a polymorph 0.15 eV/atom
    below it in the potential's energies then lies 0.05 eV/atom below the known hull, and the
    known phase's copy is measured from that one: +0.15, unstable."""
    from core.stability.hull import place_polymorphs

    judge = HullJudge(_references(), "mp-fitted", threshold=0.1)
    assert judge.assess("NaCl3", _energy("NaCl3", -0.9)).e_above_hull == pytest.approx(0.1)
    energies = [_energy("NaCl3", -0.9 + 0.02), _energy("NaCl3", -0.9 + 0.02 - 0.15)]
    known, lower = place_polymorphs(judge, "NaCl3", energies, [{"mp-5"}, set()])
    assert lower.e_above_hull == pytest.approx(-0.05) and lower.label == "stable"
    assert lower.formation_energy_per_atom == pytest.approx(-1.05)  # shifted with the anchor
    assert known.e_above_hull == pytest.approx(0.15) and known.label == "unstable"
    assert "the known phase mp-5" in known.note and "this run's lowest" in known.note


def test_the_references_hold_every_partition_and_fit_on_the_training_one_only(monkeypatch, tmp_path):
    """build_reference_phases on a data set built in code: every partition's formulas are kept with
    their partition, the fitted chemical potentials come from the training formulas alone, the
    potential's lowest polymorph is named by its own id, and the known structures of held-out
    formulas and of elements from held-out partitions are stored so that a run can recognise them;
    all of it survives the file, and a file of before (no partitions) still loads."""
    from types import SimpleNamespace

    from conftest import substituted_dataset
    from pymatgen.core import Composition

    import core.stability.reference_energies as reference_energies
    import core.stability.references as references
    from core.data.datasets import CrystalDataset, DatasetSplit, _Builder

    base = substituted_dataset()
    builder = _Builder()
    for k in range(len(base)):
        lattice, frac, numbers = base.atoms(k)
        builder.add(f"fx-{k}", lattice, numbers, frac, str(base.formulas[k]), 1, -1.0)
    # a second NaCl polymorph: MP's lowest is the first, the potential's lowest this one
    first_nacl = next(k for k in range(len(base)) if base.formulas[k] == "NaCl")
    lattice, frac, numbers = base.atoms(first_nacl)
    builder.add("fx-nacl2", lattice, numbers, frac, "NaCl", 1, -0.9)
    builder.add("fx-na", np.eye(3) * 3.0, np.array([11]), np.zeros((1, 3)), "Na", 221, 0.0)  # a held-out element
    builder.add("fx-cl", np.eye(3) * 3.5, np.array([17]), np.zeros((1, 3)), "Cl", 221, 0.0)  # a training one
    data = builder.build("fixtures")
    held = {"NaCl", "KCl", "Na"}
    part = lambda keep: data.subset([k for k, f in enumerate(data.formulas) if keep(str(f))])  # noqa: E731
    split = DatasetSplit(part(lambda f: f not in held and f != "SrTiO3"), part(lambda f: f in held),
                         part(lambda f: f == "SrTiO3"))
    energy_of = {str(i): -5.0 if i == "fx-nacl2" else -4.0 for i in data.material_ids}

    def energies(structures, *args, **kwargs):
        return np.array([energy_of[s.properties["id"]] for s in structures])

    original = CrystalDataset.structure  # every structure carries its id, for the energies above
    monkeypatch.setattr(CrystalDataset, "structure", lambda self, k: _tagged(original(self, k),
                                                                             str(self.material_ids[k])))
    monkeypatch.setattr(references, "full_range_split", lambda path: split)
    monkeypatch.setattr(references, "load_dataset", lambda path: data)
    monkeypatch.setattr(reference_energies, "energies_per_atom", energies)
    monkeypatch.setattr(references, "Relaxer", lambda settings: SimpleNamespace(
        relax=lambda s: SimpleNamespace(ok=True, energy_per_atom=-3.0)))
    from core.errors import AlphaCrystalWarning

    with pytest.warns(AlphaCrystalWarning, match="training compound\\(s\\) for .* elements: their fitted chemical"):
        built = references.build_reference_phases("fixtures.csv")  # a small set: underdetermined, and said
    built.save(tmp_path / "refs.npz")
    refs = references.ReferencePhases.load(tmp_path / "refs.npz")

    partition = dict(zip(refs.formulas, refs.partitions))
    assert (partition["NaCl"], partition["SrTiO3"], partition["NaBr"]) == ("validation", "test", "train")
    assert partition["Na"] == partition["Cl"] == "element"
    assert refs.held_out() == frozenset({"NaCl", "KCl", "SrTiO3"})  # elements are never judged as new
    row = list(refs.formulas).index("NaCl")
    assert (refs.mp_ids[row], refs.potential_ids[row], refs.potential_energy[row]) == ("fx-0", "fx-nacl2", -5.0)
    assert refs.known_structure("fx-nacl2").composition.reduced_formula == "NaCl"
    assert refs.known_structure("fx-0") is not None
    assert refs.known_structure("fx-na").composition.reduced_formula == "Na"
    assert refs.known_structure("fx-cl") is None  # the training partition's are in the template library
    assert refs.known_structure(str(split.train.material_ids[0])) is None
    # fitted μ from the training compounds only: each has E_pot - E_f = -4 - (-1) = -3 eV/atom;
    # NaCl's -5 (held out) would have pulled NaBr's Σ x μ to about -3.25
    fitted = dict(zip(refs.elements, refs.mu["fitted"]))
    nabr = Composition("NaBr").fractional_composition
    assert sum(fitted[str(e)] * x for e, x in nabr.items()) == pytest.approx(-3.0)

    with np.load(tmp_path / "refs.npz") as arrays:  # a file of before 2026-12-04: no partitions, no structures
        old = {k: arrays[k] for k in arrays.files if k not in ("partitions", "potential_ids")
               and not k.startswith("known_")}
    np.savez(tmp_path / "old.npz", **old)
    older = references.ReferencePhases.load(tmp_path / "old.npz")
    assert set(older.partitions) == {"train"} and list(older.potential_ids) == list(older.mp_ids)
    assert older.held_out() == frozenset() and older.known_structure("fx-na") is None


def test_a_stopped_reference_build_continues_from_its_checkpoint(monkeypatch, tmp_path):
    """The single points are kept chunk by chunk: a build stopped after some chunks computes only
    the rest when run again, gives the energies an uninterrupted build gives, and a checkpoint
    of another potential (or data) is refused by name rather than mixed in."""
    from conftest import substituted_dataset

    import core.stability.reference_energies as reference_energies

    data = substituted_dataset()
    monkeypatch.setattr(reference_energies, "CHUNK", 3)
    computed: list[int] = []
    stop_at = [3]

    def energies(structures, *args, **kwargs):
        computed.append(len(structures))
        if len(computed) == stop_at[0]:
            raise RuntimeError("killed")  # the build is stopped during its third chunk
        return np.array([-float(s.lattice.volume) / len(s) for s in structures])

    monkeypatch.setattr(reference_energies, "energies_per_atom", energies)
    folder = reference_energies.checkpoint_folder(tmp_path / "refs.npz")
    fingerprint = reference_energies.build_fingerprint(data, "chgnet")
    with pytest.raises(RuntimeError, match="killed"):
        reference_energies.dataset_energies(data, "train", "chgnet",
                                            reference_energies.EnergyCheckpoint(folder, fingerprint))
    assert len(list(folder.glob("train-*.npy"))) == 2
    computed.clear()
    stop_at[0] = 0  # no interruption this time
    messages: list[str] = []
    resumed = reference_energies.dataset_energies(data, "train", "chgnet",
                                                  reference_energies.EnergyCheckpoint(folder, fingerprint),
                                                  progress=messages.append)
    chunks = -(-len(data) // 3)
    assert len(computed) == chunks - 2  # only the chunks not kept were computed
    assert any("2 of" in m and "from the checkpoint" in m for m in messages)
    expected = np.array([-float(data.structure(k).lattice.volume) / len(data.structure(k)) for k in range(len(data))])
    np.testing.assert_allclose(resumed, expected)

    with pytest.raises(reference_energies.CheckpointMismatchError, match="potential"):
        reference_energies.EnergyCheckpoint(folder, reference_energies.build_fingerprint(data, "sevennet"))
    reference_energies.remove_checkpoint(folder)
    assert not folder.exists()


@pytest.mark.slow
def test_reference_energies_in_worker_processes_equal_those_in_one(monkeypatch, tmp_path):
    """``build-references --jobs 2``: chunks computed by spawned workers (real CHGNet single points)
    land in their own rows, equal to the energies computed in this process."""
    from conftest import substituted_dataset

    import core.stability.reference_energies as reference_energies

    data = substituted_dataset().subset(list(range(5)))
    monkeypatch.setattr(reference_energies, "CHUNK", 2)
    fingerprint = reference_energies.build_fingerprint(data, "chgnet")
    one = reference_energies.dataset_energies(data, "x", "chgnet", reference_energies.EnergyCheckpoint(None, fingerprint))
    two = reference_energies.dataset_energies(data, "x", "chgnet",
                                              reference_energies.EnergyCheckpoint(tmp_path / "kept", fingerprint),
                                              jobs=2)
    assert np.isfinite(one).all()
    np.testing.assert_allclose(two, one, atol=1e-5)
    assert len(list((tmp_path / "kept").glob("x-*.npy"))) == 3


def test_build_references_passes_its_processes_and_removes_the_checkpoint_once_saved(monkeypatch, tmp_path, capsys):
    """The command's wiring: --jobs reaches the build, the checkpoint folder sits beside --out, a
    build run again says it continues from it, and the folder is gone once the file is written."""
    import core.stability.references as references
    from core.cli import main

    out = tmp_path / "refs.npz"
    folder = tmp_path / "refs.npz.partial"
    folder.mkdir()  # a build that was stopped
    (folder / "fingerprint.json").write_text("{}")
    seen = {}

    def build(data, potential, progress=None, jobs=1, checkpoint=None):
        seen.update(jobs=jobs, checkpoint=checkpoint, potential=potential)
        return _references()

    monkeypatch.setattr(references, "build_reference_phases", build)
    assert main(["build-references", "--data", "rows.csv", "--out", str(out), "--jobs", "2"]) == 0
    assert seen == {"jobs": 2, "checkpoint": folder, "potential": "chgnet"}
    assert f"continuing from the energies kept in {folder}" in capsys.readouterr().out
    assert out.is_file() and not folder.exists()


def _tagged(structure, material_id: str):
    structure.properties["id"] = material_id
    return structure


def test_the_shipped_references_hold_held_out_formulas_with_their_known_structures():
    """A user predicting a validation or test formula (BaI2: test) is judged against its own known
    phase, whose structure ships so that the run can recognise it; an evaluation leaves it out."""
    from core.stability.hull import HullJudge, hull_judge

    for potential in ("chgnet", "sevennet"):
        judge = hull_judge(potential)
        refs = judge.references
        assert "BaI2" in refs.held_out()
        reference = judge.reference_id("BaI2")
        assert reference is not None
        assert refs.known_structure(reference).composition.reduced_formula == "BaI2"
        assert HullJudge(refs, exclude=refs.held_out()).reference_id("BaI2") is None


def test_an_element_the_fit_cannot_place_takes_its_crystals_energy_and_an_unplaced_formula_is_no_known_phase():
    """Kr occurs in no training compound, so its fitted μ is NaN: the fitted frame then uses its
    elemental crystal's energy instead of refusing KrF2. A formula without a formation energy
    (MP has none) is not on the hull, so it has no known phase to anchor on."""
    refs = _references()
    refs.mu["fitted"] = refs.mu["fitted"].copy()
    refs.mu["fitted"][list(refs.elements).index("K")] = np.nan
    refs.mu["crystal"] = refs.mu["crystal"].copy()
    refs.mu["crystal"][list(refs.elements).index("K")] = -1.25
    assert refs.chemical_potentials("fitted")["K"] == -1.25
    assert HullJudge(refs, "mp-fitted").assess("KCl", _energy("KCl", -2.0)).formation_energy_per_atom \
        == pytest.approx(-2.0 + 0.5 * (-1.1 - -1.25))
    refs.mp_formation = refs.mp_formation.copy()
    refs.mp_formation[list(refs.formulas).index("NaCl3")] = np.nan
    judge = HullJudge(refs, "mp-fitted")
    assert judge.reference_id("NaCl3") is None and judge.reference_id("NaCl") == "mp-4"


def test_one_whole_number_for_an_energy_everywhere():
    """-4.5 meV/atom reads -5 in the table, the notes and the CLI (round half to even gave -4 here, 5 there)."""
    from core.stability.hull import whole_mev

    assert [whole_mev(v) for v in (-4.5, 4.5, -4.54, 0.04, 30.95, 0.5)] == [-5, 5, -5, 0, 31, 1]


def test_build_references_refuses_to_replace_the_shipped_file_and_checks_its_data(tmp_path, capsys):
    """Run without --out on ten rows it replaced the shipped references (35,777 formulas) without a
    word; rows without formation energies or too few compounds gave NaN or meaningless chemical
    potentials (a new user's trial)."""
    import csv

    from pymatgen.core import Lattice, Structure
    from pymatgen.io.cif import CifWriter

    from core.cli import main
    from core.stability.references import ReferenceDataError, build_reference_phases, reference_file

    shipped = reference_file("chgnet")
    before = shipped.stat().st_mtime_ns if shipped.exists() else None
    data = tmp_path / "lio.csv"
    data.write_text("material_id,formula,cif\n")
    assert main(["build-references", "--data", str(data)]) == 2
    err = capsys.readouterr().err
    if before is not None:
        assert "exists (the shipped reference phases every prediction uses)" in err and "--overwrite" in err
        assert shipped.stat().st_mtime_ns == before
    rows = tmp_path / "li2o.csv"
    cif = CifWriter(Structure.from_spacegroup("Fm-3m", Lattice.cubic(4.6), ["Li", "O"],
                                              [[0.25, 0.25, 0.25], [0, 0, 0]])).__str__()
    with rows.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["material_id", "formula", "formation_energy_per_atom", "cif"])
        writer.writerow(["mp-1960", "Li2O", "", cif])
    with pytest.raises(ReferenceDataError, match="no compound has a formation energy"):
        build_reference_phases(rows)


def test_an_elements_known_phase_is_materials_projects_lowest():
    """An element's known phase was the potential's lowest elemental structure: hcp Cu (MP's fcc
    mp-30 lies 7.5 meV/atom lower) and the omega phases of Ti, Zr and Hf for CHGNet, so a predicted
    fcc Cu was told it is not the known phase. Like a compound's, it is MP's lowest now."""
    from core.stability.hull import shipped_references
    from core.stability.references import element_mp_ids

    class Elemental:  # the fields element_mp_ids reads of a CrystalDataset
        formulas = ["Cu", "Cu", "Ti", "Ti", "O2"]
        material_ids = ["mp-989782", "mp-30", "mp-6985", "mp-72", "mp-12957"]
        energies = [0.0075, 0.0, 0.062, 0.0, float("nan")]

        def __len__(self) -> int:
            return len(self.formulas)

    assert element_mp_ids(Elemental()) == {"Cu": "mp-30", "Ti": "mp-72"}  # O: no formation energy given
    references = shipped_references("chgnet")
    ids = dict(zip(np.asarray(references.formulas).astype(str), np.asarray(references.mp_ids).astype(str)))
    assert ids["Cu"] == "mp-30" and ids["Ti"] == "mp-72" and ids["Zr"] == "mp-131"


def test_a_known_polymorph_above_the_hull_is_given_materials_projects_own_figure():
    """NaCl in P6_3/mmc (MP's mp-1120767) read +33 meV/atom by CHGNet with no word of MP's +59: a result
    that is a Materials Project polymorph of its formula now says where MP places it; the ground state
    (the known phase, named already) and a structure MP does not hold get no such note."""
    from core.predict.known_polymorphs import known_polymorph_notes
    from core.stability.hull import hull_judge
    from core.templates.library import load_library

    library = load_library()
    hexagonal, rock_salt = library.find("mp-1120767"), library.find("mp-22862")
    if hexagonal is None or rock_salt is None:
        pytest.skip("the shipped template library does not hold these NaCl polymorphs")
    relaxed = library.structure(hexagonal)
    relaxed.scale_lattice(relaxed.volume * 1.04)  # a potential's volume, a few per cent off DFT's
    notes = known_polymorph_notes([relaxed, library.structure(rock_salt)], "NaCl", hull_judge("chgnet", "mp-fitted"))
    assert notes[0] is not None and "mp-1120767" in notes[0] and "59 meV/atom above its hull (DFT)" in notes[0]
    assert notes[1] is None


def test_a_diatomic_elements_known_phase_is_found_by_its_reduced_formula():
    """pymatgen's reduced formula of nitrogen is N2, and the references name elements by symbol: a
    nitrogen run said N2 is not among the reference phases, and a P run's MP figure contradicted its
    known phase (an element sits at 0 on its hull: no known-polymorph note for elements)."""
    from core.predict.known_polymorphs import known_polymorph_notes
    from core.stability.hull import hull_judge
    from core.templates.library import load_library

    judge = hull_judge("chgnet", "mp-fitted")
    assert judge.reference_id("N2") == judge.reference_id("N") is not None and judge.known_place("N2") == 0.0
    library = load_library()
    phosphorus = library.find("mp-157")
    if phosphorus is not None:
        assert known_polymorph_notes([library.structure(phosphorus)], "P", judge) == [None]
