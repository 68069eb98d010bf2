"""Entry point of ``alphacrystal-gui`` (and of the packaged app).

``alphacrystal-gui [FILE]`` opens the main window (a CIF/POSCAR or an
``.acproj`` project given on the command line is opened). ``--smoke`` checks
an installation end to end without a user: it opens the window, predicts the
candidates and contact map of NaCl, runs a tiny reconstruction and CHGNet
relaxation on the spawn process pools, writes a CIF to a temporary folder and
exits 0 (1 on any failure).
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path


def main(argv: Sequence[str] | None = None) -> int:
    multiprocessing.freeze_support()  # first: a frozen spawn worker must not start a GUI
    parser = argparse.ArgumentParser(prog="alphacrystal-gui", description="AlphaCrystal Studio")
    parser.add_argument("file", nargs="?", help="structure file or .acproj project to open")
    parser.add_argument("--smoke", action="store_true", help="run a short end-to-end check and exit")
    args = parser.parse_args(list(argv) if argv is not None else sys.argv[1:])
    from PySide6.QtWidgets import QApplication

    from alphacrystal_gui.gui_thread_gc import collect_in_gui_thread
    from alphacrystal_gui.main_window import MainWindow
    from core import PROJECT_SUFFIX, ignore_library_housekeeping

    ignore_library_housekeeping()

    app = QApplication.instance() or QApplication([sys.argv[0]])
    app.setApplicationName("AlphaCrystal Studio")
    app.setOrganizationName("AlphaCrystal")
    if args.smoke:
        return leave(smoke(app))
    from alphacrystal_gui.engine_process import EngineProcess

    window = MainWindow(engine=EngineProcess())
    window.show()
    freeze_start_up_objects()
    collector = collect_in_gui_thread()  # noqa: F841 (lives as long as the event loop)
    window.warm_up()
    if args.file:
        if args.file.endswith(PROJECT_SUFFIX):
            window.open_project(args.file)
        else:
            window.open_structure(args.file)
    code = app.exec()
    return leave(code)


def smoke(app, formula: str = "NaCl", timeout_s: float = 1200.0) -> int:
    """Predict, reconstruct (process pool) and export one CIF without a user; 0 when all worked.
    Its temporary folder (settings, export) is removed at the end. ``timeout_s`` bounds each
    step: generous, because a step waits for a state, and a machine busy with other work
    (a CI runner, benchmarks) made the 20-s run take over 300 s."""
    with tempfile.TemporaryDirectory(prefix="alphacrystal-smoke-") as folder:
        return _smoke(app, Path(folder), formula, timeout_s)


def unresolved_public_names() -> list[str]:
    """Every name of ``core.__all__`` that does not load, with its error. The lazy names of
    ``core/__init__.py`` are imported by module name at first use, which PyInstaller's
    analysis cannot see: a frozen app missing one of their modules fails only when a user
    reaches it, so the smoke run loads them all first."""
    import core

    missing = []
    for name in core.__all__:
        try:
            getattr(core, name)
        except Exception as error:  # noqa: BLE001 - reported, whatever the cause
            missing.append(f"{name}: {type(error).__name__}: {error}")
    return missing


def _smoke(app, folder: Path, formula: str, timeout_s: float) -> int:
    from PySide6.QtCore import QSettings

    missing = unresolved_public_names()
    if missing:
        return _fail("public API", ["; ".join(missing)])
    import core

    print(f"smoke: all {len(core.__all__)} public names of core load", flush=True)

    from alphacrystal_gui.engine_process import EngineProcess
    from alphacrystal_gui.gui_thread_gc import collect_in_gui_thread
    from alphacrystal_gui.main_window import MainWindow

    window = MainWindow(QSettings(str(folder / "smoke.ini"), QSettings.Format.IniFormat), engine=EngineProcess())
    window.show()
    freeze_start_up_objects()
    collector = collect_in_gui_thread()  # noqa: F841 (lives as long as the smoke run)
    errors: list[str] = []
    window.show_error = lambda message, details="": errors.append(message)  # no modal dialog

    def wait(done) -> bool:
        end = time.monotonic() + timeout_s
        while not done() and time.monotonic() < end:
            app.processEvents()
            time.sleep(0.01)
        return done()

    window.formula_bar.edit.setText(formula)
    window.formula_bar.predict_button.click()
    if not wait(lambda: not window._tasks) or window.prediction is None:
        return _fail("prediction", errors)
    print(f"smoke: {len(window.candidates.candidates())} candidates, contact map of "
          f"{len(window.prediction.species)} atoms", flush=True)
    window.session.set_run_settings(**{"population": 20, "generations": 20, "n_assignments": 1, "jobs": 2,
                                     "relax": True})
    window.run_panel.start_button.click()
    if not wait(lambda: not window._tasks) or not window.records:
        return _fail("reconstruction", errors)
    window.results.selectRow(0)
    window.export(folder / "export", selected=True)
    if not wait(lambda: not window._tasks):
        return _fail("export", errors)
    cifs = sorted((folder / "export").glob("*/*.cif"))
    if not cifs or errors:
        return _fail("export", errors)
    first = window.records[0]
    energy = first.energy_per_atom
    if energy is None:
        return _fail("CHGNet relaxation", errors)
    second = first.second_energy_per_atom
    if len(window.records) > 1 and second is None:  # the default re-ranking needs SevenNet-0 in the bundle
        return _fail("SevenNet-0 re-ranking", errors or [first.rank_reason])
    if first.stability is None or first.e_above_hull_meV is None:  # the reference phases must be in the bundle
        return _fail("energy above the hull", errors or ["no result has one: are the reference phases "
                                                          "(resources/reference_phases_chgnet.npz) in the bundle?"])
    print(f"smoke: #1 is {first.stability}, {first.e_above_hull_meV:+.0f} meV/atom "
          f"against the hull of the known phases ({first.decomposition})", flush=True)
    print(f"smoke: {len(window.records)} structures, best {energy:.4f} eV/atom (CHGNet)"
          + (f", {second:.4f} eV/atom (SevenNet-0)" if second is not None else "") + f"; wrote {cifs[0]}",
          flush=True)
    window.confirm_discard = lambda action: True  # a scripted session: nothing to save
    window.close()
    return 0


def _fail(step: str, errors: list[str]) -> int:
    print(f"smoke: {step} failed" + (f": {errors[-1]}" if errors else ""), file=sys.stderr, flush=True)
    return 1


def freeze_start_up_objects() -> None:
    """Collect garbage once, then leave every object alive now out of later collections.

    After start-up the window's process holds a few hundred thousand objects
    (Qt wrappers, pyqtgraph, vispy, numpy, pymatgen), and each of Python's full
    (generation 2) collections traverses all of them: one stopped the event loop
    for 215 ms during a 44-s run (``benchmarks/bench_gui_responsiveness.py``).
    These objects live for the whole session anyway; ``gc.freeze`` moves them to
    a permanent generation, so later collections traverse only what the session
    created since.
    """
    import gc

    gc.collect()
    gc.freeze()


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
