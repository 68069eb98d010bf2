"""What the window does with files: projects (save, open, the recent list), finished run
folders and screens (open), the export of results and the 3D view's PNG.

Each intent asks the session first (is there unsaved work, are there final results), reads
or writes in a worker thread where it may take long (a project with its reference
structure, a run folder, an export) and reports in the window's status bar; the session
holds what was opened.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog

import core
from alphacrystal_gui.dialogs import ask_png_options
from alphacrystal_gui.engine_calls import export_records, project_contents, run_folder_results
from alphacrystal_gui.widgets.screening_table import ScreeningTable
from alphacrystal_gui.workers import Task
from core import PROJECT_SUFFIX, SessionError

if TYPE_CHECKING:
    from alphacrystal_gui.main_window import MainWindow

MAX_RECENT = 8
"""Projects kept in *File ▸ Open recent*."""


class FileIntents:
    """The file intents of ``window`` (see the module docstring)."""

    def __init__(self, window: MainWindow) -> None:
        self.window = window
        self.session = window.session
        self.screening_table: ScreeningTable | None = None

    def _say(self, message: str) -> None:
        self.window.statusBar().showMessage(message)

    # ------------------------------------------------------------------ projects
    def save_project(self, ask: bool = False, path: str | Path | None = None) -> bool:
        """Save the session (to its project file, or ``path``, or one asked for); True when saved."""
        w = self.window
        if path is None:
            path = self.session.project_path
        if ask or path is None:
            chosen, _ = QFileDialog.getSaveFileName(w, "Save project", str(path or f"{w.formula}{PROJECT_SUFFIX}"),
                                                    f"AlphaCrystal projects (*{PROJECT_SUFFIX})")
            if not chosen:
                return False
            path = chosen  # the project gets its suffix when saved (core.Project.save)
        try:
            written = self.session.save(path)
        except core.AlphaCrystalError as exc:
            w.show_error(str(exc))
            return False
        self.remember(written)
        w.setWindowTitle(self.session.title())
        self._say(f"Saved {written}" + (" with the results of before this run: save again when it ends to keep its "
                                         "results" if self.session.run.busy else ""))
        return True

    def ask_open_project(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.window, "Open project", "",
                                              f"AlphaCrystal projects (*{PROJECT_SUFFIX})")
        if path:
            self.open_project(path)

    def open_project(self, path: str | Path) -> Task | None:
        """Read a project in a worker thread (its objects built and checked there:
        :meth:`core.Project.contents`), then hand it to the session; None when refused (a
        task going on, or the user kept unsaved work)."""
        return self._replace_session(path, project_contents, lambda out: self._opened(path, *out))

    def _replace_session(self, path: str | Path, read, show) -> Task | None:
        """Read ``path`` with ``read`` in a worker thread, then ``show`` what was read in place of
        the session. Not while a task is going on, nor over unsaved work the user keeps; and
        not when the read was cancelled, or the session changed during the read and the user
        now keeps that work (asked again). None when refused."""
        w = self.window
        if w.refused_while_busy(f"open {Path(path).name}") or not w.may_discard(f"open {Path(path).name}"):
            return None
        self._say(f"Reading {path}…")
        revision = self.session.revision
        task: list[Task] = []

        def done(out) -> None:
            if task[0].worker.cancel_token.is_set():
                self._say(f"Opening {path} cancelled")
            elif self.session.revision != revision and not w.may_discard(f"open {Path(path).name}"):
                self._say(f"Kept the work done while {path} was read; it is not opened")
            else:
                w.references.requests += 1  # a reference still being read belongs to the replaced session
                show(out)

        task.append(w.start(read, str(path), on_success=done))
        return task[0]

    def _opened(self, path: str | Path, contents, note: str | None = None) -> None:
        w = self.window
        w.formula_bar.show_note(contents.formula, note)  # as the Predict that made the project showed it
        self.session.open_contents(contents, path)
        w.formula_bar.set_z(contents.z)  # the saved Z, automatic too (a typed Na2Cl2 would choose 2)
        if self.session.run.viewing is not None:
            w.results.select_index(self.session.run.viewing)
        self.remember(Path(path))
        w.setWindowTitle(self.session.title())
        self._say(f"Opened {path}" + "".join(f"; {note}" for note in self.session.open_notes))
        w.update_actions()

    def remember(self, path: Path) -> None:
        """Put ``path`` first in the recent projects."""
        recent = [str(path.resolve())] + [p for p in self.recent() if p != str(path.resolve())]
        self.window.qsettings.setValue("recent", recent[:MAX_RECENT])
        self.window.menu_actions.show_recent(self.recent())

    def recent(self) -> list[str]:
        """The recent projects, newest first."""
        value = self.window.qsettings.value("recent", [])
        return [value] if isinstance(value, str) else list(value or [])

    # ------------------------------------------------------------------ run folders and screens
    def ask_open_run_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self.window, "Open run folder (alphacrystal predict --out)")
        if path:
            self.open_run_folder(path)

    def open_run_folder(self, path: str | Path) -> Task | None:
        """Read a finished run folder in a worker thread and show its results (no inputs to edit)."""
        return self._replace_session(path, run_folder_results, lambda out: self._show_run_folder(path, *out))

    def _show_run_folder(self, path, formula: str, records: list, meta: dict) -> None:
        self.window.formula_bar.edit.setText(formula)
        self.session.show_run_folder(path, formula, records, meta)
        self.window.setWindowTitle(self.session.title())
        self._say(f"{formula}: {len(records)} structures from {path} (results only: Predict brings candidates, "
                  "templates and maps to run again)")

    def ask_open_screen(self) -> None:
        path = QFileDialog.getExistingDirectory(self.window, "Open screening folder (alphacrystal screen --out)")
        if path:
            self.open_screen(path)

    def open_screen(self, path: str | Path) -> ScreeningTable | None:
        """Show a screen's table; double-clicking a formula opens its run folder here."""
        try:
            rows = core.read_screen_table(path)
        except core.AlphaCrystalError as exc:
            self.window.show_error(str(exc))
            return None
        self.screening_table = ScreeningTable(path, rows, self.window)
        self.screening_table.openRequested.connect(self.open_run_folder)
        self.screening_table.show()
        return self.screening_table

    # ------------------------------------------------------------------ export
    def ask_export(self, selected: bool) -> None:
        folder = QFileDialog.getExistingDirectory(self.window, "Export to folder")
        if folder:
            self.export(folder, selected)

    def export(self, folder: str | Path, selected: bool = True) -> Task | None:
        """Write the session's results (the selected one or all) under the formula they were computed for."""
        w = self.window
        index = None
        if selected:
            items = w.results.selectedItems()
            index = int(items[0].data(Qt.ItemDataRole.UserRole)) if items else -1
        try:
            records, formula = self.session.run.export_selection(index)
        except SessionError as exc:
            w.show_error(str(exc))
            return None
        meta = None if selected or self.session.run.results is None else self.session.run.results.meta
        return w.start(export_records, records, str(folder), formula, summary=not selected, meta=meta, busy=False,
                       on_success=lambda out: self._exported(out, formula, folder, len(records)))

    def _exported(self, out: tuple[list[Path], list[str]], formula: str, folder: str | Path, n: int) -> None:
        paths, notes = out
        summary = any(Path(p).name == core.SUMMARY_CSV for p in paths)
        self._say(f"Exported {n} {formula} structure{'s' if n != 1 else ''} (CIF, POSCAR, VASP inputs"
                  + (f", {core.SUMMARY_CSV} and {core.SUMMARY_JSON}" if summary else "") + f") to {folder}"
                  + "".join(f"; {note}" for note in notes))

    def ask_png(self) -> None:
        """Save the 3D view as a PNG at a chosen resolution and background."""
        w = self.window
        path, _ = QFileDialog.getSaveFileName(w, "Save 3D view", "structure.png", "PNG images (*.png)")
        if not path:
            return
        chosen = ask_png_options(w, tuple(w.view3d.canvas.physical_size))
        if chosen is not None:
            written = w.view3d.render_png(path, scale=chosen[0], transparent=chosen[1])
            self._say(f"Saved {written}")
