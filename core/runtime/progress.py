"""Progress events of a long job: which stage, how much of it is done, how long is left.

One event type for the pipeline, the screening and both front ends (the terminal bar of
:mod:`core.runtime.terminal`, the window's run panel).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class PipelineProgress:
    """What the run is doing: ``done`` of ``total`` units of ``stage``.

    ``eta_s`` estimates the seconds left in this stage (None when unknown).
    """

    stage: str
    done: int
    total: int
    message: str = ""
    elapsed_s: float = 0.0
    eta_s: float | None = None


Progress = Callable[[PipelineProgress], None]
"""A progress callback: called with every :class:`PipelineProgress` event."""
