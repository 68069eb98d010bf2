"""Drive AlphaCrystal Studio through a real AgF2 session and save screenshots to docs/screenshots/.

Usage (from the repository root; needs a display, e.g. Xvfb)::

    xvfb-run -a -s "-screen 0 1600x1000x24" python packaging/screenshots.py [--generations 300] [--size 1560x940]

Steps: open the true AgF2 structure (mp-7715, when ../shared is present) as
the reference, predict AgF2 with Z = 2, run the reconstruction with CHGNet
relaxation, select the best result. Saved: ``main-window.png`` (the whole
window after the run, the best result selected), ``structure-3d.png`` (that
result), ``results-table.png`` (the results with their crystallography and the
energy plot), ``contact-map-editor.png`` (back on the input map) and
``structure-3d-polyhedra.png`` (rutile's TiO6 octahedra and a measured distance).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT.parent / "shared" / "data" / "benchmarks" / "alphacrystal_paper" / "mp-7715.cif"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    parser.add_argument("--generations", type=int, default=300)
    parser.add_argument("--size", default="1560x940", metavar="WxH",
                        help="window size in pixels (1280x720 or 1366x768 to check a laptop screen)")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from alphacrystal_gui.main_window import MainWindow

    app = QApplication.instance() or QApplication([])
    settings = QSettings(str(Path(tempfile.mkdtemp()) / "shots.ini"), QSettings.Format.IniFormat)
    window = MainWindow(settings)
    window.confirm_discard = lambda action: True  # a scripted session: nothing to save
    width, height = (int(v) for v in args.size.lower().split("x"))
    window.resize(width, height)
    window.show()

    def settle(seconds: float = 0.5) -> None:
        end = time.perf_counter() + seconds
        while window._tasks or time.perf_counter() < end:
            app.processEvents()
            time.sleep(0.01)

    if REFERENCE.exists():
        window.open_structure(REFERENCE)
        settle()
    window.formula_bar.edit.setText("AgF2")
    settle()
    index = window.formula_bar.z_box.findData(2)
    window.formula_bar.z_box.setCurrentIndex(index)
    window.formula_bar.predict_button.click()
    settle()
    window.session.set_run_settings(**{"generations": args.generations, "jobs": 2, "relax": True})
    window.run_panel.start_button.click()
    settle(1.0)
    window.results.selectRow(0)
    settle(1.0)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    window.grab().save(str(out / "main-window.png"))
    window.view3d.render_png(out / "structure-3d.png")
    window.results.parentWidget().grab().save(str(out / "results-table.png"))  # table, energy plot, discarded
    window.back_button.click()  # the editor's own shot: the input map, compared with the reference
    settle(0.5)
    window.editor.grab().save(str(out / "contact-map-editor.png"))
    polyhedra_shot(window, out / "structure-3d-polyhedra.png", settle)
    print(f"saved screenshots to {out}: {window.statusBar().currentMessage()}")
    for r in window.records[:5]:
        print(f"  #{r.rank} {r.symbol} -> {r.relaxed_symbol}  E {r.energy_per_atom} eV/atom  "
              f"match reference {r.match_reference}  Dice {r.dice}  relaxed Dice {r.relaxed_dice}")
    window.close()
    return 0


def polyhedra_shot(window, path: Path, settle) -> None:
    """Rutile TiO2 (the shipped example) in 2 x 2 x 1 cells with TiO6 octahedra and one Ti-O
    distance measured (two atoms clicked)."""
    import numpy as np

    from core import primitive_cell, read_structure

    view = window.view3d
    cell = primitive_cell(read_structure(ROOT / "resources" / "examples" / "TiO2_rutile.cif"))
    view.show_structure(cell, "rutile TiO2 (P4_2/mnm): TiO6 octahedra, one Ti-O distance")
    view.set_repeat((2, 2, 1))
    view.show_polyhedra("Ti")
    g = view.geometry
    ti = g["species"].index("Ti")
    oxygens = [k for k, el in enumerate(g["species"]) if el == "O"]
    nearest = min(oxygens, key=lambda k: float(np.linalg.norm(g["positions"][k] - g["positions"][ti])))
    view.add_pick(ti)
    view.add_pick(nearest)
    settle(0.5)  # the offscreen canvas renders on the next turn of the event loop
    view.grab().save(str(path))


if __name__ == "__main__":
    import multiprocessing

    multiprocessing.freeze_support()
    from alphacrystal_gui.app import leave

    leave(main())
