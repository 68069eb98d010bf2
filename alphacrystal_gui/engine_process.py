"""A helper process that runs the window's engine calls (no Qt in here).

Why a process and not only a thread: worker threads share the interpreter
lock with the GUI thread, and parts of the engine hold it for long stretches
in C code - pyxtal parsing its Wyckoff tables (``ast.literal_eval``), torch
unpickling the models, spglib, module imports. Measured with py-spy, those
were the event-loop stalls left after the drawing was made cheap. In a
separate process they cost the GUI nothing; the models also stay loaded there
between calls.

Protocol: the GUI side sends ``(function, args, kwargs, live)`` and receives
``(kind, payload)`` events - ``progress``, ``generations`` (a batch of GA
generations), ``reconstruction``, ``relaxed`` (a structure relaxed so far), then exactly one ``succeeded`` or
``failed`` - over ``multiprocessing`` queues (a started process first sends
one ``ready``). Calls run one at a time. The
process is started with ``spawn`` (safe next to Qt and in a frozen app), at a
lower priority than the window, and exits when its parent is gone.

Diagnosing a call that never returns: on POSIX, ``kill -USR1 <engine pid>``
(:meth:`EngineProcess.dump_stacks`) makes the process print the stack of each
of its threads to its standard error, and carry on.
"""

from __future__ import annotations

import inspect
import multiprocessing as mp
import os
import queue
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

GENERATION_BATCH_S = 0.05
"""GA generation events are sent in batches at most this often (thousands arrive per second)."""

ENGINE_NICENESS = 5
"""The engine process runs this much below the window's priority (its GA workers lower still)."""


class EngineError(RuntimeError):
    """The engine process ended while a call was running."""


class _Cancel:
    """``is_set()`` view of the shared cancel event (what the engine's calls check)."""

    def __init__(self, event) -> None:
        self.event = event

    def is_set(self) -> bool:
        return self.event.is_set()


def _serve(requests, events, cancel, parent_pid: int) -> None:
    """The engine process's loop: run one request after another until told to stop."""
    from core import ignore_interrupts, ignore_library_housekeeping, lower_priority

    ignore_interrupts()
    ignore_library_housekeeping()
    lower_priority(ENGINE_NICENESS)
    _dump_stacks_on_request()
    events.put(("ready", ()))
    while True:
        try:
            request = requests.get(timeout=1.0)
        except queue.Empty:
            if os.getppid() != parent_pid:  # the window is gone: do not linger
                # nobody will read the events still queued: exit without waiting to flush them
                # (the queue's feeder thread blocked on a full pipe kept the orphan alive, ~0.5 GB)
                events.cancel_join_thread()
                return
            continue
        if request is None:
            return
        _run_request(request, events, _Cancel(cancel))


def _dump_stacks_on_request() -> None:
    """Print every thread's stack to stderr on SIGUSR1 (POSIX; elsewhere nothing)."""
    import faulthandler
    import signal
    import sys

    if hasattr(signal, "SIGUSR1") and sys.stderr is not None:
        try:
            faulthandler.register(signal.SIGUSR1, file=sys.stderr, all_threads=True, chain=False)
        except (AttributeError, OSError, ValueError, RuntimeError):  # e.g. stderr without a file descriptor
            pass


def taken_by(fn: Callable[..., Any], offered: dict[str, Any]) -> dict[str, Any]:
    """The keywords of ``offered`` (``progress``, ``cancel``, the live callbacks) that ``fn``
    declares: a call with no use for them does not take them."""
    parameters = inspect.signature(fn).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return offered
    return {name: value for name, value in offered.items() if name in parameters}


def _run_request(request, events, cancel: _Cancel) -> None:
    fn, args, kwargs, live = request
    kwargs = dict(kwargs)
    batch: list = []
    last = [time.monotonic()]

    def flush() -> None:
        if batch:
            events.put(("generations", (list(batch),)))
            batch.clear()
        last[0] = time.monotonic()

    def on_generation(*payload) -> None:
        batch.append(payload)
        if time.monotonic() - last[0] >= GENERATION_BATCH_S:
            flush()

    offered = {"progress": lambda p: events.put(("progress", (p,))), "cancel": cancel}
    if live:
        offered |= {"on_generation": on_generation,
                    "on_reconstruction": lambda *payload: (flush(), events.put(("reconstruction", payload))),
                    "on_relaxed": lambda *payload: events.put(("relaxed", payload))}
    kwargs |= taken_by(fn, offered)
    from core import AlphaCrystalError

    try:
        result = fn(*args, **kwargs)
    except AlphaCrystalError as exc:
        flush()
        events.put(("failed", (str(exc), "")))
    except Exception as exc:  # noqa: BLE001 - reported to the window as a dialog
        flush()
        events.put(("failed", (f"{type(exc).__name__}: {exc}", traceback.format_exc())))
    else:
        flush()
        events.put(("succeeded", (result,)))


class EngineProcess:
    """The GUI side: start the process on first use, send calls, relay their events.

    :meth:`call` blocks until the call ends, so run it in a worker thread; it
    waits on a queue (no interpreter lock held while waiting).
    """

    def __init__(self) -> None:
        self._ctx = mp.get_context("spawn")
        self._process = None
        self._lock = threading.Lock()
        self._requests = self._events = self._cancel = None
        self._ready = False

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.is_alive()

    def start(self) -> None:
        if self.running:
            return
        self._ready = False
        self._requests, self._events, self._cancel = self._ctx.Queue(), self._ctx.Queue(), self._ctx.Event()
        self._process = self._ctx.Process(target=_serve, name="alphacrystal-engine", daemon=False,
                                          args=(self._requests, self._events, self._cancel, os.getpid()))
        self._process.start()

    def call(self, fn: Callable[..., Any], args: tuple, kwargs: dict, post: Callable[..., None],
             live: bool = False, cancelled: Callable[[], bool] = lambda: False) -> None:
        """Run ``fn(*args, **kwargs)`` in the engine process, with ``progress=`` and ``cancel=``
        when ``fn`` takes them (:func:`taken_by`);
        ``post(kind, *payload)`` receives its events (ending with ``succeeded`` or ``failed``).
        ``cancelled()`` is polled: once true, the call is asked to stop."""
        with self._lock:
            self.start()
            self._cancel.clear()
            self._requests.put((fn, args, kwargs, live))
            while True:
                if cancelled() and not self._cancel.is_set():
                    self._cancel.set()
                try:
                    kind, payload = self._events.get(timeout=0.2)
                except queue.Empty:
                    if not self.running:
                        code = None if self._process is None else self._process.exitcode
                        self._process = None
                        post("failed", f"the engine process ended unexpectedly (exit code {code}); "
                                       "the next action starts a new one", "")
                        return
                    continue
                if kind == "ready":  # the process is serving (and handles SIGUSR1)
                    self._ready = True
                    continue
                if kind == "generations":
                    for generation in payload[0]:
                        post("generation", *generation)
                    continue
                post(kind, *payload)
                if kind in ("succeeded", "failed"):
                    return

    @property
    def pid(self) -> int | None:
        return self._process.pid if self.running else None

    def dump_stacks(self) -> bool:
        """Ask the running process to print its threads' stacks to its stderr (POSIX).
        Returns whether the request was sent (not before the process is serving: until
        then the signal would end it)."""
        import signal

        pid = self.pid
        if pid is None or not self._ready or not hasattr(signal, "SIGUSR1"):
            return False
        os.kill(pid, signal.SIGUSR1)
        return True

    def stop(self, timeout: float = 5.0) -> None:
        """End the process (cancelling a running call first) and release its queues."""
        if self._process is None:
            return
        if self._cancel is not None:
            self._cancel.set()
        try:
            self._requests.put(None)
        except (OSError, ValueError):
            pass
        if self._process.pid is not None:  # None: its start failed, nothing to wait for
            self._process.join(timeout)
            if self._process.is_alive():
                self._process.terminate()
                self._process.join(1.0)
        clean = self._process.exitcode == 0  # it read every request up to the final None
        self._process = None
        self._release_queues(wait=clean)

    def _release_queues(self, wait: bool) -> None:
        """Close the queues and drop them, so that their semaphores are unlinked now (an app
        that ends with ``os._exit`` would otherwise leave them to the resource tracker,
        which warns about "leaked semaphore objects"). ``wait``: let the feeder thread
        finish first - only when the process has read everything, or it could block."""
        for q in (self._requests, self._events):
            if q is None:
                continue
            q.close()
            if wait:
                q.join_thread()
            else:
                q.cancel_join_thread()
        self._requests = self._events = self._cancel = None
