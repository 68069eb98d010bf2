"""Run panel: GA settings, Start / Cancel, a live fitness plot and a progress bar with ETA.

Generation events arrive far faster than a screen refreshes (thousands per
second from several worker processes); they are buffered and the plot is
redrawn by a 5 Hz timer with fixed axis ranges, so the GUI thread spends a
few milliseconds per frame on it.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from alphacrystal_gui.widgets.labels import fitted
from alphacrystal_gui.widgets.ranking_options import RankingOptions
from core import (
    COUNT_RANGES,
    POTENTIALS,
    PipelineProgress,
    PredictionSettings,
    candidate_label,
    format_seconds,
    job_target,
    resolve_workers,
)

REDRAW_INTERVAL_MS = 200
"""Fitness curves and progress are drawn at most this often during a run."""

LEGEND_MIN_PLOT_PX = 170
"""Height (px) under which the fitness plot shows no legend, only curves (click one for its candidate)."""

LEGEND_ENTRIES = 6
"""Candidates named in the fitness legend (three rows of two): each more row took the curves' room
(a 420-px panel had no plot left at the seventh); the others' curves are drawn, unnamed, and a
click on any curve shows its candidate."""

PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#7f7f7f",
           "#bcbd22"]



RUN_TOOLTIP = "run the ticked candidates and templates: GA, relaxation, ranking (Ctrl+R)"
"""The Start button's tooltip (the window adds why it is greyed, when it is)."""

FITNESS_PLOT_MIN_HEIGHT_PX = 140
"""Shortest the fitness plot gets (px): with the ranking options unfolded on a short screen the Run
dock scrolls (it sits in a scroll area) instead of squashing the curves to an axis."""

SINGLE_POINT_PX = 7
"""Marker size of a GA run with a single point in the fitness plot (no line to draw)."""


class _LegendInLayout(pg.LegendItem):
    """A legend placed by its parent's layout: pyqtgraph's own resizes itself to its entries
    by moving to (0, 0) (it expects to float over a view box), which would show it over the
    plot's corner until the next layout pass."""

    def updateSize(self) -> None:
        self.updateGeometry()  # the new size hint reaches the plot's layout, which places it


class RunPanel(QWidget):
    """A view of the session's run settings, with Start / Cancel, progress and fitness curves.

    The panel holds no settings of its own: :meth:`show_settings` renders the session's
    :class:`PredictionSettings`, and an edit emits ``settingsEdited`` with the changed
    fields for the window to pass to ``Session.set_run_settings``."""

    settingsEdited = Signal(dict)
    """The user changed a control: ``PredictionSettings`` fields and their new values."""
    startRequested = Signal()
    cancelRequested = Signal()
    candidateClicked = Signal(str)
    """A fitness curve was clicked: the candidate key of its run (``sg136-z2``)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        d = PredictionSettings()
        self.population = self._spin("population", d.population)
        self.generations = self._spin("generations", d.generations)
        self.restarts = self._spin("restarts", d.restarts)
        self.assignments = self._spin("n_assignments", d.n_assignments)
        self.processes = self._spin("jobs", resolve_workers(d.jobs))
        self.relax = QCheckBox("Relax and rank with")
        self.relax.setChecked(True)
        self.potential = QComboBox()
        for name, potential in POTENTIALS.items():
            self.potential.addItem(potential.label, name)
        self.potential.setCurrentIndex(self.potential.findData(d.potential))
        self.potential.setToolTip("interatomic potential that relaxes and ranks the structures (docs/potentials.md)")
        self.ranking_options = RankingOptions(d)
        self.potential.currentIndexChanged.connect(
            lambda: self.ranking_options.exclude_potential(self.potential.currentData()))
        self.ranking_options.exclude_potential(self.potential.currentData())
        self.relax.toggled.connect(self.potential.setEnabled)
        self.relax.toggled.connect(self.ranking_options.setEnabled)
        # two columns of counts: three rows fewer than a form, for the fitness plot below them
        # (at 1366 x 768 it showed only fitness 0.5-1, without its generation axis)
        form = QGridLayout()
        counts = (("Population", self.population, "GA population per run"),
                  ("Generations", self.generations, "most GA generations per run"),
                  ("Restarts", self.restarts, "GA runs per Wyckoff assignment"),
                  ("Assignments", self.assignments, "Wyckoff assignments per candidate (best prior first)"),
                  ("Processes", self.processes, "worker processes of the GA and the relaxation"))
        for k, (text, box, tip) in enumerate(counts):
            label = QLabel(text)
            label.setBuddy(box)
            for widget in (label, box):
                widget.setToolTip(tip)
            form.addWidget(label, k // 2, 2 * (k % 2))
            form.addWidget(box, k // 2, 2 * (k % 2) + 1)
        form.setColumnStretch(1, 1)
        form.setColumnStretch(3, 1)
        relax = QHBoxLayout()
        relax.addWidget(self.relax)
        relax.addWidget(self.potential, 1)
        form.addLayout(relax, (len(counts) + 1) // 2, 0, 1, 4)
        self.start_button = QPushButton("Start reconstruction")
        self.start_button.setShortcut("Ctrl+R")
        self.start_button.setToolTip(RUN_TOOLTIP)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setShortcut("Esc")
        self.cancel_button.setToolTip("stop the run after the current GA generation; finished parts are kept (Esc)")
        self.cancel_button.setEnabled(False)
        self.start_button.setEnabled(False)
        buttons = QHBoxLayout()
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.cancel_button)
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.stage = fitted(QLabel("Idle"))
        # a fixed two-line height: text that wraps differently must not re-lay out the
        # dock (a relayout resizes and fully repaints the plot: measured 20-60 ms)
        self.stage.setFixedHeight(2 * self.stage.fontMetrics().lineSpacing() + 4)
        self.plot = pg.PlotWidget(background="w")
        self.plot.setMinimumHeight(FITNESS_PLOT_MIN_HEIGHT_PX)  # the dock scrolls rather than squash it
        self.plot.setLabel("bottom", "generation")
        self.plot.setLabel("left", "fitness")
        self.plot.setToolTip("GA fitness = Dice of the contact maps × fraction of valid bond lengths; "
                             "one colour per candidate, solid: best, dashed: population mean; click a curve for its "
                             "candidate")
        self.plot.setYRange(-0.04, 1.06, padding=0)  # 0 and 1 inside, their tick labels shown
        # three fixed ticks: pyqtgraph's automatic ones overlapped when the dock was short
        self.plot.getAxis("left").setTicks([[(0.0, "0"), (0.5, "0.5"), (1.0, "1")], [(0.25, ""), (0.75, "")]])
        # 0 and 1 sit a few px from the view's edges when the legend takes the plot's room: pyqtgraph
        # hid their labels as overflowing, leaving an axis that read "0.5" alone. Its allowance for
        # labels past the edge is ignored on an axis drawing a grid, so the y grid is two faint lines.
        self.plot.getAxis("left").setStyle(hideOverlappingLabels=False)
        for level in (0.5, 1.0):
            self.plot.addItem(pg.InfiniteLine(pos=level, angle=0, pen=pg.mkPen((0, 0, 0, 40)), movable=False))
        # fixed ranges: an auto-ranging axis re-lays out its ticks and labels on every
        # update (AxisItem.paint was the largest GUI-thread cost during a run)
        self.plot.getPlotItem().disableAutoRange()
        self.plot.setXRange(0, d.generations)
        self.plot.showGrid(x=True, y=False, alpha=0.2)
        self._legend_below_plot()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(form)
        layout.addWidget(self.ranking_options)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        layout.addWidget(self.stage)
        layout.addWidget(self.plot, 1)
        self.start_button.clicked.connect(self.startRequested)
        self.cancel_button.clicked.connect(self.cancelRequested)
        self._histories: Callable[[], dict[str, list[tuple[int, float, float]]]] = dict
        """Where the fitness histories live (the session's; :meth:`draw_histories_of`): the panel keeps no copy."""
        self._curves: dict[str, tuple[pg.PlotDataItem, pg.PlotDataItem]] = {}
        self._colours: dict[str, str] = {}
        self._changed: dict[str, None] = {}
        """Job ids with new generations, in the order they arrived (a dict, not a set: colours
        and the legend follow the session's histories' order, live and in a reopened project)."""
        self._dirty = False
        self._progress: PipelineProgress | None = None
        self.timer = QTimer(self)
        self.timer.setInterval(REDRAW_INTERVAL_MS)
        self.timer.timeout.connect(self.redraw)
        self._showing = False
        self._shown: dict = {}
        """What :meth:`show_settings` last showed, as :meth:`values` reads it: an edit sends only the
        fields that differ from it (every field was sent, so a session's automatic process count
        became a fixed one when the population changed)."""
        for box in (self.population, self.generations, self.restarts, self.assignments, self.processes):
            box.valueChanged.connect(self._edited)
        self.relax.toggled.connect(self._edited)
        self.potential.currentIndexChanged.connect(self._edited)
        self.ranking_options.edited.connect(self._edited)

    def _legend_below_plot(self) -> None:
        """The legend in its own row under the generation axis, in two columns, at most
        :data:`LEGEND_ENTRIES` entries: inside the plot it covered the curves (a run's runs at
        fitness 1 end where a corner legend sits). It stays the plot item's legend, so named
        curves join it."""
        item = self.plot.getPlotItem()
        legend = _LegendInLayout(labelTextSize="8pt", colCount=2, frame=False, verSpacing=-6)
        item.layout.addItem(legend, 4, 1)
        item.legend = legend
        self.plot.installEventFilter(self)

    def eventFilter(self, watched, event) -> bool:  # noqa: N802 - Qt override
        """A plot shorter than :data:`LEGEND_MIN_PLOT_PX` drops its legend (its rows left the curves a
        strip of 30 px on a 768-px screen); a click on a curve still names its candidate."""
        if watched is self.plot and event.type() == QEvent.Type.Resize:
            legend = self.plot.getPlotItem().legend
            room = event.size().height() >= LEGEND_MIN_PLOT_PX
            if legend is not None and legend.isVisible() != room:
                legend.setVisible(room)
                legend.setMaximumHeight(1e6 if room else 0)
        return super().eventFilter(watched, event)

    @staticmethod
    def _spin(setting: str, value: int) -> QSpinBox:
        """A spin box over the engine's range of ``setting`` (:data:`core.COUNT_RANGES`), so that any
        value the session holds (a project's, a run folder's) is shown as it is, never clipped."""
        box = QSpinBox()
        box.setRange(*COUNT_RANGES[setting])
        box.setValue(value)
        return box

    def values(self) -> dict:
        """The ``PredictionSettings`` fields the controls show."""
        return {"population": self.population.value(), "generations": self.generations.value(),
                "restarts": self.restarts.value(), "n_assignments": self.assignments.value(),
                "jobs": self.processes.value(), "relax": self.relax.isChecked(),
                "potential": self.potential.currentData(), **self.ranking_options.values()}

    def show_settings(self, settings: PredictionSettings) -> None:
        """Render ``settings`` (the session's) without emitting ``settingsEdited``."""
        self._showing = True
        try:
            self.population.setValue(settings.population)
            self.generations.setValue(settings.generations)
            self.restarts.setValue(settings.restarts)
            self.assignments.setValue(settings.n_assignments)
            self.processes.setValue(resolve_workers(settings.jobs))
            self.relax.setChecked(settings.relax)
            found = self.potential.findData(settings.potential)
            if found >= 0:
                self.potential.setCurrentIndex(found)
            self.ranking_options.apply(settings.to_dict())
        finally:
            self._showing = False
        self._shown = self.values()

    def _edited(self) -> None:
        if self._showing:
            return
        values = self.values()
        changed = {key: value for key, value in values.items() if key not in self._shown or self._shown[key] != value}
        self._shown = values
        if changed:
            self.settingsEdited.emit(changed)

    # run state ---------------------------------------------------------------
    def set_running(self, running: bool) -> None:
        self.start_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        if running:
            self.clear_plot()
            self.plot.setXRange(0, self.generations.value(), padding=0.02)
            self.progress.setValue(0)
            self.timer.start()
        else:
            self.timer.stop()
            self.redraw()
            self.fit_generations()

    def clear_run(self) -> None:
        """No run: no curves (the axis at the chosen generations), an empty bar, "Idle"."""
        self.timer.stop()
        self._progress = None
        self._dirty = False
        self.clear_plot()
        self.plot.setXRange(0, self.generations.value(), padding=0.02)
        self.progress.setRange(0, 100)
        self.progress.reset()  # no value, no text
        self.progress.setFormat("%p%")
        self.stage.setText("Idle")
        self.stage.setToolTip("")

    def fit_generations(self) -> None:
        """Fit the x-axis to the generations the runs reached (they stop early: patience, stall)."""
        last = max((points[-1][0] for points in self._histories().values() if points), default=0)
        if last:
            self.plot.setXRange(0, last, padding=0.02)

    def show_state(self, state: str, message: str) -> None:
        """The session's run state, in words: a busy bar while pools start, and after a
        cancel the bar keeps what was done instead of reading full."""
        if state == "starting":
            self.progress.setRange(0, 0)  # an indeterminate bar: alive, nothing counted yet
            self.stage.setText(message)
        else:
            self.progress.setRange(0, 100)
        if state in ("done", "cancelled", "failed"):
            self._progress = None  # no late progress over the final state; curves still to draw stay
            self._dirty = bool(self._changed)
            if state == "done":
                self.progress.setValue(100)
            self.progress.setFormat(state)
            self.stage.setText(self.stage.fontMetrics().elidedText(
                message, Qt.TextElideMode.ElideRight, max(50, self.stage.width() - 8)))
            self.stage.setToolTip(message)
        elif state == "cancelling":
            self.progress.setFormat("cancelling…")

    def draw_histories_of(self, histories: Callable[[], dict[str, list[tuple[int, float, float]]]]) -> None:
        """Draw the fitness histories ``histories()`` returns (job id -> [(generation, best,
        mean fitness)]), read at each redraw: the session's, never a copy."""
        self._histories = histories
        self.histories_replaced()

    def histories_replaced(self) -> None:
        """The histories were replaced (a reopened project): every curve is drawn again."""
        self.clear_plot()
        self._changed.update(dict.fromkeys(self._histories()))
        self._dirty = True
        self.redraw()
        self.fit_generations()

    def clear_plot(self) -> None:
        """Remove the curves (the histories are the session's: untouched)."""
        self._changed.clear()
        for best, mean in self._curves.values():
            self.plot.removeItem(best)
            self.plot.removeItem(mean)
        self._curves.clear()
        self._colours.clear()
        legend = self.plot.getPlotItem().legend
        if legend is not None:
            legend.clear()

    def generation_added(self, job_id: str) -> None:
        """A generation of ``job_id`` joined the histories: drawn at the next tick of the timer."""
        self._changed[job_id] = None
        self._dirty = True

    def _points(self, job_id: str) -> list[tuple[int, float, float]]:
        """The job's generations drawn: from generation 1 on, or the one evaluation of a run
        without free parameters (generation 0 only)."""
        history = self._histories().get(job_id, ())
        return [p for p in history if p[0] > 0] or list(history[:1])

    def redraw(self) -> None:
        """Draw the buffered generations (one colour per candidate; solid: best, dashed: mean)
        and the latest progress."""
        if not self._dirty:
            return
        self._dirty = False
        self._draw_progress()
        drawn = set()
        for job_id in self._changed:
            points = self._points(job_id)
            if not points:
                continue
            drawn.add(job_id)
            if job_id not in self._curves:
                group = self._group(job_id)
                if group not in self._colours:
                    self._colours[group] = PALETTE[len(self._colours) % len(PALETTE)]
                    named = candidate_label(group) if len(self._colours) <= LEGEND_ENTRIES else None
                else:
                    named = None
                colour = pg.mkColor(self._colours[group])
                faint = pg.mkColor(colour)
                faint.setAlpha(90)
                # no antialiasing and peak downsampling: dozens of 1000-point curves redraw in a few ms
                best = self.plot.plot(pen=pg.mkPen(colour, width=2), name=named, antialias=False)
                mean = self.plot.plot(pen=pg.mkPen(faint, width=1, style=pg.QtCore.Qt.PenStyle.DashLine),
                                      antialias=False)
                for curve in (best, mean):
                    curve.setDownsampling(auto=True, method="peak")
                    curve.setClipToView(True)
                best.setCurveClickable(True, width=6)
                best.sigClicked.connect(lambda *_, g=group: self.candidateClicked.emit(g))
                self._curves[job_id] = (best, mean)
            data = np.asarray(points, dtype=float)
            best, mean = self._curves[job_id]
            best.setData(data[:, 0], data[:, 1])
            mean.setData(data[:, 0], data[:, 2])
            single = "o" if len(points) == 1 else None  # one point draws no line: a marker shows it
            if best.opts["symbol"] != single:  # e.g. a run at fitness 1 from its first generation
                best.setSymbol(single)
                best.setSymbolSize(SINGLE_POINT_PX)
                best.setSymbolPen(None)
                best.setSymbolBrush(self._colours[self._group(job_id)])
        for group in {self._group(job_id) for job_id in drawn}:
            self._emphasise(group)
        self._changed.clear()

    @staticmethod
    def _group(job_id: str) -> str:
        """The candidate of a GA run (:func:`core.job_target`: ``sg136-z2-sg136-w0-r0`` -> ``sg136-z2``)."""
        return job_target(job_id)

    def _emphasise(self, group: str) -> None:
        """The candidate's leading run (highest best fitness so far) bold with its mean
        (dashed); its other runs faint and without mean curves."""
        jobs = [j for j in self._curves if self._group(j) == group]
        leader = max(jobs, key=lambda j: (self._points(j)[-1][1], -jobs.index(j)))
        colour = pg.mkColor(self._colours[group])
        faint = pg.mkColor(colour)
        faint.setAlpha(70)
        for job_id in jobs:
            best, mean = self._curves[job_id]
            lead = job_id == leader
            best.setPen(pg.mkPen(colour if lead else faint, width=3 if lead else 1))
            best.setZValue(1 if lead else 0)
            mean.setVisible(lead)

    def show_progress(self, p: PipelineProgress) -> None:
        """Keep the latest progress; while running, the 10 Hz timer draws it."""
        self._progress = p
        self._dirty = True
        if not self.timer.isActive():
            self._draw_progress()

    def _draw_progress(self) -> None:
        p = self._progress
        if p is None:
            return
        if self.progress.maximum() == 0:  # the first real progress after "starting"
            self.progress.setRange(0, 100)
        self._progress = None
        fraction = p.done / p.total if p.total else 1.0
        self.progress.setValue(int(100 * fraction))
        self.progress.setFormat(f"{p.stage}: {p.done}/{p.total}")
        eta = "" if p.eta_s is None or p.done >= p.total else f", about {format_seconds(p.eta_s)} left"
        message = self.stage.fontMetrics().elidedText(p.message or "", Qt.TextElideMode.ElideRight,
                                                      max(50, self.stage.width() - 8))
        self.stage.setText(f"{p.stage} — {format_seconds(p.elapsed_s)} elapsed{eta}"
                           + (f"\n{message}" if message else ""))
        self.stage.setToolTip(p.message or "")
