"""The user's preferences: what they chose once for every session (the contact-map model file,
the torch device, the GA processes and generations a new session starts with).

The window keeps them between sessions (``alphacrystal_gui/preferences.py``, in ``QSettings``);
the session holds them while it is open (:attr:`core.app.session.Session.preferences`) and
applies them to its run settings when they are set. They are separate from the run settings:
an edit in the run panel or an opened project changes the next run, not the preferences.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from core.app.errors import SessionError
from core.predict.settings import COUNT_RANGES, PredictionSettings
from core.runtime.device import DEFAULT_DEVICE, check_device_name

DEFAULT_PROCESSES = 2
"""GA processes of a new installation (the CLI's default is one per core this process may use; the window leaves
the GUI some room on a 2-core laptop)."""


@dataclass(frozen=True)
class Preferences:
    """The user's preferences (see the module docstring); checked when made.

    Raises
    ------
    SessionError
        A value out of range, naming it.
    """

    contact_model: str | None = None
    """Contact-map model file a Predict uses; None: the shipped models."""
    device: str = DEFAULT_DEVICE
    """Torch device of the network and the potential: auto, cpu, cuda or cuda:N."""
    jobs: int = DEFAULT_PROCESSES
    """GA worker processes a new session starts with."""
    generations: int = PredictionSettings().generations
    """GA generations a new session starts with."""

    def __post_init__(self) -> None:
        if self.contact_model is not None and not str(self.contact_model).strip():
            object.__setattr__(self, "contact_model", None)
        if self.contact_model is not None and not Path(self.contact_model).is_file():  # said now, not at Predict
            raise SessionError(f"contact model file {self.contact_model} does not exist")
        check_device_name(self.device)
        # the run settings' own limits (COUNT_RANGES): a preference they refuse would keep the
        # window from opening when the session applies it
        for name, what in (("jobs", "processes"), ("generations", "GA generations")):
            low, high = COUNT_RANGES[name]
            if not low <= int(getattr(self, name)) <= high:
                raise SessionError(f"{what} must be {low} to {high}, not {getattr(self, name)}")
