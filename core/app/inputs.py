"""The inputs of the desktop app's next run, as the session holds them (:attr:`Session.inputs`).

They are what the last Predict (or an opened project) gave, as the user edited them since:
the formula and chosen Z, the space-group candidates and the template candidates (each with
whether it runs), and one edited contact map per Z
(:class:`core.contact.map_document.ContactMapDocument`, with its undo history): each
candidate runs on the map of its own Z. A run takes a copy (:meth:`RunInputs.run_request`);
later edits do not reach it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace

from psygnal import Signal

from core.app.errors import SessionError
from core.app.reference import ReferenceOverlay
from core.app.run import RunRequest
from core.candidates.propose import Candidate, CandidateEditError
from core.contact.map_document import ContactMapDocument
from core.contact_model.inference import ContactPrediction
from core.crystal.composition import parse_formula
from core.crystal.symmetry import spacegroup_from_text
from core.predict.scope import runs_cmcrystal_by_default
from core.templates.retrieval import TemplateCandidate


class RunInputs:
    """The formula, candidates, templates and per-Z maps of the next run (see the module docstring).

    A new set of inputs is announced by the session (``Session.formula_changed``); edits to
    them by the events below."""

    candidates_changed = Signal()
    """Candidates or templates edited, ticked or unticked."""
    current_z_changed = Signal(int)
    """The map shown for editing is now that Z's."""
    map_edited = Signal(int)
    """The input map of that Z changed (a toggle, threshold, undo, reference overlay...)."""

    def __init__(self) -> None:
        self.formula = ""
        self.z: int | None = None
        """The Z asked for at Predict (None: automatic)."""
        self.candidates: list[Candidate] = []
        self.candidate_ticked: list[bool] = []
        self.templates: list[TemplateCandidate] = []
        self.template_ticked: list[bool] = []
        self.predictions: dict[int, ContactPrediction] = {}
        """The network's map of each Z, as predicted."""
        self.documents: dict[int, ContactMapDocument] = {}
        """The map of each Z as edited (the editor's document)."""
        self.current_z: int | None = None
        self.overlay = ReferenceOverlay()
        """The reference structure's true map, overlaid on every map of the same atoms."""
        self._listeners: dict[int, Callable[[], None]] = {}
        self._given: tuple[list, list, list] = ([], [], [])
        """Candidates, their ticks and the template ticks as Predict (or Open) gave them."""

    def load(self, formula: str, z: int | None, candidates: list[Candidate],
             maps: dict[int, ContactPrediction], templates: list[TemplateCandidate],
             candidate_ticked: list[bool] | None = None, template_ticked: list[bool] | None = None) -> None:
        """Replace every input (no event: the session announces the new formula).

        Without ``candidate_ticked`` the candidates are ticked as ``predict`` would run them:
        all of them, none for an all-metal formula that has templates
        (:func:`core.predict.scope.runs_cmcrystal_by_default`)."""
        self.formula, self.z = formula, z
        self.candidates = list(candidates)
        if candidate_ticked is None:
            candidate_ticked = [runs_cmcrystal_by_default(parse_formula(formula), list(templates))] * len(candidates)
        self.candidate_ticked = list(candidate_ticked)
        self.templates = list(templates)
        self.template_ticked = list(template_ticked) if template_ticked is not None else [True] * len(templates)
        self.predictions = dict(maps)
        for z_old, doc in self.documents.items():
            doc.disconnect(self._listeners.pop(z_old))
        self.documents = {zz: self._new_document(zz, prediction) for zz, prediction in sorted(maps.items())}
        self.current_z = self._default_z()
        self._given = (list(self.candidates), list(self.candidate_ticked), list(self.template_ticked))

    def _new_document(self, z: int, prediction: ContactPrediction) -> ContactMapDocument:
        doc = ContactMapDocument()
        doc.load(prediction.labels, prediction.species, prediction.contact, prediction.probabilities,
                 prediction.threshold, predicted=prediction.contact)
        self.overlay.apply(doc)

        def edited(z: int = z) -> None:
            self.map_edited.emit(z)

        doc.connect(edited)
        self._listeners[z] = edited
        return doc

    def _default_z(self) -> int | None:
        zs = self.zs
        if not zs:
            return None
        if self.z in self.documents:
            return self.z
        ticked = [c.z for c, t in zip(self.candidates, self.candidate_ticked) if t and c.z in self.documents]
        return ticked[0] if ticked else zs[0]

    def set_overlay(self, overlay: ReferenceOverlay) -> None:
        """Overlay a reference's true map on every map of the same atoms (and on maps to come)."""
        self.overlay = overlay
        for doc in self.documents.values():
            overlay.apply(doc)

    # ------------------------------------------------------------------ the maps
    @property
    def zs(self) -> list[int]:
        """The Z values with a contact map, ascending."""
        return sorted(self.documents)

    def document(self, z: int | None = None) -> ContactMapDocument | None:
        """The input map of ``z`` (default: the one shown for editing)."""
        z = self.current_z if z is None else z
        return None if z is None else self.documents.get(z)

    def require_map(self, z: int) -> None:
        """Raises SessionError when ``z`` has no contact map."""
        if z not in self.documents:
            raise SessionError(f"no contact map for Z = {z}")

    def select_z(self, z: int) -> None:
        """Show the map of ``z`` for editing."""
        self.require_map(z)
        if z != self.current_z:
            self.current_z = z
            self.current_z_changed.emit(z)

    def restore_map(self, z: int, matrix, threshold: float | None) -> None:
        """An opened project's edits of the map of ``z``: its threshold, then its matrix (None: as predicted)."""
        doc = self.documents[z]
        if threshold is not None and abs(threshold - doc.threshold) > 1e-9:
            doc.set_threshold(threshold)
        if matrix is not None:
            doc.replace_matrix(matrix)

    def edited_zs(self) -> list[int]:
        """The Z values whose map differs from the network's prediction."""
        return [z for z, doc in sorted(self.documents.items()) if doc.edited]

    def maps_for_run(self) -> dict[int, ContactPrediction]:
        """Every Z's prediction with its map as edited (each candidate runs on its own Z's map)."""
        return {z: replace(self.predictions[z], contact=doc.matrix.copy(), threshold=doc.threshold)
                for z, doc in self.documents.items()}

    @property
    def edited(self) -> bool:
        """A map edited, or candidates or template ticks changed from what Predict gave."""
        return bool(self.edited_zs()) or (self.candidates, self.candidate_ticked, self.template_ticked) != self._given

    # ------------------------------------------------------------------ the candidates
    def set_candidates(self, candidates: list[Candidate], ticked: list[bool]) -> None:
        """Candidates as edited in the candidates table (space group, lattice, added rows, ticks)."""
        if len(candidates) != len(ticked):
            raise ValueError("one tick per candidate")
        if list(candidates) == self.candidates and list(ticked) == self.candidate_ticked:
            return
        self.candidates, self.candidate_ticked = list(candidates), list(ticked)
        self.candidates_changed.emit()

    EDITABLE = ("spacegroup", "a", "b", "c", "alpha", "beta", "gamma")
    """The fields of a candidate a user can edit: its space group and its conventional lattice
    (Å, degrees); lengths and angles tied by the crystal system follow."""

    def edit_candidate(self, row: int, field: str, text: str) -> None:
        """Set ``field`` (:data:`EDITABLE`) of candidate ``row`` (0-based) to the value typed as
        ``text``: another space group (checked for a Wyckoff assignment of the formula; its
        symbol refreshed; probability 0) or a lattice parameter (constrained to the group).

        Raises
        ------
        CandidateEditError
            A value that is not a number, or an edit that cannot be applied; the message names
            the row and says why. Nothing changes then.
        """
        if field not in self.EDITABLE:
            raise ValueError(f"not an editable field of a candidate: {field!r}")
        candidate = self.candidates[row]
        if field == "spacegroup":  # a number or a symbol, as --spacegroup takes them: 136, P4_2/mnm, P42/mnm
            try:
                value: float = spacegroup_from_text(text)
            except ValueError as exc:
                raise CandidateEditError(f"row {row + 1}: {exc}") from None
        else:
            try:
                value = float(text)
            except ValueError:
                raise CandidateEditError(f"row {row + 1}: '{text}' is not a valid value of {field}") from None
            if not math.isfinite(value) or value <= 0:
                raise CandidateEditError(f"row {row + 1}: '{text}' is not a valid value of {field} (a positive "
                                         "finite number)")
        try:
            edited = candidate.with_spacegroup(int(value), self.formula) if field == "spacegroup" else \
                candidate.with_lattice_value(self.EDITABLE.index(field) - 1, value)
        except CandidateEditError as exc:
            raise CandidateEditError(f"row {row + 1}: {exc}") from None
        self.set_candidates(_with(self.candidates, row, edited), self.candidate_ticked)  # no event when unchanged

    def add_candidate_like(self, row: int) -> int:
        """Append a copy of candidate ``row`` to be edited into another one (ticked; probability 0:
        chosen by hand); returns its row."""
        self.set_candidates([*self.candidates, self.candidates[row].added_by_hand()], [*self.candidate_ticked, True])
        return len(self.candidates) - 1

    def remove_candidate(self, row: int) -> None:
        """Remove candidate ``row`` from the next run's inputs."""
        self.set_candidates(self.candidates[:row] + self.candidates[row + 1:],
                            self.candidate_ticked[:row] + self.candidate_ticked[row + 1:])

    def tick_candidate(self, row: int, ticked: bool) -> None:
        """Whether candidate ``row`` runs."""
        self.set_candidates(self.candidates, _with(self.candidate_ticked, row, bool(ticked)))

    def tick_template(self, row: int, ticked: bool) -> None:
        """Whether template ``row`` runs."""
        self.set_template_ticked(_with(self.template_ticked, row, bool(ticked)))

    def set_template_ticked(self, ticked: list[bool]) -> None:
        """Which templates run, one tick per template."""
        if len(ticked) != len(self.templates):
            raise ValueError("one tick per template")
        if list(ticked) == self.template_ticked:
            return
        self.template_ticked = list(ticked)
        self.candidates_changed.emit()

    def ticked_candidates(self) -> list[Candidate]:
        return [c for c, t in zip(self.candidates, self.candidate_ticked) if t]

    def ticked_templates(self) -> list[TemplateCandidate]:
        return [c for c, t in zip(self.templates, self.template_ticked) if t]

    # ------------------------------------------------------------------ a run's copy
    def run_request(self) -> RunRequest:
        """A copy of the ticked inputs for a run, each candidate with its Z's map as edited now.

        Raises
        ------
        SessionError
            Nothing ticked, or a candidate whose Z has no map.
        """
        chosen, templates = self.ticked_candidates(), self.ticked_templates()
        if not chosen and not templates:
            raise SessionError("tick at least one space-group candidate or template")
        missing = sorted({c.z for c in chosen} - set(self.documents))
        if missing:
            raise SessionError(f"no contact map for Z = {', '.join(map(str, missing))}: untick those candidates "
                               "or press Predict with that Z")
        maps = self.maps_for_run()
        return RunRequest(self.formula, chosen, {c.z: maps[c.z] for c in chosen}, templates,
                          [z for z in self.edited_zs() if z in {c.z for c in chosen}])

    def rerun_request(self, candidate: Candidate, rerun_of: str) -> RunRequest:
        """A run of ``candidate`` alone (a result's assignment) on its Z's map as edited now
        (the caller has checked that its Z has a map: :meth:`require_map`)."""
        maps = self.maps_for_run()
        return RunRequest(self.formula, [candidate], {candidate.z: maps[candidate.z]}, [],
                          [z for z in self.edited_zs() if z == candidate.z], rerun_of=rerun_of)


def _with(items: list, row: int, value) -> list:
    """A copy of ``items`` with ``items[row]`` replaced by ``value`` (the model's lists are replaced,
    never changed in place: a view or a run may hold the old one)."""
    return [*items[:row], value, *items[row + 1:]]
