"""Run many reconstruction jobs on a spawn-safe process pool (or in this process).

Workers are started with the ``spawn`` method (safe next to Qt threads and in a
PyInstaller bundle, where the entry point must call
``multiprocessing.freeze_support()``), with numpy/BLAS/torch limited to one
thread each: the GA is vectorised over the population, so one process per core
is the fastest arrangement. Progress of every job arrives after every
generation through a manager queue; cancellation is a manager event the GA
checks every generation.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import queue
import signal
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

from core.reconstruction.ga import GAState
from core.reconstruction.job import ReconstructionJob, ReconstructionResult, run_job

JobProgress = Callable[[str, dict], None]
"""Called with (job_id, {"generation", "best_fitness", "mean_fitness", "evaluations"})."""


def ignore_interrupts() -> None:
    """Let Ctrl-C reach only the parent: it cancels the run through the cancel
    event, so workers finish their generation and return their best structure."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")

CANCEL_GRACE_S = 0.3
"""After a cancel, running jobs get this long to return their best structure so far
(a GA generation takes milliseconds); workers that have not answered by then are
stopped, so that Cancel takes effect within a second."""

WORKER_NICENESS = 10
"""Workers run this much below the parent's priority (POSIX ``nice``)."""


def lower_priority(increment: int = WORKER_NICENESS) -> None:
    """Lower this process's scheduling priority (POSIX only; a no-op elsewhere).

    With as many workers as cores, the parent (the desktop app's GUI thread, or
    the user's shell) would otherwise get a third of a core: the kernel now gives
    it the CPU whenever it needs it, and the workers everything else, so runs
    take as long as before when nothing else is busy.
    """
    if hasattr(os, "nice"):
        try:
            os.nice(increment)
        except OSError:  # pragma: no cover - not permitted: keep the priority
            pass


def limit_worker_threads() -> None:
    """Pool initializer: one torch thread per worker process, lower priority, no SIGINT
    (the BLAS and OpenMP limits must already be in the environment: see :func:`spawn_pool`)."""
    ignore_interrupts()
    lower_priority()
    for var in THREAD_VARIABLES:
        os.environ[var] = "1"
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:  # pragma: no cover - torch is a dependency
        pass


@contextlib.contextmanager
def spawn_pool(workers: int) -> Iterator[ProcessPoolExecutor]:
    """A spawn process pool whose workers use one thread each.

    The thread limits go into the environment *before* the workers start:
    unpickling a task imports numpy (OpenBLAS/OpenMP) before any initializer
    could set them, and two workers with spinning two-thread pools on two cores
    made CHGNet relaxations 2-3x slower than one worker (measured).
    """
    saved = {var: os.environ.get(var) for var in THREAD_VARIABLES}
    os.environ.update({var: "1" for var in THREAD_VARIABLES})
    try:
        ctx = mp.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=limit_worker_threads) as pool:
            yield pool
    finally:
        for var, value in saved.items():
            if value is None:
                os.environ.pop(var, None)
            else:
                os.environ[var] = value


def terminate_workers(pool: ProcessPoolExecutor) -> None:
    """Cancel queued tasks and stop the worker processes of ``pool`` now.

    ``concurrent.futures`` offers no public way to stop a running task; the
    executor's process table is used for that (its results are discarded).
    """
    processes = list((getattr(pool, "_processes", None) or {}).values())  # shutdown() forgets them
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        if process.is_alive():
            process.terminate()
    for process in processes:
        process.join(1.0)


def start_manager(ctx):
    """A started multiprocessing manager (for progress queues and cancel events)
    that ignores Ctrl-C like the workers; shut it down when done."""
    from multiprocessing.managers import SyncManager

    manager = SyncManager(ctx=ctx)
    manager.start(initializer=ignore_interrupts)
    return manager


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
    workers = min(workers or os.cpu_count() or 1, len(jobs))
    if workers <= 1:
        results = []
        for job in jobs:
            if cancel is not None and cancel.is_set():
                break
            cb = (lambda s, jid=job.job_id: progress(jid, _state_dict(s))) if progress else None
            results.append(run_job(job, cb, cancel))
            if on_result:
                on_result(results[-1])
        return results
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
