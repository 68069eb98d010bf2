"""Process pools, worker priority and cancellation shared by the GA and the relaxations.

Workers are started with the ``spawn`` method (safe next to Qt threads and in a
PyInstaller bundle, where the entry point must call
``multiprocessing.freeze_support()``), with numpy/BLAS/torch limited to one
thread each and a lower scheduling priority than the parent. A
:class:`CancelToken` is the thread-safe flag every long loop checks.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import signal
import threading
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor


class CancelToken:
    """Thread-safe cancellation flag checked by the GA every generation and between relaxations."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()


def ignore_interrupts() -> None:
    """Let Ctrl-C reach only the parent: it cancels the run through the cancel
    event, so workers finish their generation and return their best structure."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


MAX_PROCESSES = 1024
"""Most worker processes, threads or batch jobs a setting may ask for."""

WORKER_MEMORY_GB = 0.45
"""Memory one worker process holds with a potential and the models loaded, GB (about 390 MB
resident measured for a ``predict --jobs 16`` worker on 2026-12-05, rounded up)."""


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity where the platform says, e.g. a 2-core
    allocation on a large host; else every core)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):  # not on every platform
        return os.cpu_count() or 1


def resolve_workers(jobs: int | None, tasks: int | None = None) -> int:
    """Worker processes to start for ``jobs`` (None: one per :func:`usable_cores`, so a 2-core
    allocation on a 64-core host starts 2, not 64), at most one per task when ``tasks`` is given,
    and at least 1: the one rule of every pool of the engine and the window's default."""
    workers = jobs or usable_cores()
    if tasks is not None:
        workers = min(workers, max(1, tasks))
    return max(1, workers)


def local_processes_problem(jobs: int) -> tuple[str | None, str | None]:
    """(error, note) for ``jobs`` worker processes on this machine: an error when they would not fit
    its memory (:data:`WORKER_MEMORY_GB` each: 99 workers on a 23 GB machine ended in a traceback),
    a note when they outnumber its cores (16 processes on 2 cores took 2 min where 1 took 8 s)."""
    import psutil  # a dependency of dask's distributed

    cores = usable_cores()
    total_gb = psutil.virtual_memory().total / 1e9
    most = max(1, int(total_gb / WORKER_MEMORY_GB))
    if jobs > most:
        fits = f"give at most {most}" + (f", or the number of cores ({cores})" if cores <= most else "")
        return (f"{jobs} worker processes need about {jobs * WORKER_MEMORY_GB:.0f} GB (about "
                f"{1000 * WORKER_MEMORY_GB:.0f} MB each) and this machine has {total_gb:.0f} GB: {fits}"), None
    if jobs > cores:
        return None, (f"{jobs} worker processes on {cores} cores: more processes than cores make the run slower, "
                      "not faster")
    return None, None


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


def background_priority(niceness: int = WORKER_NICENESS) -> None:
    """Run this process at a niceness of at least ``niceness`` (absolute, so calling it
    for every task of a long-lived worker does not push it further; POSIX only).

    For processes that compute for the program in the background without a pool of
    its own (a screen's Dask workers): at the pool workers' priority, a window's run
    and a screen beside it share the cores (measured: 1.8x slower per relaxation
    beside two niced busy processes, against 10x beside two at normal priority,
    ``benchmarks/bench_under_load.py``).
    """
    if not hasattr(os, "getpriority"):
        return
    try:
        if os.getpriority(os.PRIO_PROCESS, 0) < niceness:
            os.setpriority(os.PRIO_PROCESS, 0, niceness)
    except OSError:  # pragma: no cover - not permitted: keep the priority
        pass


PARENT_POLL_S = 1.0
"""How often a worker checks that its parent process is still alive (seconds)."""


def exit_with_parent(parent: int | None = None, poll_s: float = PARENT_POLL_S) -> None:
    """Make this (worker) process exit within ``poll_s`` once its parent has died.

    A ``kill -9`` of the parent runs no clean-up, and the pool's workers would go on
    computing (hundreds of MB each) under PID 1 for minutes. Linux's parent-death
    signal fires when the parent *thread* ends (pools are made from worker threads
    in the desktop app), so a daemon thread watches the parent's PID instead.
    """
    parent = os.getppid() if parent is None else parent
    if os.getppid() != parent:  # the parent died before this process got here
        os._exit(1)

    def watch() -> None:
        import time

        while True:
            time.sleep(poll_s)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def limit_worker_threads(parent: int | None = None) -> None:
    """Pool initializer: one torch thread per worker process, lower priority, no SIGINT
    (the BLAS and OpenMP limits must already be in the environment: see :func:`spawn_pool`);
    exits when the parent dies."""
    ignore_interrupts()
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a group-wide SIGTERM (timeout, systemd) goes to the parent,
    exit_with_parent(parent)  # which cancels cleanly; the parent stops workers with SIGKILL
    lower_priority()
    for var in THREAD_VARIABLES:
        os.environ[var] = "1"
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:  # pragma: no cover - torch is a dependency
        pass


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Run the enclosed work on one thread (torch's intra-op pool, BLAS and OpenMP), as a
    pool worker does (:func:`limit_worker_threads`): the in-process path of ``--jobs 1``.

    torch otherwise starts one intra-op thread per core in this process; with other
    processes busy on those cores (a screen, an evaluation, the window's own pool) its
    threads wait for each other at every operation, and CHGNet relaxations ran 30 times
    slower than on a quiet machine (``benchmarks/bench_under_load.py``, docs/prediction.md).
    """
    import sys

    from threadpoolctl import threadpool_limits

    torch = sys.modules.get("torch")  # not imported by a GA-only run: nothing of torch's to limit
    before = torch.get_num_threads() if torch is not None else None
    if torch is not None:
        torch.set_num_threads(1)
    try:
        with threadpool_limits(limits=1):
            yield
    finally:
        if torch is not None:
            torch.set_num_threads(before)


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
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=limit_worker_threads,
                                 initargs=(os.getpid(),)) as pool:
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
            process.kill()  # workers ignore SIGTERM (see limit_worker_threads)
    for process in processes:
        process.join(1.0)


def stop_child_processes(grace_s: float = 2.0, only: set[int] | None = None) -> int:
    """Terminate this process's multiprocessing worker processes still alive (then kill those that
    outlive ``grace_s``); returns how many were stopped. Only processes started by multiprocessing
    (``spawn_main``, ``--multiprocessing-fork``) are touched, and not its resource tracker, which
    cleans up after them: other children (a virtual display, a shell) are not this program's workers.
    For an interrupted screen: after its Dask cluster closed, a local worker busy in a prediction
    went on for 20-45 s after the command had returned."""
    import psutil  # a dependency of dask's distributed

    def worker(p) -> bool:
        try:
            line = " ".join(p.cmdline())
        except psutil.Error:
            return False  # gone or not ours to ask: left alone
        return ("spawn_main" in line or "--multiprocessing-fork" in line) and "resource_tracker" not in line

    children = [p for p in psutil.Process().children(recursive=True)
                if worker(p) and (only is None or p.pid in only)]  # only: these pids at most (a test's)
    for child in children:
        try:
            child.terminate()
        except psutil.Error:
            pass
    _, alive = psutil.wait_procs(children, timeout=grace_s)
    for child in alive:
        try:
            child.kill()
        except psutil.Error:
            pass
    return len(children)


def _manager_initializer() -> None:
    ignore_interrupts()
    exit_with_parent()


def start_manager(ctx):
    """A started multiprocessing manager (for progress queues and cancel events)
    that ignores Ctrl-C like the workers; shut it down when done."""
    from multiprocessing.managers import SyncManager

    manager = SyncManager(ctx=ctx)
    manager.start(initializer=_manager_initializer)
    return manager
