"""Entry point of ``alphacrystal-gui``.

This is the first, thin window: a formula bar with live validation and a
structure viewer that shows a file's primitive-cell contact map. The full
application (prediction, map editor, live reconstruction, 3D view) builds on it.
"""

from __future__ import annotations

import multiprocessing
import sys
from collections.abc import Sequence

from alphacrystal_gui.main_window import MainWindow


def main(argv: Sequence[str] | None = None) -> int:
    multiprocessing.freeze_support()
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(list(argv or sys.argv))
    app.setApplicationName("AlphaCrystal Studio")
    app.setOrganizationName("AlphaCrystal")
    window = MainWindow()
    window.show()
    code = app.exec()
    return leave(code)


def leave(code: int) -> int:
    """End the process without Python's final garbage collection.

    After a session with the vispy canvas and worker threads, the interpreter's
    last collection at exit aborted in a C extension ("bool_dealloc") on this
    machine (PySide6 6.12, vispy 0.17); everything the user wants is written
    atomically before this point, so the process exits directly.
    """
    import os

    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    sys.exit(main())
