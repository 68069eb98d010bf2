"""Ranking policies (core.predict.ranking) and their use by the pipeline's ranking."""

from __future__ import annotations

import json

import pytest
from pymatgen.core import Lattice, Structure

from core.crystal.spacegroups import is_proper_subgroup, point_group_order
from core.crystal.symmetry import space_group
from core.predict.ordering import _rank
from core.predict.ranking import (
    distorts,
    duplicates_before_relaxation,
    merge_near_ties,
)
from core.predict.results import RankedStructure, discarded_lines
from core.relax.relaxer import RelaxResult
from core.relax.rounds import continued_within_window
from core.templates.retrieval import TemplateCandidate


def cubic_perovskite() -> Structure:
    return Structure(Lattice.cubic(3.905), ["Sr", "Ti", "O", "O", "O"],
                     [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]])


def tetragonal_copy() -> Structure:
    """The cubic perovskite stretched 5 % along c with Ti off centre: P4mm at the reporting
    tolerance (0.1 Å), cubic again when symmetrised at 0.3 Å."""
    return Structure(Lattice.tetragonal(3.905, 3.905 * 1.05), ["Sr", "Ti", "O", "O", "O"],
                     [[0, 0, 0], [0.5, 0.5, 0.53], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]])


def test_group_orders_and_subgroups():
    assert point_group_order(1) == 1 and point_group_order(221) == 48 and point_group_order(225) == 48
    assert point_group_order(139) == 16 and point_group_order(99) == 8
    assert is_proper_subgroup(139, 225) and is_proper_subgroup(99, 221)
    assert not is_proper_subgroup(225, 139) and not is_proper_subgroup(221, 221)


def test_a_distorted_copy_is_recognised_and_an_unrelated_structure_is_not():
    cub, tet = cubic_perovskite(), tetragonal_copy()
    assert space_group(tet)[0] == 99 and space_group(cub)[0] == 221
    assert distorts(tet, cub, 221)
    rocksalt = Structure(Lattice.cubic(5.6), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    assert not distorts(tet, rocksalt, 221)


def test_near_tie_merged_onto_the_higher_symmetry_only_within_the_window():
    cub, tet = cubic_perovskite(), tetragonal_copy()
    order, ties = merge_near_ties([tet, cub], [-8.002, -8.000], [99, 221], window=0.010)
    assert order == [1] and len(ties) == 1 and ties[0].lower == 0 and ties[0].higher == 1
    assert ties[0].gap == pytest.approx(0.002)
    order, ties = merge_near_ties([tet, cub], [-8.020, -8.000], [99, 221], window=0.010)
    assert order == [0, 1] and not ties


def entry(structure: Structure, energy: float, template_id: str) -> RankedStructure:
    """A relaxed result of the template route (``structure`` before and after relaxation)."""
    sg, symbol = space_group(structure)
    template = TemplateCandidate(template_id, "SrTiO3", sg, symbol, 1, len(structure), (), 1.0, "mendeleev", "",
                                 structure.volume, structure)
    relaxation = RelaxResult(structure, energy, energy + 0.5, 10, 0.01, True, 1.0)
    return RankedStructure(0, template.source, structure, relaxation, template=template)


def test_a_structure_given_its_twins_relaxation_does_not_represent_it():
    """Two structures that were the same before relaxation are relaxed once and share that
    relaxation: the one relaxed represents both (NaCl's rank 1 read 'CMCrystal sg225' with the
    template's 0 steps and 0.02 s, the CMCrystal structure never having been relaxed)."""
    cub = cubic_perovskite()
    relaxed, twin = entry(cub, -8.0, "mp-5229"), entry(cub.copy(), -8.0, "mp-9")
    relaxation = relaxed.relaxation
    twin.relaxation = relaxation
    entries = {("twin", 0): twin, ("relaxed", 0): relaxed}  # the twin first, as a GA result came first
    ranked, _, _ = _rank(entries, {k: relaxation for k in entries}, True, borrowed=frozenset({("twin", 0)}))
    assert [e.source for e in ranked] == ["template mp-5229"] and ranked[0].found_also_by == ["template mp-9"]
    ranked, _, _ = _rank(entries, {k: relaxation for k in entries}, True)  # without it, the first listed
    assert [e.source for e in ranked] == ["template mp-9"]


def test_pipeline_ranking_merges_the_near_tie_and_says_why():
    """A cubic structure and a slightly distorted tetragonal copy 2 meV/atom lower: one result,
    the cubic one, with the option on; both without it."""
    def pool():
        entries = {("tet", 0): entry(tetragonal_copy(), -8.002, "mp-1"),
                   ("cub", 0): entry(cubic_perovskite(), -8.000, "mp-5229")}
        return entries, {k: e.relaxation for k, e in entries.items()}

    entries, relaxations = pool()
    ranked, sound, _ = _rank(entries, relaxations, True, near_tie=0.010)
    assert [e.source for e in ranked] == ["template mp-5229"]
    assert ranked[0].crystallography()["relaxed_spacegroup"] == 221 and ranked[0].rank == 1
    reason = ranked[0].rank_reason
    assert "in place of its P4mm distortion" in reason and "2.0 meV/atom lower" in reason
    merged = [e for e in sound if e.duplicate_of is not None]
    assert [e.source for e in merged] == ["template mp-1"]

    class Result:  # what discarded_lines reads
        pool = sound
        rejected: list = []

        class settings:
            relax = True

    assert any("P4mm distortion of #1 (Pm-3m), 2.0 meV/atom lower" in line for line in discarded_lines(Result))

    entries, relaxations = pool()
    ranked, _, _ = _rank(entries, relaxations, True, near_tie=0.0)
    assert [e.source for e in ranked] == ["template mp-1"]  # the same structure at default tolerances
    assert ranked[0].rank_reason == ("the only distinct structure; found 2 times (1 duplicate merged into it: "
                                     "the duplicates column)")
    assert ranked[0].crystallography()["relaxed_spacegroup"] == 99


def test_staged_relaxation_keeps_the_best_of_a_small_pool():
    energies = {"a": -5.00, "b": -5.04, "c": -4.90, "d": -5.10}
    converged = {"a": False, "b": False, "c": False, "d": True}
    # d converged already (lowest); b is 60 meV/atom above it, a 100, c 200
    assert continued_within_window(energies, converged, 0.070, 0) == ["b"]
    assert continued_within_window(energies, converged, 0.070, 2) == ["b", "a"]
    assert continued_within_window(energies, converged, 0.500, 0) == ["b", "a", "c"]
    assert continued_within_window({}, {}, 0.1, 3) == []
    # the lowest unconverged structure is continued whatever the window when at_least >= 1
    assert continued_within_window({"x": -1.0, "y": -0.5}, {"x": False, "y": False}, 0.0, 1) == ["x"]


def test_duplicates_before_relaxation_keep_the_template():
    cub = cubic_perovskite()
    shifted = cub.copy()
    shifted.translate_sites(range(len(shifted)), [0.1, 0.1, 0.1])  # the same structure, origin moved
    stretched = Structure(Lattice.tetragonal(3.905, 3.905 * 1.4), cub.species, cub.frac_coords)  # another cell
    twins = duplicates_before_relaxation([shifted, stretched, cub], preferred=[False, False, True])
    assert twins == {0: 2}


def test_rank_reason_in_the_summary(tmp_path):
    from core.cli import main

    args = ["predict", "NaCl", "--out", str(tmp_path / "run"), "--sources", "templates", "--no-relax",
            "--templates-top-k", "2", "--jobs", "1"]
    assert main(args) == 0
    rows = json.loads((tmp_path / "run" / "summary.json").read_text())["structures"]
    assert rows and all(r["rank_reason"].startswith("not relaxed") for r in rows)
    assert "rank_reason" in (tmp_path / "run" / "summary.csv").read_text().splitlines()[0]


def test_second_potential_reorders_by_the_mean_of_both():
    """Two structures 1 meV/atom apart for the first potential: the second potential's energies at
    the same geometries decide (its gap between a cell stretched 40 % and a relaxed one is far larger)."""
    from dataclasses import replace

    from core.predict.ordering import _rerank_first
    from core.predict.settings import PredictionSettings
    from core.relax.relaxer import Relaxer, RelaxSettings

    good = cubic_perovskite()
    bad = Structure(Lattice.tetragonal(3.905, 3.905 * 1.4), good.species, good.frac_coords)  # far higher energy
    entries = {("bad", 0): entry(bad, -8.001, "mp-2"), ("good", 0): entry(good, -8.000, "mp-1")}
    ranked, _, _ = _rank(entries, {k: e.relaxation for k, e in entries.items()}, True, near_tie=0.0)
    assert [e.source for e in ranked] == ["template mp-2", "template mp-1"]
    settings = replace(PredictionSettings(), second_potential="sevennet", second_weight=0.5)
    out, failure = _rerank_first(ranked, settings, "cpu")
    assert failure is None
    second = Relaxer(RelaxSettings(potential="sevennet"))
    assert out[0].second_energy == pytest.approx(second.energy_per_atom(good), abs=1e-5)
    assert [e.source for e in out] == ["template mp-1", "template mp-2"] and [e.rank for e in out] == [1, 2]
    assert "ordered by 0.5 × CHGNet 0.3.0 + 0.5 × SevenNet-0 (11Jul2024) energies" in out[0].rank_reason
    with pytest.raises(Exception, match=r"second potential is the first one \(chgnet\): choose another "
                                        r"\(sevennet, sevennet-l3i5, sevennet-mf-0\) or none"):
        PredictionSettings(second_potential="chgnet")


def test_the_symmetry_prior_puts_the_probable_group_first_within_a_near_tie():
    """SrTiO3, Z = 1: a tetragonal P4/mmm cell 2 meV/atom below the cubic perovskite. The
    candidate model gives Pm-3m far more weight than P4/mmm for this composition, so with the
    prior (no second potential here) the cubic one is first and each reason gives P and the
    penalty; without it the energy order stays; a formula the model cannot answer keeps it too."""
    from dataclasses import replace

    from core.candidates.propose import spacegroup_prior
    from core.crystal.composition import parse_formula
    from core.predict.ordering import _rerank_first
    from core.predict.settings import SYMMETRY_PRIOR, PredictionSettings

    prior = spacegroup_prior("SrTiO3", 1)
    assert set(z for _, z in prior) == {1} and sum(prior.values()) == pytest.approx(1.0)
    assert prior[(221, 1)] > 10 * prior.get((123, 1), 0.0)
    cub = cubic_perovskite()
    tet = Structure(Lattice.tetragonal(3.905, 3.905 * 1.4), cub.species, cub.frac_coords)

    def ranked():
        entries = {("tet", 0): entry(tet, -8.002, "mp-2"), ("cub", 0): entry(cub, -8.000, "mp-1")}
        out, _, _ = _rank(entries, {k: e.relaxation for k, e in entries.items()}, True)
        assert [e.crystallography()["relaxed_spacegroup"] for e in out] == [123, 221]  # by energy
        return out

    settings = replace(PredictionSettings(), z=1, second_potential=None)
    assert settings.symmetry_prior == SYMMETRY_PRIOR > 0
    out, note = _rerank_first(ranked(), settings, "cpu", parse_formula("SrTiO3"))
    assert [e.crystallography()["relaxed_spacegroup"] for e in out] == [221, 123]
    assert [e.rank for e in out] == [1, 2]
    # rank 1 by the prior, not by energy, is said to the run and in rank 1's reason (CoAsS's known
    # Pmn2_1 structure stood third behind a P2_13 one 20 meV/atom above it, and only a tooltip said why)
    said = ("#1 (Pm-3m) is first by the symmetry prior, not by energy: by CHGNet 0.3.0's energy #2 (P4/mmm) is "
            "2.0 meV/atom lower; the composition makes Pm-3m likelier. The prior's record was measured only at its "
            "default weight (10 meV/atom) with a second potential re-ranking (docs/ranking.md): compare #1 and #2 in DFT")
    assert note.startswith(said) and said in out[0].rank_reason and "first by the symmetry prior" not in out[1].rank_reason
    # at the default weight with a second potential, the record measured there is quoted
    from core.predict import ordering

    record = ordering._first_by_the_prior(out[0], out, {id(out[0]): 0.002, id(out[1]): 0.0}, "SevenNet-0's energy")
    assert ("Changing rank 1 this way gained the known structure for 11 test formulas and lost it for 5 (11 and 1 on "
            "the validation formulas its weight was chosen on)") in record
    # the score they were ordered by is shown beside the energies (summary rank_score_meV, the table's score)
    scores = [e.record().rank_score_meV for e in out]
    assert scores[0] == 0.0 and scores[1] > 0
    assert "ln P(space group | composition, Z)" in out[0].rank_reason and "P(Pm-3m | composition, Z = 1) = 0.944 (the relaxed group's; not the candidate's sg_probability)" \
        in out[0].rank_reason
    assert "P(P4/mmm | composition, Z = 1)" in out[1].rank_reason
    auto, _ = _rerank_first(ranked(), replace(settings, z=None), "cpu", parse_formula("SrTiO3"))
    assert "ln P(space group | composition, summed over Z)" in auto[0].rank_reason
    assert "P(Pm-3m | composition) = " in auto[0].rank_reason and "summed over Z, not the candidate's" in \
        auto[0].rank_reason
    off, note = _rerank_first(ranked(), replace(settings, symmetry_prior=0.0), "cpu", parse_formula("SrTiO3"))
    assert [e.crystallography()["relaxed_spacegroup"] for e in off] == [123, 221] and note is None
    auto, _ = _rerank_first(ranked(), replace(settings, z=None), "cpu", parse_formula("SrTiO3"))
    assert [e.crystallography()["relaxed_spacegroup"] for e in auto] == [221, 123]  # the group summed over Z
    learned, _ = _rerank_first(ranked(), replace(settings, ranking="learned"), "cpu", parse_formula("SrTiO3"))
    assert [e.crystallography()["relaxed_spacegroup"] for e in learned] == [123, 221]  # its own order stays
    assert not any("ln P" in e.rank_reason for e in learned)
    with pytest.raises(Exception, match="symmetry prior -0.001 is out of range"):
        PredictionSettings(symmetry_prior=-0.001)


def test_the_learned_order_stands_against_the_second_potential(monkeypatch):
    """With --ranking learned and the default second potential, the second potential re-sorted
    the first structures, overriding the order the docs say is kept; its energies are still shown."""
    from dataclasses import replace

    import core.predict.ordering as ordering
    from core.predict.settings import PredictionSettings

    entries = [entry(tetragonal_copy(), -8.002, "mp-1"), entry(cubic_perovskite(), -8.000, "mp-5229")]
    for rank, e in enumerate(entries, 1):
        e.rank = rank

    def reversed_second(head, potential, device):  # the second potential prefers the second one
        energies = {id(e): -7.0 + 0.01 * (k == 0) for k, e in enumerate(head)}
        for e in head:
            e.second_energy = energies[id(e)]
        return energies

    monkeypatch.setattr(ordering, "_second_energies", reversed_second)
    settings = PredictionSettings(second_potential="sevennet")
    by_energy, _ = ordering._rerank_first(list(entries), settings, "cpu")
    assert [e.template.key for e in by_energy] == ["tpl-mp-5229", "tpl-mp-1"]
    learned, _ = ordering._rerank_first(list(entries), replace(settings, ranking="learned"), "cpu")
    assert [e.template.key for e in learned] == ["tpl-mp-1", "tpl-mp-5229"]
    assert all(e.second_energy is not None for e in learned)


def test_a_first_place_the_potentials_disagree_on_is_said(monkeypatch):
    """LaCrSe2O: SevenNet-0 put first a structure CHGNet had 162 meV/atom above another, and nothing said
    so beside a rank 1 "unstable +169" and a rank 2 "metastable +7". Beyond POTENTIALS_DISAGREE_EV the run's
    note and rank 1's reason name the other structure and both potentials' gaps; a small gap says nothing."""
    from dataclasses import replace

    import core.predict.ordering as ordering
    from core.predict.settings import PredictionSettings

    def second_prefers_the_cubic(head, potential, device):
        energies = {id(e): -7.0 - 0.11 * (e.template.key == "tpl-mp-5229") for e in head}
        for e in head:
            e.second_energy = energies[id(e)]
        return energies

    monkeypatch.setattr(ordering, "_second_energies", second_prefers_the_cubic)
    settings = replace(PredictionSettings(second_potential="sevennet"), symmetry_prior=0.0)

    def entries(gap):
        out = [entry(tetragonal_copy(), -8.0 - gap, "mp-1"), entry(cubic_perovskite(), -8.000, "mp-5229")]
        for rank, e in enumerate(out, 1):
            e.rank = rank
        return out

    far, note = ordering._rerank_first(entries(0.162), settings, "cpu")
    assert [e.template.key for e in far] == ["tpl-mp-5229", "tpl-mp-1"]
    assert note is not None and note.startswith("the potentials disagree on #1 (Pm-3m): CHGNet 0.3.0 has #2 (P4mm) "
                                                "162 meV/atom below it, SevenNet-0 (11Jul2024) 110 meV/atom above it, beyond")
    assert note in far[0].rank_reason and "compare #1 and #2 in DFT" in note
    near, quiet = ordering._rerank_first(entries(0.020), settings, "cpu")
    assert [e.template.key for e in near] == ["tpl-mp-5229", "tpl-mp-1"] and quiet is None
    assert "disagree" not in near[0].rank_reason
    # first by the symmetry prior while both potentials have the other lower: no talk of disagreement,
    # but the prior's decision is said
    monkeypatch.setattr(ordering, "_symmetry_penalties", lambda head, formula, settings: {
        id(e): (-0.5 if e.template.key == "tpl-mp-5229" else 0.0, 0.9) for e in head})
    monkeypatch.setattr(ordering, "_second_energies", lambda head, potential, device: {
        id(e): -7.0 - 0.01 * (e.template.key == "tpl-mp-1") for e in head})
    from core.crystal.composition import parse_formula

    prior_first, said = ordering._rerank_first(entries(0.162), settings, "cpu", parse_formula("SrTiO3"))
    assert prior_first[0].template.key == "tpl-mp-5229" and "disagree" not in said
    assert said.startswith("#1 (Pm-3m) is first by the symmetry prior, not by energy: by SevenNet-0 (11Jul2024)'s "
                           "energy at the CHGNet 0.3.0 geometry #2 (P4mm) is 10.0 meV/atom lower")


def test_the_default_second_potential_is_the_other_one():
    from dataclasses import replace

    from core.predict.settings import PredictionSettings

    assert PredictionSettings().reranking_potential == "sevennet"
    assert replace(PredictionSettings(), potential="sevennet").reranking_potential == "chgnet"
    assert PredictionSettings.fast().reranking_potential is None
    assert PredictionSettings(second_potential=None).reranking_potential is None


def test_cli_second_potential_none_and_near_tie(tmp_path):
    from core.cli import build_parser
    from core.cli.options import predict_settings as _predict_settings
    from core.predict.settings import PredictionSettings

    args = build_parser().parse_args(["predict", "NaCl", "--second-potential", "none", "--near-tie", "10"])
    settings = _predict_settings(args)
    assert settings.reranking_potential is None and settings.near_tie == pytest.approx(0.010)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["predict", "NaCl", "--near-tie", "-1"])
    with pytest.raises(SystemExit):
        build_parser().parse_args(["predict", "NaCl", "--symmetry-prior", "-1"])
    prior = _predict_settings(build_parser().parse_args(["predict", "NaCl", "--symmetry-prior", "0"]))
    assert prior.symmetry_prior == 0.0 and settings.symmetry_prior == pytest.approx(0.010)
    budget = _predict_settings(build_parser().parse_args(["predict", "NaCl", "--patience", "20", "--stall", "100"]))
    assert (budget.patience, budget.stall, budget.ga().stall) == (20, 100, 100)
    fast = _predict_settings(build_parser().parse_args(["predict", "NaCl", "--fast"]))
    assert (fast.patience, fast.stall) == (PredictionSettings.fast().patience, PredictionSettings.fast().stall)


def test_the_ga_budget_follows_the_cell_size_unless_given():
    """Cells of at most 12 atoms get the short GA budget chosen on validation, larger ones the
    long one; --patience/--stall given by the user hold for every size; each prediction target
    carries its own cell's budget, and the budget is part of its resume key."""
    import numpy as np

    from core.candidates.propose import Candidate
    from core.predict.settings import (
        LONG_GA_BUDGET,
        SHORT_GA_BUDGET,
        SHORT_GA_MAX_ATOMS,
        PredictionSettings,
    )
    from core.predict.stages import _reconstruction_key, _target

    default = PredictionSettings()
    budget = lambda ga: (ga.patience, ga.stall)  # noqa: E731
    assert budget(default.ga(SHORT_GA_MAX_ATOMS)) == SHORT_GA_BUDGET == (20, 100)
    assert budget(default.ga(SHORT_GA_MAX_ATOMS + 1)) == LONG_GA_BUDGET == (50, 200)
    assert budget(default.ga()) == LONG_GA_BUDGET  # size unknown: the long one
    given = PredictionSettings(patience=7)
    assert budget(given.ga(4)) == (7, 100) and budget(given.ga(16)) == (7, 200)
    assert budget(PredictionSettings.fast().ga(4)) == budget(PredictionSettings.fast().ga(16)) == (30, 100)
    assert PredictionSettings.from_dict(default.to_dict()) == default  # a project keeps "by size"

    class Map:  # what _target reads of a ContactPrediction
        def __init__(self, n):
            self.species, self.contact = ["Na", "Cl"] * (n // 2), np.zeros((n, n), dtype=np.uint8)

    cand = Candidate(spacegroup=225, symbol="Fm-3m", crystal_system="cubic", probability=1.0, z=1, n_atoms=2,
                     centring_points=4, lattice=(5.6, 5.6, 5.6, 90.0, 90.0, 90.0), n_wyckoff_assignments=None)
    small, large = Map(8), Map(16)
    assert budget(_target(cand, small, default).ga) == SHORT_GA_BUDGET
    assert budget(_target(cand, large, default).ga) == LONG_GA_BUDGET
    assert _reconstruction_key("NaCl", cand, small, default) != _reconstruction_key(
        "NaCl", cand, small, PredictionSettings(patience=50, stall=200))
    assert _reconstruction_key("NaCl", cand, large, default) == _reconstruction_key(
        "NaCl", cand, large, PredictionSettings(patience=50, stall=200))  # older run folders still resume


def test_learned_ranker_features_need_no_reference_and_order_the_first_three():
    """The features come from what the pipeline knows when it ranks (energies, symmetry, route,
    scores); no reference structure is given anywhere."""
    import inspect

    from core.predict.ordering import _learned_order
    from core.predict.ranking import RANKER_FEATURES, LinearRanker, ranker_features
    from core.predict.settings import LEARNED_TOP, PredictionSettings

    assert not any("ref" in name or "match" in name for name in RANKER_FEATURES)
    assert list(inspect.signature(ranker_features).parameters) == ["rows"]
    cub = cubic_perovskite()
    structures = [cub, Structure(Lattice.tetragonal(3.905, 3.905 * 1.4), cub.species, cub.frac_coords),
                  Structure(Lattice.tetragonal(3.905, 3.905 * 0.6), cub.species, cub.frac_coords),
                  Structure(Lattice.tetragonal(3.905, 3.905 * 2.0), cub.species, cub.frac_coords)]
    entries = {(f"t{k}", 0): entry(s, -8.0 + 0.01 * k, f"mp-{k}") for k, s in enumerate(structures)}
    ranked, _, _ = _rank(entries, {k: e.relaxation for k, e in entries.items()}, True)
    assert len(ranked) == 4
    model = LinearRanker.load()
    assert model.features == RANKER_FEATURES and len(model.coef) == len(RANKER_FEATURES)
    out = _learned_order(ranked, PredictionSettings(ranking="learned"))
    assert [e.rank for e in out] == [1, 2, 3, 4] and out[3] is ranked[3]  # only the first 3 move
    assert sorted(e.source for e in out[:LEARNED_TOP]) == sorted(e.source for e in ranked[:LEARNED_TOP])
    assert all("learned ranker's score" in e.rank_reason for e in out[:LEARNED_TOP])
    with pytest.raises(Exception, match="unknown ranking"):
        PredictionSettings(ranking="random")


def test_a_failing_second_potential_is_said_and_leaves_the_order(monkeypatch):
    from dataclasses import replace

    import core.relax.relaxer
    from core.predict.ordering import _rerank_first
    from core.predict.settings import PredictionSettings

    def broken(name, device):
        raise RuntimeError("no weights")

    monkeypatch.setattr(core.relax.relaxer, "load_calculator", broken)
    core.relax.relaxer.cached_relaxer.cache_clear()
    cub = cubic_perovskite()
    entries = {("a", 0): entry(cub, -8.001, "mp-2"),
               ("b", 0): entry(Structure(Lattice.tetragonal(3.905, 3.905 * 1.4), cub.species, cub.frac_coords),
                               -8.000, "mp-1")}
    ranked, _, _ = _rank(entries, {k: e.relaxation for k, e in entries.items()}, True)
    out, failure = _rerank_first(ranked, replace(PredictionSettings(), second_potential="sevennet"), "cpu")
    core.relax.relaxer.cached_relaxer.cache_clear()
    assert out == ranked and "re-ranking by SevenNet-0" in failure and "no weights" in failure
    assert "ranked by CHGNet 0.3.0 alone" in failure and all(e.second_energy is None for e in out)
    assert all(failure in e.rank_reason for e in out)
    # with the symmetry prior the first potential's energies and the prior still order them, and say so
    from core.crystal.composition import parse_formula

    entries = {("a", 0): entry(cub, -8.000, "mp-2"),
               ("b", 0): entry(Structure(Lattice.tetragonal(3.905, 3.905 * 1.4), cub.species, cub.frac_coords),
                               -8.002, "mp-1")}  # the tetragonal one lower now
    ranked, _, _ = _rank(entries, {k: e.relaxation for k, e in entries.items()}, True)
    assert [e.crystallography()["relaxed_spacegroup"] for e in ranked] == [123, 221]
    both, failure = _rerank_first(ranked, replace(PredictionSettings(), z=1, second_potential="sevennet"), "cpu",
                                  parse_formula("SrTiO3"))
    core.relax.relaxer.cached_relaxer.cache_clear()
    failed = failure.split("; #1 (")[0]  # and then that the prior put #1 first
    assert "no weights" in failed and all(failed in e.rank_reason and "ln P" in e.rank_reason for e in both)
    assert "#1 (Pm-3m) is first by the symmetry prior, not by energy: by CHGNet 0.3.0's energy #2" in failure
    assert [e.crystallography()["relaxed_spacegroup"] for e in both] == [221, 123]


def test_a_result_whose_relaxation_halved_its_cell_is_reported_and_written_in_the_smaller_cell():
    """A doubled cubic perovskite (the cell a lower-symmetry start relaxed in): the record holds
    its primitive cell, so POSCAR, Z and n_atoms are those of the result, not of the start."""
    doubled = cubic_perovskite() * (2, 1, 1)
    record = entry(doubled, -8.0, "mp-1").record()
    assert (record.z, record.n_atoms, len(record.structure)) == (1, 5, 5)
    assert record.structure.composition.reduced_formula == "SrTiO3" and record.energy_per_atom == -8.0
    same = entry(cubic_perovskite(), -8.0, "mp-1")
    assert same.record().structure is same.structure  # a cell that is already primitive is written as relaxed
    # the potential's moments follow the sites kept (Ti keeps its 1.5), and the record's cell carries none
    halved = entry(doubled, -8.0, "mp-1")
    halved.relaxation.magmoms = [1.5 if site.specie.symbol == "Ti" else 0.0 for site in doubled]
    cell, moments = halved.written_cell()
    assert [m for site, m in zip(cell, moments) if site.specie.symbol == "Ti"] == [1.5]
    assert sum(moments) == 1.5 and "magmom" not in cell.site_properties


def test_the_written_cell_is_reduced_at_the_tolerance_the_group_and_cif_are_reported_at():
    """A doubled perovskite whose Ti is 0.03 Å off centre in one half: cubic at the reporting
    tolerance (0.1 Å, the relaxed group and the CIF) but not at the maps' 0.01 Å. It was written
    as the 10-atom cell beside a 5-atom CIF (a new user's trial: P6_3/mmc, 12 atoms against 4)."""
    from core.crystal.symmetry import SPACEGROUP_SYMPREC

    doubled = cubic_perovskite() * (2, 1, 1)
    ti = next(k for k, site in enumerate(doubled) if site.specie.symbol == "Ti")
    doubled.translate_sites([ti], [0.03 / doubled.lattice.a, 0, 0], frac_coords=True)
    result = entry(doubled, -8.0, "mp-1")
    record = result.record()
    assert result.crystallography()["relaxed_spacegroup"] == 221 and SPACEGROUP_SYMPREC == 0.1
    assert (record.z, record.n_atoms, len(record.structure)) == (1, 5, 5)


def test_a_smaller_cell_that_would_merge_different_moments_is_not_written():
    """Two Fe 0.05 Å from a body-centred pair with 3.9 and 1.2 μB: one atom at 0.1 Å, which would
    drop the 1.2 μB sublattice from MAGMOM (a second read found it); the relaxed cell is kept. With
    equal moments the cell is reduced."""
    from pymatgen.core import Lattice, Structure

    pair = Structure(Lattice.cubic(2.87), ["Fe", "Fe"], [[0, 0, 0], [0.51, 0.5, 0.5]])
    result = entry(pair, -8.0, "mp-1")
    result.relaxation.magmoms = [3.9, 1.2]
    cell, moments = result.written_cell()
    assert len(cell) == 2 and moments == [3.9, 1.2]
    same = entry(pair, -8.0, "mp-1")
    same.relaxation.magmoms = [2.2, 2.25]
    cell, moments = same.written_cell()
    assert len(cell) == 1 and len(moments) == 1


def test_z_of_a_result_counts_formula_units_of_the_formula_not_pymatgens_molecules():
    """H2 and O2 are one 'formula unit' to pymatgen's reduced factor (Z 0 or half): Z counts the
    formula units of the cell kept; the start's Z stays for the candidate key."""
    import dataclasses

    hcp = Structure(Lattice.hexagonal(3.3, 5.3), ["H", "H"], [[1 / 3, 2 / 3, 0.25], [2 / 3, 1 / 3, 0.75]])
    result = entry(hcp, -3.0, "mp-1")
    result.template = dataclasses.replace(result.template, z=2)
    record = result.record()
    assert (record.start_z, record.z, record.n_atoms) == (2, 2, 2)


def test_a_hull_whose_references_may_lack_the_ground_state_says_so_on_stable_results():
    """Mg2SiO4's 14-atom result read 'stable' against a 14-atom known phase while its ground state,
    forsterite (28 atoms), is beyond the references' 20 atoms (a new user's trial): where the
    stoichiometry's common cells reach that limit, stable and metastable results carry a warning."""
    from core.crystal.composition import parse_formula
    from core.predict.ordering import _place_on_hull
    from core.predict.scope import hull_caveat
    from core.predict.settings import PredictionSettings

    assert "Z = 2" in hull_caveat(parse_formula("Mg2SiO4")) and hull_caveat(parse_formula("NaCl")) is None
    # not where it says nothing: Z = 1 is the only cell 13 atoms per unit fit, and perovskites are mostly smaller
    assert hull_caveat(parse_formula("Ca3(PO4)2")) is None and hull_caveat(parse_formula("SrTiO3")) is None
    low, high = entry(cubic_perovskite(), -8.6, "mp-1"), entry(tetragonal_copy(), -7.0, "mp-2")
    assert _place_on_hull([low, high], PredictionSettings(), caveat="larger cells missing") is None
    assert low.stability.label != "unstable" and "larger cells missing" in low.stability.warning
    assert high.stability.label == "unstable" and "larger cells missing" not in high.stability.warning
    assert low.record().hull_warning == low.stability.warning
