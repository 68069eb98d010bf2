"""What the window shows of the session's structures: the 3D view (the viewed result, the run's
best structure so far, an opened reference), the selection in the results table, the hull plot
and a result's right-click menu.

A view: it renders the session's results when they change (:meth:`StructureViews.show_results`)
and turns clicks into the session's intents; it keeps only which structure the 3D view draws
(to redraw only when it changed) and the latest live structure waiting for its redraw.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

import core
from alphacrystal_gui.engine_calls import hull_picture_of
from core import SessionError

if TYPE_CHECKING:
    from alphacrystal_gui.main_window import MainWindow

LIVE_VIEW_INTERVAL_MS = 700
"""Shortest time between two live 3D updates of the best structure during a run."""


class StructureViews:
    """The structure views of ``window`` (see the module docstring)."""

    def __init__(self, window: MainWindow) -> None:
        self.window = window
        self.session = window.session
        self.drawn: core.ResultRecord | None = None
        """The result the 3D view draws (to redraw only when it changed)."""
        self._pending_live = None
        self._live_timer = QTimer(window)
        self._live_timer.setSingleShot(True)
        self._live_timer.setInterval(LIVE_VIEW_INTERVAL_MS)
        self._live_timer.timeout.connect(self._draw_live)

    # ------------------------------------------------------------------ during a run
    def live_result(self, name: str, result, geometry: dict | None = None) -> None:
        """Keep the latest best structure (the engine sends only improvements:
        ``engine_calls.live_geometry``); the 3D view shows it at most every
        ``LIVE_VIEW_INTERVAL_MS`` (a redraw costs tens of ms in software OpenGL)."""
        self._pending_live = (name, result, geometry)
        if not self._live_timer.isActive():
            self._live_timer.start()

    def stop_live(self) -> None:
        """No more live structures (the run ended or was cleared)."""
        self._live_timer.stop()
        self._pending_live = None

    def _draw_live(self) -> None:
        if self._pending_live is None or self.session.run.provisional:  # a relaxed structure is shown instead
            self._pending_live = None
            return
        name, result, geometry = self._pending_live
        self._pending_live = None
        self.drawn = None
        self.window.view3d.show_structure(result.structure,
                                          f"best so far: {name}, fitness {result.fitness:.3f} "
                                          f"[{result.assignment.label}] (before relaxation)", geometry=geometry)

    # ------------------------------------------------------------------ results
    def show_results(self) -> None:
        """New results (or none, or a run's provisional ones): table, plots, notes, 3D view."""
        s, w = self.session, self.window
        w.results_panel.show_session()
        self.draw_hull()
        if s.run.provisional:
            # the viewed one stays selected and drawn (redrawn only if it changed); with none chosen,
            # the lowest energy so far replaces the GA's best structure before relaxation
            shown = s.run.viewing if s.run.viewing is not None else 0 if s.run.records else None
            if s.run.viewing is not None:
                w.results.select_index(s.run.viewing, notify=False)
            if shown is not None:
                self._pending_live = None
                if s.run.records[shown] is not self.drawn:
                    self._draw_result(shown)
                else:
                    w.view3d.title.setText(self._result_title(shown))
        elif s.run.records:
            w.results.select_index(0)
        else:
            self.show_no_result()
        w.update_actions()

    def show_no_result(self) -> None:
        """No result to show: the 3D view shows the open reference of this compound, if any (a
        Predict left "No structure" while the reference stayed open and compared), else nothing."""
        self.drawn = None
        reference = self.session.comparable_reference()
        if reference is None:
            self.window.view3d.show_structure(None)
            return
        try:  # a few ms for a cell of at most a few dozen atoms
            number, symbol = core.space_group(reference)
        except Exception:  # noqa: BLE001 - spglib fails on some degenerate cells: P1 named
            number, symbol = 1, "P1"
        self.show_reference(reference, self.session.reference_name, number, symbol)

    def show_reference(self, cell, name: str, number: int, symbol: str) -> None:
        """Draw the reference structure (its primitive cell), titled by its file, formula and group."""
        self.show_structure(cell, f"{name} (reference): {core.formula_unit_text(cell.composition)}, "
                                  f"{symbol} ({number})")

    def draw_hull(self) -> None:
        """The hull plot of the results shown: made off the GUI thread, drawn if they are still shown."""
        results, plot = self.session.run.results, self.window.hull_plot
        if results is None or results.provisional or not results.records:
            plot.show_picture(None, "the hull of the known phases is drawn when the run ends"
                              if results is not None and results.provisional else "no results yet")
            return

        def drawn(out) -> None:
            if self.session.run.results is results:  # not replaced meanwhile
                plot.show_picture(*out)

        # in the engine process: the hull of the run's potential is built there already, and
        # building it here (about a second of Python) would hold the GUI thread's interpreter lock
        self.window.start(hull_picture_of, results.records, busy=False, in_engine=True, on_success=drawn,
                          on_failure=lambda message, details="": drawn((None, message)))

    def show_result(self, index: int) -> None:
        """Show result ``index`` in the 3D view and its contact map in the editor (read-only);
        nothing to do when it is shown already."""
        run = self.session.run
        if run.viewing == index and 0 <= index < len(run.records) and self.drawn is run.records[index]:
            return
        try:
            run.view_result(index)
        except SessionError:
            return
        self._draw_result(index)

    def _result_title(self, index: int) -> str:
        s = self.session
        record = s.run.records[index]
        formula = s.run.results.formula if s.run.results is not None else ""
        title = f"#{record.rank} {formula} {record.shown_symbol}"
        if record.energy_per_atom is not None:
            title += f", {record.energy_per_atom:.4f} eV/atom"
        return title + (" (provisional: relaxed so far)" if record.provisional else "")

    def _draw_result(self, index: int) -> None:
        s, view3d = self.session, self.window.view3d
        record = s.run.records[index]
        geometry = s.run.results.views.get(index, (None, None))[1] if s.run.results is not None else None
        view3d.show_structure(record.structure, self._result_title(index), geometry=geometry)
        view3d.picked.setText("")
        self.drawn = record

    def show_structure(self, structure, title: str) -> None:
        """Draw a structure that is not a result (an opened reference)."""
        self.drawn = None
        self.window.view3d.show_structure(structure, title)

    def show_candidate_result(self, key: str) -> None:
        """A fitness curve was clicked: show the best-ranked result of that candidate."""
        w = self.window
        parsed = core.parse_candidate_key(key)
        records = self.session.run.records
        for index, record in enumerate(records):
            start_z = record.start_z if record.start_z is not None else record.z  # older files: no start_z
            if parsed and record.route == "contact" and (record.spacegroup, start_z) == parsed:
                w.results.select_index(index)
                w.statusBar().showMessage(f"{core.candidate_label(key)}: its best result is #{index + 1}")
                return
        w.statusBar().showMessage(f"{core.candidate_label(key)}: no result of this candidate "
                                  + ("in the list (a duplicate, or discarded)" if records else "yet"))

    def result_action(self, action: str, index: int) -> None:
        """A result's right-click menu: copy its CIF or POSCAR, export it, show it, or re-run from it."""
        w, s = self.window, self.session
        if not 0 <= index < len(s.run.records):
            return
        record = s.run.records[index]
        if action == "rerun":
            if s.busy_with:
                w.statusBar().showMessage("Wait for the current task to finish (or cancel it), then re-run")
                return
            w.start_run(rerun=index)
            return
        if action in ("map", "export"):
            w.results.select_index(index)
            if action == "export":
                w.files.ask_export(selected=True)
            return
        structure = record.structure
        if action == "copy-cif":
            text, what = core.cif_text(structure, symmetrize=True), "symmetrised CIF"
        else:
            formula = s.run.results.formula if s.run.results is not None else record.formula
            text, what = core.poscar_text(structure, f"{formula} rank {index + 1}"), "POSCAR"
        QApplication.clipboard().setText(text)
        w.statusBar().showMessage(f"Copied the {what} of result #{index + 1} to the clipboard")
