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

from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDockWidget,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

import core
from alphacrystal_gui.engine_calls import (
    export_rows,
    hull_picture_of,
    inputs_with_note,
    run_folder_results,
    run_live,
    warm_up,
)
from alphacrystal_gui.engine_process import EngineProcess
from alphacrystal_gui.view3d.structure_view import StructureView
from alphacrystal_gui.widgets.candidates_panel import CandidatesPanel
from alphacrystal_gui.widgets.contact_map_editor import ContactMapEditor
from alphacrystal_gui.widgets.energy_plot import EnergyPlot
from alphacrystal_gui.widgets.formula_bar import FormulaBar
from alphacrystal_gui.widgets.hull_plot import HullPlot
from alphacrystal_gui.widgets.labels import fitted
from alphacrystal_gui.widgets.results_table import ResultsTable
from alphacrystal_gui.widgets.run_panel import RunPanel
from alphacrystal_gui.widgets.screening_table import ScreeningTable
from alphacrystal_gui.workers import Task, start_task
from core import (
    PROJECT_SUFFIX,
    Candidate,
    ContactMapDocument,
    ContactPrediction,
    PredictionSettings,
    Project,
    Session,
    SessionError,
    __version__,
    parse_formula,
)

MAX_RECENT = 8
LIVE_VIEW_INTERVAL_MS = 700
"""Shortest time between two live 3D updates of the best structure during a run."""

Z_SELECT_TIP = ("the contact map of each Z (a candidate runs on the map of its own Z); while a result's map "
                "is on view, it is named first")

PROVISIONAL_NOTE = ("Provisional: the structures relaxed so far, ranked by their energy so far. Some may still be "
                    "relaxed further, and duplicates are merged only when the run ends; the final ranking then "
                    "replaces this list (export and save wait for it).")


class PreferencesDialog(QDialog):
    """Model file, device, default processes and GA budget."""

    def __init__(self, settings: QSettings, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Preferences")
        self.model = QLineEdit(str(settings.value("model", "")))
        self.model.setPlaceholderText("shipped model (resources/contact_model_default.pt)")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        self.device = QComboBox()
        self.device.addItems(["auto", "cpu", "cuda"])
        self.device.setCurrentText(str(settings.value("device", "auto")))
        self.processes = QSpinBox()
        self.processes.setRange(1, 256)
        self.processes.setValue(int(settings.value("processes", 2)))
        self.generations = QSpinBox()
        self.generations.setRange(1, 100000)
        self.generations.setValue(int(settings.value("generations", PredictionSettings().generations)))
        form = QFormLayout(self)
        form.addRow("Contact model file", self.model)
        form.addRow("", browse)
        form.addRow("Device", self.device)
        form.addRow("Processes", self.processes)
        form.addRow("GA generations (default budget)", self.generations)
        box = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        box.accepted.connect(self.accept)
        box.rejected.connect(self.reject)
        form.addRow(box)

    def _browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Contact model", "", "Models (*.pt)")
        if path:
            self.model.setText(path)


LEFT_DOCK_SHARE, RIGHT_DOCK_SHARE = 0.33, 0.36
"""Initial widths of the candidates/run column and of the 3D view/results column, as
shares of the window's width (first start; later the saved layout)."""


ABOUT_TEXT = f"""<h3>AlphaCrystal Studio {__version__}</h3>
<p>Crystal structure prediction from a chemical formula: the AlphaCrystal method (Hu et al.; predicted
contact maps reconstructed by the CMCrystal genetic algorithm) pooled with template substitution,
relaxed and ranked with a machine-learned interatomic potential.</p>
<p><b>Data.</b> The shipped models and the template library (resources/template_library.npz: known
structures used as templates) are derived from Materials Project data (Jain et al., APL Mater. 1, 011002
(2013)) via the MP-20 set (Xie et al., ICLR 2022), licensed CC BY 4.0
(https://creativecommons.org/licenses/by/4.0/). A result whose source reads "template mp-…" is that
Materials Project entry with its elements substituted.</p>
<p><b>Methods used.</b> CHGNet (Deng et al., Nat. Mach. Intell. 2023), or on request SevenNet-0 (Park et
al., J. Chem. Theory Comput. 2024), for relaxation and energies;
ionic substitution probabilities of Hautier et al. (Inorg. Chem. 2011) and Pettifor's Mendeleev numbers
for template scores, through pymatgen; spglib and pyxtal for symmetry.</p>"""


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
        self._refilling = False
        self._pending_live = None
        self._drawn_row: dict | None = None
        """The result row the 3D view draws (to redraw only when it changed)."""
        self._live_timer = QTimer(self)
        self._live_timer.setSingleShot(True)
        self._live_timer.setInterval(LIVE_VIEW_INTERVAL_MS)
        self._live_timer.timeout.connect(self._draw_live)
        self.confirm_discard = self._ask_discard
        """Called before unsaved work would be lost; returns whether to go on (tests replace it)."""

        self.formula_bar = FormulaBar(contact_max_atoms=core.shipped_contact_route_atoms())
        self.candidates = CandidatesPanel()
        self.editor = ContactMapEditor(self.session.result_document)
        self.run_panel = RunPanel()
        self.view3d = StructureView()
        self.results = ResultsTable()
        self.energy_plot = EnergyPlot()
        self.energy_plot.setMaximumHeight(170)
        self.hull_plot = HullPlot()
        self.hull_plot.setMaximumHeight(170)
        self.discarded = fitted(QLabel(""))
        self.discarded.setWordWrap(True)
        self.discarded.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.map_title = fitted(QLabel("Contact map"))
        self.z_select = QComboBox()
        self.z_select.setToolTip(Z_SELECT_TIP)
        self.back_button = QPushButton("Back to the input map")
        self.back_button.setEnabled(False)  # enabled, not shown/hidden: a relayout repaints the 3D canvas

        centre = QWidget()
        layout = QVBoxLayout(centre)
        layout.addWidget(self.formula_bar)
        row = QHBoxLayout()
        row.addWidget(QLabel("Map:"))
        row.addWidget(self.z_select, 1)
        row.addWidget(self.back_button)
        layout.addLayout(row)
        layout.addWidget(self.map_title)
        layout.addWidget(self.editor, 1)
        self.setCentralWidget(centre)
        results_box = QWidget()
        results_layout = QVBoxLayout(results_box)
        results_layout.setContentsMargins(0, 0, 0, 0)
        self.results_filter = QLineEdit(placeholderText="Filter results (e.g. Pnma, template, mp-)")
        self.results_filter.setClearButtonEnabled(True)
        self.results_filter.setToolTip("show only the results whose cells contain this text")
        self.results_filter.textChanged.connect(self.results.set_filter)
        results_layout.addWidget(self.results_filter)
        results_layout.addWidget(self.results, 1)
        plots = QHBoxLayout()
        plots.addWidget(self.energy_plot, 1)
        plots.addWidget(self.hull_plot, 1)
        results_layout.addLayout(plots)
        results_layout.addWidget(self.discarded)
        left_dock = self._dock("Candidates", self.candidates, Qt.DockWidgetArea.LeftDockWidgetArea)
        self._dock("Run", self.run_panel, Qt.DockWidgetArea.LeftDockWidgetArea)
        view_dock = self._dock("3D view", self.view3d, Qt.DockWidgetArea.RightDockWidgetArea)
        self._dock("Results", results_box, Qt.DockWidgetArea.RightDockWidgetArea)
        self._menus()
        self.session.set_run_settings(jobs=int(self.qsettings.value("processes", 2)),
                                      generations=int(self.qsettings.value("generations",
                                                                           PredictionSettings().generations)))
        self.run_panel.show_settings(self.session.run_settings)

        # intents: widgets -> session
        self.formula_bar.predictRequested.connect(self.predict)
        self.candidates.message.connect(self.statusBar().showMessage)
        self.candidates.changed.connect(self._candidates_edited)
        self.run_panel.startRequested.connect(self.start_run)
        self.run_panel.settingsEdited.connect(self._run_settings_edited)
        self.run_panel.cancelRequested.connect(self.cancel)
        self.results.rowSelected.connect(self.show_result)
        self.results.actionRequested.connect(self.result_action)
        self.energy_plot.resultClicked.connect(self.results.select_index)
        self.hull_plot.resultClicked.connect(self.results.select_index)
        self.run_panel.candidateClicked.connect(self.show_candidate_result)
        self.back_button.clicked.connect(lambda: self.back_to_input_map())
        self.z_select.activated.connect(self._z_chosen)
        self.view3d.export_button.clicked.connect(self._ask_png)
        self.view3d.atomPicked.connect(self.statusBar().showMessage)  # a picked atom, a distance, an angle
        # events: session -> widgets
        s = self.session
        s.formula_changed.connect(self._on_formula)
        s.candidates_changed.connect(self._show_candidates)
        s.candidates_changed.connect(self._update_z_select)
        s.candidates_changed.connect(self._update_actions)
        s.current_z_changed.connect(lambda _: self._show_current_map())
        s.map_edited.connect(lambda _: self._update_z_select())
        s.map_edited.connect(lambda _: self._update_actions())
        s.run_cleared.connect(self._on_run_cleared)
        s.results_changed.connect(self._on_results)
        s.viewing_changed.connect(lambda _: self._show_current_map())
        s.run_state_changed.connect(self._on_run_state)
        s.histories_changed.connect(lambda: self.run_panel.set_histories(s.histories))
        s.run_settings_changed.connect(lambda: self.run_panel.show_settings(s.run_settings))
        s.generation.connect(self.run_panel.add_generation)
        s.dirty_changed.connect(lambda _: self.setWindowTitle(s.title()))
        s.reference_changed.connect(self._show_current_map)

        self.resize(1400, 860)
        geometry = self.qsettings.value("geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        state = self.qsettings.value("windowState")
        if state is not None:
            self.restoreState(state)
        self._first_show_docks = None if state is not None else [left_dock, view_dock]
        self.setWindowTitle(s.title())
        self.statusBar().showMessage("Type a formula and press Predict, or File ▸ Open a structure.")
        self._update_actions()

    # ------------------------------------------------------------------ session views (read-only accessors)
    @property
    def document(self) -> ContactMapDocument:
        """The map the editor shows: the current Z's input map, or the viewed result's (read-only)."""
        return self.editor.document

    @property
    def prediction(self) -> ContactPrediction | None:
        """The network's prediction of the current Z (None without a contact map)."""
        z = self.session.current_z
        return self.session.predictions.get(z) if z is not None else None

    @property
    def formula(self) -> str:
        return self.session.formula

    @property
    def rows(self) -> list[dict]:
        return self.session.rows

    @property
    def project_path(self) -> Path | None:
        return self.session.project_path

    # ------------------------------------------------------------------ layout
    def showEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().showEvent(event)
        if self._first_show_docks is not None:  # first start: room for the results' columns
            widths = [int(self.width() * LEFT_DOCK_SHARE), int(self.width() * RIGHT_DOCK_SHARE)]
            self.resizeDocks(self._first_show_docks, widths, Qt.Orientation.Horizontal)
            self._first_show_docks = None

    def _dock(self, title: str, widget: QWidget, area) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(title)
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        self.docks = [*getattr(self, "docks", []), dock]
        return dock

    def _menus(self) -> None:
        file = self.menuBar().addMenu("&File")
        self.open_structure_action = QAction("&Open structure…", self, shortcut=QKeySequence.StandardKey.Open,
                                             triggered=self._ask_open_structure)
        self.open_project_action = QAction("Open &project…", self, shortcut="Ctrl+Shift+O",
                                           triggered=self._ask_open_project)
        self.save_action = QAction("&Save project", self, shortcut=QKeySequence.StandardKey.Save,
                                   triggered=lambda: self.save_project())
        self.save_as_action = QAction("Save project &as…", self, shortcut="Ctrl+Shift+S",
                                      triggered=lambda: self.save_project(ask=True))
        self.open_screen_action = QAction("Open s&creening folder…", self, triggered=self._ask_open_screen,
                                          toolTip="A folder written by 'alphacrystal screen': its table of formulas")
        self.open_run_action = QAction("Open &run folder…", self, triggered=self._ask_open_run_folder,
                                       toolTip="The results of a finished 'alphacrystal predict' run")
        self.recent_menu = file.addMenu("Open &recent")
        self.export_selected_action = QAction("&Export selected…", self, shortcut="Ctrl+E",
                                              triggered=lambda: self._ask_export(selected=True))
        self.export_all_action = QAction("Export &all…", self, triggered=lambda: self._ask_export(selected=False))
        for action in (self.open_structure_action, self.open_project_action, self.open_run_action,
                       self.open_screen_action):
            file.addAction(action)
        file.addMenu(self.recent_menu)
        for action in (self.save_action, self.save_as_action, self.export_selected_action, self.export_all_action):
            file.addAction(action)
        file.addSeparator()
        file.addAction(QAction("&Quit", self, shortcut=QKeySequence.StandardKey.Quit, triggered=self.close))
        edit = self.menuBar().addMenu("&Edit")
        self.undo_action = QAction("&Undo map edit", self, shortcut=QKeySequence("Ctrl+Z"),
                                   triggered=lambda: self._edit_input_map("undo"))
        self.redo_action = QAction("&Redo map edit", self, shortcut=QKeySequence("Ctrl+Shift+Z"),
                                   triggered=lambda: self._edit_input_map("redo"))
        edit.addAction(self.undo_action)
        edit.addAction(self.redo_action)
        edit.addAction(QAction("Re&set map to prediction", self, triggered=lambda: self._edit_input_map("reset")))
        edit.addSeparator()
        edit.addAction(QAction("&Preferences…", self, triggered=self.preferences))
        view = self.menuBar().addMenu("&View")
        view.addAction(QAction("Save 3D view as &PNG…", self, triggered=self._ask_png))
        view.addSeparator()
        for dock in self.docks:  # a panel closed with × comes back from here
            view.addAction(dock.toggleViewAction())
        help_menu = self.menuBar().addMenu("&Help")
        help_menu.addAction(QAction("&About AlphaCrystal Studio", self, triggered=self.about))
        self._refresh_recent()

    def about(self) -> None:
        """Version, method and the data attributions the licences ask for."""
        QMessageBox.about(self, "About AlphaCrystal Studio", ABOUT_TEXT)

    def _edit_input_map(self, what: str) -> None:
        doc = self.session.document()
        if doc is not None and self.session.viewing is None:
            getattr(doc, what)()

    def _update_actions(self) -> None:
        s = self.session
        busy = self.task is not None
        self.run_panel.start_button.setEnabled(not busy and s.can_run)
        final = bool(s.rows) and not s.provisional  # provisional results are not exported
        self.export_selected_action.setEnabled(final)
        self.export_all_action.setEnabled(final)
        doc = s.document()
        editable = doc is not None and s.viewing is None
        self.undo_action.setEnabled(editable and doc.can_undo)
        self.redo_action.setEnabled(editable and doc.can_redo)

    # ------------------------------------------------------------------ errors and tasks
    def show_error(self, message: str, details: str = "") -> None:
        box = QMessageBox(QMessageBox.Icon.Warning, "AlphaCrystal Studio", message, parent=self)
        if details:
            box.setDetailedText(details)
        box.open()
        self.error_box = box
        self.statusBar().showMessage(message.splitlines()[0])

    def _start(self, fn, *args, busy: bool = True, on_success=None, on_failure=None, in_engine: bool = False,
               **kwargs) -> Task:
        def finished() -> None:
            self._tasks.remove(task)
            if busy:
                self.task = None
                self.formula_bar.set_busy(False)
                self.run_panel.set_running(False)
            self._update_actions()

        task = start_task(self, fn, *args, engine=self.engine if in_engine else None,
                          on_success=on_success, on_failure=on_failure or self.show_error,
                          on_finished=finished, **kwargs)
        self._tasks.append(task)
        if busy:
            self.task = task
            self.formula_bar.set_busy(True)
        self._update_actions()
        return task

    def warm_up(self) -> Task | None:
        """Load the models in the engine process in the background (the first Predict is
        then quick); without an engine process there is nothing to warm (returns None)."""
        if self.engine is None:
            return None
        model = str(self.qsettings.value("model", "") or "") or None
        device = str(self.qsettings.value("device", "auto"))
        # a failure (a broken model file in the preferences) is reported by Predict itself
        return self._start(warm_up, model, device, busy=False, on_failure=lambda *_: None, in_engine=True)

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()
            self.session.request_cancel()
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
        answer = QMessageBox.question(
            self, "Unsaved changes", f"{self.session.title().split(' — ')[0].rstrip(' *')} has unsaved changes "
            f"(edited maps, candidates or results). Save them before you {action}?",
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Save)
        if answer == QMessageBox.StandardButton.Save:
            return self.save_project()
        return answer == QMessageBox.StandardButton.Discard

    def _may_discard(self, action: str) -> bool:
        return not self.session.has_unsaved_work or self.confirm_discard(action)

    # ------------------------------------------------------------------ predict
    def predict(self, formula: str, z: int | None) -> None:
        """Candidates, contact maps and templates for ``formula`` (worker thread)."""
        if self.task is not None or not self._may_discard(f"predict {formula}"):
            return
        self.statusBar().showMessage(f"Predicting candidates and contact map of {formula}…")
        model = str(self.qsettings.value("model", "") or "") or None
        device = str(self.qsettings.value("device", "auto"))
        self._start(inputs_with_note, formula, z, 5, model, device, in_engine=True,
                    on_success=lambda out: self._show_inputs(formula, z, *out))

    def _show_inputs(self, formula: str, z: int | None, candidates: list[Candidate],
                     maps: dict[int, ContactPrediction], templates: list | None = None,
                     note: str | None = None) -> None:
        templates = templates or []
        self.formula_bar.show_note(formula, note)
        self.session.set_inputs(formula, z, candidates, maps, templates)  # ticked as predict would run them
        run_contact = all(self.session.candidate_ticked)
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
        if self.formula_bar.edit.text() != formula:
            self.formula_bar.edit.setText(formula)
        self.view3d.show_structure(None)
        self.view3d.picked.setText("")
        self._update_z_select()
        self._show_current_map()

    def _show_candidates(self) -> None:
        """Render the session's candidates and templates with their ticks (the one copy). Not
        while the table hands the session its own edit: it already shows that state, and
        rebuilding rows inside the table's itemChanged would delete the item Qt is reporting."""
        s = self.session
        if self._refilling:
            return
        self._refilling = True  # the tables' change signals echo the session's own state: not an edit
        try:
            self.candidates.set_candidates(s.candidates, s.formula, s.candidate_ticked)
            self.candidates.set_templates(s.templates, ticked=s.template_ticked)
        finally:
            self._refilling = False

    def _candidates_edited(self) -> None:
        """The candidates table changed: hand the edits and ticks to the session."""
        if self._refilling:
            return
        self._refilling = True  # the session's echo of this edit is not rendered back (see _show_candidates)
        try:
            self.session.set_candidates(self.candidates.all_candidates(), self.candidates.candidate_ticks())
            self.session.set_template_ticked(self.candidates.template_ticks())
        finally:
            self._refilling = False

    def _z_chosen(self, index: int) -> None:
        z = self.z_select.itemData(index)
        if z is not None:  # not the viewed result's entry
            self.session.select_z(z)

    def _update_z_select(self) -> None:
        """One entry per Z: atoms, the candidates that run on its map, whether it is edited;
        while a result's map is on view, an entry naming it comes first and is the one shown."""
        s = self.session
        self.z_select.blockSignals(True)
        self.z_select.clear()
        if s.viewing is not None:
            self.z_select.addItem(self._viewed_map_name(), None)
        for z in s.zs:
            doc = s.documents[z]
            groups = [str(c.spacegroup) for c, t in zip(s.candidates, s.candidate_ticked) if c.z == z and t]
            text = f"Z = {z}: {doc.n} atoms · " + (f"candidates sg {', '.join(groups)}" if groups
                                                    else "no ticked candidate")
            if doc.edited:
                text += " · edited"
            self.z_select.addItem(text, z)
        if s.viewing is not None:
            self.z_select.setCurrentIndex(0)
        elif s.current_z is not None:
            self.z_select.setCurrentIndex(self.z_select.findData(s.current_z))
        self.z_select.setEnabled(bool(s.zs) or s.viewing is not None)
        self.z_select.setToolTip(f"{self.z_select.currentText()}\n{Z_SELECT_TIP}" if self.z_select.count()
                                 else Z_SELECT_TIP)  # the whole entry, where the box cuts it
        self.z_select.blockSignals(False)

    def _viewed_map_name(self) -> str:
        """``result #1: 10 atoms (Z = 2) · view only`` (the viewed result's map, its own Z)."""
        s = self.session
        row, n = s.rows[s.viewing], s.result_document.n
        try:
            per_unit = parse_formula(s.results.formula).atoms_per_formula_unit
        except core.AlphaCrystalError:
            per_unit = 0
        z = f" (Z = {n // per_unit})" if per_unit and n and n % per_unit == 0 else ""
        provisional = " · provisional rank" if row.get("provisional") else ""
        return f"result #{row['rank']}: {n} atoms{z} · view only{provisional}"

    def _show_current_map(self) -> None:
        """The editor shows the viewed result's map (read-only) or the current Z's input map."""
        s = self.session
        if s.viewing is not None:
            row = s.rows[s.viewing]
            self.editor.set_document(s.result_document, read_only=True)
            provisional = ", provisional rank" if row.get("provisional") else ""
            self.map_title.setText(f"Contact map of result #{row['rank']} ({s.results.formula}{provisional}; "
                                   "view only)")
            self.back_button.setEnabled(True)
            self._update_z_select()
        else:
            self.back_button.setEnabled(False)
            doc = s.document()
            if doc is None:
                self.editor.set_document(s.result_document if s.reference_map is None else self._reference_document(),
                                         read_only=True)
                if s.formula and not s.zs:
                    self.map_title.setText(f"No contact map for {s.formula}: the contact route covers cells of up to "
                                           f"{self.formula_bar.contact_max_atoms} atoms; the run uses the templates")
            else:
                self.editor.set_document(doc)
                self.map_title.setText(f"Contact map of {s.formula}, Z = {s.current_z} ({doc.n} atoms, primitive "
                                       "cell): click a cell to toggle a bond")
            if self.z_select.currentData() != s.current_z or self.z_select.findData(None) >= 0:
                self._update_z_select()  # it named the viewed result's map, or another Z
        self._update_actions()

    def _reference_document(self) -> ContactMapDocument:
        """The opened reference's true map, shown read-only when there is no input map."""
        ref = self.session.reference_map
        doc = ContactMapDocument()
        doc.load(ref.labels, ref.species, ref.matrix)
        return doc

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
        if self.task is not None:
            return
        try:
            settings = replace(self.session.run_settings, device=str(self.qsettings.value("device", "auto")))
            request = self.session.begin_run() if rerun is None else self.session.begin_rerun(rerun)
        except core.AlphaCrystalError as exc:  # nothing to run, a missing map, a bad device preference
            self.show_error(str(exc))
            return
        self.run_panel.set_running(True)
        self.run_panel.show_state(self.session.run_state.value, self.session.run_message)
        task = self._start(run_live, request.formula, settings, request.candidates, request.maps,
                           self.session.reference, live=True, in_engine=True, on_progress=self._progress,
                           on_success=self._run_finished, on_failure=self._run_failed, templates=request.templates)
        task.connect("generation", self.session.add_generation)
        task.connect("reconstruction", self._live_result)
        task.connect("relaxed", self.session.add_provisional)
        self.statusBar().showMessage(f"Running {request.describe()}…")

    def _progress(self, progress) -> None:
        self.session.run_progress(progress.message)
        self.run_panel.show_progress(progress)

    def _run_failed(self, message: str, details: str = "") -> None:
        self.session.fail_run(message)
        self.show_error(message, details)

    def _live_result(self, name: str, result, geometry: dict | None = None) -> None:
        """Keep the latest best structure (the engine sends only improvements:
        ``engine_calls.live_geometry``); the 3D view shows it at most every
        ``LIVE_VIEW_INTERVAL_MS`` (a redraw costs tens of ms in software OpenGL)."""
        self._pending_live = (name, result, geometry)
        if not self._live_timer.isActive():
            self._live_timer.start()

    def _draw_live(self) -> None:
        if self._pending_live is None or self.session.provisional:  # a relaxed structure is shown instead
            self._pending_live = None
            return
        name, result, geometry = self._pending_live
        self._pending_live = None
        self._drawn_row = None
        self.view3d.show_structure(result.structure,
                                   f"best so far: {name}, fitness {result.fitness:.3f} "
                                   f"[{result.assignment.label}] (before relaxation)", geometry=geometry)

    def _run_finished(self, out) -> None:
        self._live_timer.stop()
        self._pending_live = None
        result, rows, views = out
        self.session.finish_run(self.session.run_request, result, rows, views)
        self.statusBar().showMessage(f"Run {self.session.run_message}"
                                     + (f", {len(result.rejected)} rejected" if result.rejected else ""))

    def _on_run_state(self, state: str) -> None:
        self.run_panel.show_state(state, self.session.run_message)

    def _on_run_cleared(self) -> None:
        """The previous run is gone: every view of it is reset (progress, fitness curves,
        results, energy plot, the 3D view and its legend, the result's map)."""
        self._live_timer.stop()
        self._pending_live = None
        self.run_panel.clear_run()
        self._drawn_row = None
        self._on_results()  # no rows: the 3D view is cleared too
        self._show_current_map()

    def _on_results(self) -> None:
        """New results (or none, or a run's provisional ones): table, notes, 3D view."""
        s = self.session
        self.results.set_rows(s.rows, provisional=s.provisional)
        self.energy_plot.set_rows(s.rows)
        self._draw_hull()
        if s.provisional:
            n = len(s.rows)
            self.discarded.setText(f"Provisional: {n} structure{'s' if n != 1 else ''} relaxed so far, ranked by "
                                   "energy so far; the final ranking (duplicates merged) replaces this list when "
                                   "the run ends.")
            self.discarded.setToolTip(PROVISIONAL_NOTE)
            # the viewed one stays selected and drawn (redrawn only if it changed); with none chosen,
            # the lowest energy so far replaces the GA's best structure before relaxation
            shown = s.viewing if s.viewing is not None else 0 if s.rows else None
            if s.viewing is not None:
                self.results.select_index(s.viewing, notify=False)
            if shown is not None:
                self._pending_live = None
                if s.rows[shown] is not self._drawn_row:
                    self._draw_result(shown)
                else:
                    self.view3d.title.setText(self._result_title(shown))
            self._update_actions()
            return
        if s.results is not None and s.results.discarded:
            lines = s.results.discarded
            shown = "\n".join(lines[:6]) + (f"\n… and {len(lines) - 6} more" if len(lines) > 6 else "")
            self.discarded.setText(f"Not in the list ({len(lines)}):\n{shown}")
            self.discarded.setToolTip("\n".join(lines))
        else:
            self.discarded.setText("")
            self.discarded.setToolTip("")
        if s.rows:
            self.results.select_index(0)
        else:
            self._drawn_row = None
            self.view3d.show_structure(None)
        self._update_actions()

    def _draw_hull(self) -> None:
        """The hull plot of the results shown: made off the GUI thread, drawn if they are still shown."""
        results = self.session.results
        if results is None or results.provisional or not results.rows:
            self.hull_plot.show_picture(None, "the hull of the known phases is drawn when the run ends"
                                        if results is not None and results.provisional else "no results yet")
            return

        def drawn(out) -> None:
            if self.session.results is results:  # not replaced meanwhile
                self.hull_plot.show_picture(*out)

        self._start(hull_picture_of, results.rows, busy=False, on_success=drawn,
                    on_failure=lambda message, details="": drawn((None, message)))

    def show_result(self, index: int) -> None:
        """Show result ``index`` in the 3D view and its contact map in the editor (read-only)."""
        try:
            self.session.view_result(index)
        except SessionError:
            return
        self._draw_result(index)

    def _result_title(self, index: int) -> str:
        s = self.session
        row = s.rows[index]
        title = f"#{row['rank']} {s.results.formula} {row.get('relaxed_symbol') or row['symbol']}"
        if row.get("energy_per_atom") is not None:
            title += f", {row['energy_per_atom']:.4f} eV/atom"
        return title + (" (provisional: relaxed so far)" if row.get("provisional") else "")

    def _draw_result(self, index: int) -> None:
        from pymatgen.core import Structure

        s = self.session
        row = s.rows[index]
        geometry = s.results.views.get(index, (None, None))[1]
        self.view3d.show_structure(Structure.from_dict(row["structure"]), self._result_title(index),
                                   geometry=geometry)
        self.view3d.picked.setText("")
        self._drawn_row = row

    def back_to_input_map(self) -> None:
        self.session.back_to_input()

    # ------------------------------------------------------------------ reference structures
    def _ask_open_structure(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open structure", "",
                                              "Structures (*.cif *.vasp POSCAR* CONTCAR*);;All files (*)")
        if path:
            self.open_structure(path)

    def open_structure(self, path: str | Path) -> bool:
        """Show a reference structure: 3D view, space group, its true map (and the diff overlay)."""
        import warnings

        try:
            with warnings.catch_warnings(record=True) as said:  # the reader's warnings go to the user
                warnings.simplefilter("always", core.StructureWarning)
                cell = core.primitive_cell(core.read_structure(path))
            cmap = core.compute_contact_map(cell)
            sg_number, sg_symbol = core.space_group(cell)
        except core.AlphaCrystalError as exc:
            self.show_error(str(exc))
            return False
        for warning in said:
            if issubclass(warning.category, core.StructureWarning):
                self.show_error(f"Warning: {warning.message}")
        self.session.set_reference(cell, Path(path).name, cmap)
        self._drawn_row = None
        self.view3d.show_structure(cell, f"{Path(path).name}: {core.formula_unit_text(cell.composition)}, "
                                         f"{sg_symbol} ({sg_number})")
        if not self.session.formula:
            self.formula_bar.edit.setText(core.formula_unit_text(cell.composition))
        if self.session.document() is None:
            self.map_title.setText(f"True contact map of {Path(path).name} ({len(cmap.species)} atoms)")
        self.statusBar().showMessage(
            f"{Path(path).name}: {core.formula_unit_text(cell.composition)}, {sg_symbol} ({sg_number}), {len(cell)} atoms, "
            f"{cmap.n_valid_bonds} bonds, {cmap.n_short_contacts} short contacts")
        return True

    def show_candidate_result(self, key: str) -> None:
        """A fitness curve was clicked: show the best-ranked result of that candidate."""
        parsed = core.parse_candidate_key(key)
        rows = self.session.rows
        for index, row in enumerate(rows):
            if parsed and str(row.get("source", "")).startswith("CMCrystal") \
                    and (row.get("spacegroup"), row.get("z")) == parsed:
                self.results.select_index(index)
                self.statusBar().showMessage(f"{core.candidate_label(key)}: its best result is #{index + 1}")
                return
        self.statusBar().showMessage(f"{core.candidate_label(key)}: no result of this candidate "
                                     + ("in the list (a duplicate, or discarded)" if rows else "yet"))

    def result_action(self, action: str, index: int) -> None:
        """A result's right-click menu: copy its CIF or POSCAR, export it, show it, or re-run from it."""
        from pymatgen.core import Structure
        from PySide6.QtWidgets import QApplication

        if not 0 <= index < len(self.session.rows):
            return
        row = self.session.rows[index]
        if action == "rerun":
            if self.task is not None:
                self.statusBar().showMessage("Wait for the current task to finish (or cancel it), then re-run")
                return
            self.start_run(rerun=index)
            return
        if action == "map":
            self.results.select_index(index)
            return
        if action == "export":
            self.results.select_index(index)
            self._ask_export(selected=True)
            return
        structure = Structure.from_dict(row["structure"])
        if action == "copy-cif":
            text, what = core.cif_text(structure, symmetrize=True), "symmetrised CIF"
        else:
            text, what = core.poscar_text(structure, f"{self.session.results.formula} rank {index + 1}"), "POSCAR"
        QApplication.clipboard().setText(text)
        self.statusBar().showMessage(f"Copied the {what} of result #{index + 1} to the clipboard")

    # ------------------------------------------------------------------ run and screening folders
    def _ask_open_run_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open run folder (alphacrystal predict --out)")
        if path:
            self.open_run_folder(path)

    def open_run_folder(self, path: str | Path) -> None:
        """Read a finished run folder in a worker thread and show its results (no inputs to edit)."""
        if self.task is not None or not self._may_discard(f"open {Path(path).name}"):
            return
        self.statusBar().showMessage(f"Reading {path}…")
        self._start(run_folder_results, str(path), on_success=lambda out: self._show_run_folder(path, *out))

    def _show_run_folder(self, path, formula: str, rows: list[dict], meta: dict) -> None:
        self.formula_bar.edit.setText(formula)
        self.session.show_run_folder(path, formula, rows, meta)
        self.setWindowTitle(self.session.title())
        self.statusBar().showMessage(f"{formula}: {len(rows)} structures from {path}")

    def _ask_open_screen(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open screening folder (alphacrystal screen --out)")
        if path:
            self.open_screen(path)

    def open_screen(self, path: str | Path) -> ScreeningTable | None:
        """Show a screen's table; double-clicking a formula opens its run folder here."""
        try:
            rows = core.read_screen_table(path)
        except core.AlphaCrystalError as exc:
            self.show_error(str(exc))
            return None
        self.screening_table = ScreeningTable(path, rows, self)
        self.screening_table.openRequested.connect(self.open_run_folder)
        self.screening_table.show()
        return self.screening_table

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

    # ------------------------------------------------------------------ projects
    def project(self) -> Project:
        return self.session.to_project()

    def save_project(self, ask: bool = False, path: str | Path | None = None) -> bool:
        if path is None:
            path = self.session.project_path
        if ask or path is None:
            chosen, _ = QFileDialog.getSaveFileName(self, "Save project", str(path or f"{self.formula}{PROJECT_SUFFIX}"),
                                                    f"AlphaCrystal projects (*{PROJECT_SUFFIX})")
            if not chosen:
                return False
            path = chosen if chosen.endswith(PROJECT_SUFFIX) else chosen + PROJECT_SUFFIX
        try:
            written = self.session.save(path)
        except core.AlphaCrystalError as exc:
            self.show_error(str(exc))
            return False
        self._remember(written)
        self.setWindowTitle(self.session.title())
        self.statusBar().showMessage(f"Saved {written}")
        return True

    def _ask_open_project(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open project", "", f"AlphaCrystal projects (*{PROJECT_SUFFIX})")
        if path:
            self.open_project(path)

    def open_project(self, path: str | Path) -> bool:
        if self.task is not None or not self._may_discard(f"open {Path(path).name}"):
            return False
        try:
            project = Project.load(path)
            self.session.load_project(project, path)
        except core.AlphaCrystalError as exc:  # the session names the file and the problem
            self.show_error(str(exc))
            return False
        if project.z is not None:
            index = self.formula_bar.z_box.findData(project.z)
            if index >= 0:
                self.formula_bar.z_box.setCurrentIndex(index)
        if self.session.viewing is not None:
            self.results.select_index(self.session.viewing)
        self._remember(Path(path))
        self.setWindowTitle(self.session.title())
        self.statusBar().showMessage(f"Opened {path}" + "".join(f"; {note}" for note in self.session.open_notes))
        self._update_actions()
        return True

    def _remember(self, path: Path) -> None:
        recent = [str(path.resolve())] + [p for p in self._recent() if p != str(path.resolve())]
        self.qsettings.setValue("recent", recent[:MAX_RECENT])
        self._refresh_recent()

    def _recent(self) -> list[str]:
        value = self.qsettings.value("recent", [])
        return [value] if isinstance(value, str) else list(value or [])

    def _refresh_recent(self) -> None:
        self.recent_menu.clear()
        for path in self._recent():
            self.recent_menu.addAction(QAction(path, self, triggered=lambda _=False, p=path: self.open_project(p)))
        self.recent_menu.setEnabled(bool(self._recent()))

    # ------------------------------------------------------------------ export
    def _ask_export(self, selected: bool) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export to folder")
        if folder:
            self.export(folder, selected)

    def export(self, folder: str | Path, selected: bool = True) -> Task | None:
        """Write the session's results (the selected one or all) under the formula they were computed for."""
        index = None
        if selected:
            items = self.results.selectedItems()
            index = int(items[0].data(Qt.ItemDataRole.UserRole)) if items else -1
        try:
            rows, formula = self.session.export_selection(index)
        except SessionError as exc:
            self.show_error(str(exc))
            return None
        return self._start(export_rows, rows, str(folder), formula, busy=False,
                           on_success=lambda out: self._exported(out, formula, folder))

    def _exported(self, out: tuple[list[Path], list[str]], formula: str, folder: str | Path) -> None:
        paths, notes = out
        self.statusBar().showMessage(f"Exported {len(paths)} {formula} structures (CIF, POSCAR, VASP inputs) "
                                     f"to {folder}" + "".join(f"; {note}" for note in notes))

    def _ask_png(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save 3D view", "structure.png", "PNG images (*.png)")
        if not path:
            return
        w, h = self.view3d.canvas.physical_size
        options = [(k, background) for background in ("white", "transparent") for k in (1, 2, 4)]
        choices = [f"{k}× ({k * w} × {k * h} pixels), {background} background" for k, background in options]
        choice, ok = QInputDialog.getItem(self, "Save 3D view", "Resolution and background:", choices, 1, False)
        if ok:
            scale, background = options[choices.index(choice)]
            written = self.view3d.render_png(path, scale=scale, transparent=background == "transparent")
            self.statusBar().showMessage(f"Saved {written}")

    # ------------------------------------------------------------------ preferences and closing
    def preferences(self) -> None:
        dialog = PreferencesDialog(self.qsettings, self)
        if dialog.exec():
            self.qsettings.setValue("model", dialog.model.text().strip())
            self.qsettings.setValue("device", dialog.device.currentText())
            self.qsettings.setValue("processes", dialog.processes.value())
            self.qsettings.setValue("generations", dialog.generations.value())
            self.session.set_run_settings(jobs=dialog.processes.value(), generations=dialog.generations.value())

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt override
        if not self._may_discard("quit"):
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
