"""Python's cyclic garbage collection, run only in the GUI thread.

Python collects reference cycles in whichever thread happens to allocate when a
generation's threshold is crossed: with the engine running in worker threads,
that is often a worker. A cycle that holds a Qt object (a window closed earlier,
a context menu and the lambdas of its actions) is then destroyed there: its
``~QObject`` takes a Qt mutex and waits for the GIL, while the GUI thread holds
the GIL and waits for that mutex (seen with py-spy as a hung test:
``~QMenu`` in a worker, ``~QAction`` in the GUI thread). Qt objects must be
destroyed in their own thread, so automatic collection is switched off and
pyqtgraph's :class:`~pyqtgraph.util.garbage_collector.GarbageCollector` collects
from a ``QTimer`` in the GUI thread instead, generation by generation with
Python's own thresholds.
"""

from __future__ import annotations

import gc

from pyqtgraph.util.garbage_collector import GarbageCollector

#: How often the GUI thread looks whether a collection is due (s). Collections of
#: the young generations take well under a millisecond; a full one is rare.
COLLECT_INTERVAL_S = 0.5


def collect_in_gui_thread(interval_s: float = COLLECT_INTERVAL_S) -> GarbageCollector:
    """Switch off automatic collection and collect from a timer of the calling (GUI) thread.

    Keep the returned object alive as long as the window; :func:`stop_collecting`
    gives collection back to Python."""
    return GarbageCollector(interval=interval_s)


def stop_collecting(collector: GarbageCollector) -> None:
    """Collect once in the calling (GUI) thread, stop the timer and switch automatic collection on again."""
    collector.timer.stop()
    gc.collect()
    gc.enable()
