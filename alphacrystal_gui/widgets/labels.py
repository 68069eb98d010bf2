"""Labels whose text changes at run time must not set the window's width."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QSizePolicy


def fitted(label: QLabel, wrap: bool = True) -> QLabel:
    """``label`` taking the width its panel gives it, never asking for more: a long
    message (a run's stage, a result's title, a measurement) wraps onto more lines
    (``wrap``) or is cut, instead of widening the window beyond the screen (a run's
    "best so far: ..." title once made the window 2,056 px wide)."""
    label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
    label.setWordWrap(wrap)
    label.setMinimumWidth(40)
    return label
