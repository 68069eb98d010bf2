"""Relaxation in two rounds: one count known before it starts, honest resumed counts, and
each structure reported as it is relaxed (the window's provisional results)."""

from __future__ import annotations

import math

import pytest
from conftest import nacl

from core.predict.pipeline import predict_structures
from core.predict.settings import PredictionSettings
from core.relax import rounds as relax_rounds
from core.relax.relaxer import RelaxResult, RelaxSettings
from core.runtime.parallel import CancelToken
from core.runtime.progress import PipelineProgress


class FakeRunner:
    """Stands in for :class:`core.relax.relaxer.RelaxRunner`: energy -k/10 eV/atom for structure k;
    round 1 leaves the keys in ``UNCONVERGED`` unconverged; ``stop_after`` cancels."""

    UNCONVERGED: set = set()
    stop_after: int | None = None
    runs: list = []

    def __init__(self, workers, cancel=None) -> None:
        self.cancel = cancel

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        pass

    def run(self, items, settings: RelaxSettings):
        for item, structure in items:
            if self.cancel is not None and self.cancel.is_set():
                return
            FakeRunner.runs.append((item, settings.steps))
            converged = settings.steps > 10 or item not in self.UNCONVERGED
            yield item, RelaxResult(structure, -item / 10, 0.0, settings.steps, 0.01, converged, 0.0)
            if self.stop_after is not None and len(FakeRunner.runs) >= self.stop_after:
                self.cancel.cancel()


class DictStore:
    def __init__(self) -> None:
        self.data: dict = {}

    def load(self, kind: str, key: str):
        return self.data.get((kind, key))

    def save(self, kind: str, key: str, data: dict) -> None:
        self.data[(kind, key)] = data


@pytest.fixture
def fake_runner(monkeypatch):
    FakeRunner.UNCONVERGED, FakeRunner.stop_after, FakeRunner.runs = set(), None, []
    monkeypatch.setattr(relax_rounds, "RelaxRunner", FakeRunner)
    return FakeRunner


def structures(n: int) -> dict:
    base = nacl()
    out = {}
    for k in range(n):
        s = base.copy()
        s.scale_lattice(base.volume * (1 + 0.01 * k))  # distinct CIF text: distinct store keys
        out[k] = s
    return out


FULL = RelaxSettings(steps=100)


def relax(items, store=None, cancel=None, **kwargs):
    events, reported = [], []
    out, resumed = relax_rounds.relax_in_rounds(
        items, FULL, prerelax_steps=10, refine_top=3, workers=1, cancel=cancel, store=store,
        progress=lambda done, total, message: events.append((done, total, message)),
        on_result=lambda key, result: reported.append((key, result.steps)), **kwargs)
    return out, resumed, events, reported


def test_the_total_is_known_before_the_first_relaxation_and_never_changes(fake_runner):
    fake_runner.UNCONVERGED = {3}  # round 2 continues one structure of the three it could
    out, _, events, _ = relax(structures(8))
    totals = {total for _, total, _ in events}
    assert totals == {8 + 3}, events  # 8 of round 1 + at most 3 of round 2, said at the start
    assert events[0][0] == 0 and events[0][2].startswith("11 relaxations: 8 structures for 10 steps each, then up to 3")
    assert [done for done, _, _ in events] == sorted(done for done, _, _ in events)  # never goes back
    assert events[-1][0] == 11  # the two round 2 did not need count as done
    assert any("not needed" in message for _, _, message in events)
    assert len(out) == 8 and out[3].steps == 100 and out[0].steps == 10


def test_every_structure_is_reported_as_it_is_relaxed_and_again_when_continued(fake_runner):
    fake_runner.UNCONVERGED = {5, 6}
    out, _, _, reported = relax(structures(4 + 3))
    assert [key for key, steps in reported if steps == 10] == list(range(7))  # round 1, in order
    assert sorted(key for key, steps in reported if steps == 100) == [5, 6]  # round 2 replaces them
    last = dict(reported)
    assert {key: out[key].steps for key in out} == last


def test_a_resumed_run_counts_every_reused_relaxation(fake_runner):
    store, cancel = DictStore(), CancelToken()
    items = structures(8)
    fake_runner.stop_after = 7  # interrupted in round 1: 7 prerelaxations stored
    relax(items, store=store, cancel=cancel)
    fake_runner.stop_after, fake_runner.runs = None, []
    out, resumed, events, reported = relax(items, store=store)
    assert resumed == 7 and len(fake_runner.runs) == 1 and len(out) == 8
    # one still to prerelax, and round 2 may continue any of the 8: 1 + 3, said at the start
    assert events[0][2].startswith("4 relaxations: 1 structure for 10 steps each") and "7 of 8 structures resumed" in events[0][2]
    assert {total for _, total, _ in events} == {4} and events[-1][0] == 4
    assert sorted(key for key, _ in reported) == list(range(8))  # the resumed ones reported at once too


@pytest.mark.slow
def test_predict_reports_each_relaxed_structure_and_one_relaxation_count(tmp_path):
    """The real thing (CHGNet, templates of NaCl): ``on_relaxed`` sees every ranked
    structure with its final energy; the relaxation stage's total never changes."""
    settings = PredictionSettings(sources=("templates",), template_top_k=3, jobs=1, relax_steps=20,
                                  prerelax_steps=10, refine_top=1)
    events: list[PipelineProgress] = []
    relaxed: dict = {}
    result = predict_structures("NaCl", settings, progress=events.append,
                                on_relaxed=lambda key, entry: relaxed.__setitem__(key, entry))
    stage = [e for e in events if e.stage == "relaxation"]
    assert len({e.total for e in stage}) == 1 and stage[-1].done == stage[-1].total
    assert stage[0].message.startswith(f"{stage[0].total} CHGNet") and " relaxations: " in stage[0].message
    assert relaxed and all(entry.rank == 0 and math.isfinite(entry.energy_per_atom) for entry in relaxed.values())
    final = {e.template.key: e.energy_per_atom for e in result.pool}
    for (key, _), entry in relaxed.items():
        if key in final:
            assert entry.energy_per_atom == pytest.approx(final[key])
    assert all(e.rank > 0 for e in result.ranked)  # the provisional copies left the ranking alone


def test_an_interrupted_run_does_not_claim_zero_distinct_structures(tmp_path):
    settings = PredictionSettings(top_k=1, n_assignments=1, population=20, generations=2000, patience=2000,
                                  jobs=1, sources=("contact",))
    cancel = CancelToken()
    events: list[PipelineProgress] = []

    def stop(p: PipelineProgress) -> None:
        events.append(p)
        if p.stage == "reconstruction":
            cancel.cancel()

    result = predict_structures("NaCl", settings, progress=stop, cancel=cancel)
    assert result.cancelled
    ranking = [e.message for e in events if e.stage == "ranking"]
    assert ranking and not any("distinct structures" in m for m in ranking), ranking
    assert "interrupted" in ranking[-1]


def test_window_continues_only_structures_near_the_lowest_and_keeps_the_best(fake_runner):
    """Energies -k/10 eV/atom after round 1: with a 150 meV/atom window only the two lowest
    unconverged structures (k = 5, 4) go on; the best one is kept, the far ones keep round 1."""
    fake_runner.UNCONVERGED = {1, 2, 3, 4, 5}
    out, _ = relax_rounds.relax_in_rounds(structures(6), FULL, prerelax_steps=10, refine_top=5, workers=1,
                                          refine_window=0.15)
    continued = sorted(item for item, steps in fake_runner.runs if steps == FULL.steps - 10)
    assert continued == [4, 5]
    best = min(out, key=lambda k: out[k].energy_per_atom)
    assert best == 5 and out[5].converged and out[5].steps == FULL.steps
    assert not out[1].converged and out[1].steps == 10  # left after round 1
    # without a window the 5 lowest unconverged ones (all of them) go on
    fake_runner.runs = []
    relax_rounds.relax_in_rounds(structures(6), FULL, prerelax_steps=10, refine_top=5, workers=1)
    assert sorted(item for item, steps in fake_runner.runs if steps == FULL.steps - 10) == [1, 2, 3, 4, 5]


def test_a_cancelled_run_keeps_every_structure_it_relaxed(fake_runner):
    """Cancelled in round 1 (after 5 of 8) or in round 2, the structures relaxed so far are
    results (the window showed them, then "0 structures from the finished part"); round-1
    results are not stored as final, so a resumed run continues them."""
    store, cancel = DictStore(), CancelToken()
    fake_runner.stop_after = 5
    out, _, _, _ = relax(structures(8), store=store, cancel=cancel)
    assert sorted(out) == [0, 1, 2, 3, 4] and all(out[k].steps == 10 for k in out)
    assert not any(kind == "relaxation" for kind, _ in store.data)
    fake_runner.UNCONVERGED, fake_runner.stop_after, fake_runner.runs = {5, 6, 7}, 9, []
    out, _, _, _ = relax(structures(8), cancel=CancelToken())  # round 2 stopped after its first
    assert sorted(out) == list(range(8))
    assert sorted(k for k in out if out[k].steps == 100) == [7] and not out[6].converged


@pytest.mark.slow
def test_predict_cancelled_during_relaxation_ranks_what_was_relaxed():
    """The window's Cancel in the relaxation stage: the structures relaxed before it are the
    run's results (marked unconverged where round 2 did not reach them), not an empty list."""
    settings = PredictionSettings(sources=("templates",), template_top_k=3, jobs=1, relax_steps=20,
                                  prerelax_steps=5, refine_top=3, second_potential=None, stability_frame=None)
    cancel = CancelToken()
    relaxed: list = []

    def first_then_stop(key, entry) -> None:
        relaxed.append(key)
        cancel.cancel()

    result = predict_structures("NaCl", settings, cancel=cancel, on_relaxed=first_then_stop)
    assert result.cancelled and relaxed
    assert result.ranked and all(math.isfinite(r.energy_per_atom) for r in result.ranked)
