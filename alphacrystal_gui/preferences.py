"""The user's preferences, kept between sessions in ``QSettings``: the one place for their
keys and defaults.

The session holds them while the window is open (``Session.contact_model`` and the device,
processes and GA generations of ``Session.run_settings``); they are read into it when the
window opens and written back when the Preferences dialog is accepted.
"""

from __future__ import annotations

from PySide6.QtCore import QSettings

from core import AlphaCrystalError, PredictionSettings, Session

DEFAULT_PROCESSES = 2
"""GA processes of a new installation (the CLI's default is every core; the window leaves
one for itself on a 2-core laptop)."""


def load_preferences(qsettings: QSettings, session: Session) -> str | None:
    """Read the stored preferences into ``session``; returns a message when a stored value was
    refused (a hand-edited settings file) and the defaults were used instead, else None."""
    try:
        session.set_preferences(str(qsettings.value("model", "") or "") or None,
                                str(qsettings.value("device", PredictionSettings().device)),
                                int(qsettings.value("processes", DEFAULT_PROCESSES)),
                                int(qsettings.value("generations", PredictionSettings().generations)))
    except (AlphaCrystalError, TypeError, ValueError) as exc:
        session.set_preferences(None, PredictionSettings().device, DEFAULT_PROCESSES,
                                PredictionSettings().generations)
        return f"stored preferences ignored ({exc}); the defaults are used"
    return None


def save_preferences(qsettings: QSettings, session: Session) -> None:
    """Store the session's preferences for the next session."""
    settings = session.run_settings
    qsettings.setValue("model", session.contact_model or "")
    qsettings.setValue("device", settings.device)
    qsettings.setValue("processes", settings.jobs if settings.jobs is not None else DEFAULT_PROCESSES)
    qsettings.setValue("generations", settings.generations)
