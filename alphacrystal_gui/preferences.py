"""The user's preferences kept between sessions in ``QSettings``: the one place for their keys.

They are read into the session when the window opens (``Session.preferences``,
:class:`core.Preferences`, which holds their defaults and checks them) and written back when
the Preferences dialog is accepted.
"""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import QSettings

from core import AlphaCrystalError, Preferences, Session

KEYS = {"contact_model": "model", "device": "device", "jobs": "processes", "generations": "generations"}
"""Preferences field -> QSettings key."""
_PARSE = {"contact_model": lambda v: str(v or "") or None, "device": str, "jobs": int, "generations": int}


def load_preferences(qsettings: QSettings, session: Session) -> str | None:
    """Read the stored preferences into ``session``. A stored value that is refused (a
    hand-edited settings file) is replaced by its default; returns a message naming each
    such value, else None."""
    preferences, refused = Preferences(), []
    for field, key in KEYS.items():
        raw = qsettings.value(key)
        if raw is None:
            continue
        try:
            preferences = replace(preferences, **{field: _PARSE[field](raw)})
        except (AlphaCrystalError, TypeError, ValueError) as exc:
            refused.append(f"{key} = {raw!r} ({exc})")
    session.set_preferences(preferences)
    if refused:
        return f"stored preferences ignored: {'; '.join(refused)}; the defaults are used for them"
    return None


def save_preferences(qsettings: QSettings, session: Session) -> None:
    """Store the session's preferences for the next session."""
    for field, key in KEYS.items():
        value = getattr(session.preferences, field)
        qsettings.setValue(key, "" if value is None else value)
