"""A terminal progress bar for pipeline progress events (stage, counts, ETA).

On a terminal one line is redrawn in place; in a log file (not a TTY) a line is
printed when a stage starts or ends and at most every ``interval`` seconds.
"""

from __future__ import annotations

import shutil
import sys
import time
import warnings
from typing import TextIO

from core.runtime.progress import PipelineProgress

LIBRARY_HOUSEKEEPING = ("No Pauling electronegativity",)
"""Beginnings of library warnings that say nothing to a user: pymatgen sorts a formula's elements
by electronegativity and says, for He, Ne and Ar, that it has none (two lines of a library's
internals under ``contact-map He``, and in the window's terminal while He was typed)."""


def ignore_library_housekeeping() -> None:
    """Filter the warnings of :data:`LIBRARY_HOUSEKEEPING` (in the filters in force: the CLI sets
    them inside its own ``catch_warnings``, the window and its engine process for their lifetime)."""
    for message in LIBRARY_HOUSEKEEPING:
        warnings.filterwarnings("ignore", message=message, category=UserWarning)


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """``1 formula``, ``3 formulas``, ``1 space-group candidate`` (``plural``: when not noun + s)."""
    return f"{n:,} {noun if n == 1 else plural or noun + 's'}"


def format_seconds(seconds: float | None) -> str:
    """``75`` -> ``1:15``; ``None`` -> ``?``."""
    if seconds is None:
        return "?"
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class ProgressBar:
    """Callable that renders :class:`PipelineProgress` events."""

    def __init__(self, stream: TextIO | None = None, width: int = 24, interval: float = 5.0) -> None:
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.width = width
        self.interval = interval
        self.stage: str | None = None
        self.last_print = 0.0

    def line(self, p: PipelineProgress) -> str:
        filled = int(self.width * p.done / p.total) if p.total else self.width
        bar = "#" * filled + "-" * (self.width - filled)
        eta = "" if p.done >= p.total else f"  ETA {format_seconds(p.eta_s)}"
        text = f"{p.stage:<14} [{bar}] {p.done}/{p.total}  {format_seconds(p.elapsed_s)}{eta}"
        return f"{text}  {p.message}" if p.message else text

    def __call__(self, p: PipelineProgress) -> None:
        if p.stage == "done":
            if self.tty:
                self.stream.write("\n")
                self.stream.flush()
            return
        text = self.line(p)
        if self.tty:
            columns = shutil.get_terminal_size((100, 20)).columns
            if p.stage != self.stage and self.stage is not None:
                self.stream.write("\n")
            self.stream.write("\r" + text[: columns - 1].ljust(columns - 1))
            self.stream.flush()
        else:
            now = time.monotonic()
            if p.stage != self.stage or p.done >= p.total or now - self.last_print >= self.interval:
                self.stream.write(text + "\n")
                self.stream.flush()
                self.last_print = now
        self.stage = p.stage
