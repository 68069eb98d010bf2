"""Energy of every relaxed result against its rank; click a point to show that structure."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QVBoxLayout, QWidget

EMPTY_RANGE = ((0.5, 5.5), (0.0, 100.0))
"""(rank, meV/atom) axes of the plot without results (no previous run's axes left behind)."""


class EnergyPlot(QWidget):
    """Scatter of energy above the lowest (meV/atom) against rank; emits ``resultClicked(index)``."""

    resultClicked = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plot = pg.PlotWidget(background="w")
        self.plot.setLabel("bottom", "rank")
        self.plot.setLabel("left", "E − E(best) (meV/atom)")
        self.plot.showGrid(x=True, y=True, alpha=0.3)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.setToolTip("energy of each relaxed result above the lowest (blue: CMCrystal, orange: template); "
                             "click a point to show that structure")
        self.scatter = pg.ScatterPlotItem(size=9, pen=pg.mkPen("k", width=0.5), hoverable=True,
                                          tip="rank {x:.0f}: {y:.1f} meV/atom above the best".format)
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
        points = [(k, r.rank, r.energy_per_atom) for k, r in enumerate(records) if r.energy_per_atom is not None]
        self.indices = [k for k, _, _ in points]
        if not points:  # no run's axes left behind either
            self.scatter.setData([], [])
            self.plot.setXRange(*EMPTY_RANGE[0], padding=0)
            self.plot.setYRange(*EMPTY_RANGE[1], padding=0)
            return
        self.plot.enableAutoRange(axis="y")
        ranks = np.array([p[1] for p in points], dtype=float)
        energies = np.array([p[2] for p in points], dtype=float)
        above = 1000.0 * (energies - energies.min())
        # blue: CMCrystal, orange: a template
        brushes = [pg.mkBrush("#1f77b4" if records[k].route == "contact" else "#ff7f0e") for k in self.indices]
        self.scatter.setData(ranks, above, data=self.indices, brush=brushes)
        self.plot.setXRange(0.5, max(ranks) + 0.5, padding=0.02)

    def _clicked(self, _item, spots, _event=None) -> None:
        if len(spots):
            self.resultClicked.emit(int(spots[0].data()))
