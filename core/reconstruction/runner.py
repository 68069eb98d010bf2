"""Run many reconstruction jobs on a spawn-safe process pool (or in this process).

The pool is :func:`core.runtime.parallel.spawn_pool` (one thread per worker): the GA is
vectorised over the population, so one process per core is the fastest
arrangement. Progress of every job arrives after every
generation through a manager queue; cancellation is a manager event the GA
checks every generation.
"""

from __future__ import annotations

import multiprocessing as mp
import queue
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, wait

from core.reconstruction.ga import GAState
from core.reconstruction.job import ReconstructionJob, ReconstructionResult, run_job
from core.runtime.parallel import (
    CANCEL_GRACE_S,
    one_thread,
    resolve_workers,
    spawn_pool,
    start_manager,
    terminate_workers,
)

JobProgress = Callable[[str, dict], None]
"""Called with (job_id, {"generation", "best_fitness", "mean_fitness", "evaluations"})."""


def _state_dict(state: GAState) -> dict:
    return {"generation": state.generation, "best_fitness": state.best_fitness,
            "mean_fitness": state.mean_fitness, "evaluations": state.evaluations}


def _worker(job: ReconstructionJob, events, cancel) -> ReconstructionResult:
    def progress(state: GAState) -> None:
        events.put((job.job_id, _state_dict(state)))

    return run_job(job, progress if events is not None else None, cancel)


def run_jobs(jobs: list[ReconstructionJob], workers: int | None = None, progress: JobProgress | None = None,
             cancel=None, on_result: Callable[[ReconstructionResult], None] | None = None
             ) -> list[ReconstructionResult]:
    """Run ``jobs``; results in the order of ``jobs``.

    Parameters
    ----------
    workers : int, optional
        Processes (default: CPU count, at most the number of jobs); 1 runs in this process.
    progress : callable, optional
        Per-generation progress of every job (called in the calling thread).
    cancel : object with ``is_set()``, optional
        When set, running jobs stop after their current generation and return
        their best structure so far (``cancelled=True``); queued jobs are skipped.
    on_result : callable, optional
        Called with each result as soon as its job finishes.
    """
    if not jobs:
        return []
    workers = resolve_workers(workers, len(jobs))
    if workers <= 1:
        done_here: list[ReconstructionResult] = []
        for job in jobs:
            if cancel is not None and cancel.is_set():
                break
            cb = (lambda s, jid=job.job_id: progress(jid, _state_dict(s))) if progress else None
            with one_thread():  # one worker, one core: as a pool worker runs
                done_here.append(run_job(job, cb, cancel))
            if on_result:
                on_result(done_here[-1])
        return done_here
    ctx = mp.get_context("spawn")
    with start_manager(ctx) as manager:
        events = manager.Queue() if progress else None
        stop = manager.Event()
        by_future = {}
        with spawn_pool(workers) as pool:
            for job in jobs:
                by_future[pool.submit(_worker, job, events, stop)] = job.job_id
            pending = set(by_future)
            results: dict[str, ReconstructionResult] = {}
            stopped_at = None
            while pending:
                done, pending = wait(pending, timeout=0.1, return_when=FIRST_COMPLETED)
                for fut in done:
                    if fut.cancelled():
                        continue
                    result = fut.result()
                    results[result.job_id] = result
                    if on_result:
                        on_result(result)
                _drain(events, progress)
                if cancel is not None and cancel.is_set() and not stop.is_set():
                    stop.set()
                    stopped_at = time.monotonic()
                    for fut in pending:
                        fut.cancel()
                if stopped_at is not None and pending and time.monotonic() - stopped_at > CANCEL_GRACE_S:
                    # still starting (a spawn worker imports for 2-3 s before its first
                    # generation): nothing to return yet, so do not wait for it
                    break
            if stopped_at is not None:  # cancelled: the workers have nothing left to do, and
                terminate_workers(pool)  # letting each tear its interpreter down took ~0.7 s
            _drain(events, progress)
    return [results[j.job_id] for j in jobs if j.job_id in results]


def _drain(events, progress: JobProgress | None) -> None:
    if events is None or progress is None:
        return
    while True:
        try:
            job_id, info = events.get_nowait()
        except (queue.Empty, EOFError, OSError):
            return
        progress(job_id, info)
