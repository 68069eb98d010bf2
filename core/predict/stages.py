"""The stages of a prediction before the ranking: candidates, templates, the GA runs of the
contact route, and the staged relaxation of the pooled structures (with the progress clock).
"""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np

from core.candidates.propose import Candidate, propose_candidates
from core.contact_model.inference import (
    ContactPrediction,
)
from core.crystal.composition import MP20_MAX_ATOMS, Formula
from core.crystal.symmetry import hm_symbol
from core.errors import AlphaCrystalError
from core.io.files import state_key
from core.io.read import MIN_ATOM_DISTANCE
from core.predict.ranking import (
    duplicates_before_relaxation,
)
from core.predict.results import RankedStructure, candidate_key
from core.predict.settings import PredictionError, PredictionSettings
from core.reconstruction.assignments import Assignment
from core.reconstruction.fitness import score_structure
from core.reconstruction.job import ReconstructionResult, ReconstructionTarget
from core.reconstruction.loop import reconstruct
from core.relax.potentials import POTENTIALS
from core.relax.relaxer import (
    RelaxResult,
    shortest_distance,
)
from core.relax.rounds import relax_in_rounds
from core.runtime.progress import PipelineProgress, Progress
from core.templates.retrieval import TemplateCandidate, retrieve_templates


class _Clock:
    """Stage timing and progress events with a per-stage ETA."""

    def __init__(self, callback: Progress | None, start: float) -> None:
        self.callback = callback
        self.start = start
        self.current: str | None = None
        self.stage_start = start
        self.durations: dict[str, float] = {}

    def stage(self, name: str, done: int, total: int, message: str) -> None:
        now = time.perf_counter()
        if name != self.current:
            self._close(now)
            self.current, self.stage_start = name, now
        eta = None
        if 2 <= done < total:  # one finished unit says little: the first carries the start-up (pools, models)
            eta = (now - self.stage_start) / done * (total - done)
        elif done >= total:
            eta = 0.0
        if self.callback:
            self.callback(PipelineProgress(name, done, total, message, now - self.start, eta))

    def _close(self, now: float) -> None:
        if self.current is not None:
            self.durations[self.current] = self.durations.get(self.current, 0.0) + now - self.stage_start

    def finish(self) -> None:
        self._close(time.perf_counter())
        self.current = None
        if self.callback:
            self.callback(PipelineProgress("done", 1, 1, "", time.perf_counter() - self.start, 0.0))

def _is_set(cancel) -> bool:
    return cancel is not None and cancel.is_set()

# ---------------------------------------------------------------- stages
def _propose(parsed, settings: PredictionSettings, clock=None) -> list[Candidate]:
    if clock is not None:
        clock.stage("candidates", 0, 1, f"proposing space groups for {parsed.unit_formula}")
    if settings.spacegroups:
        # every feasible group, to find the user's: no assignment counts (up to 230 enumerations)
        pool = propose_candidates(parsed, top_k=230, z=settings.z, count_wyckoff=False)
        by_sg = {c.spacegroup: c for c in pool}
        missing = [sg for sg in settings.spacegroups if sg not in by_sg]
        if missing:
            named = ", ".join(f"{hm_symbol(sg)} ({sg})" for sg in missing)
            raise PredictionError(f"space group(s) {named} admit no Wyckoff assignment "
                                  f"of '{parsed.text}'" + (f" with Z={settings.z}" if settings.z else ""))
        out = [by_sg[sg] for sg in settings.spacegroups]
    else:
        out = propose_candidates(parsed, top_k=settings.top_k, z=settings.z)
    if clock is not None:
        clock.stage("candidates", 1, 1, f"{len(out)} candidates")
    return out

def _retrieve(parsed: Formula, settings: PredictionSettings, clock) -> list[TemplateCandidate]:
    clock.stage("templates", 0, 1, f"searching known structures of {parsed.unit_formula}'s stoichiometry")
    found = retrieve_templates(parsed, z=settings.z, top_k=settings.template_top_k, scorer=settings.template_scorer,
                               spacegroups=settings.spacegroups, max_atoms=MP20_MAX_ATOMS)
    clock.stage("templates", 1, 1, f"{len(found)} templates"
                + (": " + ", ".join(f"{c.template_formula} {c.symbol}" for c in found[:3]) if found else ""))
    return found

def _entries(candidates: list[Candidate], selected: dict[str, list[ReconstructionResult]],
             templates: list[TemplateCandidate]) -> dict[tuple[str, int], RankedStructure]:
    """One unranked entry per structure to relax: (candidate key, k) or (template key, 0)."""
    by_name = {candidate_key(c): c for c in candidates}
    out: dict[tuple[str, int], RankedStructure] = {}
    for name, results in selected.items():
        cand = by_name[name]
        for k, r in enumerate(results):
            out[(name, k)] = RankedStructure(0, f"CMCrystal sg{cand.spacegroup}", r.structure, None,
                                             candidate=cand, reconstruction=r)
    for tpl in templates:
        out[(tpl.key, 0)] = RankedStructure(0, tpl.source, tpl.structure, None, template=tpl)
    return out

def _target(candidate: Candidate, prediction: ContactPrediction, settings: PredictionSettings) -> ReconstructionTarget:
    forced = (Assignment.from_dict(candidate.assignment),) if candidate.assignment else ()
    return ReconstructionTarget(species=tuple(prediction.species), contact_map=np.asarray(prediction.contact),
                                spacegroup=candidate.spacegroup, lattice=tuple(candidate.lattice),
                                name=candidate_key(candidate), assignments=forced,
                                ga=settings.ga(len(prediction.species)))

def _reconstruction_key(formula: str, candidate: Candidate, prediction: ContactPrediction,
                        settings: PredictionSettings) -> str:
    return state_key(formula, candidate.spacegroup, candidate.z, candidate.lattice, list(prediction.species),
                     np.asarray(prediction.contact).tolist(), settings.n_assignments, settings.restarts,
                     settings.ga(len(prediction.species)).to_dict(), settings.max_strain, settings.seed,
                     *([settings.escalate_to] if settings.escalate_to else []),  # older run folders still resume
                     *([candidate.assignment["label"]] if candidate.assignment else []))

def _reconstruct(formula, candidates, maps, settings, folder, clock, cancel, on_generation, on_reconstruction):
    """The reconstruction loop over all candidates on one pool (:func:`core.reconstruction.loop.reconstruct`);
    finished candidates are stored at once, stored ones are resumed."""
    results: dict[str, list[ReconstructionResult]] = {}
    keys, targets, skipped = {}, {}, []
    resumed = 0
    # planning enumerates Wyckoff assignments: its own message, and its time counted in this stage
    clock.stage("reconstruction", 0, 1, f"enumerating Wyckoff assignments of {len(candidates)} candidates")
    for cand in candidates:
        name = candidate_key(cand)
        keys[name] = _reconstruction_key(formula, cand, maps[cand.z], settings)
        stored = folder.load("reconstruction", keys[name]) if folder else None
        if stored is not None:
            results[name] = [ReconstructionResult.from_stored(d) for d in stored["results"]]
            resumed += 1
        else:
            targets[name] = _target(cand, maps[cand.z], settings)
    counter = {"done": 0, "total": 0}

    def planned(total: int) -> None:
        counter["total"] = total
        clock.stage("reconstruction", counter["done"], total, f"{total} GA runs over {len(targets)} candidates"
                    + (f" ({resumed} resumed)" if resumed else ""))

    def finished(name: str, result: ReconstructionResult) -> None:
        counter["done"] += 1
        clock.stage("reconstruction", counter["done"], counter["total"],
                    f"{name}: fitness {result.fitness:.3f} [{result.assignment.label}]")
        if on_reconstruction:
            on_reconstruction(name, result)

    def target_done(name: str, done: list[ReconstructionResult]) -> None:
        if folder is not None and not any(r.cancelled for r in done):
            folder.save("reconstruction", keys[name], {"candidate": name, "results": [r.to_stored() for r in done]})

    if targets:
        outcome = reconstruct(targets, settings.loop(), progress=on_generation, cancel=cancel, on_planned=planned,
                              on_result=finished, on_target_done=target_done)
        results.update(outcome.results)
        skipped = [{"candidate": name, "assignment": "", "fitness": None, "reason": reason}
                   for name, reason in outcome.skipped.items()]
    return {name: res for name, res in results.items() if res}, resumed, skipped

def _same_before_relaxation(entries: dict[tuple[str, int], RankedStructure]) -> dict:
    """Entries whose structure is another's before relaxation (a template and a CMCrystal run
    often give the same one): item -> the item relaxed in its place (templates kept first)."""
    items = list(entries)
    twins = duplicates_before_relaxation([entries[i].initial for i in items],
                                         [entries[i].template is not None for i in items])
    return {items[k]: items[j] for k, j in twins.items()}

def _relax(entries: dict[tuple[str, int], RankedStructure], settings, folder, clock, cancel,
           maps: dict[int, ContactPrediction] | None = None, on_relaxed=None):
    """Relaxations of the structures of both routes (:func:`core.relax.rounds.relax_in_rounds`:
    one shared budget, stored in the run folder as they finish); ``on_relaxed`` as in
    :func:`core.predict.pipeline.predict_structures`."""
    full = settings.relax_settings()
    label = POTENTIALS[full.potential].label

    def progress(done: int, total: int, message: str) -> None:
        clock.stage("relaxation", done, total, message.replace("relaxations", f"{label} relaxations", 1))

    def relaxed(item: tuple[str, int], result: RelaxResult) -> None:
        entry = entries[item]
        if not result.ok or shortest_distance(entry.initial) < MIN_ATOM_DISTANCE:  # the ranking rejects these
            return
        entry = replace(entry, relaxation=result, found_also_by=[], _crystallography=None)
        if maps and entry.z in maps:
            entry.relaxed_score = _relaxed_score(entry, maps[entry.z])
        on_relaxed(item, entry)

    return relax_in_rounds({item: e.initial for item, e in entries.items()}, full, settings.prerelax_steps,
                           settings.refine_top, settings.jobs, cancel=cancel, store=folder, progress=progress,
                           on_result=relaxed if on_relaxed is not None else None,
                           refine_window=settings.refine_window)

def _relaxed_score(entry: RankedStructure, prediction: ContactPrediction) -> tuple[float, float, float] | None:
    """How well the relaxed structure keeps the bonds of the map (None without relaxation).

    Relaxation moves atoms freely: a GA structure of low fitness can relax into one
    with exactly the map's bonds, and a perfect one can lose some."""
    if entry.relaxation is None or not entry.relaxation.ok:
        return None
    try:
        ev = score_structure(entry.relaxation.structure, list(prediction.species), np.asarray(prediction.contact))
    except AlphaCrystalError:
        return None
    return float(ev.fitness[0]), float(ev.dice[0]), float(ev.valid_fraction[0])
