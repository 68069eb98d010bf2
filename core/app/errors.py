"""The one error of the desktop app's model: an intent it cannot carry out now."""

from __future__ import annotations

from core.errors import AlphaCrystalError


class SessionError(AlphaCrystalError):
    """A user intent the session cannot carry out now (the message says why)."""
