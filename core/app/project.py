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

import numpy as np
from pymatgen.core import Structure

from core.app.run import SessionResults, run_meta
from core.candidates.propose import Candidate
from core.contact.contact_map import ContactMap, compute_contact_map
from core.contact.matrix_check import checked_contact_matrix, checked_threshold
from core.contact_model.inference import ContactPrediction
from core.crystal.composition import same_formula
from core.crystal.symmetry import primitive_cell
from core.errors import AlphaCrystalError, StructureFileError
from core.io.files import atomic_write_text, json_text
from core.io.outputs import check_output_file
from core.predict.record import ResultRecord
from core.predict.settings import PredictionSettings
from core.templates.retrieval import TemplateCandidate

FORMAT = "alphacrystal-project/1"
SUFFIX = ".acproj"


def project_file(path: str | os.PathLike) -> Path:
    """``path`` as a project file name: :data:`SUFFIX` appended unless it ends with it
    (``NaCl`` and ``NaCl.acproj`` name the same project; ``run.v2`` becomes ``run.v2.acproj``)."""
    p = Path(path)
    return p if p.name.endswith(SUFFIX) else p.with_name(p.name + SUFFIX)


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
        What the results came from: ``formula``, ``inputs``, ``discarded``, ``cancelled``, ``seconds``
        and ``meta`` (the run's summary metadata: settings, the maps it used, notes; since 2026-12-05).
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
        """Write atomically to ``path`` (:data:`SUFFIX` added when it lacks it, as the save
        dialog does); returns the file written. Raises :class:`ProjectFileError` naming the file
        (a missing folder is an error, as for every output: :func:`core.io.outputs.check_output_file`;
        a mistyped folder is never made)."""
        try:
            target = check_output_file(project_file(path))
            text = json_text(self.to_dict(), indent=1)
            return atomic_write_text(target, text)
        except StructureFileError as exc:
            raise ProjectFileError(str(exc)) from None

    @classmethod
    def load(cls, path: str | os.PathLike) -> Project:
        """Read a project file; bad JSON or a foreign file gives a message with file and line."""
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except UnicodeDecodeError:  # pickled, compressed or another program's file
            raise ProjectFileError(f"{p} is not an AlphaCrystal Studio project: a binary file, not the "
                                   "project's text (JSON)") from None
        except OSError as exc:
            raise ProjectFileError(f"cannot read project {p}: {exc.strerror or exc}") from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ProjectFileError(f"{p}, line {exc.lineno}: not a valid project file ({exc.msg})") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ProjectFileError(f"{p} is not an AlphaCrystal Studio project (expected format {FORMAT})")
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**known)

    def contents(self, path: str | os.PathLike | None = None) -> ProjectContents:
        """Every object of the project, built and checked (a bad file is found before a session
        changes).

        Raises
        ------
        ProjectFileError
            A malformed project, naming ``path`` and the problem.
        """
        try:
            return _contents(self)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError, OverflowError,
                AlphaCrystalError) as exc:
            where = str(path) if path is not None else "project"
            raise ProjectFileError(f"{where}: not a readable project ({_problem(exc)})") from None


def _problem(exc: BaseException) -> str:
    """A malformed project's problem in words: a missing field named as such (``KeyError: 'prediction'``
    told a user the name of a Python exception), the engine's own message, else the exception."""
    if isinstance(exc, KeyError):
        return f"the field {exc.args[0]!r} is missing" if exc.args else "a field is missing"
    if isinstance(exc, AlphaCrystalError):
        return str(exc)
    if isinstance(exc, (TypeError, AttributeError, IndexError)):
        return f"a field has the wrong kind of value ({exc})"
    return str(exc)


@dataclass
class ProjectContents:
    """A project's objects (:meth:`Project.contents`), ready for :meth:`core.app.session.Session.open_contents`."""

    formula: str
    z: int | None
    candidates: list[Candidate]
    candidate_ticked: list[bool]
    templates: list[TemplateCandidate]
    template_ticked: list[bool]
    predictions: dict[int, ContactPrediction]
    edited_maps: dict[int, tuple[np.ndarray | None, float | None]]
    """Z -> (the map as edited, or None; its threshold, or None)."""
    current_z: int | None
    reference: Structure | None
    reference_name: str
    reference_map: ContactMap | None
    histories: dict[str, list[tuple[int, float, float]]]
    results: SessionResults | None
    viewing: int | None
    settings: PredictionSettings | None
    """The run settings (None: none stored; the defaults when the stored ones were unusable)."""
    notes: list[str] = field(default_factory=list)
    """What could not be restored, in words for the user."""


def _stored_maps(formula: str, stored: dict) -> tuple[dict[int, ContactPrediction],
                                                     dict[int, tuple[np.ndarray | None, float | None]]]:
    """The project's map of each Z, as predicted and as edited (matrix or None; threshold or None),
    each checked as any map read from a file is (:mod:`core.contact.matrix_check`): one compound's
    map under another's formula, a 3 × 3 map for two atoms or a -1 in it failed after the session
    had begun to change."""
    predictions: dict[int, ContactPrediction] = {}
    edited: dict[int, tuple[np.ndarray | None, float | None]] = {}
    for key, m in stored.items():
        where = f"the map of Z = {key}"
        prediction = ContactPrediction.from_dict(m["prediction"], where)
        if str(prediction.z) != str(key):
            raise AlphaCrystalError(f"{where} holds a prediction for Z = {prediction.z}")
        if not same_formula(prediction.formula, formula):
            raise AlphaCrystalError(f"{where} is a map of {prediction.formula}, not of the project's {formula}")
        n = len(prediction.species)
        matrix = (None if m.get("edited_map") is None
                  else checked_contact_matrix(m["edited_map"], n, where, "edited_map"))
        threshold = None if m.get("threshold") is None else checked_threshold(m["threshold"], where)
        predictions[prediction.z], edited[prediction.z] = prediction, (matrix, threshold)
    return predictions, edited


def _contents(project: Project) -> ProjectContents:
    candidates = [Candidate.from_dict({k: v for k, v in c.items() if k != "run"}) for c in project.candidates]
    templates = [TemplateCandidate.from_dict({k: v for k, v in t.items() if k != "run"}) for t in project.templates]
    stored = project.maps or ({str(project.prediction["z"]): {"prediction": project.prediction,
                                                               "edited_map": project.edited_map,
                                                               "threshold": project.threshold}}
                              if project.prediction else {})
    predictions, edited = _stored_maps(project.formula, stored)
    reference = reference_map = None
    if project.reference:
        reference = Structure.from_dict(project.reference["structure"])
        reference_map = compute_contact_map(primitive_cell(reference))
    histories = {str(job): [(int(p[0]), float(p[1]), float(p[2])) for p in points]
                 for job, points in (project.histories or {}).items()}
    records = [ResultRecord.from_dict(r, where=f"result {k}") for k, r in enumerate(project.results, 1)]
    if any(r.structure is None for r in records):
        raise ValueError("a result without its structure")  # every result must be drawable and exportable
    run = project.run or {}
    results = SessionResults(str(run.get("formula", project.formula)), str(run.get("inputs", "opened project")),
                             records, [str(line) for line in run.get("discarded", [])],
                             bool(run.get("cancelled", False)), float(run.get("seconds", 0.0)),
                             meta=run_meta(run.get("meta"))) if records else None
    settings, notes = None, []
    if project.settings:
        settings, refused = PredictionSettings.usable_from_dict(project.settings)
        if refused:  # a hand-edited value, or one beyond today's ranges: that one is dropped, said
            notes.append(f"the project's run settings: {'; '.join(refused.values())}; the default is used for "
                         f"{'it' if len(refused) == 1 else 'them'}")
    return ProjectContents(
        formula=project.formula, z=project.z, candidates=candidates,
        candidate_ticked=[bool(c.get("run", True)) for c in project.candidates], templates=templates,
        template_ticked=[bool(t.get("run", True)) for t in project.templates], predictions=predictions,
        edited_maps=edited, current_z=None if project.current_z is None else int(project.current_z),
        reference=reference,
        reference_name=str(project.reference.get("name", "reference")) if project.reference else "",
        reference_map=reference_map, histories=histories, results=results,
        viewing=None if project.viewing is None else int(project.viewing), settings=settings, notes=notes)
