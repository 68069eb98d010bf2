"""Run engine calls off the GUI thread and bring their results back as Qt signals.

``start_task(parent, fn, ...)`` runs ``fn(*args, progress=..., cancel=..., **kwargs)``
in a fresh ``QThread``; the callbacks ``fn`` receives emit signals that Qt
delivers to the GUI thread (queued connections), so widgets are only touched
there. Engine errors (:class:`core.AlphaCrystalError`) arrive as a readable
message; anything else as a message plus the traceback for the details pane.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal, Slot

from core.errors import AlphaCrystalError
from core.reconstruction.job import CancelToken


class Worker(QObject):
    """Calls one function in its thread; reports through signals."""

    progress = Signal(object)
    generation = Signal(str, object)
    reconstruction = Signal(str, object)
    succeeded = Signal(object)
    failed = Signal(str, str)  # message, details
    done = Signal()

    def __init__(self, fn: Callable[..., Any], args: tuple = (), kwargs: dict | None = None,
                 live: bool = False) -> None:
        super().__init__()
        self.fn, self.args, self.kwargs = fn, args, dict(kwargs or {})
        self.cancel_token = CancelToken()
        self.live = live

    @Slot()
    def run(self) -> None:
        kwargs = dict(self.kwargs)
        kwargs["progress"] = self.progress.emit
        kwargs["cancel"] = self.cancel_token
        if self.live:
            kwargs["on_generation"] = self.generation.emit
            kwargs["on_reconstruction"] = self.reconstruction.emit
        try:
            result = self.fn(*self.args, **kwargs)
        except AlphaCrystalError as exc:
            self.failed.emit(str(exc), "")
        except Exception as exc:  # noqa: BLE001 - shown in a dialog instead of crashing the app
            self.failed.emit(f"{type(exc).__name__}: {exc}", traceback.format_exc())
        else:
            self.succeeded.emit(result)
        finally:
            self.done.emit()

    def cancel(self) -> None:
        self.cancel_token.cancel()


class Task:
    """A worker and its thread; keep a reference until ``thread.finished``."""

    def __init__(self, worker: Worker, thread: QThread) -> None:
        self.worker, self.thread = worker, thread

    def cancel(self) -> None:
        self.worker.cancel()

    @property
    def running(self) -> bool:
        return self.thread.isRunning()


def start_task(parent: QObject, fn: Callable[..., Any], *args, live: bool = False,
               on_success: Callable[[Any], None] | None = None,
               on_failure: Callable[[str, str], None] | None = None,
               on_progress: Callable[[Any], None] | None = None,
               on_finished: Callable[[], None] | None = None, **kwargs) -> Task:
    """Run ``fn`` in a new thread. ``fn`` must accept ``progress`` and ``cancel`` keywords
    (and ``on_generation`` / ``on_reconstruction`` when ``live``)."""
    thread = QThread(parent)
    worker = Worker(fn, args, kwargs, live)
    worker.moveToThread(thread)
    thread.started.connect(worker.run)
    if on_success:
        worker.succeeded.connect(on_success)
    if on_failure:
        worker.failed.connect(on_failure)
    if on_progress:
        worker.progress.connect(on_progress)
    worker.done.connect(thread.quit)
    thread.finished.connect(worker.deleteLater)
    thread.finished.connect(thread.deleteLater)
    if on_finished:
        thread.finished.connect(on_finished)
    task = Task(worker, thread)
    thread.start()
    return task
