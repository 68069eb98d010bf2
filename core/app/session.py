"""The desktop app's one source of truth: a Qt-free session model that emits events.

As in napari, the model is a plain object and the widgets are thin views: they
render what the session holds and send it the user's intents; the session
changes its state and emits a ``psygnal`` event, and every view subscribed to
that event redraws. Nothing a view shows is a second copy of the state, so a
result can never be shown, exported or saved under another formula than the
one it was computed for.

As napari's viewer is composed of its layers and dims, the session is composed of
two models, each with its own events, that views subscribe to one by one:

- :attr:`Session.inputs` (:class:`core.app.inputs.RunInputs`): the formula and chosen Z
  of the last Predict, the space-group and template candidates (each with whether it
  runs) and one edited contact map per Z;
- :attr:`Session.run` (:class:`core.app.run.RunModel`): the run going on or the last
  one, its results (provisional while it runs), fitness histories and the result on view.

The session itself holds what spans both: the run settings and preferences, the reference
structure opened for comparison (its map is overlaid on both models' maps), the foreground
task (busy), and the project: whether anything is unsaved, saving and opening it as a
:class:`core.app.project.Project`. Intents that need both models (Predict, Run, a re-run
of a result, Open) are its methods.

Everything that belongs to a run is cleared together by a new Predict, an opened project
or the start of the next run, with one event, :attr:`core.app.run.RunModel.cleared`.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from psygnal import Signal
from pymatgen.core import Structure

from core.app.errors import SessionError
from core.app.inputs import RunInputs
from core.app.preferences import Preferences
from core.app.project import Project, ProjectContents
from core.app.reference import ReferenceOverlay
from core.app.run import RunModel, RunRequest, RunState, SessionResults, run_meta
from core.candidates.propose import Candidate, rerun_candidate, rerun_start
from core.contact.contact_map import ContactMap
from core.contact.map_document import ContactMapDocument
from core.contact_model.inference import ContactPrediction
from core.crystal.composition import same_formula
from core.errors import AlphaCrystalError
from core.predict.record import ResultRecord
from core.predict.settings import PredictionSettings
from core.runtime.terminal import counted
from core.templates.retrieval import TemplateCandidate

APP_NAME = "AlphaCrystal Studio"


SHOWN_RUN_SETTINGS = ("population", "generations", "restarts", "n_assignments", "relax", "potential",
                      "second_potential", "ranking", "stability_frame", "symmetry_prior", "near_tie",
                      "ehull_threshold")
"""The ``PredictionSettings`` fields the window's Run panel shows: a run folder opened in the window
brings these (:meth:`Session.show_run_folder`), no others."""


class Session:
    """One working session of the desktop app (see the module docstring)."""

    formula_changed = Signal(str)
    """A new Predict (or an opened project): new formula, candidates, templates and maps."""
    reference_changed = Signal()
    dirty_changed = Signal(bool)
    run_settings_changed = Signal()
    """The run settings changed (an edit in the run panel, a preference, an opened project)."""
    busy_changed = Signal(str)
    """The foreground task began (what it does, in words) or ended ("")."""

    def __init__(self) -> None:
        self.inputs = RunInputs()
        self.run = RunModel()
        self.reference: Structure | None = None
        self.reference_name = ""
        self._reference_document: tuple[ContactMap | None, ContactMapDocument | None] = (None, None)
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
        """What the next run does (GA budget, processes, relaxation, ranking, hull, device): the
        one copy; the run panel shows it and sends edits through :meth:`set_run_settings`."""
        self.preferences = Preferences()
        """The user's preferences (model file, device, default processes and generations)."""
        self._replacing = False
        """A file's contents are replacing the session: its own events do not mark it unsaved."""
        self.results_only = False
        """The results came from a run folder (:meth:`show_run_folder`): no candidates, templates or
        maps were retrieved for them; a Predict brings them."""
        # connected first, so the unsaved mark is set before any view redraws
        self.inputs.candidates_changed.connect(self._changed)
        self.inputs.map_edited.connect(self._changed)
        self.run.results_changed.connect(self._changed)

    def _changed(self, *_args) -> None:
        if not self._replacing:
            self._set_dirty(True)

    # ------------------------------------------------------------------ foreground task
    @property
    def busy(self) -> bool:
        """A foreground task or a run is going on: Predict, Run and Open wait."""
        return bool(self.busy_with) or self.run.busy

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

    # ------------------------------------------------------------------ settings and preferences
    def set_run_settings(self, **changes) -> PredictionSettings:
        """Change fields of :attr:`run_settings` (``PredictionSettings`` names); one event.

        Raises
        ------
        PredictionError
            An invalid value or combination (the settings stay as they were)."""
        if self._apply_run_settings(**changes):
            self._changed()  # saved in the project: a change is unsaved work there
        return self.run_settings

    def _apply_run_settings(self, **changes) -> bool:
        """Change :attr:`run_settings`; one event; whether anything changed."""
        updated = replace(self.run_settings, **changes)
        if updated == self.run_settings:
            return False
        self.run_settings = updated
        self.run_settings_changed.emit()
        return True

    def set_preferences(self, preferences: Preferences) -> None:
        """New preferences (the window reads them when it opens, the Preferences dialog sets
        them): they become the run settings' device, processes and generations, except in a
        saved project, whose settings are its own: there only the device (this machine's, as
        :meth:`open_contents` takes it) changes, and that is no unsaved change (a saved project's
        Generations became the preference's 500 without a mark before)."""
        if self.project_path is None:
            self._apply_run_settings(device=preferences.device, jobs=preferences.jobs,
                                     generations=preferences.generations)
        else:
            self._apply_run_settings(device=preferences.device)
        self.preferences = preferences

    # ------------------------------------------------------------------ inputs
    def set_inputs(self, formula: str, z: int | None, candidates: list[Candidate],
                   maps: dict[int, ContactPrediction], templates: list[TemplateCandidate],
                   candidate_ticked: list[bool] | None = None, template_ticked: list[bool] | None = None,
                   results_only: bool = False) -> None:
        """The outcome of a Predict: replaces every input (:meth:`RunInputs.load`, ticked as
        ``predict`` would run them unless told) and clears the previous run (``results_only``:
        no inputs at all, for results opened from a run folder).

        Raises
        ------
        SessionError
            While a run is going on.
        """
        if self.run.busy:
            raise SessionError("a run is going on: cancel it before predicting another formula")
        self.results_only = results_only
        self.inputs.load(formula, z, candidates, maps, templates, candidate_ticked, template_ticked)
        self.project_path = None  # new inputs are no saved project's (an opened one sets it again)
        self.run.clear()
        self.formula_changed.emit(formula)
        self._set_dirty(True)

    def select_z(self, z: int) -> None:
        """Show the map of ``z`` for editing (and leave any result's map)."""
        self.inputs.require_map(z)
        self.run.back_to_input()
        self.inputs.select_z(z)

    @property
    def can_run(self) -> bool:
        return not self.run.busy and bool(self.inputs.ticked_candidates() or self.inputs.ticked_templates())

    # ------------------------------------------------------------------ runs
    def begin_run(self) -> RunRequest:
        """Snapshot the ticked inputs for a run (:meth:`RunInputs.run_request`) and start it
        (:attr:`RunState.STARTING`).

        Raises
        ------
        SessionError
            Nothing ticked, a candidate whose Z has no map, or a run going on.
        """
        if self.run.busy:
            raise SessionError("a run is going on")
        request = self.inputs.run_request()
        return self._start(request)

    def _start(self, request: RunRequest) -> RunRequest:
        from core.runtime.parallel import local_processes_problem

        jobs = self.run_settings.jobs
        too_many = local_processes_problem(jobs)[0] if jobs else None
        if too_many:  # the CLI's --jobs check: worker processes that would not fit this machine's memory
            raise SessionError(f"Processes {jobs}: {too_many}")
        self.run.back_to_input()
        if self.run.start(request):
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
        if self.run.busy:
            raise SessionError("a run is going on")
        candidate = self._rerun_candidate(index)
        assert candidate is not None  # not check_only
        return self._start(self.inputs.rerun_request(candidate, f"result #{index + 1}"))

    def rerun_problem(self, index: int) -> str | None:
        """Why result ``index`` cannot be re-run now (:meth:`begin_rerun`'s refusal, a run going on
        aside), or None: the results' menu offers the re-run only where it can start. The check
        reads the result's symmetry (spglib, milliseconds), not the candidate model."""
        try:
            self._rerun_candidate(index, check_only=True)
        except SessionError as exc:
            return str(exc)
        return None

    def _rerun_candidate(self, index: int, check_only: bool = False) -> Candidate | None:
        """The candidate a re-run of result ``index`` runs (its space group, Z, lattice and Wyckoff
        assignment), checked against this session's maps (``check_only``: the checks alone, None)."""
        results, records = self.run.results, self.run.records
        if results is None or not 0 <= index < len(records):
            raise SessionError(f"no result #{index + 1}")
        if results.formula != self.inputs.formula or not self.inputs.documents:
            raise SessionError(f"these results have no contact maps here (opened from a run folder): press "
                               f"Predict for {results.formula} first")
        try:
            if check_only:
                z = rerun_start(records[index].structure, self.inputs.formula)[2]
                candidate = None
            else:
                candidate = rerun_candidate(records[index].structure, self.inputs.formula)
                z = candidate.z
        except AlphaCrystalError as exc:
            raise SessionError(f"result #{index + 1}: {exc}") from None
        if z not in self.inputs.documents:
            edited = " (it replaces these maps and their edits: save the project first to keep them)" \
                if self.inputs.edited_zs() else ""
            raise SessionError(f"result #{index + 1} has Z = {z} and this prediction has no map of that Z "
                               f"(maps of Z = {', '.join(map(str, self.inputs.zs))}): Predict with Z = {z} "
                               f"to re-run it{edited}")
        return candidate

    def show_run_folder(self, path: str | Path, formula: str, records: list[ResultRecord], meta: dict) -> None:
        """Show the results of a finished run folder (:func:`core.predict.result_folder.read_run_folder`):
        a run made elsewhere (``predict``, a screen) with no inputs to edit here.

        Raises
        ------
        SessionError
            While a run is going on.
        """
        self.set_inputs(formula, None, [], {}, [], results_only=True)
        self._show_stored_settings(meta.get("settings"))
        self._replacing = True
        try:
            self.run.show(SessionResults(formula, f"run folder {path}", list(records),
                                         list(meta.get("discarded", [])), False, float(meta.get("seconds") or 0.0),
                                         meta=run_meta(meta)),
                          f"{len(records)} structures from {path}")
        finally:
            self._replacing = False
        self._set_dirty(False)

    def _show_stored_settings(self, stored: dict | None) -> None:
        """The run settings a run folder's results were made with (its ``summary.json``), so that the
        Run panel does not show other settings beside them: only :data:`SHOWN_RUN_SETTINGS`, which
        the panel shows and the user can see to change (a folder's Z, sources or seed would silently
        steer the next Predict; where this machine runs stays the preference's). Unreadable settings
        (another version's) leave them."""
        if not isinstance(stored, dict):
            return
        settings, refused = PredictionSettings.usable_from_dict(stored)
        if "*" in refused:
            return
        self._apply_run_settings(**{name: getattr(settings, name) for name in SHOWN_RUN_SETTINGS
                                    if name not in refused})  # a refused value keeps the panel's

    # ------------------------------------------------------------------ reference
    def set_reference(self, structure, name: str, cmap: ContactMap | None) -> None:
        """A known structure to compare with (its true map overlays maps of the same atoms)."""
        self.reference, self.reference_name = structure, name
        overlay = ReferenceOverlay.of(structure, cmap)
        self.inputs.set_overlay(overlay)
        self.run.set_overlay(overlay)
        self.reference_changed.emit()
        self._set_dirty(True)

    def comparable_reference(self, formula: str | None = None) -> Structure | None:
        """The reference structure when results of ``formula`` (default: the session's formula) can
        be compared with it, i.e. it is the same compound (:func:`~core.crystal.composition.same_formula`);
        else None. The one rule of a run's comparison at its end and of a reference opened after it
        (a reference of another compound opened before Start marked every result "no match")."""
        formula = self.inputs.formula if formula is None else formula
        if self.reference is None or not formula:
            return None
        return self.reference if same_formula(formula, self.reference.composition.reduced_formula) else None

    @property
    def reference_map(self) -> ContactMap | None:
        """The reference's true contact map (its primitive cell), or None: the one the models overlay."""
        return self.inputs.overlay.contact_map

    @property
    def reference_document(self) -> ContactMapDocument | None:
        """The reference's true map as a read-only document (shown when there is no input map;
        None without a reference), made once per reference."""
        if self.reference_map is None:
            return None
        if self._reference_document[0] is not self.reference_map:
            doc = ContactMapDocument()
            doc.load(self.reference_map.labels, self.reference_map.species, self.reference_map.matrix,
                     image_coordination=self.reference_map.coordination_numbers)  # the CN line, as a result's
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
        if not self.inputs.formula:
            return False
        if self.project_path is not None:
            return True
        run = self.run
        return bool(run.records) or run.previous_results is not None or run.busy or self.inputs.edited

    def work_at_stake(self) -> str:
        """What a Predict, Open or Quit would lose now, in words, for the question asked first:
        e.g. ``a run in progress (it is cancelled), 6 results``."""
        run, parts = self.run, []
        if run.busy:
            parts.append("a run in progress (it is cancelled)")
        if self.project_path is not None:  # what was saved is safe: only the changes since are at stake
            return ", ".join([*parts, f"changes since {self.project_path.name} was saved"])
        if run.records:
            parts.append(counted(len(run.records), "provisional result" if run.provisional else "result"))
        elif run.previous_results is not None:
            parts.append("the previous run's results")
        if self.inputs.edited:
            parts.append("edited maps, candidates or template ticks")
        return ", ".join(parts)

    @property
    def has_unsaved_work(self) -> bool:
        """:attr:`has_work` not saved: what Quit, Predict and Open ask about."""
        return self.dirty and self.has_work

    def title(self) -> str:
        """Window title: project name (or formula), an unsaved mark, the app's name."""
        name = self.project_path.stem if self.project_path is not None else (self.inputs.formula or "")
        if not name:
            return APP_NAME
        return f"{name}{' *' if self.has_unsaved_work else ''} — {APP_NAME}"

    def to_project(self) -> Project:
        """Everything needed to continue later: inputs, every Z's edited map, results, histories.
        While a run is going on, the results it replaced (and their histories) are saved, not
        its provisional ones: a save then keeps what the project held before the run."""
        inputs, run = self.inputs, self.run
        current, z_now = inputs.document(), inputs.current_z
        results, histories, viewing = run.saved_results()
        return Project(
            formula=inputs.formula, z=inputs.z,
            candidates=[c.to_dict() | {"run": t} for c, t in zip(inputs.candidates, inputs.candidate_ticked)],
            prediction=inputs.predictions[z_now].to_dict() if current is not None and z_now is not None else None,
            edited_map=current.matrix.tolist() if current is not None else None,
            threshold=float(current.threshold) if current is not None else None,
            settings=self.run_settings.to_dict(),
            results=[r.to_dict() for r in results.records] if results is not None else [],
            reference={"name": self.reference_name, "structure": self.reference.as_dict()}
            if self.reference is not None else None,
            templates=[c.to_dict() | {"run": t} for c, t in zip(inputs.templates, inputs.template_ticked)],
            maps={str(z): {"prediction": inputs.predictions[z].to_dict(), "edited_map": doc.matrix.tolist(),
                           "threshold": float(doc.threshold)} for z, doc in inputs.documents.items()},
            current_z=z_now,
            run=results.to_dict() if results is not None else None,
            histories={job: [list(p) for p in points] for job, points in histories.items()},
            viewing=viewing)

    def save(self, path: str | Path) -> Path:
        """Write the project atomically; the session is then saved (not dirty) under that name,
        unless a run is going on: its results are not in the file yet (:meth:`to_project`), so
        the session stays unsaved and Quit asks."""
        written = self.to_project().save(path)
        self.project_path = written
        self._saved()
        if self.run.busy:
            self._set_dirty(True)
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
        built off the GUI thread); ``path``: the project file it came from. The device
        stays this machine's preference."""
        self.run.state = RunState.IDLE
        # the reference first (or none: never the previous project's), so the new maps get its overlay
        self.reference, self.reference_name = c.reference, c.reference_name
        overlay = ReferenceOverlay.of(c.reference, c.reference_map)
        self.inputs.overlay = self.run.overlay = overlay  # applied to the maps made next
        # results with no inputs at all come from a run folder (a Predict always brings some)
        results_only = c.results is not None and not (c.candidates or c.predictions or c.templates)
        self.set_inputs(c.formula, c.z, c.candidates, c.predictions, c.templates, c.candidate_ticked,
                        c.template_ticked, results_only=results_only)
        self.reference_changed.emit()
        self._replacing = True
        try:
            for z, (matrix, threshold) in c.edited_maps.items():
                self.inputs.restore_map(z, matrix, threshold)
            if c.current_z is not None and c.current_z in self.inputs.documents:
                self.inputs.select_z(c.current_z)
            self.run.restore(c.results, c.histories, c.viewing)
        finally:
            self._replacing = False
        self.open_notes = list(c.notes)
        if c.settings is not None:
            self.run_settings = replace(c.settings, device=self.preferences.device)
            self.run_settings_changed.emit()
        self.project_path = Path(path) if path is not None else None
        self._saved()
