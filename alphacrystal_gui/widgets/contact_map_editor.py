"""Contact-map editor (pyqtgraph): click a cell to toggle a bond, threshold slider, undo/redo.

A thin view over :class:`core.contact.map_document.ContactMapDocument`: it draws
the document and forwards clicks and buttons to it. Colours: a bond is gold,
no bond light grey; with a reference structure open, bonds the reference lacks
are red and bonds it has but the map misses are blue. In "probabilities" view
the network's probabilities are drawn (viridis) with the thresholded bonds
outlined.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from alphacrystal_gui.widgets.labels import WrappedLabel
from core import DEFAULT_TOLERANCE, ContactMapDocument

CELL = 12  # pixels per map cell in the rendered image (1-pixel grid lines)
COLOURS = {
    "none": (236, 236, 236),
    "bond": (242, 193, 78),
    "extra": (214, 69, 65),
    "missing": (66, 133, 244),
    "grid": (255, 255, 255),
    "diagonal": (200, 200, 200),
    "edited": (40, 40, 40),
}


def render_map(matrix: np.ndarray, diff: np.ndarray | None = None, probabilities: np.ndarray | None = None,
               cell: int = CELL, edited: np.ndarray | None = None) -> np.ndarray:
    """RGBA image (n*cell, n*cell, 4) of a map, row i at the top (uint8); ``edited`` (n, n): pairs
    changed by hand, framed in dark grey so that the user sees what they changed."""
    n = matrix.shape[0]
    colour = np.empty((n, n, 3), dtype=np.uint8)
    if probabilities is not None:
        lut = pg.colormap.get("viridis").getLookupTable(0.0, 1.0, 256)[:, :3]
        colour[:] = lut[np.clip((probabilities * 255).astype(int), 0, 255)]
    else:
        colour[:] = COLOURS["none"]
        colour[matrix > 0] = COLOURS["bond"]
        if diff is not None:
            colour[diff > 0] = COLOURS["extra"]
            colour[diff < 0] = COLOURS["missing"]
    idx = np.arange(n)
    colour[idx, idx] = COLOURS["diagonal"]
    image = np.repeat(np.repeat(colour, cell, axis=0), cell, axis=1)
    rgba = np.concatenate([image, np.full(image.shape[:2] + (1,), 255, np.uint8)], axis=2)
    rgba[::cell, :, :3] = COLOURS["grid"]
    rgba[:, ::cell, :3] = COLOURS["grid"]
    if probabilities is not None:  # frame the current map's bonds in the Map view's bond colour
        _frame(rgba, matrix > 0, cell, COLOURS["bond"])  # (white read as a smaller square, not a frame)
    if edited is not None:
        _frame(rgba, edited, cell, COLOURS["edited"])
    return rgba


def _frame(rgba: np.ndarray, cells: np.ndarray, cell: int, colour: tuple[int, int, int]) -> None:
    """Draw a one-pixel frame inside each cell of the (n, n) mask ``cells``."""
    for i, j in zip(*np.nonzero(cells)):
        y, x = i * cell, j * cell
        rgba[y + 1 : y + cell, x + 1, :3] = colour
        rgba[y + 1 : y + cell, x + cell - 1, :3] = colour
        rgba[y + 1, x + 1 : x + cell, :3] = colour
        rgba[y + cell - 1, x + 1 : x + cell, :3] = colour


def _probability_scale(steps: int = 11) -> str:
    """A colour bar as rich text: viridis swatches from p = 0 to 1 (the Probabilities view's scale)."""
    lut = pg.colormap.get("viridis").getLookupTable(0.0, 1.0, steps)[:, :3]
    swatches = "".join(f"<span style='background-color:rgb({r},{g},{b})'>&nbsp;&nbsp;&nbsp;</span>"
                       for r, g, b in lut)
    return f"p = 0 {swatches} 1"


_PROBABILITY_SCALE = _probability_scale()


class ContactMapEditor(QWidget):
    """The L x L map with labelled axes, view switch, threshold slider and edit buttons."""

    cellToggled = Signal(int, int)

    def __init__(self, document: ContactMapDocument, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document = document
        pg.setConfigOptions(imageAxisOrder="row-major", antialias=True)
        self.plot = pg.PlotWidget(background="w")
        self.plot.setAspectLocked(True)
        self.plot.invertY(True)
        self.plot.setMenuEnabled(False)
        self.plot.hideButtons()
        self.plot.getPlotItem().getViewBox().setMouseEnabled(x=False, y=False)
        for name in ("left", "bottom"):
            axis = self.plot.getAxis(name)
            axis.setPen(pg.mkPen("#555"))
            axis.setTextPen(pg.mkPen("#222"))
        self.image = pg.ImageItem()
        self.plot.addItem(self.image)
        self.plot.scene().sigMouseClicked.connect(self._clicked)
        self.plot.scene().sigMouseMoved.connect(self._hovered)

        self.view = QComboBox()
        self.view.addItems(["Map", "Probabilities"])
        self.threshold = QSlider(Qt.Orientation.Horizontal)
        self.threshold.setRange(5, 95)
        self.threshold.setValue(50)
        self.threshold_label = QLabel("threshold 0.50")
        self.undo_button = QPushButton("Undo")
        self.redo_button = QPushButton("Redo")
        self.reset_button = QPushButton("Reset to prediction")
        self.hover = WrappedLabel(" ")
        self.hover.setToolTip("the pair under the mouse: bond, the network's probability, the reference's "
                              "bond and distance")
        self.scale = QLabel(_PROBABILITY_SCALE)
        self.scale.setToolTip("colour scale of the Probabilities view (the bonds of the current map, hand edits included, are framed in the bond colour; pairs edited by hand in dark grey)")
        self.scale.setVisible(False)
        self.info = WrappedLabel()
        self.info.setWordWrap(True)
        self.info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        controls = QHBoxLayout()
        controls.addWidget(QLabel("View:"))
        controls.addWidget(self.view)
        controls.addWidget(self.threshold_label)
        controls.addWidget(self.threshold, 1)
        buttons = QHBoxLayout()
        for b in (self.undo_button, self.redo_button, self.reset_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(controls)
        layout.addWidget(self.plot, 1)
        layout.addWidget(self.scale)
        layout.addWidget(self.hover)
        layout.addLayout(buttons)
        layout.addWidget(self.info)

        self.view.currentIndexChanged.connect(lambda _: self.refresh())
        self.threshold.valueChanged.connect(self._threshold_moved)
        self.threshold.sliderReleased.connect(self._threshold_released)
        self.undo_button.clicked.connect(lambda: self._act(self.document.undo))
        self.redo_button.clicked.connect(lambda: self._act(self.document.redo))
        self.reset_button.clicked.connect(lambda: self._act(self.document.reset))
        self._notice = ""
        """What the last re-thresholding replaced, shown on the info line until the next edit."""
        self.read_only = False
        self.document.connect(self.refresh)
        self.refresh()

    def set_document(self, document: ContactMapDocument, read_only: bool = False) -> None:
        """Show another document (a Z's input map, or a result's map with ``read_only``:
        clicks, threshold and edit buttons then do nothing)."""
        if document is not self.document:
            self.document.disconnect(self.refresh)
            self.document = document
            document.connect(self.refresh)
        self.read_only = read_only
        self._notice = ""
        self.refresh()

    # events ------------------------------------------------------------------
    def _threshold_moved(self, value: int) -> None:
        """The label follows the slider; a step by keyboard or wheel applies at once (a drag applies
        when released: re-thresholding at every pixel would flood the undo history)."""
        self.threshold_label.setText(f"threshold {value / 100:.2f}")
        if not self.threshold.isSliderDown():
            self._threshold_released()

    def _threshold_released(self) -> None:
        if self.read_only:
            return
        replaced = self.document.set_threshold(self.threshold.value() / 100)
        if replaced:
            self._notice = (f"threshold {self.threshold.value() / 100:.2f} replaced {replaced} hand "
                            f"edit{'s' if replaced != 1 else ''} (Undo brings them back)")
            self.refresh()

    def _act(self, step) -> None:
        """An edit button: the last re-thresholding notice goes."""
        self._notice = ""
        step()

    def cell_at(self, scene_pos: QPointF) -> tuple[int, int] | None:
        """(row, column) of the map cell under a scene position, or None outside the map."""
        point = self.plot.getPlotItem().getViewBox().mapSceneToView(scene_pos)
        i, j = int(np.floor(point.y())), int(np.floor(point.x()))
        if 0 <= i < self.document.n and 0 <= j < self.document.n:
            return i, j
        return None

    def _hovered(self, scene_pos) -> None:
        cell = self.cell_at(scene_pos)
        self.hover.setText(self.document.describe_pair(*cell) if cell is not None else " ")

    def _clicked(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton or self.view.currentIndex() != 0 or self.read_only:
            return
        cell = self.cell_at(event.scenePos())
        if cell is not None and self.document.toggle(*cell):
            self._notice = ""
            self.cellToggled.emit(*cell)

    # drawing -----------------------------------------------------------------
    def refresh(self) -> None:
        doc = self.document
        n = doc.n
        has_probs = doc.probabilities is not None
        self.threshold.setEnabled(has_probs and not self.read_only)
        if self.view.currentIndex() == 1 and not has_probs:
            self.view.setCurrentIndex(0)
        self.threshold.blockSignals(True)
        self.threshold.setValue(int(round(doc.threshold * 100)))
        self.threshold.blockSignals(False)
        self.threshold_label.setText(f"threshold {doc.threshold:.2f}")
        self.undo_button.setEnabled(doc.can_undo and not self.read_only)
        self.redo_button.setEnabled(doc.can_redo and not self.read_only)
        self.reset_button.setEnabled(has_probs and not doc.at_prediction and not self.read_only)
        if n == 0:
            self.image.clear()
            for side in ("left", "bottom"):  # no map, no atoms: no numbered axes either (they read -1.1 ... 1.1)
                self.plot.getAxis(side).setTicks([[]])
            self.info.setText("No contact map yet: type a formula and press Predict, or open a structure.")
            return
        probs = doc.probabilities if self.view.currentIndex() == 1 else None
        self.scale.setVisible(probs is not None)
        edited = doc.edited_cells() if doc.edited and not self.read_only else None
        self.image.setImage(render_map(doc.matrix, doc.diff(), probs, edited=edited), levels=(0, 255))
        self.image.setRect(QRectF(0, 0, n, n))
        ticks = [[(k + 0.5, lab) for k, lab in enumerate(doc.labels)]]
        self.plot.getAxis("left").setTicks(ticks)
        # along x the labels of 13-20 atoms overlap: every other one as a second tick level,
        # whose text pyqtgraph leaves out where it has no room (all are in the hover text)
        labelled = list(enumerate(doc.labels))
        self.plot.getAxis("bottom").setTicks(ticks if n <= 12 else
                                             [[(k + 0.5, lab) for k, lab in labelled[0::2]],
                                              [(k + 0.5, lab) for k, lab in labelled[1::2]]])
        self.plot.setRange(xRange=(0, n), yRange=(0, n), padding=0.02)
        degrees = doc.coordination()
        if doc.image_coordination is not None and len(doc.image_coordination) == n:
            text = (f"Contacts (r_i + r_j ± {DEFAULT_TOLERANCE} Å, covalent radii): CN over periodic images / "
                    "partners in the cell: " + ", ".join(
                        f"{lab} {cn}/{d}" for lab, cn, d in zip(doc.labels, doc.image_coordination, degrees)))
            if not doc.matrix.any() and not any(doc.image_coordination):
                text += ("  ·  all-metal: two metals are never in contact by the paper's rule, so the map is "
                         "empty by definition" if doc.all_metal() else
                         "  ·  no pair lies within its window: a bond longer than r_i + r_j + "
                         f"{DEFAULT_TOLERANCE} Å (a long ionic bond) is no contact by the paper's rule")
        else:
            text = "Partners in the cell: " + ", ".join(f"{lab} {d}" for lab, d in zip(doc.labels, degrees))
        bonds = int(doc.matrix.sum()) // 2
        text += f"  ·  {bonds} atom pair{'' if bonds == 1 else 's'} in contact"  # bonds over images: the CN line
        conflicts = doc.rule_conflicts()
        if conflicts:
            pairs = ", ".join(f"{doc.labels[i]}–{doc.labels[j]}" for i, j in conflicts[:3])
            more = f" and {len(conflicts) - 3} more" if len(conflicts) > 3 else ""
            text += (f"  ·  <span style='color:#b35c00'>warning: {pairs}{more}: two metals, which the contact rule "
                     "never bonds; no structure can have this bond, so CMCrystal cannot reach fitness 1</span>")
        if self.read_only:
            text += "  ·  view only"
        elif doc.edited:
            text += "  ·  edited by hand (framed in dark grey)"
        if self._notice and not self.read_only:
            text += f"  ·  <span style='color:#b35c00'>{self._notice}</span>"
        diff = doc.diff()
        if diff is not None:
            text += (f"  ·  vs reference: {int((diff > 0).sum()) // 2} extra (red), "
                     f"{int((diff < 0).sum()) // 2} missing (blue)")
        self.info.setText(text)
