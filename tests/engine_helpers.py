"""Top-level functions the engine-process tests send to the helper process (it imports them by name)."""

import os

from core.errors import FormulaError


def add(a, b, progress=None, cancel=None):
    progress(("half", a))
    return a + b


def bad_formula(progress=None, cancel=None):
    raise FormulaError("unknown element 'Xx' in formula 'Xx2'")


def die(progress=None, cancel=None):
    os._exit(3)


def wait_for_cancel(progress=None, cancel=None, on_generation=None, on_reconstruction=None, on_relaxed=None):
    import time

    for generation in range(100_000):
        if cancel.is_set():
            return "cancelled", generation
        on_generation("job", {"generation": generation})
        time.sleep(0.001)
    return "not cancelled", -1


def chatty(marker, progress=None, cancel=None):
    """Fill the events pipe (about 2 MB nobody reads), then say so in ``marker``."""
    from pathlib import Path

    for _ in range(200):
        progress("x" * 10_000)
    Path(marker).write_text("sent")
    return "done"
