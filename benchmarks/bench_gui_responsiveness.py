"""Is the GUI event loop ever blocked during a run? (target: never more than 50 ms)

Usage (from the repository root; needs a display, e.g. ``xvfb-run -a``)::

    xvfb-run -a python benchmarks/bench_gui_responsiveness.py [--formula AgF2] [--generations 300]

A 5 ms QTimer records the time between its ticks while the window predicts
the candidates and the map, then runs reconstruction (2 processes) and CHGNet
relaxation with live fitness plots and 3D updates. Printed per phase: ticks,
longest gap, 99th percentile gap and the number of gaps over 50 ms.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--formula", default="AgF2")
    parser.add_argument("--generations", type=int, default=300)
    parser.add_argument("--processes", type=int, default=2)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    import tempfile

    import numpy as np
    from PySide6.QtCore import QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    from alphacrystal_gui.main_window import MainWindow

    app = QApplication.instance() or QApplication([])
    settings = QSettings(str(Path(tempfile.mkdtemp()) / "bench.ini"), QSettings.Format.IniFormat)
    window = MainWindow(settings)
    window.show()
    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(5)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))

    def measure(name: str, start_fn, rows: list) -> None:
        ticks.clear()
        timer.start()
        t0 = time.perf_counter()
        start_fn()
        while window._tasks or time.perf_counter() - t0 < 0.2:
            app.processEvents()
            time.sleep(0.001)
        timer.stop()
        gaps = np.diff(ticks) * 1000 if len(ticks) > 1 else np.zeros(1)
        rows.append((name, time.perf_counter() - t0, len(ticks), float(gaps.max()), float(np.percentile(gaps, 99)),
                     int((gaps > 50).sum())))

    rows: list = []
    window.formula_bar.edit.setText(args.formula)
    measure("predict candidates + map", window.formula_bar.predict_button.click, rows)
    window.run_panel.apply_settings({"generations": args.generations, "jobs": args.processes, "relax": True})
    measure("reconstruct + relax (live plots)", window.run_panel.start_button.click, rows)
    measure("select result, show map + 3D", lambda: window.show_result(0), rows)
    print(f"{'phase':<34}{'seconds':>8}{'ticks':>7}{'max gap ms':>12}{'p99 ms':>8}{'gaps>50ms':>10}")
    for name, seconds, n, worst, p99, over in rows:
        print(f"{name:<34}{seconds:>8.1f}{n:>7}{worst:>12.1f}{p99:>8.1f}{over:>10}")
    window.close()
    return 0


if __name__ == "__main__":
    import multiprocessing

    multiprocessing.freeze_support()
    from alphacrystal_gui.app import leave

    leave(main())
