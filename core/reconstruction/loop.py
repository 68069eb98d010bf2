"""The one reconstruction loop: plan, run and escalate the GA jobs of any number of targets.

``predict`` (:mod:`core.predict.pipeline`: one target per space-group candidate),
``alphacrystal reconstruct`` (one target) and ``alphacrystal evaluate
reconstruction`` (one target per held-out structure) all call :func:`reconstruct`,
so the oracle figures in docs/ measure the loop that ``predict`` ships.

Per target: the jobs of :func:`core.reconstruction.job.plan_jobs` (the best
``n_assignments`` Wyckoff assignments × ``restarts`` seeds, plus the assignments
without free coordinates); when all of them end below fitness 1 and
``escalate_to`` > ``n_assignments``, the assignments ranked up to ``escalate_to``
follow (:func:`core.reconstruction.job.escalate`, once per target). Every job of
every target shares one process pool per round. A target's results are sorted best
first: by :attr:`ReconstructionResult.rank_key`, then by plan order.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from core.errors import AlphaCrystalError
from core.reconstruction.ga import GASettings
from core.reconstruction.job import (
    ReconstructionJob,
    ReconstructionResult,
    ReconstructionTarget,
    escalate,
    needs_escalation,
    plan_jobs,
)
from core.reconstruction.runner import JobProgress, run_jobs


@dataclass(frozen=True)
class LoopSettings:
    """How many runs a target gets, and on how many processes.

    Attributes
    ----------
    n_assignments, restarts : int
        Best Wyckoff assignments tried, and GA seeds per assignment.
    ga : GASettings
    seed : int
    max_strain : float
        Relative range of the cell-length genes (0: the target's lattice as given).
    escalate_to : int
        When no run of a target reaches fitness 1, go on with the assignments ranked up
        to this (0 or at most ``n_assignments``: never).
    workers : int or None
        Processes (None: one per core this process may use; 1: in this process).
    """

    n_assignments: int = 5
    restarts: int = 1
    ga: GASettings = field(default_factory=GASettings)
    seed: int = 0
    max_strain: float = 0.0
    escalate_to: int = 0
    workers: int | None = None

    def to_dict(self) -> dict:
        return {"n_assignments": self.n_assignments, "restarts": self.restarts, "ga": self.ga.to_dict(),
                "seed": self.seed, "max_strain": self.max_strain, "escalate_to": self.escalate_to}


@dataclass
class LoopOutcome:
    """What :func:`reconstruct` returns.

    Attributes
    ----------
    results : dict
        Target name -> its results, best first (targets that could be planned).
    skipped : dict
        Target name -> why it was not run (no Wyckoff assignment fits it).
    escalated : list of str
        Targets that went on to lower-ranked assignments.
    jobs : list of ReconstructionJob
        Every job run, in submission order.
    """

    results: dict[str, list[ReconstructionResult]]
    skipped: dict[str, str]
    escalated: list[str]
    jobs: list[ReconstructionJob]


def reconstruct(targets: Mapping[str, ReconstructionTarget], settings: LoopSettings,
                progress: JobProgress | None = None, cancel=None,
                on_planned: Callable[[int], None] | None = None,
                on_result: Callable[[str, ReconstructionResult], None] | None = None,
                on_target_done: Callable[[str, list[ReconstructionResult]], None] | None = None) -> LoopOutcome:
    """Plan, run and escalate the GA jobs of ``targets`` (name -> target).

    Parameters
    ----------
    progress : callable, optional
        Per-generation progress ``(job_id, state dict)`` of every job.
    cancel : object with ``is_set()``, optional
        Stops the runs (their best structures so far are returned, ``cancelled=True``);
        nothing escalates after a cancel.
    on_planned : callable, optional
        Called with the total number of jobs so far, when planned and when escalation adds some.
    on_result : callable, optional
        ``(target name, result)`` as each job finishes.
    on_target_done : callable, optional
        ``(target name, its results best first)`` once a target has no job left to run (before
        ``on_result`` of its last job).
    """
    planned: dict[str, list[ReconstructionJob]] = {}
    skipped: dict[str, str] = {}
    for name, target in targets.items():
        try:
            planned[name] = plan_jobs(target, settings.n_assignments, settings.restarts, target.ga or settings.ga,
                                      settings.seed, settings.max_strain)
        except AlphaCrystalError as exc:  # no Wyckoff assignment: the other targets still run
            skipped[name] = str(exc)
    jobs = [job for target_jobs in planned.values() for job in target_jobs]
    owner = {job.job_id: name for name, target_jobs in planned.items() for job in target_jobs}
    order = {job.job_id: k for k, job in enumerate(jobs)}
    results: dict[str, list[ReconstructionResult]] = {name: [] for name in planned}
    pending = {name: len(target_jobs) for name, target_jobs in planned.items()}
    escalated: list[str] = []
    round_two: list[ReconstructionJob] = []
    if on_planned:
        on_planned(len(jobs))

    def best_first(name: str) -> list[ReconstructionResult]:
        results[name].sort(key=lambda r: (r.rank_key, order.get(r.job_id, 0)))
        return results[name]

    def finished(result: ReconstructionResult) -> None:
        name = owner[result.job_id]
        results[name].append(result)
        pending[name] -= 1
        if not pending[name]:
            _target_finished(name)
        if on_result:  # after the target's own bookkeeping: a caller that stops here finds it stored
            on_result(name, result)

    def _target_finished(name: str) -> None:
        cancelled = cancel is not None and cancel.is_set()
        if cancelled and name not in escalated and settings.escalate_to > settings.n_assignments \
                and needs_escalation(results[name]):
            return  # it would have escalated: not done (a resumed run escalates it)
        more = [] if name in escalated or cancelled else escalate(
            targets[name], results[name], settings.n_assignments, settings.escalate_to, settings.restarts,
            targets[name].ga or settings.ga, settings.seed, settings.max_strain)
        if more:
            escalated.append(name)
            pending[name] += len(more)
            for job in more:
                owner[job.job_id] = name
                order[job.job_id] = len(order)
            round_two.extend(more)
            if on_planned:
                on_planned(len(order))
        elif on_target_done:
            on_target_done(name, best_first(name))

    run_jobs(jobs, workers=settings.workers, progress=progress, cancel=cancel, on_result=finished)
    if round_two and not (cancel is not None and cancel.is_set()):
        run_jobs(round_two, workers=settings.workers, progress=progress, cancel=cancel, on_result=finished)
    for name in results:
        best_first(name)
    return LoopOutcome({name: res for name, res in results.items() if res}, skipped, escalated, jobs + round_two)
