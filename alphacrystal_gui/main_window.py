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

import numpy as np
from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDockWidget,
    QFileDialog,
    QFormLayout,
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
from alphacrystal_gui.engine_calls import export_rows, propose_inputs, run_live, warm_up
from alphacrystal_gui.engine_process import EngineProcess
from alphacrystal_gui.models import ContactMapDocument
from alphacrystal_gui.view3d.structure_view import StructureView
from alphacrystal_gui.widgets.candidates_panel import CandidatesPanel
from alphacrystal_gui.widgets.contact_map_editor import ContactMapEditor
from alphacrystal_gui.widgets.formula_bar import FormulaBar
from alphacrystal_gui.widgets.results_table import ResultsTable
from alphacrystal_gui.widgets.run_panel import RunPanel
from alphacrystal_gui.workers import Task, start_task
from core.candidates.propose import Candidate
from core.cli import __version__
from core.composition import parse_formula
from core.contact_model.inference import ContactPrediction
from core.pipeline import PredictionSettings, runs_cmcrystal_by_default
from core.project import SUFFIX, Project
from core.templates.retrieval import TemplateCandidate

MAX_RECENT = 8
LIVE_VIEW_INTERVAL_MS = 700
"""Shortest time between two live 3D updates of the best structure during a run."""


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
relaxed and ranked with CHGNet.</p>
<p><b>Data.</b> The shipped models and the template library (resources/template_library.npz: known
structures used as templates) are derived from Materials Project data (Jain et al., APL Mater. 1, 011002
(2013)) via the MP-20 set (Xie et al., ICLR 2022), licensed CC BY 4.0
(https://creativecommons.org/licenses/by/4.0/). A result whose source reads "template mp-…" is that
Materials Project entry with its elements substituted.</p>
<p><b>Methods used.</b> CHGNet (Deng et al., Nat. Mach. Intell. 2023) for relaxation and energies;
ionic substitution probabilities of Hautier et al. (Inorg. Chem. 2011) and Pettifor's Mendeleev numbers
for template scores, through pymatgen; spglib and pyxtal for symmetry.</p>"""


class MainWindow(QMainWindow):
    """AlphaCrystal Studio's one window."""

    def __init__(self, settings: QSettings | None = None, engine: EngineProcess | None = None) -> None:
        """``engine``: run predictions and reconstructions in that helper process (the app
        does; without one they run in worker threads of this process)."""
        super().__init__()
        self.engine = engine
        # Worker threads run Python too; a short GIL switch interval (default 5 ms) lets
        # the GUI thread get it back quickly between the many Qt calls of a redraw.
        sys.setswitchinterval(0.0005)
        self.setWindowTitle("AlphaCrystal Studio")
        self.setAcceptDrops(True)
        self.qsettings = settings or QSettings("AlphaCrystal", "AlphaCrystal Studio")
        self.document = ContactMapDocument()
        self.formula = ""
        self.prediction: ContactPrediction | None = None
        self.maps: dict[int, ContactPrediction] = {}
        self.rows: list[dict] = []
        self._views: dict[int, tuple] = {}
        self.reference = None
        self.reference_name = ""
        self.project_path: Path | None = None
        self.task: Task | None = None
        self._tasks: list[Task] = []
        self._best_live = -1.0
        self._pending_live = None
        self._live_timer = QTimer(self)
        self._live_timer.setSingleShot(True)
        self._live_timer.setInterval(LIVE_VIEW_INTERVAL_MS)
        self._live_timer.timeout.connect(self._draw_live)
        self._input_snapshot = None

        self.formula_bar = FormulaBar()
        self.candidates = CandidatesPanel()
        self.editor = ContactMapEditor(self.document)
        self.run_panel = RunPanel()
        self.view3d = StructureView()
        self.results = ResultsTable()
        self.map_title = QLabel("Contact map")
        self.back_button = QPushButton("Back to the input map")
        self.back_button.setEnabled(False)  # enabled, not shown/hidden: a relayout repaints the 3D canvas

        centre = QWidget()
        layout = QVBoxLayout(centre)
        layout.addWidget(self.formula_bar)
        layout.addWidget(self.map_title)
        layout.addWidget(self.back_button)
        layout.addWidget(self.editor, 1)
        self.setCentralWidget(centre)
        left_dock = self._dock("Candidates", self.candidates, Qt.DockWidgetArea.LeftDockWidgetArea)
        self._dock("Run", self.run_panel, Qt.DockWidgetArea.LeftDockWidgetArea)
        view_dock = self._dock("3D view", self.view3d, Qt.DockWidgetArea.RightDockWidgetArea)
        self._dock("Results", self.results, Qt.DockWidgetArea.RightDockWidgetArea)
        self._menus()
        self.run_panel.processes.setValue(int(self.qsettings.value("processes", 2)))
        self.run_panel.generations.setValue(int(self.qsettings.value("generations",
                                                                     PredictionSettings().generations)))

        self.formula_bar.predictRequested.connect(self.predict)
        self.candidates.message.connect(self.statusBar().showMessage)
        self.candidates.changed.connect(self._update_actions)
        self.run_panel.startRequested.connect(self.start_run)
        self.run_panel.cancelRequested.connect(self.cancel)
        self.results.rowSelected.connect(self.show_result)
        self.back_button.clicked.connect(self.back_to_input_map)
        self.document.connect(self._update_actions)
        self.resize(1400, 860)
        geometry = self.qsettings.value("geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        state = self.qsettings.value("windowState")
        if state is not None:
            self.restoreState(state)
        self._first_show_docks = None if state is not None else [left_dock, view_dock]
        self.statusBar().showMessage("Type a formula and press Predict, or File ▸ Open a structure.")
        self._update_actions()

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
        return dock

    def _menus(self) -> None:
        file = self.menuBar().addMenu("&File")
        self.open_structure_action = QAction("&Open structure…", self, shortcut=QKeySequence.StandardKey.Open,
                                             triggered=self._ask_open_structure)
        self.open_project_action = QAction("Open &project…", self, shortcut="Ctrl+Shift+O",
                                           triggered=self._ask_open_project)
        self.save_action = QAction("&Save project", self, shortcut=QKeySequence.StandardKey.Save,
                                   triggered=self.save_project)
        self.save_as_action = QAction("Save project &as…", self, shortcut="Ctrl+Shift+S",
                                      triggered=lambda: self.save_project(ask=True))
        self.recent_menu = file.addMenu("Open &recent")
        self.export_selected_action = QAction("&Export selected…", self, shortcut="Ctrl+E",
                                              triggered=lambda: self._ask_export(selected=True))
        self.export_all_action = QAction("Export &all…", self, triggered=lambda: self._ask_export(selected=False))
        for action in (self.open_structure_action, self.open_project_action):
            file.addAction(action)
        file.addMenu(self.recent_menu)
        for action in (self.save_action, self.save_as_action, self.export_selected_action, self.export_all_action):
            file.addAction(action)
        file.addSeparator()
        file.addAction(QAction("&Quit", self, shortcut=QKeySequence.StandardKey.Quit, triggered=self.close))
        edit = self.menuBar().addMenu("&Edit")
        self.undo_action = QAction("&Undo map edit", self, shortcut=QKeySequence("Ctrl+Z"),
                                   triggered=self.document.undo)
        self.redo_action = QAction("&Redo map edit", self, shortcut=QKeySequence("Ctrl+Shift+Z"),
                                   triggered=self.document.redo)
        edit.addAction(self.undo_action)
        edit.addAction(self.redo_action)
        edit.addAction(QAction("Re&set map to prediction", self, triggered=self.document.reset))
        edit.addSeparator()
        edit.addAction(QAction("&Preferences…", self, triggered=self.preferences))
        view = self.menuBar().addMenu("&View")
        view.addAction(QAction("Save 3D view as &PNG…", self, triggered=self._ask_png))
        help_menu = self.menuBar().addMenu("&Help")
        help_menu.addAction(QAction("&About AlphaCrystal Studio", self, triggered=self.about))
        self._refresh_recent()

    def about(self) -> None:
        """Version, method and the data attributions the licences ask for."""
        QMessageBox.about(self, "About AlphaCrystal Studio", ABOUT_TEXT)

    def _update_actions(self) -> None:
        busy = self.task is not None
        contact_ready = bool(self.candidates.candidates()) and self.document.n > 0 and self.prediction is not None
        self.run_panel.start_button.setEnabled(not busy and (contact_ready or bool(self.candidates.templates())))
        self.export_selected_action.setEnabled(bool(self.rows))
        self.export_all_action.setEnabled(bool(self.rows))
        self.undo_action.setEnabled(self.document.can_undo)
        self.redo_action.setEnabled(self.document.can_redo)

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
            self.statusBar().showMessage("Cancelling…")

    def wait_for_tasks(self, timeout_ms: int = 60000) -> None:
        """Block until worker threads end (used on close and by tests)."""
        from shiboken6 import isValid

        for task in list(self._tasks):
            if isValid(task.thread):  # Qt may already have deleted a finished thread
                task.thread.wait(timeout_ms)

    # ------------------------------------------------------------------ predict
    def predict(self, formula: str, z: int | None) -> None:
        """Candidates and contact maps for ``formula`` (worker thread)."""
        if self.task is not None:
            return
        self.statusBar().showMessage(f"Predicting candidates and contact map of {formula}…")
        model = str(self.qsettings.value("model", "") or "") or None
        device = str(self.qsettings.value("device", "auto"))
        self._start(propose_inputs, formula, z, 5, model, device, in_engine=True,
                    on_success=lambda out: self._show_inputs(formula, *out))

    def _show_inputs(self, formula: str, candidates: list[Candidate], maps: dict[int, ContactPrediction],
                     templates: list | None = None) -> None:
        self.formula = formula
        self.maps = dict(maps)
        # the engine's default: an all-metal formula with templates does not run CMCrystal (ticks off)
        run_contact = runs_cmcrystal_by_default(parse_formula(formula), templates or [])
        self.candidates.set_candidates(candidates, formula, checked=None if run_contact else 0)
        self.candidates.set_templates(templates or [])
        if not candidates:  # beyond the contact route's cell size: templates only
            self.prediction = None
            self.document.load([], [], np.zeros((0, 0), dtype=np.uint8))
            self.map_title.setText(f"No contact map for {formula}: the contact route covers cells of up to "
                                   f"{self.formula_bar.contact_max_atoms} atoms; the run uses the templates below")
            self.statusBar().showMessage(f"{len(templates or [])} templates (no contact map for this cell size); "
                                         "press Start.")
            return
        z = self.formula_bar.z or candidates[0].z
        self.load_prediction(maps.get(z) or maps[candidates[0].z])
        if not run_contact:
            self.statusBar().showMessage(f"{formula} is all-metal: {len(templates)} templates ticked, CMCrystal "
                                         "candidates unticked (its contact map is empty; tick them to run it); "
                                         "press Start.")
            return
        self.statusBar().showMessage(f"{len(candidates)} candidates and {len(templates or [])} templates; "
                                     "edit the map or press Start reconstruction.")

    def load_prediction(self, prediction: ContactPrediction, edited: np.ndarray | None = None,
                        threshold: float | None = None) -> None:
        self.prediction = prediction
        self.back_to_input_map(snapshot=False)
        self.document.load(prediction.labels, prediction.species, prediction.contact, prediction.probabilities,
                           prediction.threshold, predicted=prediction.contact)
        if threshold is not None and abs(threshold - prediction.threshold) > 1e-9:
            self.document.set_threshold(threshold)
        if edited is not None and np.shape(edited) == self.document.matrix.shape:
            self.document.matrix = np.asarray(edited, dtype=np.uint8).copy()
            self.document._changed()
        self._apply_reference_overlay()
        self.map_title.setText(f"Contact map of {prediction.formula}, Z = {prediction.z} "
                               f"({len(prediction.species)} atoms, primitive cell): click a cell to toggle a bond")

    # ------------------------------------------------------------------ run
    def edited_prediction(self) -> ContactPrediction:
        """The network's prediction with the map as edited."""
        return replace(self.prediction, contact=self.document.matrix.copy(), threshold=self.document.threshold)

    def start_run(self) -> None:
        if self.task is not None or (self.prediction is None and not self.candidates.all_templates()):
            return
        self.back_to_input_map()
        chosen = self.candidates.candidates() if self.prediction is not None else []
        templates = self.candidates.templates()
        if not chosen and not templates:
            self.show_error("tick at least one space-group candidate or template")
            return
        maps = dict(self.maps)
        if self.prediction is not None:
            maps[self.prediction.z] = self.edited_prediction()
        missing = sorted({c.z for c in chosen} - set(maps))
        if missing:
            self.show_error(f"no contact map for Z = {missing}; press Predict again")
            return
        settings = self.run_panel.settings()
        self._best_live = -1.0
        self.run_panel.set_running(True)
        task = self._start(run_live, self.formula, settings, chosen, maps, self.reference, live=True, in_engine=True,
                           on_progress=self.run_panel.show_progress, on_success=self._run_finished,
                           templates=templates)
        task.connect("generation", self.run_panel.add_generation)
        task.connect("reconstruction", self._live_result)
        self.statusBar().showMessage(f"Reconstructing {len(chosen)} candidates and relaxing {len(templates)} "
                                     "templates…")

    def _live_result(self, name: str, result, geometry: dict | None = None) -> None:
        """Keep the best structure so far; the 3D view shows it at most every
        ``LIVE_VIEW_INTERVAL_MS`` (a redraw costs tens of ms in software OpenGL)."""
        if result.fitness > self._best_live:
            self._best_live = result.fitness
            self._pending_live = (name, result, geometry)
            if not self._live_timer.isActive():
                self._live_timer.start()

    def _draw_live(self) -> None:
        if self._pending_live is None:
            return
        name, result, geometry = self._pending_live
        self._pending_live = None
        self.view3d.show_structure(result.structure,
                                   f"best so far: {name}, fitness {result.fitness:.3f} "
                                   f"[{result.assignment.label}]", geometry=geometry)

    def _run_finished(self, out) -> None:
        self._live_timer.stop()
        self._pending_live = None
        result, rows, views = out
        self.rows = rows
        self._views = dict(enumerate(views))
        self.results.set_rows(rows)
        if rows:
            self.results.select_index(0)
        state = "cancelled: partial results" if result.cancelled else "done"
        self.statusBar().showMessage(f"Run {state}: {len(rows)} distinct structures in {result.seconds:.0f} s"
                                     + (f", {len(result.rejected)} rejected" if result.rejected else ""))

    def show_result(self, index: int) -> None:
        """Show result ``index`` in the 3D view and its contact map in the editor (read-only)."""
        from pymatgen.core import Structure

        if not 0 <= index < len(self.rows):
            return
        row = self.rows[index]
        structure = Structure.from_dict(row["structure"])
        title = f"#{row['rank']} {row.get('relaxed_symbol') or row['symbol']}"
        if row.get("energy_per_atom") is not None:
            title += f", {row['energy_per_atom']:.4f} eV/atom"
        cmap, geometry = self._views.get(index, (None, None))
        self.view3d.show_structure(structure, title, geometry=geometry)
        if cmap is None:
            try:
                cmap = core.compute_contact_map(core.primitive_cell(structure))
            except core.AlphaCrystalError as exc:
                self.statusBar().showMessage(str(exc))
                return
        if self._input_snapshot is None and self.document.n:
            self._input_snapshot = (self.prediction, self.document.matrix.copy(), self.document.threshold)
        self.document.load(cmap.labels, cmap.species, cmap.matrix)
        self._apply_reference_overlay()
        self.map_title.setText(f"Contact map of result #{row['rank']} (view only)")
        self.editor.setEnabled(True)
        self.back_button.setEnabled(self._input_snapshot is not None)

    def back_to_input_map(self, snapshot: bool = True) -> None:
        if self._input_snapshot is None:
            return
        prediction, matrix, threshold = self._input_snapshot
        self._input_snapshot = None
        self.back_button.setEnabled(False)
        if snapshot and prediction is not None:
            self.load_prediction(prediction, matrix, threshold)

    # ------------------------------------------------------------------ reference structures
    def _ask_open_structure(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open structure", "",
                                              "Structures (*.cif *.vasp POSCAR* CONTCAR*);;All files (*)")
        if path:
            self.open_structure(path)

    def open_structure(self, path: str | Path) -> bool:
        """Show a reference structure: 3D view, space group, its true map (and the diff overlay)."""
        try:
            cell = core.primitive_cell(core.read_structure(path))
            cmap = core.compute_contact_map(cell)
            sg_number, sg_symbol = core.io.space_group(cell)
        except core.AlphaCrystalError as exc:
            self.show_error(str(exc))
            return False
        self.reference, self.reference_name = cell, Path(path).name
        self.reference_map = cmap
        self.view3d.show_structure(cell, f"{Path(path).name}: {cell.composition.reduced_formula}, "
                                         f"{sg_symbol} ({sg_number})")
        self.formula_bar.edit.setText(cell.composition.reduced_formula)
        if self.prediction is None or list(self.prediction.species) != list(cmap.species):
            self.document.load(cmap.labels, cmap.species, cmap.matrix)
            self.map_title.setText(f"True contact map of {Path(path).name} ({len(cmap.species)} atoms)")
        self._apply_reference_overlay()
        self.statusBar().showMessage(
            f"{Path(path).name}: {cell.composition.reduced_formula}, {sg_symbol} ({sg_number}), {len(cell)} atoms, "
            f"{cmap.n_valid_bonds} bonds, {cmap.n_short_contacts} short contacts")
        return True

    def _apply_reference_overlay(self) -> None:
        ref = getattr(self, "reference_map", None)
        if ref is not None and list(ref.species) == list(self.document.species):
            self.document.set_reference(ref.matrix)
        else:
            self.document.set_reference(None)

    def dragEnterEvent(self, event) -> None:  # noqa: N802 - Qt override
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802 - Qt override
        for url in event.mimeData().urls():
            path = url.toLocalFile()
            if path.endswith(SUFFIX):
                self.open_project(path)
            elif path:
                self.open_structure(path)
            break

    # ------------------------------------------------------------------ projects
    def project(self) -> Project:
        snapshot = self._input_snapshot
        prediction, matrix, threshold = snapshot if snapshot else (self.prediction, self.document.matrix,
                                                                   self.document.threshold)
        ticked = {id(c) for c in self.candidates.templates()}
        templates = [c.to_dict() | {"run": id(c) in ticked} for c in self.candidates.all_templates()]
        return Project(
            formula=self.formula or self.formula_bar.edit.text(), z=self.formula_bar.z,
            candidates=[c.to_dict() for c in self.candidates.all_candidates()],
            prediction=prediction.to_dict() if prediction else None,
            edited_map=np.asarray(matrix).tolist() if prediction is not None else None,
            threshold=float(threshold) if prediction is not None else None,
            settings=self.run_panel.settings().to_dict(), results=self.rows,
            reference={"name": self.reference_name, "structure": self.reference.as_dict()}
            if self.reference is not None else None,
            templates=templates)

    def save_project(self, ask: bool = False, path: str | Path | None = None) -> bool:
        if path is None:
            path = self.project_path
        if ask or path is None:
            chosen, _ = QFileDialog.getSaveFileName(self, "Save project", str(path or f"{self.formula}{SUFFIX}"),
                                                    f"AlphaCrystal projects (*{SUFFIX})")
            if not chosen:
                return False
            path = chosen if chosen.endswith(SUFFIX) else chosen + SUFFIX
        try:
            written = self.project().save(path)
        except core.AlphaCrystalError as exc:
            self.show_error(str(exc))
            return False
        self.project_path = written
        self._remember(written)
        self.statusBar().showMessage(f"Saved {written}")
        return True

    def _ask_open_project(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open project", "", f"AlphaCrystal projects (*{SUFFIX})")
        if path:
            self.open_project(path)

    def open_project(self, path: str | Path) -> bool:
        from pymatgen.core import Structure

        try:
            project = Project.load(path)
            candidates = [Candidate.from_dict(c) for c in project.candidates]
            prediction = ContactPrediction.from_dict(project.prediction) if project.prediction else None
            templates = [TemplateCandidate.from_dict({k: v for k, v in t.items() if k != "run"})
                         for t in project.templates]
        except (core.AlphaCrystalError, KeyError, TypeError, ValueError) as exc:
            self.show_error(str(exc) if isinstance(exc, core.AlphaCrystalError)
                            else f"{path}: not a readable project ({type(exc).__name__}: {exc})")
            return False
        self._input_snapshot = None
        self.formula = project.formula
        self.formula_bar.edit.setText(project.formula)
        if project.z is not None:
            index = self.formula_bar.z_box.findData(project.z)
            if index >= 0:
                self.formula_bar.z_box.setCurrentIndex(index)
        self.candidates.set_candidates(candidates, project.formula)
        self.candidates.set_templates(templates, ticked=[bool(t.get("run", True)) for t in project.templates])
        self.run_panel.apply_settings(project.settings)
        self.reference = None
        self.reference_map = None
        if project.reference:
            self.reference = Structure.from_dict(project.reference["structure"])
            self.reference_name = project.reference.get("name", "reference")
            self.reference_map = core.compute_contact_map(self.reference)
        self.maps = {}
        if prediction is not None:
            self.maps[prediction.z] = prediction
            self.load_prediction(prediction, np.asarray(project.edited_map) if project.edited_map else None,
                                 project.threshold)
        self.rows = list(project.results)
        self._views = {}
        self.results.set_rows(self.rows)
        self.project_path = Path(path)
        self._remember(Path(path))
        self.statusBar().showMessage(f"Opened {path}")
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
        rows = self.rows
        if selected:
            items = self.results.selectedItems()
            if not items:
                self.show_error("select a result to export (or use Export all)")
                return None
            rows = [self.rows[int(items[0].data(Qt.ItemDataRole.UserRole))]]
        return self._start(export_rows, rows, str(folder), self.formula, busy=False,
                           on_success=lambda paths: self.statusBar().showMessage(
                               f"Exported {len(paths)} structures (CIF, POSCAR, VASP inputs) to {folder}"))

    def _ask_png(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save 3D view", "structure.png", "PNG images (*.png)")
        if path:
            self.view3d.render_png(path)

    # ------------------------------------------------------------------ preferences and closing
    def preferences(self) -> None:
        dialog = PreferencesDialog(self.qsettings, self)
        if dialog.exec():
            self.qsettings.setValue("model", dialog.model.text().strip())
            self.qsettings.setValue("device", dialog.device.currentText())
            self.qsettings.setValue("processes", dialog.processes.value())
            self.qsettings.setValue("generations", dialog.generations.value())
            self.run_panel.processes.setValue(dialog.processes.value())
            self.run_panel.generations.setValue(dialog.generations.value())

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt override
        self.qsettings.setValue("geometry", self.saveGeometry())
        self.qsettings.setValue("windowState", self.saveState())
        if self.task is not None:
            self.task.cancel()
        self.wait_for_tasks(10000)
        if self.engine is not None:
            self.engine.stop()
        super().closeEvent(event)
