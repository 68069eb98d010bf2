"""``predict_structures``: formula in, relaxed and ranked crystal structures out.

The one orchestration used by the CLI (``alphacrystal predict``) and the GUI:

1. candidates: top-k feasible (space group, Z, lattice) of the candidate model;
2. contact maps: the shipped network's map for every Z among the candidates
   (or maps given by the caller, e.g. edited by hand in the GUI);
3. reconstruction: CMCrystal GA runs for the top Wyckoff assignments of every
   candidate, all on one spawn process pool;
4. relaxation: the best distinct reconstructions of every candidate relaxed
   with CHGNet (positions and cell);
5. ranking: duplicates dropped (StructureMatcher), the rest ordered by CHGNet
   energy per atom (without relaxation: by fitness, then space-group probability);
6. export (when an output folder is given): see :mod:`core.run_folder`.

Progress arrives through a callback with the stage, counts and an ETA; a
cancel token stops the run after the current GA generation / relaxation, and
every finished step is kept for a resumed run in the same folder.
"""

from __future__ import annotations

import math
import multiprocessing as mp
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
from pymatgen.core import Structure

from core.candidates.propose import Candidate, propose_candidates
from core.composition import parse_formula
from core.contact_model.inference import ContactPrediction, predict_contact_map
from core.errors import AlphaCrystalError
from core.io import cif_text, space_group
from core.reconstruction.ga import GASettings
from core.reconstruction.job import ReconstructionResult, ReconstructionTarget, plan_jobs
from core.reconstruction.runner import run_jobs
from core.reconstruction.selection import distinct_results, same_structure
from core.relax import (
    MIN_DISTANCE,
    RelaxResult,
    RelaxRunner,
    RelaxSettings,
    shortest_distance,
)
from core.run_folder import RunFolder, ranked_folder_name, state_key, write_structure_folder

STAGES = ("candidates", "contact maps", "reconstruction", "relaxation", "ranking", "export")


class PredictionError(AlphaCrystalError):
    """The formula admits no candidate, or the run cannot proceed; the message says why."""


@dataclass(frozen=True)
class PredictionSettings:
    """Settings of one prediction.

    Attributes
    ----------
    top_k : int
        Space-group candidates tried.
    z : int or None
        Formula units in the primitive cell; None lets the candidate model pick
        the most probable feasible Z per space group.
    spacegroups : tuple of int or None
        Try exactly these space groups (e.g. a known one) instead of the top-k.
    n_assignments, restarts : int
        Wyckoff assignments per candidate (best prior first) and GA runs per assignment.
    population, generations, patience : int
        GA settings (paper: population 100, 1000 generations).
    stall : int or None
        Stop a GA run whose best fitness has not improved for this many generations.
    max_strain : float
        Lattice lengths may vary by ± this fraction around the predicted lattice.
    relax : bool
        Relax and rank with CHGNet; otherwise rank by fitness.
    relax_per_candidate : int
        Distinct reconstructions of each candidate that are relaxed.
    fmax, relax_steps : float, int
        CHGNet convergence (eV/Å) and step limit.
    prerelax_steps, refine_top : int
        Every structure is relaxed for ``prerelax_steps`` first; only the
        ``refine_top`` lowest in energy continue up to ``relax_steps``.
    jobs : int or None
        Worker processes (default: all cores).
    seed : int
    """

    top_k: int = 5
    z: int | None = None
    spacegroups: tuple[int, ...] | None = None
    n_assignments: int = 5
    restarts: int = 1
    population: int = 100
    generations: int = 1000
    patience: int = 50
    stall: int | None = 200
    max_strain: float = 0.1
    relax: bool = True
    relax_per_candidate: int = 2
    fmax: float = 0.1
    relax_steps: int = 300
    prerelax_steps: int = 60
    refine_top: int = 3
    jobs: int | None = None
    seed: int = 0

    @classmethod
    def fast(cls, **changes) -> PredictionSettings:
        """A quick look: 3 assignments, population 60, 300 generations, 1 relaxation per
        candidate with a looser force criterion, the best 2 relaxed further."""
        base = cls(n_assignments=3, population=60, generations=300, patience=30, stall=100,
                   relax_per_candidate=1, fmax=0.2, relax_steps=150, prerelax_steps=40, refine_top=2)
        return replace(base, **changes)

    def ga(self) -> GASettings:
        return GASettings(population=self.population, generations=self.generations, patience=self.patience,
                          stall=self.stall)

    def relax_settings(self) -> RelaxSettings:
        return RelaxSettings(fmax=self.fmax, steps=self.relax_steps)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class PipelineProgress:
    """What the run is doing: ``done`` of ``total`` units of ``stage``.

    ``eta_s`` estimates the seconds left in this stage (None when unknown).
    """

    stage: str
    done: int
    total: int
    message: str = ""
    elapsed_s: float = 0.0
    eta_s: float | None = None


@dataclass
class RankedStructure:
    """One predicted structure after relaxation (or reconstruction only) and ranking."""

    rank: int
    candidate: Candidate
    reconstruction: ReconstructionResult
    relaxation: RelaxResult | None
    duplicates: int = 0
    folder: Path | None = None
    relaxed_score: tuple[float, float, float] | None = None
    """(fitness, Dice, valid-bond fraction) of the relaxed structure against the map the GA used."""

    @property
    def structure(self) -> Structure:
        """The relaxed structure when relaxation succeeded, else the reconstructed one."""
        if self.relaxation is not None and self.relaxation.ok:
            return self.relaxation.structure
        return self.reconstruction.structure

    @property
    def energy_per_atom(self) -> float:
        """CHGNet energy, eV/atom (nan without a successful relaxation)."""
        return self.relaxation.energy_per_atom if self.relaxation is not None else float("nan")

    def row(self) -> dict:
        """The summary row (plain values)."""
        sg, symbol = _space_group(self.structure)
        r, c, x = self.reconstruction, self.candidate, self.relaxation
        return {
            "rank": self.rank,
            "folder": self.folder.name if self.folder else "",
            "formula": self.structure.composition.reduced_formula,
            "spacegroup": c.spacegroup, "symbol": c.symbol, "z": c.z, "n_atoms": c.n_atoms,
            "sg_probability": round(c.probability, 4),
            "assignment": r.assignment.label,
            "dice": round(r.dice, 4), "valid_fraction": round(r.valid_fraction, 4), "fitness": round(r.fitness, 4),
            "energy_per_atom": None if x is None or not x.ok else round(x.energy_per_atom, 5),
            "relaxed_dice": None if self.relaxed_score is None else round(self.relaxed_score[1], 4),
            "relaxed_fitness": None if self.relaxed_score is None else round(self.relaxed_score[0], 4),
            "relaxed_spacegroup": sg, "relaxed_symbol": symbol,
            "converged": None if x is None else x.converged,
            "relax_steps": None if x is None else x.steps,
            "relax_error": None if x is None else x.error,
            "duplicates": self.duplicates,
            "reconstruction_s": round(r.seconds, 2),
            "relaxation_s": None if x is None else round(x.seconds, 2),
            "wall_s": round(r.seconds + (x.seconds if x is not None else 0.0), 2),
        }


@dataclass
class PredictionResult:
    """Everything a prediction produced."""

    formula: str
    settings: PredictionSettings
    candidates: list[Candidate]
    contact_maps: dict[int, ContactPrediction]
    reconstructions: dict[str, list[ReconstructionResult]]
    ranked: list[RankedStructure]
    seconds: float
    stage_seconds: dict[str, float] = field(default_factory=dict)
    cancelled: bool = False
    out_dir: Path | None = None
    resumed: dict[str, int] = field(default_factory=dict)
    rejected: list[dict] = field(default_factory=list)

    def rows(self) -> list[dict]:
        return [r.row() for r in self.ranked]


Progress = Callable[[PipelineProgress], None]


def candidate_key(candidate: Candidate) -> str:
    """A readable id of a candidate: ``sg136-z2``."""
    return f"sg{candidate.spacegroup}-z{candidate.z}"


def predict_structures(
    formula: str,
    settings: PredictionSettings | None = None,
    out_dir: str | Path | None = None,
    progress: Progress | None = None,
    cancel=None,
    candidates: list[Candidate] | None = None,
    contact_maps: dict[int, ContactPrediction] | None = None,
    on_generation: Callable[[str, dict], None] | None = None,
    on_reconstruction: Callable[[str, ReconstructionResult], None] | None = None,
) -> PredictionResult:
    """Predict, relax and rank crystal structures of ``formula``.

    Parameters
    ----------
    formula : str
        E.g. ``"TiO2"``.
    settings : PredictionSettings, optional
    out_dir : path, optional
        Output folder (created; a re-run into it resumes). Without it nothing is written.
    progress : callable, optional
        Called with a :class:`PipelineProgress` at every step.
    cancel : object with ``is_set()``, optional
        Stops the run early; finished steps are kept, nothing is exported.
    candidates : list of Candidate, optional
        Use these instead of the candidate model's.
    contact_maps : dict[int, ContactPrediction], optional
        Maps per Z to use instead of the network's (e.g. edited in the GUI).
    on_generation : callable, optional
        ``(job_id, {generation, best_fitness, mean_fitness, evaluations})`` for every GA generation.
    on_reconstruction : callable, optional
        ``(candidate key, result)`` as soon as a GA run ends (its structure, fitness, Dice).

    Raises
    ------
    FormulaError
        Bad formula, unknown element, or more atoms than the models handle.
    PredictionError
        No feasible candidate.
    OutputFolderError
        The output folder cannot be written.
    """
    settings = settings or PredictionSettings()
    start = time.perf_counter()
    clock = _Clock(progress, start)
    parsed = parse_formula(formula)
    folder = RunFolder(out_dir) if out_dir is not None else None
    if folder is not None:
        folder.prepare()

    clock.stage("candidates", 0, 1, f"proposing space groups for {parsed.reduced_formula}")
    if candidates is None:
        candidates = _propose(parsed, settings)
    if not candidates:
        raise PredictionError(f"no space group admits a Wyckoff assignment of '{formula}'"
                              + (f" with Z={settings.z}" if settings.z else "") + " within the model's cell size")
    clock.stage("candidates", 1, 1, f"{len(candidates)} candidates")

    maps = dict(contact_maps or {})
    zs = sorted({c.z for c in candidates})
    for k, z in enumerate(zs):
        if z not in maps:
            clock.stage("contact maps", k, len(zs), f"Z = {z}")
            maps[z] = predict_contact_map(parsed, z=z)
    clock.stage("contact maps", len(zs), len(zs), "")

    reconstructions, resumed_recon, skipped = _reconstruct(parsed.reduced_formula, candidates, maps, settings,
                                                           folder, clock, cancel, on_generation, on_reconstruction)
    if len(skipped) == len(candidates):
        raise PredictionError("; ".join(s["reason"] for s in skipped))
    cancelled = _is_set(cancel)
    relaxations: dict[tuple[str, int], RelaxResult] = {}
    selected, broken = {}, list(skipped)
    for key, results in reconstructions.items():
        selected[key], dropped = distinct_results(results, settings.relax_per_candidate)
        broken += [{"candidate": key, "assignment": r.assignment.label, "fitness": round(r.fitness, 4),
                    "reason": f"atoms closer than {MIN_DISTANCE} Å"} for r in dropped]
    resumed_relax = 0
    if settings.relax and not cancelled:
        relaxations, resumed_relax = _relax(selected, settings, folder, clock, cancel)
        cancelled = _is_set(cancel)

    clock.stage("ranking", 0, 1, "removing duplicates")
    ranked, rejected = _rank(candidates, selected, relaxations, settings.relax)
    for entry in ranked:
        entry.relaxed_score = _relaxed_score(entry, maps[entry.candidate.z])
    rejected = broken + rejected
    clock.stage("ranking", 1, 1, f"{len(ranked)} distinct structures"
                + (f", {len(rejected)} rejected" if rejected else ""))
    result = PredictionResult(parsed.reduced_formula, settings, candidates, maps, reconstructions, ranked,
                              time.perf_counter() - start, clock.durations, cancelled,
                              Path(out_dir) if out_dir is not None else None,
                              {"reconstructions": resumed_recon, "relaxations": resumed_relax}, rejected)
    if folder is not None and not cancelled:
        clock.stage("export", 0, len(ranked), "writing CIF, POSCAR and VASP inputs")
        export_prediction(result, folder)
        clock.stage("export", len(ranked), len(ranked), str(folder.path))
    result.seconds = time.perf_counter() - start
    clock.finish()
    return result


def compare_with_reference(result: PredictionResult, reference: Structure) -> list[dict]:
    """Per ranked structure: does it match ``reference`` (StructureMatcher, CSP tolerances)
    and the paper's fractional RMSD (None where undefined)."""
    from core.metrics import CSP_TOLERANCES, fractional_rmsd_mae, structure_match

    out = []
    for entry in result.ranked:
        match = structure_match(entry.structure, reference, CSP_TOLERANCES)
        try:
            rmsd = float(fractional_rmsd_mae(entry.structure, reference)[0])
        except Exception:  # noqa: BLE001 - undefined when the cells cannot be aligned
            rmsd = None
        out.append({"match_reference": bool(match.matched), "rmsd_reference": rmsd})
    return out


def propose_inputs(formula: str, z: int | None = None, top_k: int = 5, model_path: str | None = None,
                   device: str = "auto", progress: Progress | None = None, cancel=None
                   ) -> tuple[list[Candidate], dict[int, ContactPrediction]]:
    """Steps 1 and 2 alone: the candidates and the predicted map of every Z among them
    (what the GUI shows for editing before a run).

    Raises
    ------
    FormulaError, PredictionError
        As :func:`predict_structures`.
    """
    from core.contact_model.inference import load_model

    clock = _Clock(progress, time.perf_counter())
    parsed = parse_formula(formula)
    clock.stage("candidates", 0, 1, f"proposing space groups for {parsed.reduced_formula}")
    candidates = _propose(parsed, PredictionSettings(top_k=top_k, z=z))
    if not candidates:
        raise PredictionError(f"no space group admits a Wyckoff assignment of '{formula}'"
                              + (f" with Z={z}" if z else "") + " within the model's cell size")
    model = load_model(model_path, device)
    zs = sorted({c.z for c in candidates})
    maps = {}
    for k, zz in enumerate(zs):
        if _is_set(cancel):
            break
        clock.stage("contact maps", k, len(zs), f"Z = {zz}")
        maps[zz] = predict_contact_map(parsed, z=zz, model=model)
    clock.finish()
    return candidates, maps


def warm_up(model_path: str | None = None, device: str = "auto", progress: Progress | None = None,
            cancel=None) -> None:
    """Load the contact and candidate models and the Wyckoff tables once (about 1-3 s),
    so that the first prediction a user asks for is quick (an app calls this in the
    background at start-up)."""
    propose_inputs("NaCl", None, 1, model_path, device)


# ---------------------------------------------------------------- stages
def _propose(parsed, settings: PredictionSettings) -> list[Candidate]:
    if settings.spacegroups:
        # every feasible group, to find the user's: no assignment counts (up to 230 enumerations)
        pool = propose_candidates(parsed, top_k=230, z=settings.z, count_wyckoff=False)
        by_sg = {c.spacegroup: c for c in pool}
        missing = [sg for sg in settings.spacegroups if sg not in by_sg]
        if missing:
            raise PredictionError(f"space group(s) {', '.join(map(str, missing))} admit no Wyckoff assignment "
                                  f"of '{parsed.text}'" + (f" with Z={settings.z}" if settings.z else ""))
        return [by_sg[sg] for sg in settings.spacegroups]
    return propose_candidates(parsed, top_k=settings.top_k, z=settings.z)


def _target(candidate: Candidate, prediction: ContactPrediction) -> ReconstructionTarget:
    return ReconstructionTarget(species=tuple(prediction.species), contact_map=np.asarray(prediction.contact),
                                spacegroup=candidate.spacegroup, lattice=tuple(candidate.lattice),
                                name=candidate_key(candidate))


def _reconstruction_key(formula: str, candidate: Candidate, prediction: ContactPrediction,
                        settings: PredictionSettings) -> str:
    return state_key(formula, candidate.spacegroup, candidate.z, candidate.lattice, list(prediction.species),
                     np.asarray(prediction.contact).tolist(), settings.n_assignments, settings.restarts,
                     settings.ga().to_dict(), settings.max_strain, settings.seed)


def _reconstruct(formula, candidates, maps, settings, folder, clock, cancel, on_generation, on_reconstruction):
    """GA runs of all candidates on one pool; finished candidates are stored at once."""
    results: dict[str, list[ReconstructionResult]] = {}
    jobs, owner, keys, pending_count, skipped = [], {}, {}, {}, []
    resumed = 0
    for cand in candidates:
        name = candidate_key(cand)
        keys[name] = _reconstruction_key(formula, cand, maps[cand.z], settings)
        stored = folder.load("reconstruction", keys[name]) if folder else None
        if stored is not None:
            results[name] = [result_from_dict(d) for d in stored["results"]]
            resumed += 1
            continue
        try:
            planned = plan_jobs(_target(cand, maps[cand.z]), settings.n_assignments, settings.restarts,
                                settings.ga(), settings.seed, settings.max_strain)
        except AlphaCrystalError as exc:  # no Wyckoff assignment found: the other candidates still run
            skipped.append({"candidate": name, "assignment": "", "fitness": None, "reason": str(exc)})
            continue
        jobs += planned
        pending_count[name] = len(planned)
        for job in planned:
            owner[job.job_id] = name
        results[name] = []
    total = len(jobs)
    done = [0]
    clock.stage("reconstruction", 0, total, f"{total} GA runs over {len(pending_count)} candidates"
                + (f" ({resumed} resumed)" if resumed else ""))

    def finished(result: ReconstructionResult) -> None:
        name = owner[result.job_id]
        results[name].append(result)
        done[0] += 1
        pending_count[name] -= 1
        if pending_count[name] == 0 and folder is not None and not any(r.cancelled for r in results[name]):
            folder.save("reconstruction", keys[name], {"candidate": name,
                                                       "results": [result_to_dict(r) for r in results[name]]})
        clock.stage("reconstruction", done[0], total,
                    f"{name}: fitness {result.fitness:.3f} [{result.assignment.label}]")
        if on_reconstruction:
            on_reconstruction(name, result)

    if jobs:
        run_jobs(jobs, workers=settings.jobs, progress=on_generation, cancel=cancel, on_result=finished)
    order = {j.job_id: k for k, j in enumerate(jobs)}
    for name in results:
        results[name].sort(key=lambda r: (r.rank_key, order.get(r.job_id, 0)))
    return {name: res for name, res in results.items() if res}, resumed, skipped


def _relax(selected, settings, folder, clock, cancel):
    """CHGNet relaxations of the selected reconstructions, in two rounds.

    Round 1 relaxes every structure for ``prerelax_steps``; round 2 continues
    the ``refine_top`` lowest-energy unconverged ones up to ``relax_steps`` in
    all. Most GA structures are far from the energy minimum and would use the
    whole step budget; relaxing all of them fully made relaxation 2/3 of the
    run time. A structure left after round 1 keeps its (higher) round-1 energy
    and ``converged=False``. Both rounds share one process pool when jobs > 1.
    """
    full = settings.relax_settings()
    first = replace(full, steps=min(settings.prerelax_steps, full.steps))
    out: dict[tuple[str, int], RelaxResult] = {}
    pre: dict[tuple[str, int], RelaxResult] = {}
    keys: dict[tuple[str, int], str] = {}
    structures: dict[tuple[str, int], Structure] = {}
    resumed = 0
    for name, results in selected.items():
        for k, r in enumerate(results):
            item = (name, k)
            keys[item] = state_key(cif_text(r.structure), full.to_dict(), settings.prerelax_steps, settings.refine_top)
            structures[item] = r.structure
            stored = folder.load("relaxation", keys[item]) if folder else None
            if stored is not None:
                out[item] = RelaxResult.from_dict(stored)
                resumed += 1
                continue
            stored = folder.load("prerelaxation", keys[item]) if folder else None
            if stored is not None:
                pre[item] = RelaxResult.from_dict(stored)
    round1 = [item for item in structures if item not in out and item not in pre]
    expected = len(round1) + min(settings.refine_top, len(structures) - len(out))
    done = [0]
    clock.stage("relaxation", 0, expected, f"{len(round1)} CHGNet relaxations of {first.steps} steps"
                + (f" ({resumed} resumed)" if resumed else ""))

    def report(item, result: RelaxResult, total: int) -> None:
        done[0] += 1
        e = f"{result.energy_per_atom:.4f} eV/atom" if result.ok else f"failed ({result.error})"
        clock.stage("relaxation", done[0], total, f"{item[0]}: {e}")

    workers = min(settings.jobs or mp.cpu_count() or 1, max(1, len(round1)))
    with RelaxRunner(workers, cancel) as runner:
        for item, result in runner.run([(i, structures[i]) for i in round1], first):
            pre[item] = result
            if folder is not None:
                folder.save("prerelaxation", keys[item], result.to_dict())
            report(item, result, expected)
        if _is_set(cancel):
            return out, resumed
        waiting = [i for i in pre if i not in out]
        unconverged = sorted((i for i in waiting if pre[i].ok and not pre[i].converged),
                             key=lambda i: pre[i].energy_per_atom)
        refine = unconverged[: settings.refine_top] if full.steps > first.steps else []
        for item in waiting:
            if item not in refine:
                out[item] = pre[item]
                if folder is not None:
                    folder.save("relaxation", keys[item], pre[item].to_dict())
        total = done[0] + len(refine)
        rest = replace(full, steps=full.steps - first.steps)
        for item, result in runner.run([(i, pre[i].structure) for i in refine], rest):
            out[item] = _joined(pre[item], result)
            if folder is not None:
                folder.save("relaxation", keys[item], out[item].to_dict())
            report(item, out[item], total)
    return out, resumed


def _joined(first: RelaxResult, second: RelaxResult) -> RelaxResult:
    """One result for a relaxation done in two parts."""
    if not second.ok:
        return first
    return RelaxResult(second.structure, second.energy_per_atom, first.initial_energy_per_atom,
                       first.steps + second.steps, second.max_force, second.converged,
                       first.seconds + second.seconds, second.error)


def _relaxed_score(entry: RankedStructure, prediction: ContactPrediction) -> tuple[float, float, float] | None:
    """How well the relaxed structure keeps the bonds of the map (None without relaxation).

    Relaxation moves atoms freely: a GA structure of low fitness can relax into one
    with exactly the map's bonds, and a perfect one can lose some."""
    from core.reconstruction.fitness import score_structure

    if entry.relaxation is None or not entry.relaxation.ok:
        return None
    try:
        ev = score_structure(entry.relaxation.structure, list(prediction.species), np.asarray(prediction.contact))
    except AlphaCrystalError:
        return None
    return float(ev.fitness[0]), float(ev.dice[0]), float(ev.valid_fraction[0])


def _rank(candidates, selected, relaxations, relaxed: bool) -> tuple[list[RankedStructure], list[dict]]:
    """Drop broken structures and duplicates (keeping the better one) and order the rest:
    by energy, or by fitness without relaxation. Returns (ranked, rejected)."""
    from pymatgen.analysis.structure_matcher import StructureMatcher

    by_name = {candidate_key(c): c for c in candidates}
    entries, rejected = [], []
    for name, results in selected.items():
        for k, r in enumerate(results):
            relaxation = relaxations.get((name, k))
            if relaxed and relaxation is None:  # not relaxed (run cancelled)
                continue
            reason = None
            if relaxation is not None and not relaxation.ok:
                reason = f"relaxation failed: {relaxation.error}"
            elif shortest_distance(r.structure) < MIN_DISTANCE:
                reason = f"atoms closer than {MIN_DISTANCE} Å"
            if reason:
                rejected.append({"candidate": name, "assignment": r.assignment.label,
                                 "fitness": round(r.fitness, 4), "reason": reason})
                continue
            entries.append(RankedStructure(0, by_name[name], r, relaxation))

    def order(e: RankedStructure):
        if relaxed:
            energy = e.energy_per_atom
            return (0 if math.isfinite(energy) else 1, energy if math.isfinite(energy) else 0.0,
                    -e.reconstruction.fitness, -e.candidate.probability)
        return (-round(e.reconstruction.fitness, 9), -e.candidate.probability, e.reconstruction.bond_strain)

    entries.sort(key=order)
    matcher = StructureMatcher()
    kept: list[RankedStructure] = []
    for e in entries:
        twin = next((k for k in kept if same_structure(matcher, e.structure, k.structure)), None)
        if twin is not None:
            twin.duplicates += 1
        else:
            kept.append(e)
    for rank, e in enumerate(kept, 1):
        e.rank = rank
    return kept, rejected


def export_prediction(result: PredictionResult, folder: RunFolder) -> None:
    """Write the ranked folders and the summaries of ``result`` into ``folder``."""
    entries = []
    for e in result.ranked:
        _, symbol = _space_group(e.structure)
        name = ranked_folder_name(e.rank, result.formula, symbol)
        e.folder = folder.path / name
        entries.append((name, _structure_writer(e, result.formula)))
    folder.write_ranked(entries)
    meta = {"formula": result.formula, "settings": result.settings.to_dict(), "seconds": round(result.seconds, 2),
            "stage_seconds": {k: round(v, 2) for k, v in result.stage_seconds.items()},
            "resumed": result.resumed,
            "rejected": result.rejected,
            "candidates": [c.to_dict() for c in result.candidates],
            "contact_maps": {str(z): p.to_dict() for z, p in result.contact_maps.items()},
            "energy": "CHGNet 0.3.0 total energy per atom (eV/atom)" if result.settings.relax else None}
    folder.write_summary(result.rows(), meta)


def _structure_writer(entry: RankedStructure, formula: str):
    return lambda path: write_structure_folder(path, entry.structure, formula, entry.rank, entry.row(),
                                               entry.reconstruction.structure)


# ---------------------------------------------------------------- helpers
def _space_group(structure: Structure) -> tuple[int, str]:
    try:
        return space_group(structure)
    except Exception:  # noqa: BLE001 - spglib fails on degenerate cells
        return 1, "P1"


def _is_set(cancel) -> bool:
    return cancel is not None and cancel.is_set()


def result_to_dict(r: ReconstructionResult) -> dict:
    return {**r.to_dict(), "structure": r.structure.as_dict(), "assignment": r.assignment.to_dict(),
            "assignment_rank": r.assignment_rank, "history": []}


def result_from_dict(d: dict) -> ReconstructionResult:
    from core.reconstruction.assignments import Assignment

    a = d["assignment"]
    assignment = Assignment(a["spacegroup"], tuple(a["species"]), tuple(tuple(o) for o in a["orbits"]), a["dof"])
    return ReconstructionResult(
        job_id=d["job_id"], structure=Structure.from_dict(d["structure"]), fitness=d["fitness"], dice=d["dice"],
        valid_fraction=d["valid_fraction"], n_valid_bonds=d["n_valid_bonds"], n_short_contacts=d["n_short_contacts"],
        assignment=assignment, lattice=tuple(d["lattice"]), generations=d["generations"],
        evaluations=d["evaluations"], seconds=d["seconds"], cancelled=d["cancelled"],
        bond_strain=d.get("bond_strain", 0.0), assignment_rank=d.get("assignment_rank", 0))


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
        if 0 < done < total:
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
