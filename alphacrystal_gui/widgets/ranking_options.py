"""The ranking options of the run panel: the second potential, the ranking, the symmetry prior,
the near-tie merge, the stability frame and the E_hull threshold, folded under a header that
names the current choice (every value one :class:`core.PredictionSettings` field).
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QVBoxLayout,
    QWidget,
)

from alphacrystal_gui.widgets.labels import FittedToolButton
from core import (
    DEFAULT_STABILITY_FRAME,
    OTHER_RANGES,
    POTENTIALS,
    RANKINGS,
    SECOND_TOP,
    STABILITY_FRAMES,
    PredictionSettings,
)

ENERGY_DECIMALS = 2
"""Decimals of the energies shown here (meV/atom). A value the session holds more finely is shown
rounded and never sent back rounded: the run panel sends only the fields the user edits."""


class RankingOptions(QWidget):
    """How the relaxed structures are ranked and placed on the hull: the second potential,
    the ranking, the near-tie merge, the stability frame and the E_hull threshold
    (the ``predict`` options of the same names; docs/ranking.md, docs/stability.md).

    Folded under a header button that names the current choice, so the fitness plot
    keeps its room; every value maps onto one :class:`PredictionSettings` field.
    """

    edited = Signal()
    """A control changed (not emitted by :meth:`apply`)."""

    def __init__(self, defaults: PredictionSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._applying = False
        self.toggle = FittedToolButton("show or hide the ranking and stability options")
        self.toggle.setCheckable(True)
        self.toggle.setArrowType(Qt.ArrowType.RightArrow)
        self.toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.toggle.setAutoRaise(True)
        self.second = QComboBox()
        self.second.addItem("auto (the other potential)", "auto")
        self.second.addItem("none", None)
        for name, potential in POTENTIALS.items():
            self.second.addItem(potential.label, name)
        self.second.setToolTip(f"a second potential re-ranks the {SECOND_TOP} lowest distinct structures at the first one's "
                               "relaxed geometry (docs/ranking.md)")
        self.ranking = QComboBox()
        for name in RANKINGS:
            self.ranking.addItem(name, name)
        self.ranking.setToolTip("energy: the potentials' energy per atom; learned: a logistic ranker over energy "
                                "gap, symmetry, route and map agreement (docs/ranking.md)")
        self.prior = _energy_box("symmetry_prior",
            f"the {SECOND_TOP} lowest distinct structures are ordered by energy minus this × ln P(space group | composition, Z), "
            "P from the candidate model: near-ties go to the likelier symmetry (0: energies alone; docs/ranking.md)")
        self.near_tie = _energy_box("near_tie", "merge a relaxed structure onto a higher-symmetry one it distorts when that one "
                                    "is at most this much higher in energy (0: off)")
        self.frame = QComboBox()
        self.frame.addItem(f"{DEFAULT_STABILITY_FRAME} (chosen per potential)", DEFAULT_STABILITY_FRAME)
        for name in STABILITY_FRAMES:
            self.frame.addItem(name, name)
        self.frame.addItem("none (no E_hull)", None)
        self.frame.setToolTip("energies of the convex hull of the known phases each result is placed on "
                              "(docs/stability.md)")
        self.threshold = QDoubleSpinBox()
        self.threshold.setRange(*(1000.0 * ev for ev in OTHER_RANGES["ehull_threshold"]))
        self.threshold.setDecimals(ENERGY_DECIMALS)
        self.threshold.setSuffix(" meV/atom")
        self.threshold.setToolTip("a result at most this far above the hull is metastable, above it unstable")
        self.frame.currentIndexChanged.connect(lambda: self.threshold.setEnabled(self.frame.currentData() is not None))
        # the learned ranker keeps its own order: the prior (and the second potential's order) do not apply
        self.ranking.currentIndexChanged.connect(lambda: self.prior.setEnabled(self.ranking.currentData() != "learned"))
        self.body = QWidget()
        form = QFormLayout(self.body)
        form.setContentsMargins(12, 0, 0, 0)
        form.addRow("Second potential", self.second)
        form.addRow("Ranking", self.ranking)
        form.addRow("Symmetry prior", self.prior)
        form.addRow("Near-tie merge", self.near_tie)
        form.addRow("Stability frame", self.frame)
        form.addRow("Metastable up to", self.threshold)
        self.body.setVisible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.toggle)
        layout.addWidget(self.body)
        self.toggle.toggled.connect(self._fold)
        for combo in (self.second, self.ranking, self.frame):
            combo.currentIndexChanged.connect(self._name_choice)
            combo.currentIndexChanged.connect(self._changed_by_user)
        for box in (self.prior, self.near_tie, self.threshold):
            box.valueChanged.connect(self._name_choice)
            box.valueChanged.connect(self._changed_by_user)
        self.apply(defaults.to_dict())

    def _changed_by_user(self) -> None:
        if not self._applying:
            self.edited.emit()

    def _fold(self, open_: bool) -> None:
        self.toggle.setArrowType(Qt.ArrowType.DownArrow if open_ else Qt.ArrowType.RightArrow)
        self.body.setVisible(open_)

    def _name_choice(self) -> None:
        values = self.values()
        second = values["second_potential"] or "no"
        hull = "no hull" if values["stability_frame"] is None else f"hull {values['stability_frame']}"
        merge = f", near-tie {1000 * values['near_tie']:g} meV" if values["near_tie"] else ""
        prior = ("" if values["ranking"] == "learned" else
                 f", prior {1000 * values['symmetry_prior']:g} meV" if values["symmetry_prior"] else ", no prior")
        self.toggle.set_full_text(f"Ranking: {values['ranking']}, {second} second potential{prior}{merge}; {hull}")

    def exclude_potential(self, first: str) -> None:
        """The second potential cannot be the first: its entry is disabled (auto when chosen)."""
        model = self.second.model()
        for row in range(self.second.count()):
            model.item(row).setEnabled(self.second.itemData(row) != first)
        if self.second.currentData() == first:
            self.second.setCurrentIndex(self.second.findData("auto"))

    def values(self) -> dict:
        """The :class:`PredictionSettings` fields chosen here (energies in eV/atom)."""
        return {"second_potential": self.second.currentData(), "ranking": self.ranking.currentData(),
                "symmetry_prior": self.prior.value() / 1000.0, "near_tie": self.near_tie.value() / 1000.0,
                "stability_frame": self.frame.currentData(), "ehull_threshold": self.threshold.value() / 1000.0}

    def apply(self, settings: dict) -> None:
        """Show the choice of a settings dict (a reopened project); absent keys keep the current value."""
        self._applying = True
        try:
            self._apply(settings)
        finally:
            self._applying = False

    def _apply(self, settings: dict) -> None:
        for combo, key in ((self.second, "second_potential"), (self.ranking, "ranking"),
                           (self.frame, "stability_frame")):
            if key in settings:
                found = combo.findData(settings[key])
                if found >= 0 and combo.model().item(found).isEnabled():
                    combo.setCurrentIndex(found)
        for key, box in (("symmetry_prior", self.prior), ("near_tie", self.near_tie),
                         ("ehull_threshold", self.threshold)):
            if key in settings:
                box.setValue(1000.0 * float(settings[key]))
        self._name_choice()


def _energy_box(setting: str, tooltip: str) -> QDoubleSpinBox:
    """A ranking option in meV/atom over the engine's range of ``setting`` (:data:`core.OTHER_RANGES`,
    in eV/atom) at :data:`ENERGY_DECIMALS` decimals, shown as "off" at 0."""
    box = QDoubleSpinBox()
    box.setRange(*(1000.0 * ev for ev in OTHER_RANGES[setting]))
    box.setDecimals(ENERGY_DECIMALS)
    box.setSuffix(" meV/atom")
    box.setSpecialValueText("off")
    box.setToolTip(tooltip)
    return box
