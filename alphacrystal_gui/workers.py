"""Run engine calls off the GUI thread and bring their results back as Qt signals.

``start_task(parent, fn, ...)`` runs ``fn(*args, **kwargs)`` in a fresh ``QThread``, with
``progress=`` and ``cancel=`` when ``fn`` takes them; what the callbacks ``fn`` receives report is queued and
delivered to the GUI thread, so widgets are only touched there. Engine errors (:class:`core.AlphaCrystalError`) arrive as a readable
message; anything else as a message plus the traceback for the details pane.
"""

from __future__ import annotations

import queue
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot

from alphacrystal_gui.engine_process import EngineProcess, taken_by
from core import AlphaCrystalError, CancelToken


class Worker(QObject):
    """Calls one function in its thread; reports through an event queue.

    Payloads (progress events, GA generations, the result) never travel as
    signal arguments: the worker puts them in a thread-safe queue and emits the
    argument-less ``pending`` signal; the GUI thread drains the queue. Passing
    Python objects through queued PySide6 signals from a busy worker thread
    crashed the interpreter (a refcount error on ``True``/``False`` after long
    runs); a plain queue has no such failure mode and batches bursts of events.
    """

    pending = Signal()
    done = Signal()

    def __init__(self, fn: Callable[..., Any], args: tuple = (), kwargs: dict | None = None,
                 live: bool = False, engine: EngineProcess | None = None) -> None:
        super().__init__()
        self.fn, self.args, self.kwargs = fn, args, dict(kwargs or {})
        self.engine = engine
        self.cancel_token = CancelToken()
        self.live = live
        self.events: queue.SimpleQueue = queue.SimpleQueue()
        self.signalled = False
        self.state = "created"
        """created -> running -> returned -> done emitted: where a task that never ends stopped (diagnostics)."""
        self.home = QThread.currentThread()
        """The GUI thread, where the worker is handed back to be deleted (:meth:`_hand_back`)."""

    def _post(self, kind: str, *payload) -> None:
        self.events.put((kind, payload))
        if not self.signalled:  # one wake-up at a time: GA generations arrive by the thousand
            self.signalled = True
            self.pending.emit()

    @Slot()
    def run(self) -> None:
        self.state = "running"
        if self.engine is not None:
            self._run_in_engine()
            return
        offered = {"progress": lambda p: self._post("progress", p), "cancel": self.cancel_token}
        if self.live:
            offered |= {"on_generation": lambda *args: self._post("generation", *args),
                        "on_reconstruction": lambda *args: self._post("reconstruction", *args),
                        "on_relaxed": lambda *args: self._post("relaxed", *args)}
        kwargs = dict(self.kwargs) | taken_by(self.fn, offered)
        try:
            result = self.fn(*self.args, **kwargs)
        except AlphaCrystalError as exc:
            self._post("failed", str(exc), "")
        except Exception as exc:  # noqa: BLE001 - shown in a dialog instead of crashing the app
            self._post("failed", f"{type(exc).__name__}: {exc}", traceback.format_exc())
        else:
            self._post("succeeded", result)
        finally:
            self._hand_back()

    def _run_in_engine(self) -> None:
        try:
            self.engine.call(self.fn, self.args, self.kwargs, self._post, self.live, self.cancel_token.is_set)
        except Exception as exc:  # noqa: BLE001 - e.g. an argument that cannot be pickled
            self._post("failed", f"{type(exc).__name__}: {exc}", traceback.format_exc())
        finally:
            self._hand_back()

    def _hand_back(self) -> None:
        """End of the work, in the worker thread: the worker moves back to the GUI thread
        (to be deleted there, by :class:`Task`), then ``done`` ends the thread.

        Deleted in the ending worker thread (``thread.finished -> deleteLater``), the
        worker's ~QObject held Qt's connection mutex while waiting for the GIL, and the GUI
        thread, holding the GIL, waited for that mutex in ``QObject::disconnect``
        (``ResultsTable.set_records`` -> ``setSortingEnabled``): a deadlock, seen once in a
        CI run of the GUI tests (py-spy: ``~QObject`` -> ``Shiboken::GilState::acquire``)."""
        self.state = "returned"
        self.moveToThread(self.home)
        self.done.emit()
        self.state = "done emitted"

    def cancel(self) -> None:
        self.cancel_token.cancel()


class Task(QObject):
    """A worker, its thread and the GUI-side callbacks; lives in the GUI thread.

    Keep a reference until ``thread.finished``.
    """

    def __init__(self, worker: Worker, thread: QThread, callbacks: dict[str, Callable],
                 on_finished: Callable[[], None] | None = None) -> None:
        super().__init__()
        self.worker, self.thread, self.callbacks = worker, thread, callbacks
        self.on_finished = on_finished
        worker.pending.connect(self.drain)  # queued: runs in the GUI thread
        thread.finished.connect(self._finished)  # queued to this object, which lives in the GUI thread

    @Slot()
    def _finished(self) -> None:
        """The thread has ended: deliver what is left, tell the owner, then free the thread object.

        One slot does all three, in this order. With separate connections of
        ``thread.finished`` to ``on_finished`` and to ``thread.deleteLater``, the
        thread object could be deleted before the ``on_finished`` call queued on it was
        delivered, and that call was then lost: the window kept the task for ever
        (the GUI tests' rare hang; seen under load with the thread already deleted)."""
        try:
            self.drain()
        finally:  # a callback that raises must not keep the task for ever
            try:
                if self.on_finished is not None:
                    self.on_finished()
            finally:
                self.worker.deleteLater()  # in the GUI thread (Worker._hand_back)
                self.thread.deleteLater()

    @Slot()
    def drain(self) -> None:
        """Deliver the queued events to their callbacks (GUI thread); of a burst of
        ``progress`` events only the latest is delivered."""
        self.worker.signalled = False  # events posted from now on send a new wake-up
        latest_progress = None
        while True:
            try:
                kind, payload = self.worker.events.get_nowait()
            except queue.Empty:
                break
            if kind == "progress":
                latest_progress = payload
                continue
            if kind in ("succeeded", "failed") and latest_progress is not None:
                self._deliver("progress", latest_progress)
                latest_progress = None
            self._deliver(kind, payload)
        if latest_progress is not None:
            self._deliver("progress", latest_progress)

    def _deliver(self, kind: str, payload: tuple) -> None:
        callback = self.callbacks.get(kind)
        if callback is not None:
            callback(*payload)

    def connect(self, kind: str, callback: Callable) -> None:
        """Add a callback for ``progress``, ``generation``, ``reconstruction``, ``relaxed``, ``succeeded`` or ``failed``."""
        self.callbacks[kind] = callback

    def cancel(self) -> None:
        self.worker.cancel()

    @property
    def running(self) -> bool:
        return self.thread.isRunning()


def start_task(parent: QObject, fn: Callable[..., Any], *args, live: bool = False,
               engine: EngineProcess | None = None,
               on_success: Callable[[Any], None] | None = None,
               on_failure: Callable[[str, str], None] | None = None,
               on_progress: Callable[[Any], None] | None = None,
               on_finished: Callable[[], None] | None = None, **kwargs) -> Task:
    """Run ``fn`` in a new thread, or from a new thread in ``engine`` (then ``fn`` must be
    an importable function with picklable arguments and result). ``fn`` gets the
    ``progress`` and ``cancel`` keywords (and ``on_generation`` / ``on_reconstruction`` /
    ``on_relaxed`` when ``live``) when it declares them (:func:`taken_by`)."""
    thread = QThread(parent)
    worker = Worker(fn, args, kwargs, live, engine)
    worker.moveToThread(thread)
    callbacks = {k: v for k, v in (("succeeded", on_success), ("failed", on_failure), ("progress", on_progress))
                 if v is not None}
    task = Task(worker, thread, callbacks, on_finished)
    thread.started.connect(worker.run)
    # direct: the worker thread ends its own event loop (QThread.quit is thread-safe; a quit
    # called before the loop starts makes it return at once). Queued to the thread object,
    # which lives in the GUI thread, the quit took a second hop through the GUI's event loop
    # before ``finished``, one more place for the end of a task to wait on.
    worker.done.connect(thread.quit, Qt.ConnectionType.DirectConnection)
    thread.start()
    return task
