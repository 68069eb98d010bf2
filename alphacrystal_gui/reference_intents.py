"""What the window does with a reference structure (a known structure to compare with): open it
(read in a worker thread, :func:`core.read_reference`), show it (3D view, its true map overlaid on
maps of the same atoms), and compare the shown results with it when it is the same compound
(:meth:`core.Session.comparable_reference`), in a worker thread too.

A read that a later reference, a project or a run folder overtook is dropped (:attr:`requests`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QFileDialog

import core
from alphacrystal_gui.engine_calls import reference_comparison, reference_structure
from alphacrystal_gui.workers import Task

if TYPE_CHECKING:
    from alphacrystal_gui.main_window import MainWindow


class ReferenceIntents:
    """Open, show and compare a reference structure (see the module docstring)."""

    def __init__(self, window: MainWindow) -> None:
        self.window = window
        self.session = window.session
        self.requests = 0
        """Counts the reference structures asked for: a read that finishes after a later one (or
        after a project or run folder replaced the session) is not shown."""

    def ask(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.window, "Open structure", "",
                                              "Structures (*.cif *.vasp POSCAR* CONTCAR*);;All files (*)")
        if path:
            self.open(path)

    def open(self, path: str | Path) -> Task:
        """Open a reference structure: read in a worker thread (:func:`core.read_reference`), then
        shown: 3D view, space group, its true map (and the diff overlay on maps of the same
        atoms); a file that cannot be read is said in a message."""
        self.requests += 1
        request = self.requests

        def read(reference) -> None:
            if request == self.requests:  # not overtaken by a later open, a project or a run folder
                self._show(reference)

        return self.window.start(reference_structure, str(path), busy=False, on_success=read)

    def _show(self, reference) -> None:
        w = self.window
        for warning in reference.warnings:
            w.show_error(f"Warning: {warning}")
        cell, cmap = reference.cell, reference.contact_map
        self.session.set_reference(cell, reference.name, cmap)
        w.views.show_reference(cell, reference.name, reference.spacegroup, reference.symbol)
        if not self.session.inputs.formula:  # a suggestion: never over what was typed
            w.formula_bar.suggest(core.formula_unit_text(cell.composition))
        message = reference.describe()
        ours, theirs = self.session.inputs.formula, cell.composition.reduced_formula
        if ours and self.session.comparable_reference() is None:
            message += (f"; note: the reference is {theirs}, this session's formula {ours}: no map or result of it "
                        "can be compared with it")
        w.statusBar().showMessage(message)
        self.compare_results()

    def compare_results(self) -> None:
        """Fill the results' match/RMSD columns for a reference opened after the run (a run compares
        its own at its end): in a worker thread, put on the results if they are still the ones shown
        and the reference is still this one. The columns stayed empty before (a new user's trial)."""
        w, run = self.window, self.session.run
        records = list(run.records)
        reference = self.session.comparable_reference()
        if not records or run.provisional or reference is None:
            return
        request = self.requests

        def compared(values) -> None:
            if request == self.requests and run.set_comparison(records, values):
                matched = sum(1 for match, _ in values if match)
                w.statusBar().showMessage(f"{w.statusBar().currentMessage()}; compared with the "
                                          f"{len(records)} results: {matched} match")

        w.start(reference_comparison, records, reference, busy=False, on_success=compared)

    def show_comparison(self) -> None:
        """A reference's comparison arrived: the table's match/RMSD columns, the selection kept."""
        w = self.window
        selected = self.session.run.viewing
        w.results_panel.show_session()
        if selected is not None:
            w.results.select_index(selected, notify=False)
