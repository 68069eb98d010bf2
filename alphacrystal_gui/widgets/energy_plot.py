"""Energy of every relaxed result against its rank; click a point to show that structure."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QVBoxLayout, QWidget

from core import energies_above_lowest

EMPTY_RANGE = ((0.5, 5.5), (0.0, 100.0))
"""(rank, meV/atom) axes of the plot without results (no previous run's axes left behind)."""
TOP_MEV = 500.0
"""meV/atom above the best: results higher than this (broken structures reach 10,000) are drawn
at this height as up-triangles, so that they do not flatten the ones that matter."""


RANK_LABELS = 10
"""At most about this many labelled ranks along the x axis."""


class EnergyPlot(QWidget):
    """Scatter of energy above the lowest (meV/atom) against rank; emits ``resultClicked(index)``."""

    resultClicked = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plot = pg.PlotWidget(background="w")
        self.plot.setLabel("bottom", "rank")
        # short, and a point smaller than the ticks: a 120-px axis showed "ΔE (meV/atom" (a new user's 1366 x 768 screen)
        self.plot.setLabel("left", "ΔE (meV/atom)", **{"font-size": "8pt"})
        self.plot.getAxis("left").enableAutoSIPrefix(False)  # meV/atom stays meV/atom at any range
        self.plot.showGrid(x=True, y=True, alpha=0.3)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.setToolTip("energy of each relaxed result above the lowest (blue: CMCrystal, orange: template; "
                             f"a triangle at the top: more than {TOP_MEV:.0f} meV/atom above it); click a point to show "
                             "that structure")
        self.scatter = pg.ScatterPlotItem(size=9, pen=pg.mkPen("k", width=0.5), hoverable=True,
                                          tip=lambda x, y, data: data[1])
        self.plot.addItem(self.scatter)
        self.scatter.sigClicked.connect(self._clicked)
        self.indices: list[int] = []
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot)
        self.setMinimumHeight(120)
        self.set_records([])

    def set_records(self, records: list) -> None:
        """The results of a run (:class:`core.ResultRecord`; those without an energy are left out)."""
        every = energies_above_lowest(records)
        self.indices = [k for k, e in enumerate(every) if e is not None]
        if not self.indices:  # no run's axes left behind either
            self.scatter.setData([], [])
            self.plot.setXRange(*EMPTY_RANGE[0], padding=0)
            self.plot.setYRange(*EMPTY_RANGE[1], padding=0)
            return
        ranks = np.array([records[k].rank for k in self.indices], dtype=float)
        above = np.array([every[k] for k in self.indices], dtype=float)
        # blue: CMCrystal, orange: a template
        brushes = [pg.mkBrush("#1f77b4" if records[k].route == "contact" else "#ff7f0e") for k in self.indices]
        off = above > TOP_MEV
        tips = [(k, f"rank {rank:.0f}: {e:.1f} meV/atom above the best" + (" (off the scale)" if o else ""))
                for k, rank, e, o in zip(self.indices, ranks, above, off)]
        self.scatter.setData(ranks, np.minimum(above, TOP_MEV), data=tips, brush=brushes,
                             symbol=["t1" if o else "o" for o in off])
        self.plot.setXRange(0.5, max(ranks) + 0.5, padding=0.02)
        # ranks are whole numbers: ticks at 1, 2, 3 ... (every k-th one labelled for long runs)
        self.plot.getAxis("bottom").setTickSpacing(major=max(1, int(np.ceil(max(ranks) / RANK_LABELS))), minor=1)
        self.plot.setYRange(0.0, min(float(above.max()), TOP_MEV) or 1.0, padding=0.05)

    def _clicked(self, _item, spots, _event=None) -> None:
        if len(spots):
            self.resultClicked.emit(int(spots[0].data()[0]))
