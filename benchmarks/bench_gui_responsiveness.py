"""Is the GUI event loop ever blocked during a run? (target: never more than 50 ms)

Usage (from the repository root; needs a display, e.g. ``xvfb-run -a``)::

    xvfb-run -a python benchmarks/bench_gui_responsiveness.py [--formula AgF2] [--generations 300]

A 5 ms QTimer records the time between its ticks while the window loads its
models in the background (as the app does at start-up), predicts the
candidates and the map, then runs reconstruction (2 processes) and CHGNet
relaxation with live fitness plots and 3D updates. Printed per phase: ticks,
longest gap, 99th percentile gap and the number of gaps over 50 ms.

``--trace`` also times the GUI-thread handlers (queued worker events, plot
redraws, 3D scene updates, canvas paints) and attributes each gap over 50 ms
to the handlers that ran inside it; time no handler explains is the worker
thread holding the GIL or Qt's own work.
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
    parser.add_argument("--objects", action="store_true",
                        help="list the most common kinds of object the final full collection walks")
    parser.add_argument("--trace", action="store_true", help="attribute long gaps to GUI-thread handlers")
    parser.add_argument("--no-engine", action="store_true",
                        help="run the engine calls in worker threads of the GUI process (the app uses a helper process)")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    import tempfile

    import numpy as np
    from PySide6.QtCore import QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    from alphacrystal_gui.main_window import MainWindow

    spans: list[tuple[str, float, float]] = []
    if args.trace:
        _instrument(spans)
    app = QApplication.instance() or QApplication([])
    settings = QSettings(str(Path(tempfile.mkdtemp()) / "bench.ini"), QSettings.Format.IniFormat)
    from alphacrystal_gui.engine_process import EngineProcess

    window = MainWindow(settings, engine=None if args.no_engine else EngineProcess())
    window.show()
    import gc

    from alphacrystal_gui.app import freeze_start_up_objects

    n_objects = len(gc.get_objects())
    t_freeze = time.perf_counter()
    freeze_start_up_objects()  # as the app does after showing its window
    print(f"start-up: {n_objects} objects tracked by the garbage collector; collected and frozen in "
          f"{(time.perf_counter() - t_freeze) * 1000:.0f} ms")
    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(5)
    sched: list[tuple[int, int]] = []  # GUI thread's (CPU ns, run-queue wait ns) at each tick
    read_sched = _sched_reader() if args.trace else None

    def tick() -> None:
        ticks.append(time.perf_counter())
        if read_sched is not None:
            sched.append(read_sched())

    timer.timeout.connect(tick)

    def measure(name: str, start_fn, rows: list) -> None:
        ticks.clear()
        sched.clear()
        spans.clear()
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
        if args.trace:
            _attribute(name, ticks, spans, sched)

    rows: list = []
    if not args.no_engine:
        measure("start-up: models load (engine process)", window.warm_up, rows)
    window.formula_bar.edit.setText(args.formula)
    measure("predict candidates + map", window.formula_bar.predict_button.click, rows)
    window.session.set_run_settings(**{"generations": args.generations, "jobs": args.processes, "relax": True})
    measure("reconstruct + relax (live plots)", window.run_panel.start_button.click, rows)
    measure("select result, show map + 3D", lambda: window.views.show_result(0), rows)
    cancels = [_cancel_latency(app, window, "reconstruction", {"generations": 100_000, "jobs": args.processes,
                                                                "relax": True}),
               _cancel_latency(app, window, "relaxation", {"generations": 30, "jobs": args.processes,
                                                            "relax": True})]
    t_gc = time.perf_counter()
    gc.collect()  # the worst case of an automatic full collection during a session
    full_gc_ms = (time.perf_counter() - t_gc) * 1000
    print(f"{'phase':<34}{'seconds':>8}{'ticks':>7}{'max gap ms':>12}{'p99 ms':>8}{'gaps>50ms':>10}")
    for name, seconds, n, worst, p99, over in rows:
        print(f"{name:<34}{seconds:>8.1f}{n:>7}{worst:>12.1f}{p99:>8.1f}{over:>10}")
    print(f"a full garbage collection after these phases: {full_gc_ms:.1f} ms "
          f"({len(gc.get_objects())} objects not frozen)")
    if args.objects:
        from collections import Counter
        kinds = Counter(type(o).__module__ + "." + type(o).__qualname__ for o in gc.get_objects())
        for kind, n in kinds.most_common(12):
            print(f"  {n:>8}  {kind}")
    print(f"{'Cancel during':<34}{'cancel -> idle s':>17}{'  Start enabled after'}")
    for stage, seconds, usable in cancels:
        print(f"{stage:<34}{seconds:>17.2f}  {'yes' if usable else 'NO'}")
    window.confirm_discard = lambda action: True  # a scripted session: nothing to save
    window.close()
    return 0


def _cancel_latency(app, window, stage: str, settings: dict, timeout_s: float = 300.0) -> tuple[str, float, bool]:
    """Start a run, press Cancel once the pipeline reports ``stage``, and time how long
    until every worker thread has finished (target: within a second). Returns
    (stage, seconds, whether Start is enabled again); seconds is nan if the stage
    was never reached."""
    panel = window.run_panel
    window.session.set_run_settings(**settings)
    seen = {"stage": None}
    original = panel.show_progress

    def spy(p) -> None:
        seen["stage"] = p.stage
        original(p)

    panel.show_progress = spy  # looked up when the run starts
    try:
        panel.start_button.click()
        end = time.perf_counter() + timeout_s
        while seen["stage"] != stage and window._tasks and time.perf_counter() < end:
            app.processEvents()
            time.sleep(0.005)
        if seen["stage"] != stage or not window._tasks:
            while window._tasks:
                window.cancel()
                app.processEvents()
                time.sleep(0.01)
            return stage, float("nan"), panel.start_button.isEnabled()
        time.sleep(1.0)  # well inside the stage
        t = time.perf_counter()
        panel.cancel_button.click()
        while window._tasks:
            app.processEvents()
            time.sleep(0.001)
        return stage, time.perf_counter() - t, panel.start_button.isEnabled()
    finally:
        del panel.show_progress


def _instrument(spans: list) -> None:
    """Wrap GUI-thread handlers so that each call records (name, start, end)."""
    import pyqtgraph as pg
    from vispy import scene

    from alphacrystal_gui import workers
    from alphacrystal_gui.view3d.structure_view import StructureView
    from alphacrystal_gui.widgets.results_table import ResultsTable
    from alphacrystal_gui.widgets.run_panel import RunPanel

    def wrap(owner, attr: str, label):
        original = getattr(owner, attr)

        def timed(*a, **k):
            t = time.perf_counter()
            try:
                return original(*a, **k)
            finally:
                spans.append((label(a) if callable(label) else label, t, time.perf_counter()))

        setattr(owner, attr, timed)

    wrap(workers.Task, "_deliver", lambda a: f"deliver {a[1]}")
    wrap(RunPanel, "redraw", "fitness plot redraw")
    wrap(StructureView, "_draw", "3D scene update")
    wrap(ResultsTable, "set_records", "results table")
    wrap(scene.SceneCanvas, "on_draw", "3D canvas paint")
    from alphacrystal_gui.view3d.canvas_host import OffscreenCanvasWidget

    wrap(OffscreenCanvasWidget, "_render", "3D offscreen frame")
    wrap(pg.GraphicsView, "paintEvent", "plot paint")
    _trace_window_events(spans)
    _trace_garbage_collection(spans)


def _trace_window_events(spans: list) -> None:
    """Record the main window's repaints and layouts (Qt paints every widget of a window
    in one update request, then sends the image to the display)."""
    from PySide6.QtCore import QEvent

    from alphacrystal_gui.main_window import MainWindow

    labels = {QEvent.Type.UpdateRequest: "window repaint (all widgets)", QEvent.Type.LayoutRequest: "window layout"}
    original = MainWindow.event

    def event(self, e):
        label = labels.get(e.type())
        if label is None:
            return original(self, e)
        t = time.perf_counter()
        try:
            return original(self, e)
        finally:
            spans.append((label, t, time.perf_counter()))

    MainWindow.event = event


def _trace_garbage_collection(spans: list) -> None:
    """Record Python's cyclic garbage collections (any thread) as spans ``gc generation N``."""
    import gc

    started: dict[str, float] = {}

    def callback(phase: str, info: dict) -> None:
        if phase == "start":
            started["t"] = time.perf_counter()
        elif "t" in started:
            spans.append((f"gc generation {info['generation']}", started.pop("t"), time.perf_counter()))

    gc.callbacks.append(callback)


def _sched_reader():
    """A function returning the GUI thread's (CPU time, run-queue wait) in ns from Linux's
    ``/proc/thread-self/schedstat``, or None where it is unavailable. A gap in which the
    thread waited on the run queue was the OS giving the CPU to another process; one in
    which it neither ran nor waited was the thread blocked (the GIL, the X server)."""
    try:
        with open("/proc/thread-self/schedstat") as f:
            f.read()
    except OSError:
        return None

    def read() -> tuple[int, int]:
        with open("/proc/thread-self/schedstat") as f:
            cpu, wait, _ = f.read().split()
        return int(cpu), int(wait)

    return read


def _attribute(phase: str, ticks: list[float], spans: list, sched: list | None = None) -> None:
    import numpy as np

    if len(ticks) < 2:
        return
    t = np.asarray(ticks)
    totals: dict[str, list[float]] = {}
    unexplained = []
    for i, (a, b) in enumerate(zip(t[:-1], t[1:])):
        if (b - a) * 1000 <= 50:
            continue
        if sched and len(sched) == len(ticks):
            cpu = (sched[i + 1][0] - sched[i][0]) / 1e6
            wait = (sched[i + 1][1] - sched[i][1]) / 1e6
            print(f"  gap {(b - a) * 1000:6.1f} ms: GUI thread ran {cpu:5.1f} ms, waited for a CPU {wait:5.1f} ms, "
                  f"blocked {(b - a) * 1000 - cpu - wait:5.1f} ms")
        inside: dict[str, float] = {}
        for name, s, e in spans:
            overlap = min(b, e) - max(a, s)
            if overlap > 0:
                inside[name] = inside.get(name, 0.0) + overlap
        main = max(inside, key=inside.get) if inside else None
        if main is None or inside[main] < 0.5 * (b - a):
            unexplained.append((b - a) * 1000)
        else:
            totals.setdefault(main, []).append((b - a) * 1000)
    print(f"  {phase}: gaps over 50 ms by the handler that took most of the gap")
    for name, gaps in sorted(totals.items(), key=lambda kv: -len(kv[1])):
        print(f"    {name:<40}{len(gaps):>4} gaps, max {max(gaps):6.1f} ms")
    if unexplained:
        print(f"    {'no GUI handler (GIL held by a worker / Qt)':<40}{len(unexplained):>4} gaps, "
              f"max {max(unexplained):6.1f} ms")
    calls: dict[str, list[float]] = {}
    for name, s, e in spans:
        calls.setdefault(name, []).append((e - s) * 1000)
    for name, d in sorted(calls.items()):
        print(f"    handler {name:<32}{len(d):>5} calls, mean {np.mean(d):6.1f} ms, max {max(d):6.1f} ms")


if __name__ == "__main__":
    import multiprocessing

    multiprocessing.freeze_support()
    from alphacrystal_gui.app import leave

    leave(main())
