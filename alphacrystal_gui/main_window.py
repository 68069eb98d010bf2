"""The main window: formula bar, candidates, contact-map editor, run panel, 3D view, results.

Only widgets and adapters live here; all science is in ``core`` and runs in
worker threads (:mod:`alphacrystal_gui.workers`); the GA and relaxations run
in the engine's process pools. The window layout, recent projects and
preferences persist in ``QSettings``.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QSettings, QSize, Qt
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QFrame,
    QMainWindow,
    QMessageBox,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

import core
from alphacrystal_gui.actions import WindowActions
from alphacrystal_gui.dialogs import (
    ABOUT_TEXT,
    PreferencesDialog,
    ask_save_discard,
)
from alphacrystal_gui.engine_calls import (
    inputs_with_note,
    run_live,
    warm_up,
)
from alphacrystal_gui.engine_process import EngineProcess
from alphacrystal_gui.file_intents import FileIntents
from alphacrystal_gui.preferences import load_preferences, save_preferences
from alphacrystal_gui.reference_intents import ReferenceIntents
from alphacrystal_gui.structure_views import StructureViews
from alphacrystal_gui.view3d.structure_view import StructureView
from alphacrystal_gui.widgets.candidates_panel import CandidatesPanel
from alphacrystal_gui.widgets.formula_bar import FormulaBar
from alphacrystal_gui.widgets.map_panel import MapPanel
from alphacrystal_gui.widgets.results_panel import ResultsPanel
from alphacrystal_gui.widgets.run_panel import RunPanel
from alphacrystal_gui.widgets.screening_table import ScreeningTable
from alphacrystal_gui.workers import Task, start_task
from core import (
    PROJECT_SUFFIX,
    Candidate,
    ContactMapDocument,
    ContactPrediction,
    Project,
    Session,
)

LEFT_DOCK_SHARE, RIGHT_DOCK_SHARE = 0.32, 0.38
"""Initial widths of the candidates/run column and of the 3D view/results column, as
shares of the window's width (first start; later the saved layout): at 1366 px the results
table shows its columns up to E_hull and the candidates table its lattice angles."""

FIRST_SIZE = QSize(1400, 860)
"""The window's size at a first start (px), where the screen has room (later: the saved size)."""

TITLE_BAR_PX = 32
"""Height left for the window manager's title bar when the first size is fitted to a screen."""

RUN_HEIGHT_SHARE_MAX = 0.55
"""Most of the left column's height the Run dock opens with (first start): enough for its settings
and the fitness plot at 940 px; the candidates and templates tables keep the rest (on a 768-px
screen the Run dock scrolls to its plot)."""

VIEW3D_HEIGHT_SHARE = 0.38
"""Initial height of the 3D view as a share of the right column (first start; the results below
get the rest): at 768 px the results table shows six rows, not two and a half."""



class VerticalScrollArea(QScrollArea):
    """``content`` scrolled vertically only: as wide as the content needs (its minimum width, never
    cut off at the side), as short as the dock is (the rest scrolls)."""

    def __init__(self, content: QWidget) -> None:
        super().__init__()
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setWidget(content)

    def minimumSizeHint(self) -> QSize:
        content = self.widget().minimumSizeHint()
        return QSize(content.width() + self.verticalScrollBar().sizeHint().width(), super().minimumSizeHint().height())

class MainWindow(QMainWindow):
    """AlphaCrystal Studio's one window: renders the :class:`core.app.session.Session` and
    sends it the user's intents (the window keeps no copy of the workflow state)."""

    def __init__(self, settings: QSettings | None = None, engine: EngineProcess | None = None) -> None:
        """``engine``: run predictions and reconstructions in that helper process (the app
        does; without one they run in worker threads of this process)."""
        super().__init__()
        self.engine = engine
        # Worker threads run Python too; a short GIL switch interval (default 5 ms) lets
        # the GUI thread get it back quickly between the many Qt calls of a redraw.
        sys.setswitchinterval(0.0005)
        self.setAcceptDrops(True)
        self.qsettings = settings or QSettings("AlphaCrystal", "AlphaCrystal Studio")
        self.session = Session()
        self.task: Task | None = None
        self._tasks: list[Task] = []
        self.confirm_discard = self._ask_discard
        """Called before unsaved work would be lost; returns whether to go on (tests replace it)."""

        self.formula_bar = FormulaBar(contact_max_atoms=core.shipped_contact_route_atoms())
        self.candidates = CandidatesPanel()
        self.map_panel = MapPanel(self.session, core.shipped_contact_route_atoms())
        self.editor, self.map_title = self.map_panel.editor, self.map_panel.title
        self.z_select, self.back_button = self.map_panel.z_select, self.map_panel.back_button
        self.run_panel = RunPanel()
        self.view3d = StructureView()
        self.results_panel = ResultsPanel(self.session)
        self.results, self.discarded = self.results_panel.table, self.results_panel.discarded
        self.energy_plot, self.hull_plot = self.results_panel.energy_plot, self.results_panel.hull_plot

        centre = QWidget()
        layout = QVBoxLayout(centre)
        layout.addWidget(self.formula_bar)
        layout.addWidget(self.map_panel, 1)
        self.setCentralWidget(centre)
        left_dock = self._dock("Candidates", self.candidates, Qt.DockWidgetArea.LeftDockWidgetArea)
        run_dock = self._dock("Run", self.run_panel, Qt.DockWidgetArea.LeftDockWidgetArea, scroll=True)
        view_dock = self._dock("3D view", self.view3d, Qt.DockWidgetArea.RightDockWidgetArea)
        results_dock = self._dock("Results", self.results_panel, Qt.DockWidgetArea.RightDockWidgetArea)
        self.files = FileIntents(self)
        self.references = ReferenceIntents(self)
        self.views = StructureViews(self)
        self.menu_actions = WindowActions(self)
        self.menu_actions.show_recent(self.files.recent())
        refused = load_preferences(self.qsettings, self.session)
        self.run_panel.show_settings(self.session.run_settings)

        # intents: widgets -> session
        self.formula_bar.predictRequested.connect(self.predict)
        self.candidates.edit_requested.connect(self._edit_candidate)
        self.candidates.add_requested.connect(self._add_candidate)
        self.candidates.remove_requested.connect(lambda row: self.session.inputs.remove_candidate(row))
        self.candidates.tick_requested.connect(lambda row, on: self.session.inputs.tick_candidate(row, on))
        self.candidates.template_tick_requested.connect(lambda row, on: self.session.inputs.tick_template(row, on))
        self.run_panel.startRequested.connect(self.start_run)
        self.run_panel.settingsEdited.connect(self._run_settings_edited)
        self.run_panel.cancelRequested.connect(self.cancel)
        self.results.rowSelected.connect(self.views.show_result)
        self.results.actionRequested.connect(self.views.result_action)
        self.results.action_problem = lambda action, index: (self.session.rerun_problem(index)
                                                             if action == "rerun" else None)
        self.run_panel.candidateClicked.connect(self.views.show_candidate_result)
        self.map_panel.backRequested.connect(lambda: self.back_to_input_map())
        self.map_panel.zChosen.connect(self.session.select_z)
        self.view3d.export_button.clicked.connect(self.files.ask_png)
        self.view3d.atomPicked.connect(self.statusBar().showMessage)  # a picked atom, a distance, an angle
        # events: session -> widgets
        s = self.session
        s.formula_changed.connect(self._on_formula)
        s.inputs.candidates_changed.connect(self._show_candidates)
        s.inputs.candidates_changed.connect(self.map_panel.show_z_choices)
        s.inputs.candidates_changed.connect(self.update_actions)
        s.inputs.current_z_changed.connect(lambda _: self._show_current_map())
        s.inputs.map_edited.connect(lambda _: self.map_panel.show_z_choices())
        s.inputs.map_edited.connect(lambda _: self.update_actions())
        s.inputs.map_edited.connect(self._edited_during_run)
        s.run.cleared.connect(self._on_run_cleared)
        s.run.results_changed.connect(self.views.show_results)
        s.run.comparison_changed.connect(self.references.show_comparison)
        s.run.viewing_changed.connect(lambda _: self._show_current_map())
        s.run.state_changed.connect(self._on_run_state)
        self.run_panel.draw_histories_of(lambda: s.run.histories)
        s.run.histories_changed.connect(self.run_panel.histories_replaced)
        s.run_settings_changed.connect(lambda: self.run_panel.show_settings(s.run_settings))
        s.run.generation.connect(lambda job, _data: self.run_panel.generation_added(job))
        s.dirty_changed.connect(lambda _: self.setWindowTitle(s.title()))
        s.reference_changed.connect(self._show_current_map)

        self.resize(self._first_size())
        geometry = self.qsettings.value("geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        state = self.qsettings.value("windowState")
        if state is not None:
            self.restoreState(state)
        self._first_show_docks = None if state is not None else [left_dock, run_dock, view_dock, results_dock]
        self.setWindowTitle(s.title())
        self.statusBar().showMessage(refused or "Type a formula and press Predict, or File ▸ Open a structure.")
        self.update_actions()

    # ------------------------------------------------------------------ session views (read-only accessors)
    @property
    def document(self) -> ContactMapDocument:
        """The map the editor shows: the current Z's input map, or the viewed result's (read-only)."""
        return self.editor.document

    @property
    def prediction(self) -> ContactPrediction | None:
        """The network's prediction of the current Z (None without a contact map)."""
        z = self.session.inputs.current_z
        return self.session.inputs.predictions.get(z) if z is not None else None

    @property
    def formula(self) -> str:
        return self.session.inputs.formula

    @property
    def records(self) -> list:
        """The session's results (:class:`core.ResultRecord`), rank order."""
        return self.session.run.records

    # ------------------------------------------------------------------ layout
    def _first_size(self) -> QSize:
        """The window's size at a first start: :data:`FIRST_SIZE`, within the screen's free area
        less a title bar (1400 x 860 hung 92 px below a 1366 x 768 laptop's taskbar)."""
        screen = self.screen() or QApplication.primaryScreen()
        if screen is None:
            return FIRST_SIZE
        free = screen.availableGeometry()
        return QSize(min(FIRST_SIZE.width(), free.width()), min(FIRST_SIZE.height(), free.height() - TITLE_BAR_PX))

    def showEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().showEvent(event)
        if self._first_show_docks is not None:  # first start: room for the results' columns and rows
            left, run, view, results = self._first_show_docks
            widths = [int(self.width() * LEFT_DOCK_SHARE), int(self.width() * RIGHT_DOCK_SHARE)]
            self.resizeDocks([left, view], widths, Qt.Orientation.Horizontal)
            column = view.height() + results.height()
            share = int(column * VIEW3D_HEIGHT_SHARE)
            self.resizeDocks([view, results], [share, column - share], Qt.Orientation.Vertical)
            column = left.height() + run.height()  # the Run panel whole (its fitness plot too) where it fits
            wanted = self.run_panel.sizeHint().height() + run.height() - run.widget().height()
            share = min(wanted, int(column * RUN_HEIGHT_SHARE_MAX))
            self.resizeDocks([left, run], [column - share, share], Qt.Orientation.Vertical)
            self._first_show_docks = None

    def _dock(self, title: str, widget: QWidget, area, scroll: bool = False) -> QDockWidget:
        """A dock holding ``widget``; ``scroll``: inside a scroll area, so that a panel taller than
        the screen (the Run panel with its ranking options unfolded) scrolls instead of making the
        window taller than a 768-px laptop screen or squashing its fitness plot to nothing."""
        dock = QDockWidget(title, self)
        dock.setObjectName(title)
        if scroll:
            widget = VerticalScrollArea(widget)
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        self.docks = [*getattr(self, "docks", []), dock]
        return dock

    def about(self) -> None:
        """Version, method and the data attributions the licences ask for."""
        QMessageBox.about(self, "About AlphaCrystal Studio", ABOUT_TEXT)

    def _edit_input_map(self, what: str) -> None:
        doc = self.session.inputs.document()
        if doc is not None and self.session.run.viewing is None:
            getattr(doc, what)()

    def update_actions(self) -> None:
        self.menu_actions.update(self.session)

    # ------------------------------------------------------------------ errors and tasks
    def show_error(self, message: str, details: str = "") -> None:
        box = QMessageBox(QMessageBox.Icon.Warning, "AlphaCrystal Studio", message, parent=self)
        if details:
            box.setDetailedText(details)
        box.open()
        self.error_box = box
        self.statusBar().showMessage(message.splitlines()[0])

    TASK_WORDS = {"inputs_with_note": "the prediction of candidates and maps", "run_live": "the run",
                  "read": "the file being read"}
    """The foreground tasks in the user's words (the session's busy state; the status bar's refusals)."""

    def start(self, fn, *args, busy: bool = True, on_success=None, on_failure=None, in_engine: bool = False,
               **kwargs) -> Task:
        def finished() -> None:
            self._tasks.remove(task)
            if busy:
                self.task = None
                self.session.end_task()
                self.formula_bar.set_busy(False)
                self.run_panel.set_running(False)
            self.update_actions()

        if busy:  # the busy state is the session's (raises while another task is going on)
            name = getattr(fn, "__name__", "")
            self.session.begin_task(self.TASK_WORDS.get(name, name.replace("_", " ") or "a task"))
        try:
            task = start_task(self, fn, *args, engine=self.engine if in_engine else None,
                              on_success=on_success, on_failure=on_failure or self.show_error,
                              on_finished=finished, **kwargs)
        except BaseException:
            if busy:  # a task that never started must not leave the window busy for good
                self.session.end_task()
            raise
        self._tasks.append(task)
        if busy:
            self.task = task  # the worker's handle, to cancel it
            self.formula_bar.set_busy(True)
        self.update_actions()
        return task

    def warm_up(self) -> Task | None:
        """Load the models in the engine process in the background (the first Predict is
        then quick); without an engine process there is nothing to warm (returns None)."""
        if self.engine is None:
            return None
        model, device = self.session.preferences.contact_model, self.session.preferences.device
        # a failure (a broken model file in the preferences) is reported by Predict itself
        return self.start(warm_up, model, device, busy=False, on_failure=lambda *_: None, in_engine=True)

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()
            self.session.run.request_cancel()
            self.statusBar().showMessage("Cancelling…")

    def wait_for_tasks(self, timeout_ms: int = 60000) -> None:
        """Block until worker threads end (used on close and by tests)."""
        from shiboken6 import isValid

        for task in list(self._tasks):
            if isValid(task.thread):  # Qt may already have deleted a finished thread
                task.thread.wait(timeout_ms)

    # ------------------------------------------------------------------ unsaved work
    def _ask_discard(self, action: str) -> bool:
        """Save / Discard / Cancel before ``action`` loses unsaved work; True to go on."""
        answer = ask_save_discard(self, self.session.title().split(" — ")[0].rstrip(" *"), action,
                                  self.session.work_at_stake())
        if answer == "save":
            return self.save_project()
        return answer == "discard"

    def may_discard(self, action: str) -> bool:
        return not self.session.has_unsaved_work or self.confirm_discard(action)

    def refused_while_busy(self, what: str) -> bool:
        """True (and said in the status bar) when a foreground task is going on: Predict, Start
        and Open wait for it (pressed during a run, they did nothing without a word)."""
        if not self.session.busy_with:
            return False
        self.statusBar().showMessage(f"Cannot {what} now: wait for {self.session.busy_with} to finish, or cancel it")
        return True

    # ------------------------------------------------------------------ predict
    def predict(self, formula: str, z: int | None) -> None:
        """Candidates, contact maps and templates for ``formula`` (worker thread)."""
        if self.refused_while_busy(f"predict {formula}"):
            return
        if not self.may_discard(f"predict {formula}"):  # the maps shown stay the session's, and it says so
            kept = self.session.inputs.formula
            self.statusBar().showMessage(f"Predict {formula} cancelled: the maps, candidates and results shown "
                                         f"are still {kept}'s" if kept else f"Predict {formula} cancelled")
            return
        self.statusBar().showMessage(f"Predicting candidates and contact map of {formula}…")
        model, device = self.session.preferences.contact_model, self.session.preferences.device
        settings = replace(self.session.run_settings, device=device)
        self.start(inputs_with_note, formula, z, settings, model, in_engine=True,
                    on_success=lambda out: self._show_inputs(formula, z, *out))

    def _show_inputs(self, formula: str, z: int | None, candidates: list[Candidate],
                     maps: dict[int, ContactPrediction], templates: list | None = None,
                     note: str | None = None) -> None:
        templates = templates or []
        self.formula_bar.show_note(formula, note)
        self.session.set_inputs(formula, z, candidates, maps, templates)  # ticked as predict would run them
        run_contact = all(self.session.inputs.candidate_ticked)
        self.setWindowTitle(self.session.title())
        if not candidates:
            self.statusBar().showMessage(f"{len(templates)} templates (no contact map for this cell size); "
                                         "press Start.")
        elif not run_contact:
            self.statusBar().showMessage(f"{formula} is all-metal: {len(templates)} templates ticked, CMCrystal "
                                         "candidates unticked (its contact map is empty; tick them to run it); "
                                         "press Start.")
        else:
            self.statusBar().showMessage(f"{len(candidates)} candidates and {len(templates)} templates; "
                                         "edit the maps or press Start reconstruction.")

    def _on_formula(self, formula: str) -> None:
        """A new formula in the session: every view shows its inputs and no stale result."""
        self._show_candidates()
        inputs = self.session.inputs
        self.formula_bar.show_predicted(formula, inputs.z, bool(inputs.candidates or inputs.templates))
        self.views.show_no_result()
        self.view3d.picked.setText("")
        self.map_panel.show_z_choices()
        self._show_current_map()

    def _show_candidates(self) -> None:
        """Render the session's candidates and templates with their ticks (the one copy)."""
        s = self.session
        self.candidates.set_candidates(s.inputs.candidates, s.inputs.candidate_ticked)
        self.candidates.set_templates(s.inputs.templates, ticked=s.inputs.template_ticked,
                                      retrieved=not s.results_only)

    def _edit_candidate(self, row: int, field: str, text: str) -> None:
        """A value typed into the candidates table, handed to the session; a refused one is
        named in the status bar and the table shows the session's value again."""
        before = self.session.inputs.candidates  # replaced by the session only when the edit changes it
        try:
            self.session.inputs.edit_candidate(row, field, text)
        except core.CandidateEditError as exc:
            self.statusBar().showMessage(str(exc))
        if self.session.inputs.candidates is before:  # refused, or no change (α 80 of a cubic cell): no event
            self._show_candidates()  # came, so the typed text is replaced by the session's value here

    def _add_candidate(self, row: int) -> None:
        added = self.session.inputs.add_candidate_like(row)
        self.candidates.table.setCurrentCell(added, 1)

    def _show_current_map(self) -> None:
        self.map_panel.show_session()
        self.update_actions()

    # ------------------------------------------------------------------ run
    def _run_settings_edited(self, values: dict) -> None:
        """An edit in the run panel, passed to the session (the one copy of the run settings);
        an invalid combination is refused with a message and the panel shows the session's again."""
        try:
            self.session.set_run_settings(**values)
        except core.AlphaCrystalError as exc:
            self.show_error(str(exc))
            self.run_panel.show_settings(self.session.run_settings)

    def start_run(self, rerun: int | None = None) -> None:
        """Run the ticked candidates and templates, or (``rerun``: a result index) CMCrystal
        again from that result's Wyckoff assignment on the current map of its Z."""
        if self.refused_while_busy("start a run"):
            return
        try:
            settings = self.session.run_settings
            request = self.session.begin_run() if rerun is None else self.session.begin_rerun(rerun)
        except core.AlphaCrystalError as exc:  # nothing to run, a missing map
            self.show_error(str(exc))
            return
        self.run_panel.set_running(True)
        self.run_panel.show_state(self.session.run.state.value, self.session.run.message)
        task = self.start(run_live, request.formula, settings, request.candidates, request.maps,
                           self.session.comparable_reference(request.formula), live=True, in_engine=True, on_progress=self._progress,
                           on_success=self._run_finished, on_failure=self._run_failed, templates=request.templates)
        task.connect("generation", self.session.run.add_generation)
        task.connect("reconstruction", self.views.live_result)
        task.connect("relaxed", self.session.run.add_provisional)
        self.statusBar().showMessage(f"Running {request.describe()}…")

    def _progress(self, progress) -> None:
        self.session.run.progress(progress.message)
        self.run_panel.show_progress(progress)

    def _run_failed(self, message: str, details: str = "") -> None:
        self.session.run.fail(message)
        self.show_error(message, details)

    def _run_finished(self, out) -> None:
        self.views.stop_live()
        result, records, views, meta = out
        self.session.run.finish(result, records, views, meta)
        self.statusBar().showMessage(f"Run {self.session.run.message}"
                                     + (f", {len(result.rejected)} rejected" if result.rejected else ""))

    def _on_run_state(self, state: str) -> None:
        self.run_panel.show_state(state, self.session.run.message)

    def _on_run_cleared(self) -> None:
        """The previous run is gone: every view of it is reset (progress, fitness curves,
        results, energy plot, the 3D view and its legend, the result's map)."""
        self.views.stop_live()
        self.run_panel.clear_run()
        self.views.drawn = None
        self.views.show_results()  # no results: the 3D view is cleared too
        self._show_current_map()

    def _edited_during_run(self, z: int) -> None:
        """An edit while a run goes on is for the next run: said, since the status bar still names
        the running one (its results keep the map they ran on: SessionResults.meta)."""
        if self.session.run.busy:
            self.statusBar().showMessage(f"Map of Z = {z} edited during the run: the running run uses the map as "
                                         "it was at Start; the edit is for the next run")

    def back_to_input_map(self) -> None:
        self.session.run.back_to_input()

    # ------------------------------------------------------------------ reference structures (alphacrystal_gui.reference_intents)
    def open_structure(self, path: str | Path) -> Task:
        return self.references.open(path)

    @property
    def reference(self):
        return self.session.reference

    def dragEnterEvent(self, event) -> None:  # noqa: N802 - Qt override
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802 - Qt override
        for url in event.mimeData().urls():
            path = url.toLocalFile()
            if path.endswith(PROJECT_SUFFIX):
                self.open_project(path)
            elif path:
                self.open_structure(path)
            break

    # ------------------------------------------------------------------ files (alphacrystal_gui.file_intents)
    def project(self) -> Project:
        return self.session.to_project()

    def save_project(self, ask: bool = False, path: str | Path | None = None) -> bool:
        return self.files.save_project(ask, path)

    def open_project(self, path: str | Path) -> Task | None:
        return self.files.open_project(path)

    def open_run_folder(self, path: str | Path) -> Task | None:
        return self.files.open_run_folder(path)

    def open_screen(self, path: str | Path) -> ScreeningTable | None:
        return self.files.open_screen(path)

    def export(self, folder: str | Path, selected: bool = True) -> Task | None:
        return self.files.export(folder, selected)

    # ------------------------------------------------------------------ preferences and closing
    def preferences(self) -> None:
        """Edit the session's preferences; when accepted, they are stored for the next session."""
        dialog = PreferencesDialog(self.session, self)
        try:
            if dialog.exec():
                self.session.set_preferences(dialog.chosen())
                save_preferences(self.qsettings, self.session)
        except core.AlphaCrystalError as exc:
            self.show_error(str(exc))

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt override
        if not self.may_discard("quit"):
            event.ignore()
            return
        self.qsettings.setValue("geometry", self.saveGeometry())
        self.qsettings.setValue("windowState", self.saveState())
        if self.task is not None:
            self.task.cancel()
        self.wait_for_tasks(10000)
        if self.engine is not None:
            self.engine.stop()
        super().closeEvent(event)
