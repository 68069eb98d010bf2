"""The desktop app's one source of truth: a Qt-free session model that emits events.

As in napari, the model is a plain object and the widgets are thin views: they
render what the session holds and send it the user's intents; the session
changes its state and emits a ``psygnal`` event, and every view subscribed to
that event redraws. Nothing a view shows is a second copy of the state, so a
result can never be shown, exported or saved under another formula than the
one it was computed for.

The session holds:

- the formula and the chosen Z of the last Predict, the space-group candidates
  and template candidates (each with whether it runs),
- one edited contact map per Z (:class:`core.contact.map_document.ContactMapDocument`,
  with its undo history): each candidate runs on the map of its own Z,
- the results of the last run, tagged with the formula and inputs they came
  from (:class:`SessionResults`), their GA fitness histories, and which result
  is being viewed (its map is shown read-only; the input maps are untouched);
  during a run, the structures relaxed so far as provisional results (ranked by
  energy so far; the final ranking replaces them),
- the reference structure opened for comparison,
- the run state (:class:`RunState`) and whether anything is unsaved.

Everything that belongs to a run (results, provisional results, fitness
histories, the viewed result, the run's state and message) is cleared together
by a new Predict, an opened project or the start of the next run, with one
event, :attr:`Session.run_cleared`, that every view of a run follows.

It saves and loads itself as a :class:`core.app.project.Project`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
from psygnal import Signal
from pymatgen.core import Structure

from core.app.project import Project, ProjectContents
from core.app.reference import reference_distances
from core.app.run import (
    ProvisionalResults,
    RunRequest,
    RunState,
    SessionResults,
    result_contact_map,
)
from core.candidates.propose import Candidate, rerun_candidate
from core.contact.contact_map import ContactMap
from core.contact.map_document import ContactMapDocument
from core.contact_model.inference import ContactPrediction
from core.crystal.composition import parse_formula
from core.errors import AlphaCrystalError
from core.predict.record import ResultRecord
from core.predict.results import discarded_lines
from core.predict.scope import runs_cmcrystal_by_default
from core.predict.settings import PredictionSettings
from core.templates.retrieval import TemplateCandidate

APP_NAME = "AlphaCrystal Studio"


class SessionError(AlphaCrystalError):
    """A user intent the session cannot carry out now (the message says why)."""


class Session:
    """One working session of the desktop app (see the module docstring)."""

    formula_changed = Signal(str)
    """A new Predict (or an opened project): new formula, candidates, templates and maps."""
    candidates_changed = Signal()
    """Candidates or templates edited, ticked or unticked."""
    current_z_changed = Signal(int)
    """The map shown for editing is now that Z's."""
    map_edited = Signal(int)
    """The input map of that Z changed (a toggle, threshold, undo...)."""
    results_changed = Signal()
    """New results (final, or a run's provisional ones), or none."""
    run_cleared = Signal()
    """The previous run and everything from it is gone (a new Predict, an opened project, the
    start of the next run): results, provisional results, fitness histories, the viewed
    result, the run's state and message. Every view of a run resets on this one event."""
    viewing_changed = Signal(object)
    """The result index whose map is shown read-only, or None (back to the input map)."""
    run_state_changed = Signal(str)
    generation = Signal(str, dict)
    """A GA generation of a run: (job id, {generation, best_fitness, mean_fitness, ...})."""
    histories_changed = Signal()
    """The fitness histories were replaced (a new run started, a project was opened)."""
    reference_changed = Signal()
    dirty_changed = Signal(bool)
    run_settings_changed = Signal()
    """The run settings changed (an edit in the run panel, a preference, an opened project)."""
    busy_changed = Signal(str)
    """The foreground task began (what it does, in words) or ended ("")."""

    def __init__(self) -> None:
        self.formula = ""
        self.z: int | None = None
        self.candidates: list[Candidate] = []
        self.candidate_ticked: list[bool] = []
        self.templates: list[TemplateCandidate] = []
        self.template_ticked: list[bool] = []
        self.documents: dict[int, ContactMapDocument] = {}
        self._document_listeners: dict[int, Callable[[], None]] = {}
        self.predictions: dict[int, ContactPrediction] = {}
        self.current_z: int | None = None
        self.results: SessionResults | None = None
        self.histories: dict[str, list[tuple[int, float, float]]] = {}
        self.viewing: int | None = None
        self.result_document = ContactMapDocument()
        self.reference: Structure | None = None
        self.reference_name = ""
        self.reference_map: ContactMap | None = None
        self.reference_distances: np.ndarray | None = None
        self._reference_document: tuple[ContactMap | None, ContactMapDocument | None] = (None, None)
        self.run_state = RunState.IDLE
        self.run_message = ""
        self.run_request: RunRequest | None = None
        """The inputs of the run going on (or of the last one)."""
        self._provisional = ProvisionalResults()
        self._replaced_results: SessionResults | None = None
        """The results a running run replaced, until it yields its own."""
        self._given: tuple[list, list, list] = ([], [], [])
        """Candidates, their ticks and the template ticks as the last Predict (or Open) gave them."""
        self.project_path: Path | None = None
        self.dirty = False
        self.revision = 0
        """Counts the changes (edits, results, a reference): a task that read a file for a while
        can tell whether the session changed meanwhile."""
        self._unsaved_shown = False
        self.open_notes: list[str] = []
        """What opening the last project could not restore, in words for the user."""
        self.busy_with = ""
        """The foreground task going on (a Predict, a run, opening a run folder), in words; ""
        when none. Another one waits until it ends (:meth:`begin_task`)."""
        self.run_settings = PredictionSettings()
        """What the next run does (GA budget, processes, relaxation, ranking, hull): the one copy;
        the run panel shows it and sends edits through :meth:`set_run_settings`."""

    # ------------------------------------------------------------------ foreground task
    @property
    def busy(self) -> bool:
        """A foreground task or a run is going on: Predict, Run and Open wait."""
        return bool(self.busy_with) or self.run_state.busy

    def begin_task(self, what: str) -> None:
        """A foreground task starts (``what`` it does, in words).

        Raises
        ------
        SessionError
            While another one is going on."""
        if self.busy_with:
            raise SessionError(f"wait for {self.busy_with} to finish (or cancel it)")
        self.busy_with = what
        self.busy_changed.emit(what)

    def end_task(self) -> None:
        """The foreground task ended (finished, failed or cancelled)."""
        if self.busy_with:
            self.busy_with = ""
            self.busy_changed.emit("")

    # ------------------------------------------------------------------ run settings
    def set_run_settings(self, **changes) -> PredictionSettings:
        """Change fields of :attr:`run_settings` (``PredictionSettings`` names); one event.

        Raises
        ------
        PredictionError
            An invalid value or combination (the settings stay as they were)."""
        from dataclasses import replace

        updated = replace(self.run_settings, **changes)
        if updated != self.run_settings:
            self.run_settings = updated
            self.run_settings_changed.emit()
        return self.run_settings

    # ------------------------------------------------------------------ inputs
    def set_inputs(self, formula: str, z: int | None, candidates: list[Candidate],
                   maps: dict[int, ContactPrediction], templates: list[TemplateCandidate],
                   candidate_ticked: list[bool] | None = None, template_ticked: list[bool] | None = None) -> None:
        """The outcome of a Predict: replaces every input and clears the previous results.

        Without ``candidate_ticked`` the candidates are ticked as ``predict`` would run them:
        all of them, none for an all-metal formula that has templates
        (:func:`core.predict.scope.runs_cmcrystal_by_default`).

        Raises
        ------
        SessionError
            While a run is going on.
        """
        if self.run_state.busy:
            raise SessionError("a run is going on: cancel it before predicting another formula")
        self.formula, self.z = formula, z
        self.candidates = list(candidates)
        if candidate_ticked is None:  # the engine's default: an all-metal formula with templates skips CMCrystal
            candidate_ticked = [runs_cmcrystal_by_default(parse_formula(formula), list(templates))] * len(candidates)
        self.candidate_ticked = list(candidate_ticked)
        self.templates = list(templates)
        self.template_ticked = list(template_ticked) if template_ticked is not None else [True] * len(templates)
        self.predictions = dict(maps)
        for z_old, doc in self.documents.items():
            doc.disconnect(self._document_listeners.pop(z_old))
        self.documents = {}
        for zz, prediction in sorted(maps.items()):
            self.documents[zz] = self._new_document(zz, prediction)
        self.current_z = self._default_z()
        self._given = (list(self.candidates), list(self.candidate_ticked), list(self.template_ticked))
        self.project_path = None  # new inputs are no saved project's (an opened one sets it again)
        self._clear_run()
        self.formula_changed.emit(formula)
        self._set_dirty(True)

    def _new_document(self, z: int, prediction: ContactPrediction) -> ContactMapDocument:
        doc = ContactMapDocument()
        doc.load(prediction.labels, prediction.species, prediction.contact, prediction.probabilities,
                 prediction.threshold, predicted=prediction.contact)
        if self.reference_map is not None and list(self.reference_map.species) == list(prediction.species):
            doc.set_reference(self.reference_map.matrix, self.reference_distances)

        def edited(z: int = z) -> None:
            self._set_dirty(True)
            self.map_edited.emit(z)

        doc.connect(edited)
        self._document_listeners[z] = edited
        return doc

    def _default_z(self) -> int | None:
        zs = sorted(self.documents)
        if not zs:
            return None
        if self.z in self.documents:
            return self.z
        ticked = [c.z for c, t in zip(self.candidates, self.candidate_ticked) if t and c.z in self.documents]
        return ticked[0] if ticked else zs[0]

    @property
    def zs(self) -> list[int]:
        """The Z values with a contact map, ascending."""
        return sorted(self.documents)

    def document(self, z: int | None = None) -> ContactMapDocument | None:
        """The input map of ``z`` (default: the one shown for editing)."""
        z = self.current_z if z is None else z
        return None if z is None else self.documents.get(z)

    def select_z(self, z: int) -> None:
        """Show the map of ``z`` for editing (and leave any result's map)."""
        if z not in self.documents:
            raise SessionError(f"no contact map for Z = {z}")
        self.back_to_input()
        if z != self.current_z:
            self.current_z = z
            self.current_z_changed.emit(z)

    def edited_zs(self) -> list[int]:
        """The Z values whose map differs from the network's prediction."""
        return [z for z, doc in sorted(self.documents.items()) if doc.edited]

    def maps_for_run(self) -> dict[int, ContactPrediction]:
        """Every Z's prediction with its map as edited (each candidate runs on its own Z's map)."""
        return {z: replace(self.predictions[z], contact=doc.matrix.copy(), threshold=doc.threshold)
                for z, doc in self.documents.items()}

    def set_candidates(self, candidates: list[Candidate], ticked: list[bool]) -> None:
        """Candidates as edited in the candidates table (space group, lattice, added rows, ticks)."""
        if len(candidates) != len(ticked):
            raise ValueError("one tick per candidate")
        if list(candidates) == self.candidates and list(ticked) == self.candidate_ticked:
            return
        self.candidates, self.candidate_ticked = list(candidates), list(ticked)
        self.candidates_changed.emit()
        self._set_dirty(True)

    def set_template_ticked(self, ticked: list[bool]) -> None:
        if len(ticked) != len(self.templates):
            raise ValueError("one tick per template")
        if list(ticked) == self.template_ticked:
            return
        self.template_ticked = list(ticked)
        self.candidates_changed.emit()
        self._set_dirty(True)

    def ticked_candidates(self) -> list[Candidate]:
        return [c for c, t in zip(self.candidates, self.candidate_ticked) if t]

    def ticked_templates(self) -> list[TemplateCandidate]:
        return [c for c, t in zip(self.templates, self.template_ticked) if t]

    @property
    def can_run(self) -> bool:
        return not self.run_state.busy and bool(self.ticked_candidates() or self.ticked_templates())

    # ------------------------------------------------------------------ runs
    def begin_run(self) -> RunRequest:
        """Snapshot the inputs for a run and enter :attr:`RunState.STARTING`.

        Raises
        ------
        SessionError
            Nothing ticked, a candidate whose Z has no map, or a run going on.
        """
        if self.run_state.busy:
            raise SessionError("a run is going on")
        chosen, templates = self.ticked_candidates(), self.ticked_templates()
        if not chosen and not templates:
            raise SessionError("tick at least one space-group candidate or template")
        missing = sorted({c.z for c in chosen} - set(self.documents))
        if missing:
            raise SessionError(f"no contact map for Z = {', '.join(map(str, missing))}: untick those candidates "
                               "or press Predict with that Z")
        self.back_to_input()
        maps = self.maps_for_run()
        request = RunRequest(self.formula, chosen, {c.z: maps[c.z] for c in chosen}, templates,
                             [z for z in self.edited_zs() if z in {c.z for c in chosen}])
        return self._start(request)

    def _start(self, request: RunRequest) -> RunRequest:
        """The previous run is cleared (the window shows only the current run); STARTING."""
        had_results = self.results is not None
        # shown again if this run fails or ends without a structure: starting a run never loses results
        replaced = self.results if self.results is not None and not self.results.provisional else None
        self._clear_run()
        self._replaced_results = replaced
        self.run_request = request
        self._set_state(RunState.STARTING, "starting worker processes…")
        if had_results:
            self._set_dirty(True)
        return request

    def begin_rerun(self, index: int) -> RunRequest:
        """Snapshot a run of CMCrystal from result ``index``: its structure's space group, Z,
        lattice and Wyckoff assignment (:func:`core.candidates.propose.rerun_candidate`), on
        the input map of its Z as edited now; enters :attr:`RunState.STARTING`.

        Raises
        ------
        SessionError
            A run going on, no such result, results without input maps here (a run
            folder), no map for the result's Z, or no assignment readable from it.
        """
        if self.run_state.busy:
            raise SessionError("a run is going on")
        if not 0 <= index < len(self.records):
            raise SessionError(f"no result #{index + 1}")
        results = self.results
        if results is None:
            raise SessionError(f"no result #{index + 1}")
        if results.formula != self.formula or not self.documents:
            raise SessionError(f"these results have no contact maps here (opened from a run folder): press "
                               f"Predict for {results.formula} first")
        try:
            candidate = rerun_candidate(self.records[index].structure, self.formula)
        except AlphaCrystalError as exc:
            raise SessionError(f"result #{index + 1}: {exc}") from None
        if candidate.z not in self.documents:
            raise SessionError(f"result #{index + 1} has Z = {candidate.z}: no contact map for that Z; press "
                               f"Predict with Z = {candidate.z} first")
        self.back_to_input()
        maps = self.maps_for_run()
        request = RunRequest(self.formula, [candidate], {candidate.z: maps[candidate.z]}, [],
                             [z for z in self.edited_zs() if z == candidate.z], rerun_of=f"result #{index + 1}")
        return self._start(request)

    def run_progress(self, message: str = "") -> None:
        """Work has been done: STARTING becomes RUNNING (CANCELLING stays)."""
        if self.run_state == RunState.STARTING:
            self._set_state(RunState.RUNNING, message)
        elif self.run_state == RunState.RUNNING and message:
            self.run_message = message

    def add_generation(self, job: str, data: dict) -> None:
        """One GA generation of the running run (kept for the plot and the project)."""
        self.histories.setdefault(job, []).append(
            (int(data["generation"]), float(data["best_fitness"]), float(data["mean_fitness"])))
        self.run_progress()
        self.generation.emit(job, data)

    def request_cancel(self) -> bool:
        """Ask the running run to stop (returns whether there was one)."""
        if not self.run_state.busy or self.run_state == RunState.CANCELLING:
            return False
        self._set_state(RunState.CANCELLING, "cancelling…")
        return True

    def add_provisional(self, key: str, record: ResultRecord, view=None) -> None:
        """A structure of the running run was relaxed (or relaxed further): it joins the
        provisional results, ranked by energy so far (its ``rank``; ``provisional`` set).
        A later call with the same ``key`` replaces its record. A viewed provisional result
        stays on view (its index follows the new order). Ignored when no run is going on.

        ``view`` is (contact map, 3D geometry) or None."""
        if not self.run_state.busy or self.run_request is None:
            return
        viewed = self.records[self.viewing].key if self.viewing is not None and self.results else ""
        self._provisional.add(key, record, view)
        self.results = self._provisional.results(self.run_request.formula, self.run_request.describe())
        index = next((k for k, r in enumerate(self.records) if viewed and r.key == viewed), None)
        if index is not None:
            if viewed == key:
                self.view_result(index)  # its structure changed: its map again
            elif index != self.viewing:
                self.viewing = index
                self.viewing_changed.emit(index)
        self.results_changed.emit()
        self._set_dirty(True)

    @property
    def provisional(self) -> bool:
        """The results shown are a running run's provisional ones."""
        return self.results is not None and self.results.provisional

    def finish_run(self, request: RunRequest, result, records: list[ResultRecord],
                   views: list | None = None) -> None:
        """The run of ``request`` ended with ``result`` (a ``PredictionResult``) and its records
        (they replace any provisional results)."""
        self._provisional = ProvisionalResults()
        if not records and self._replaced_results is not None:  # nothing finished: the previous results stay
            self._restore_replaced(f"{'cancelled' if result.cancelled else 'done'}: no structure finished; "
                                   "the previous results are shown again")
            return
        self._replaced_results = None
        self.results = SessionResults(request.formula, request.describe(), list(records), discarded_lines(result),
                                      bool(result.cancelled), float(result.seconds),
                                      dict(enumerate(views or [])))
        self.back_to_input()  # a result of the previous run may be on view
        finished = len(records)
        if result.cancelled:
            self._set_state(RunState.CANCELLED, f"cancelled: {finished} structures from the finished part")
        else:
            self._set_state(RunState.DONE, f"done: {finished} distinct structures in {result.seconds:.0f} s")
        self.results_changed.emit()
        self._set_dirty(True)

    def show_run_folder(self, path: str | Path, formula: str, records: list[ResultRecord], meta: dict) -> None:
        """Show the results of a finished run folder (:func:`core.predict.result_folder.read_run_folder`):
        a run made elsewhere (``predict``, a screen) with no inputs to edit here.

        Raises
        ------
        SessionError
            While a run is going on.
        """
        self.set_inputs(formula, None, [], {}, [])
        self.results = SessionResults(formula, f"run folder {path}", list(records), list(meta.get("discarded", [])),
                                      False, float(meta.get("seconds") or 0.0))
        self._set_state(RunState.DONE, f"{len(records)} structures from {path}")
        self.results_changed.emit()
        self._set_dirty(False)

    def fail_run(self, message: str) -> None:
        """The run failed. The results it replaced are shown again (its own provisional rows
        are dropped: the previous run's finished results come first); without any, its
        provisional records become its results, ranked by energy and not de-duplicated, so that
        they can be exported and saved."""
        self._provisional = ProvisionalResults()
        if self._replaced_results is not None:
            self._restore_replaced(f"{message} (the previous results are shown again)", RunState.FAILED)
            return
        if self.results is not None and self.results.provisional:
            self.results = replace(self.results, provisional=False,
                                   records=[replace(r, provisional=False, key="") for r in self.records],
                                   inputs=f"{self.results.inputs} (failed run: the structures relaxed before it "
                                          "failed, not de-duplicated)")
            message = f"{message} ({len(self.records)} structures relaxed before it failed are kept)"
            self.results_changed.emit()
        self._set_state(RunState.FAILED, message)

    def _restore_replaced(self, message: str, state: RunState | None = None) -> None:
        self.results, self._replaced_results = self._replaced_results, None
        self._set_state(state or (RunState.CANCELLED if self.run_state == RunState.CANCELLING else RunState.DONE),
                        message)
        self.results_changed.emit()

    def _set_state(self, state: RunState, message: str) -> None:
        self.run_state, self.run_message = state, message
        self.run_state_changed.emit(state.value)

    # ------------------------------------------------------------------ results
    def _clear_run(self) -> None:
        """Forget the previous run and everything from it; one :attr:`run_cleared` event."""
        self.results = None
        self.viewing = None
        self._provisional = ProvisionalResults()
        self._replaced_results = None
        self.result_document.load([], [], np.zeros((0, 0), dtype=np.uint8))
        self.histories = {}
        self.run_state, self.run_message = RunState.IDLE, ""
        self.run_cleared.emit()

    @property
    def records(self) -> list[ResultRecord]:
        """The results shown (final or provisional), rank order; [] without any."""
        return self.results.records if self.results is not None else []

    def view_result(self, index: int) -> ResultRecord:
        """Show result ``index``: its map goes to :attr:`result_document` (read-only);
        the input maps are not touched. Returns its record."""
        if not 0 <= index < len(self.records):
            raise SessionError(f"no result #{index + 1}")
        record = self.records[index]
        cmap = self.results.views.get(index, (None, None))[0] if self.results is not None else None
        if cmap is None:
            cmap = result_contact_map(record)
        if cmap is not None:
            self.result_document.load(cmap.labels, cmap.species, cmap.matrix,
                                      image_coordination=cmap.coordination_numbers)
            ref = self.reference_map
            same = ref is not None and list(ref.species) == list(cmap.species)
            self.result_document.set_reference(ref.matrix if ref is not None and same else None,
                                               self.reference_distances)
        else:
            self.result_document.load([], [], np.zeros((0, 0), dtype=np.uint8))
        self.viewing = index
        self.viewing_changed.emit(index)
        return record

    def back_to_input(self) -> None:
        """Leave a result's map: the input map of the current Z is shown again, exactly as it was."""
        if self.viewing is not None:
            self.viewing = None
            self.viewing_changed.emit(None)

    def export_selection(self, index: int | None = None) -> tuple[list[ResultRecord], str]:
        """(records, formula) to export: result ``index`` or all, with the formula they were computed for."""
        if self.results is None or not self.records:
            raise SessionError("no results to export: run a prediction first")
        if self.results.provisional:
            raise SessionError("the run is still going on: its results are provisional until it ends")
        if index is None:
            return list(self.records), self.results.formula
        if not 0 <= index < len(self.records):
            raise SessionError("select a result to export (or use Export all)")
        return [self.records[index]], self.results.formula

    # ------------------------------------------------------------------ reference
    def set_reference(self, structure, name: str, cmap: ContactMap | None) -> None:
        """A known structure to compare with (its true map overlays maps of the same atoms)."""
        self.reference, self.reference_name, self.reference_map = structure, name, cmap
        self.reference_distances = reference_distances(structure, cmap)
        for doc in [*self.documents.values(), self.result_document]:
            same = cmap is not None and list(cmap.species) == list(doc.species)
            doc.set_reference(cmap.matrix if cmap is not None and same else None, self.reference_distances)
        self.reference_changed.emit()
        self._set_dirty(True)

    @property
    def reference_document(self) -> ContactMapDocument | None:
        """The reference's true map as a read-only document (shown when there is no input map;
        None without a reference), made once per reference."""
        if self.reference_map is None:
            return None
        if self._reference_document[0] is not self.reference_map:
            doc = ContactMapDocument()
            doc.load(self.reference_map.labels, self.reference_map.species, self.reference_map.matrix)
            self._reference_document = (self.reference_map, doc)
        return self._reference_document[1]

    # ------------------------------------------------------------------ saving
    def _set_dirty(self, dirty: bool) -> None:
        """Changed since the last save (or not); ``dirty_changed`` also when that changes
        whether there is unsaved work (an edit made, or undone)."""
        if dirty:
            self.revision += 1
        unsaved = dirty and self.has_work
        if dirty != self.dirty or unsaved != self._unsaved_shown:
            self.dirty, self._unsaved_shown = dirty, unsaved
            self.dirty_changed.emit(dirty)

    @property
    def has_work(self) -> bool:
        """Work a Predict, Open or Quit would lose: an edited map, candidates or template
        ticks changed from what Predict gave, or results (a bare prediction can be made
        again; an opened reference structure is just a file that can be opened again);
        for a saved project, any change since it was saved."""
        if not self.formula:
            return False
        if self.project_path is not None:
            return True
        return bool(self.records) or self._replaced_results is not None or self.run_state.busy \
            or bool(self.edited_zs()) or (self.candidates, self.candidate_ticked, self.template_ticked) != self._given

    @property
    def has_unsaved_work(self) -> bool:
        """:attr:`has_work` not saved: what Quit, Predict and Open ask about."""
        return self.dirty and self.has_work

    def title(self) -> str:
        """Window title: project name (or formula), an unsaved mark, the app's name."""
        name = self.project_path.stem if self.project_path is not None else (self.formula or "")
        if not name:
            return APP_NAME
        return f"{name}{' *' if self.has_unsaved_work else ''} — {APP_NAME}"

    def to_project(self) -> Project:
        """Everything needed to continue later: inputs, every Z's edited map, results, histories."""
        current = self.document()
        return Project(
            formula=self.formula, z=self.z,
            candidates=[c.to_dict() | {"run": t} for c, t in zip(self.candidates, self.candidate_ticked)],
            prediction=self.predictions[self.current_z].to_dict()
            if current is not None and self.current_z is not None else None,
            edited_map=current.matrix.tolist() if current is not None else None,
            threshold=float(current.threshold) if current is not None else None,
            settings=self.run_settings.to_dict(), results=[] if self.provisional else [r.to_dict() for r in self.records],
            reference={"name": self.reference_name, "structure": self.reference.as_dict()}
            if self.reference is not None else None,
            templates=[c.to_dict() | {"run": t} for c, t in zip(self.templates, self.template_ticked)],
            maps={str(z): {"prediction": self.predictions[z].to_dict(), "edited_map": doc.matrix.tolist(),
                           "threshold": float(doc.threshold)} for z, doc in self.documents.items()},
            current_z=self.current_z,
            run=self.results.to_dict() if self.results is not None and not self.provisional else None,
            histories={job: [list(p) for p in points] for job, points in self.histories.items()},
            viewing=None if self.provisional else self.viewing)

    def save(self, path: str | Path) -> Path:
        """Write the project atomically; the session is then saved (not dirty) under that name."""
        written = self.to_project().save(path)
        self.project_path = written
        self._saved()
        return written

    def _saved(self) -> None:
        """Clean under :attr:`project_path`: one event, also when it was clean (the title's name changes)."""
        self.dirty, self._unsaved_shown = False, False
        self.dirty_changed.emit(False)

    def load_project(self, project: Project, path: str | Path | None = None) -> None:
        """Replace the session by an opened project (projects of format 1 without per-Z maps too).

        Raises
        ------
        ProjectFileError
            A malformed project, naming the file and the problem; the session is
            left as it was (every object is built before anything changes).
        """
        self.open_contents(project.contents(path), path)

    def open_contents(self, c: ProjectContents, path: str | Path | None = None) -> None:
        """Replace the session by a project's contents (:meth:`core.app.project.Project.contents`,
        built off the GUI thread); ``path``: the project file it came from."""
        self.run_state = RunState.IDLE
        # the reference first (or none: never the previous project's), so the new maps get its overlay
        self.reference, self.reference_map, self.reference_name = c.reference, c.reference_map, c.reference_name
        self.reference_distances = reference_distances(c.reference, c.reference_map)
        self.set_inputs(c.formula, c.z, c.candidates, c.predictions, c.templates, c.candidate_ticked,
                        c.template_ticked)
        self.reference_changed.emit()
        for z, (matrix, threshold) in c.edited_maps.items():
            doc = self.documents[z]
            if threshold is not None and abs(threshold - doc.threshold) > 1e-9:
                doc.set_threshold(threshold)
            if matrix is not None:
                doc.replace_matrix(matrix)
        if c.current_z is not None and c.current_z in self.documents:
            self.current_z = c.current_z
            self.current_z_changed.emit(self.current_z)
        self.histories = c.histories
        self.histories_changed.emit()
        if c.results is not None:
            self.results = c.results
            self.results_changed.emit()
            if c.viewing is not None and 0 <= c.viewing < len(self.records):
                self.view_result(c.viewing)
        self.open_notes = list(c.notes)
        if c.settings is not None:
            self.run_settings = c.settings
            self.run_settings_changed.emit()
        self.project_path = Path(path) if path is not None else None
        self._saved()
