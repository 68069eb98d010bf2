"""The convex hull of the formula's chemical system with the results on it (a view of
:class:`core.HullPicture`): formation energy against composition for a binary,
the Gibbs triangle for a ternary. Hover a point for its name; click a result to select it."""

from __future__ import annotations

import math
import textwrap

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QVBoxLayout, QWidget

from core import whole_mev

STABLE_BRUSH, KNOWN_BRUSH, RESULT_BRUSH = "#202020", "#b0b0b0", "#d62728"
"""Stable known phases, known phases above the hull, this run's results."""
TOP_EV = 0.5
"""eV/atom of formation energy: results above it (broken structures reach +10) are drawn at this
height as up-triangles, so that the hull keeps the plot's height (binary plot)."""


MESSAGE_WIDTH_CHARS = 34
"""A message in place of the plot is wrapped to lines of this many characters (the plot is about
300 px wide at the window's default size; a one-line message was cut at both ends)."""


class HullPlot(QWidget):
    """Draws a :class:`core.HullPicture` (or says why there is none); emits
    ``resultClicked(index)`` with the result's index into the rows.

    Every item is added to the plot once and then only updated (``setData``, visibility):
    removing a graphics item goes through ``setParentItem(None)``, and with PySide6 each such
    call lost a reference to ``None``; redrawn on every change of the results, the plot
    brought ``None``'s count to zero and crashed the interpreter at exit."""

    resultClicked = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plot = pg.PlotWidget(background="w")
        self.plot.setMouseEnabled(x=False, y=False)
        self.message = pg.TextItem("", color="#555555", anchor=(0.5, 0.5))
        self.frame = pg.PlotDataItem(pen=pg.mkPen("#808080", width=1))  # the Gibbs triangle
        self.lines = pg.PlotDataItem(pen=pg.mkPen("#505050", width=1.2), connect="pairs")  # hull, tie lines
        self.known = pg.ScatterPlotItem(size=8, pen=pg.mkPen("k", width=0.5), hoverable=True,
                                        tip=lambda x, y, data: data)
        self.results = pg.ScatterPlotItem(size=13, symbol="star", pen=pg.mkPen("k", width=0.5),
                                          brush=pg.mkBrush(RESULT_BRUSH), hoverable=True,
                                          tip=lambda x, y, data: data[1])
        self.corners = [pg.TextItem("", color="k", anchor=anchor) for anchor in ((1, 0), (0, 0), (0.5, 1))]
        for item in (self.frame, self.lines, self.known, self.results, self.message, *self.corners):
            self.plot.addItem(item)
        self.results.sigClicked.connect(self._clicked)
        self.picture = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot)
        self.setMinimumHeight(120)
        self.show_picture(None, "no results yet")

    def show_picture(self, picture, why: str = "") -> None:
        """Draw ``picture`` (a ``HullPicture`` or None, then ``why`` is shown)."""
        self.picture = picture
        if picture is None or not picture.drawable:
            self._say(why if picture is None else (
                f"the hull of a {len(picture.elements)}-element system cannot be drawn here; "
                "E_hull and the decomposition are in the table"))
            return
        self.message.setVisible(False)
        if len(picture.elements) == 2:
            self._binary(picture)
        else:
            self._ternary(picture)

    def _say(self, text: str) -> None:
        for item in (self.frame, self.lines, self.known, self.results):
            item.setData([], [])
        for corner in self.corners:
            corner.setVisible(False)
        self._axes(False)
        self.plot.setXRange(0, 1, padding=0)
        self.plot.setYRange(0, 1, padding=0)
        self.message.setText(textwrap.fill(text, MESSAGE_WIDTH_CHARS))  # centred in a narrow plot: never cut
        self.message.setPos(0.5, 0.5)
        self.message.setVisible(True)
        self.plot.setToolTip(text)

    def _axes(self, shown: bool) -> None:
        for side in ("left", "bottom"):
            self.plot.getPlotItem().showAxis(side, shown)

    def _binary(self, picture) -> None:
        a, b = picture.elements
        self._axes(True)
        self.plot.setLabel("bottom", f"x in {a}(1-x){b}x")
        self.plot.setLabel("left", "E_f (eV/atom)", **{"font-size": "8pt"})  # short and small: a 120-px axis shows it whole
        self.plot.getAxis("left").enableAutoSIPrefix(False)  # no "(m)" scaling of eV/atom
        stable = sorted((p for p in picture.phases if p["stable"]), key=lambda p: p["fractions"][1])
        xs = [p["fractions"][1] for p in stable]
        ys = [p["formation_energy"] for p in stable]
        self.frame.setData([], [])
        self.lines.setData(np.repeat(xs, 2)[1:-1], np.repeat(ys, 2)[1:-1])  # consecutive stable phases joined
        for corner in self.corners:
            corner.setVisible(False)
        self._points([(p["fractions"][1], p["formation_energy"]) for p in picture.phases], picture)
        self.plot.setToolTip(f"Convex hull of {a}-{b}: known phases (black on the hull, grey above it) and this "
                             f"run's results (red stars; a triangle at the top: formation energy above {TOP_EV} "
                             "eV/atom); hover a point for its name, click a star to show it")
        heights = [p["formation_energy"] for p in picture.phases] + [
            min(m["formation_energy"], TOP_EV) for m in picture.predictions]
        self.plot.setXRange(0, 1, padding=0.04)
        self.plot.setYRange(min(heights + [0.0]), max(heights + [0.0]), padding=0.08)

    def _ternary(self, picture) -> None:
        def xy(fractions) -> tuple[float, float]:  # Gibbs triangle: a at (0, 0), b at (1, 0), c on top
            return fractions[1] + fractions[2] / 2, fractions[2] * math.sqrt(3) / 2

        self._axes(False)
        corners = [xy((1, 0, 0)), xy((0, 1, 0)), xy((0, 0, 1))]
        self.frame.setData([p[0] for p in corners + corners[:1]], [p[1] for p in corners + corners[:1]])
        where = {p["name"]: xy(p["fractions"]) for p in picture.phases}
        ends = [where[name] for edge in picture.edges if all(n in where for n in edge) for name in edge]
        self.lines.setData([x for x, _ in ends], [y for _, y in ends])
        for label, name, (x, y) in zip(self.corners, picture.elements, corners):
            label.setText(name)
            label.setPos(x, y)
            label.setVisible(True)
        self._points([xy(p["fractions"]) for p in picture.phases], picture,
                     [xy(p["fractions"]) for p in picture.predictions])
        a, b, c = picture.elements
        self.plot.setToolTip(f"Gibbs triangle of {a}-{b}-{c}: stable known phases (black) joined by the hull's tie "
                             "lines, known phases above the hull (grey), this run's results (red stars); hover a "
                             "point for its name, click a star to show it")
        self.plot.setXRange(-0.15, 1.15, padding=0)  # room for the corner labels
        self.plot.setYRange(-0.15, math.sqrt(3) / 2 + 0.15, padding=0)

    def _points(self, known_xy: list[tuple[float, float]], picture, result_xy=None) -> None:
        phases = picture.phases
        tips = [f"{p['label']}: {p['formation_energy']:.3f} eV/atom, "
                + ("on the hull" if p["stable"] else f"{whole_mev(1000 * p['e_above_hull'])} meV/atom above it")
                for p in phases]
        self.known.setData(np.array([x for x, _ in known_xy]), np.array([y for _, y in known_xy]), data=tips,
                           brush=[pg.mkBrush(STABLE_BRUSH if p["stable"] else KNOWN_BRUSH) for p in phases])
        marks = picture.predictions
        off = [result_xy is None and m["formation_energy"] > TOP_EV for m in marks]  # binary plot only
        if result_xy is None:
            result_xy = [(m["fractions"][1], min(m["formation_energy"], TOP_EV)) for m in marks]
        # E_hull in the engine's words, rounded as the table rounds it
        data = [(m["index"], f"{m['name']}: {m['formation_energy']:.3f} eV/atom, {m['hull_text']}"
                 + (" (off the scale)" if o else "")) for m, o in zip(marks, off)]
        self.results.setData(np.array([x for x, _ in result_xy]), np.array([y for _, y in result_xy]), data=data,
                             symbol=["t1" if o else "star" for o in off])

    def _clicked(self, _item, spots, _event=None) -> None:
        if len(spots):
            self.resultClicked.emit(int(spots[0].data()[0]))
