"""The *Results* dock: a filter, the results table, the energy and hull plots, and the note on
the structures not in the list.

A view of the session's results (:meth:`ResultsPanel.show_session`); the user's choices go out
through the table's and the plots' signals.
"""

from __future__ import annotations

from html import escape

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLineEdit, QMessageBox, QSplitter, QVBoxLayout, QWidget

from alphacrystal_gui.widgets.energy_plot import EnergyPlot
from alphacrystal_gui.widgets.hull_plot import HullPlot
from alphacrystal_gui.widgets.labels import WrappedLabel
from alphacrystal_gui.widgets.results_table import ResultsTable
from core import Session

PROVISIONAL_NOTE = ("Provisional: the structures relaxed so far, ranked by their energy so far. Some may still be "
                    "relaxed further, and duplicates are merged only when the run ends; the final ranking then "
                    "replaces this list (export waits for it; a save keeps the results of before the run).")

PLOT_HEIGHT_PX = 170
"""Tallest the energy and hull plots grow (px): the table keeps the room."""

PLOT_MIN_HEIGHT_PX = 120
"""Shortest the plots get (px): their axis labels stay whole (the plots' own minimum)."""


NOTE_PREVIEW_CHARS = 110
"""Characters of the run's first note shown under the table (all of them on *show all*)."""

TABLE_ROWS = 3
"""Rows of the results table always in view: the plots below give way (a splitter moves the border).
Three, so that the window with results fits a 1366 x 768 laptop under its title bar and taskbar
(five made it at least 764 px tall); the splitter gives the table more room when there is some."""


class ResultsPanel(QWidget):
    """Filter, table, plots and the note (see the module docstring)."""

    def __init__(self, session: Session, parent=None) -> None:
        super().__init__(parent)
        self.session = session
        self.table = ResultsTable()
        self.energy_plot = EnergyPlot()
        self.energy_plot.setMaximumHeight(PLOT_HEIGHT_PX)
        self.hull_plot = HullPlot()
        self.hull_plot.setMaximumHeight(PLOT_HEIGHT_PX)
        self.discarded = WrappedLabel("")
        self.discarded.setWordWrap(True)
        self.discarded.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.notes = WrappedLabel("")
        """The run's notes (those ``predict`` prints: potentials that disagree, a magnetic start, a
        formula withheld from the templates, ...): how many, the first, and all on *show*."""
        self.notes.setTextFormat(Qt.TextFormat.RichText)
        self.notes.linkActivated.connect(lambda _: self.show_notes())
        self.filter = QLineEdit(placeholderText="Filter results (e.g. Pnma, template, mp-)")
        self.filter.setClearButtonEnabled(True)
        self.filter.setToolTip("show only the results whose cells contain this text")
        self.filter.textChanged.connect(self.table.set_filter)
        rows = self.table.verticalHeader().defaultSectionSize()
        self.table.setMinimumHeight(self.table.horizontalHeader().sizeHint().height() + TABLE_ROWS * rows + 4)
        plots = QWidget()
        plots_row = QHBoxLayout(plots)
        plots_row.setContentsMargins(0, 0, 0, 0)
        plots_row.addWidget(self.energy_plot, 1)
        plots_row.addWidget(self.hull_plot, 1)
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(self.table)
        self.splitter.addWidget(plots)
        self.splitter.setStretchFactor(0, 2)
        self.splitter.setStretchFactor(1, 1)
        plots.setMinimumHeight(PLOT_MIN_HEIGHT_PX)
        self.splitter.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.filter)
        layout.addWidget(self.splitter, 1)
        layout.addWidget(self.discarded)
        layout.addWidget(self.notes)
        self.energy_plot.resultClicked.connect(self.table.select_index)
        self.hull_plot.resultClicked.connect(self.table.select_index)

    def show_session(self) -> None:
        """The session's results (final, provisional or none) in the table and the energy plot,
        and the note: a running run's provisional list, or what is not in the list and why."""
        s = self.session
        self.table.set_records(s.run.records, provisional=s.run.provisional)
        self.energy_plot.set_records(s.run.records)
        if s.run.provisional:
            n = len(s.run.records)
            self._note(f"Provisional: {n} structure{'s' if n != 1 else ''} relaxed so far, ranked by energy so far; "
                       "the final ranking (duplicates merged) replaces this list when the run ends.", PROVISIONAL_NOTE)
        elif s.run.results is not None and s.run.results.discarded:
            lines = s.run.results.discarded
            # one line under the table (at 768 px the table keeps two more rows), each structure and why in the tooltip
            n = len(lines)
            self._note(f"{n} more structure{'s' if n != 1 else ''} not listed (duplicates, rejected): hover for "
                       f"{'each' if n != 1 else 'it'} and why", "Not in the list:\n" + "\n".join(lines))
        else:
            self._note("", "")
        self._show_run_notes()

    def run_notes(self) -> list[str]:
        """The notes of the results shown (none for provisional ones: the run has not said them yet)."""
        results = self.session.run.results
        if results is None or results.provisional:
            return []
        return [n for n in results.meta.get("notes", []) if n]  # checked on reading (core.app.run.run_meta)

    def _show_run_notes(self) -> None:
        notes = self.run_notes()
        if not notes:
            self.notes.setText("")
            self.notes.setToolTip("")
            return
        first = notes[0] if len(notes[0]) <= NOTE_PREVIEW_CHARS else notes[0][:NOTE_PREVIEW_CHARS].rstrip() + "…"
        self.notes.setText(f"<span style='color:#8a5a00'>{len(notes)} note{'s' if len(notes) != 1 else ''} on this "
                           f"run: {escape(first)}</span> <a href='notes'>show all</a>")
        self.notes.setToolTip("\n\n".join(notes))

    def show_notes(self) -> QMessageBox | None:
        """The run's notes in a dialog whose text can be selected and copied."""
        notes = self.run_notes()
        if not notes:
            return None
        box = QMessageBox(QMessageBox.Icon.Information, "Notes on this run", "\n\n".join(notes),
                          QMessageBox.StandardButton.Close, self)
        box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        box.open()
        return box

    def _note(self, text: str, tooltip: str) -> None:
        self.discarded.setText(text)
        self.discarded.setToolTip(tooltip)
