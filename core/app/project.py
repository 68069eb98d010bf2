"""Project files: one working session (formula, candidates, edited map, settings, results).

A project is a JSON file (``.acproj``) written atomically (temporary file +
rename), so a crash or kill during a save leaves the previous version intact.
Structures are stored as pymatgen ``Structure.as_dict()``; contact maps as 0/1
lists in the canonical atom order of :mod:`core.contact.contact_map`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import StructureFileError
from core.io.files import atomic_write_text, json_text

FORMAT = "alphacrystal-project/1"
SUFFIX = ".acproj"


class ProjectFileError(StructureFileError):
    """A project file cannot be read or written; the message names the file (and line)."""


@dataclass
class Project:
    """Everything a user would lose by closing the window.

    Attributes
    ----------
    formula : str
        As typed.
    z : int or None
        Chosen formula units (None: automatic).
    candidates : list of dict
        ``Candidate.to_dict()`` rows, including any edited or added by hand.
    prediction : dict or None
        ``ContactPrediction.to_dict()`` of the network's map.
    edited_map : list of list of int or None
        The map after hand edits (None: unedited).
    threshold : float or None
        The threshold the editor shows the map at.
    settings : dict
        ``PredictionSettings.to_dict()``.
    results : list of dict
        Summary rows plus ``structure`` (``Structure.as_dict()``) of every result.
    reference : dict or None
        An opened reference structure (``Structure.as_dict()``) and its file name.
    templates : list of dict
        ``TemplateCandidate.to_dict()`` of the template candidates (with structures),
        and whether each is ticked for a run (``run``); candidates carry ``run`` too.
    maps : dict
        Per Z (as a string): ``prediction``, ``edited_map`` and ``threshold`` (every
        Z's map; ``prediction``/``edited_map`` above repeat the current one for older readers).
    current_z : int or None
        The Z whose map was shown.
    run : dict or None
        What the results came from: ``formula``, ``inputs``, ``discarded``, ``cancelled``, ``seconds``.
    histories : dict
        GA fitness history per job: [generation, best, mean] lists.
    viewing : int or None
        The result shown when saved (index into ``results``).
    """

    formula: str = ""
    z: int | None = None
    candidates: list[dict] = field(default_factory=list)
    prediction: dict | None = None
    edited_map: list[list[int]] | None = None
    threshold: float | None = None
    settings: dict = field(default_factory=dict)
    results: list[dict] = field(default_factory=list)
    reference: dict | None = None
    templates: list[dict] = field(default_factory=list)
    maps: dict[str, dict] = field(default_factory=dict)
    current_z: int | None = None
    run: dict | None = None
    histories: dict[str, list] = field(default_factory=dict)
    viewing: int | None = None

    def to_dict(self) -> dict:
        return {"format": FORMAT, "formula": self.formula, "z": self.z, "candidates": self.candidates,
                "prediction": self.prediction, "edited_map": self.edited_map, "threshold": self.threshold,
                "settings": self.settings, "results": self.results, "reference": self.reference,
                "templates": self.templates, "maps": self.maps, "current_z": self.current_z, "run": self.run,
                "histories": self.histories, "viewing": self.viewing}

    def save(self, path: str | os.PathLike) -> Path:
        """Write atomically; raises :class:`ProjectFileError` naming the file."""
        try:
            text = json_text(self.to_dict(), indent=1)
            return atomic_write_text(path, text)
        except StructureFileError as exc:
            raise ProjectFileError(str(exc)) from None

    @classmethod
    def load(cls, path: str | os.PathLike) -> Project:
        """Read a project file; bad JSON or a foreign file gives a message with file and line."""
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ProjectFileError(f"cannot read project {p}: {getattr(exc, 'strerror', None) or exc}") from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ProjectFileError(f"{p}, line {exc.lineno}: not a valid project file ({exc.msg})") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ProjectFileError(f"{p} is not an AlphaCrystal Studio project (expected format {FORMAT})")
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**known)
