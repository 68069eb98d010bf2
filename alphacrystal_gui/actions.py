"""The window's menus and their actions (File, Edit, View, Help).

Each action sends an intent to the window; whether it is enabled comes from the session
(:meth:`WindowActions.update`), never from a flag of the window's own.
"""

from __future__ import annotations

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow

from alphacrystal_gui.widgets.run_panel import RUN_TOOLTIP
from core import Session


class WindowActions:
    """The menu bar of ``window`` (a :class:`alphacrystal_gui.main_window.MainWindow`) and its actions."""

    def __init__(self, window: QMainWindow) -> None:
        self.window = w = window
        file = w.menuBar().addMenu("&File")
        self.open_structure = QAction("&Open structure…", w, shortcut=QKeySequence.StandardKey.Open,
                                      triggered=w.references.ask)
        self.open_project = QAction("Open &project…", w, shortcut="Ctrl+Shift+O", triggered=w.files.ask_open_project)
        self.save = QAction("&Save project", w, shortcut=QKeySequence.StandardKey.Save,
                            triggered=lambda: w.save_project())
        self.save_as = QAction("Save project &as…", w, shortcut="Ctrl+Shift+S",
                               triggered=lambda: w.save_project(ask=True))
        self.open_screen = QAction("Open s&creening folder…", w, triggered=w.files.ask_open_screen,
                                   toolTip="A folder written by 'alphacrystal screen': its table of formulas")
        self.open_run = QAction("Open &run folder…", w, triggered=w.files.ask_open_run_folder,
                                toolTip="The results of a finished 'alphacrystal predict' run")
        self.recent_menu = file.addMenu("Open &recent")
        self.export_selected = QAction("&Export selected…", w, shortcut="Ctrl+E",
                                       triggered=lambda: w.files.ask_export(selected=True))
        self.export_all = QAction("Export &all…", w, triggered=lambda: w.files.ask_export(selected=False))
        for action in (self.open_structure, self.open_project, self.open_run, self.open_screen):
            file.addAction(action)
        file.addMenu(self.recent_menu)
        for action in (self.save, self.save_as, self.export_selected, self.export_all):
            file.addAction(action)
        file.addSeparator()
        file.addAction(QAction("&Quit", w, shortcut=QKeySequence.StandardKey.Quit, triggered=w.close))
        edit = w.menuBar().addMenu("&Edit")
        self.undo = QAction("&Undo map edit", w, shortcut=QKeySequence("Ctrl+Z"),
                            triggered=lambda: w._edit_input_map("undo"))
        self.redo = QAction("&Redo map edit", w, shortcut=QKeySequence("Ctrl+Shift+Z"),
                            triggered=lambda: w._edit_input_map("redo"))
        edit.addAction(self.undo)
        edit.addAction(self.redo)
        edit.addAction(QAction("Re&set map to prediction", w, triggered=lambda: w._edit_input_map("reset")))
        edit.addSeparator()
        edit.addAction(QAction("&Preferences…", w, triggered=w.preferences))
        view = w.menuBar().addMenu("&View")
        view.addAction(QAction("Save 3D view as &PNG…", w, triggered=w.files.ask_png))
        view.addSeparator()
        for dock in w.docks:  # a panel closed with × comes back from here
            view.addAction(dock.toggleViewAction())
        help_menu = w.menuBar().addMenu("&Help")
        help_menu.addAction(QAction("&About AlphaCrystal Studio", w, triggered=w.about))

    def update(self, session: Session) -> None:
        """Enable what the session allows now: Run without a task going on and with something
        ticked; export with final results (a running run's provisional ones are not exported);
        undo/redo of the input map on view."""
        start = self.window.run_panel.start_button
        start.setEnabled(not session.busy_with and session.can_run)
        why = (f"wait for {session.busy_with} to finish, or cancel it" if session.busy_with else
               "" if session.can_run else "tick a candidate or a template to run (Predict lists them)")
        start.setToolTip(RUN_TOOLTIP + (f" — now: {why}" if why else ""))  # a greyed button says why
        final = bool(session.run.records) and not session.run.provisional
        self.export_selected.setEnabled(final)
        self.export_all.setEnabled(final)
        doc = session.inputs.document()
        editable = doc is not None and session.run.viewing is None
        self.undo.setEnabled(editable and doc.can_undo)
        self.redo.setEnabled(editable and doc.can_redo)

    def show_recent(self, paths: list[str]) -> None:
        """The *Open recent* menu: one entry per project path, newest first."""
        self.recent_menu.clear()
        for path in paths:
            self.recent_menu.addAction(QAction(path, self.window, triggered=lambda _=False, p=path:
                                               self.window.open_project(p)))
        self.recent_menu.setEnabled(bool(paths))
