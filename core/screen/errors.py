"""The screen's error (:mod:`core.screen.cluster`, :mod:`core.screen.screening`)."""

from __future__ import annotations

from core.errors import AlphaCrystalError


class ScreenError(AlphaCrystalError):
    """A screen cannot start (no cluster, a bad cluster config, an output folder that is a file)."""
