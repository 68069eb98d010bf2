"""Formula entry with live validation, a Z chooser and the Predict button."""

from __future__ import annotations

from html import escape

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from alphacrystal_gui.widgets.labels import WrappedLabel
from core import (
    MP20_MAX_ATOMS,
    PAPER_MAX_ATOMS,
    FormulaError,
    check_scope,
    counted,
    parse_formula,
    same_formula,
    z_from_formula,
)

NOTE_CHARS = 150
"""Characters of a note shown under the formula (two lines at a laptop's width); the whole note is
in the tooltip: the withheld-formula note took five lines and pushed the map down."""


def _cut(note: str) -> str:
    return note if len(note) <= NOTE_CHARS else note[:NOTE_CHARS].rstrip(" ,;:") + "… (hover for all)"


class FormulaBar(QWidget):
    """Emits ``predictRequested(formula, z)`` (z None = automatic) for a valid formula."""

    predictRequested = Signal(str, object)

    def __init__(self, max_atoms: int = MP20_MAX_ATOMS, contact_max_atoms: int = PAPER_MAX_ATOMS,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.max_atoms = max_atoms
        self.contact_max_atoms = contact_max_atoms
        """Cells larger than this are predicted from templates only (the contact route's models stop there)."""
        self.edit = QLineEdit(placeholderText="Formula, e.g. AgF2 or SrTiO3")
        self.edit.setMinimumWidth(self.edit.fontMetrics().horizontalAdvance("Ca3(PO4)2"))  # beside a wide Z box
        self.z_box = QComboBox()
        self.z_box.setToolTip("Formula units in the primitive cell")
        self.z_box.addItem("Z auto", None)
        self.z_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)  # "Z = 2 (6 atoms)" whole
        # never narrower than its entries: in a narrow centre it was cut to "Z=2 (14 atoms" (the box shows only
        # the choice; the formula field, whose text is short, gives way instead)
        self.z_box.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.predict_button = QPushButton("Predict")
        self.predict_button.setShortcut("Ctrl+P")
        self.predict_button.setToolTip("candidates, contact maps and templates of the formula (Enter or Ctrl+P)")
        self.edit.setToolTip("a chemical formula, e.g. Ca3(PO4)2; a multiple such as Ag2F4 chooses Z = 2 (the Z "
                             "box can change it)")
        self.predict_button.setDefault(True)
        self.predict_button.setEnabled(False)
        self.status = WrappedLabel()  # a long formula's Z list or note must not widen the window's centre
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._typed_multiple = 1
        """The multiple of the reduced formula last typed (Ag2F4: 2, AgF2: 1): Z follows the text
        only when it changes, so that a Z the user chose survives edits that keep it."""
        self._suggested: str | None = None
        """The formula the program last filled in (an opened reference's), while the box still holds it."""
        self._predicted: tuple[str, int | None] | None = None
        """(formula, Z) of the session's inputs, which Start runs (None: no inputs to run)."""
        self._note: tuple[str, str] | None = None
        """(formula text, note): the engine's remark on that formula (e.g. its common cells are
        beyond a model's limit), shown under the Z list until the formula is edited."""
        row = QHBoxLayout()
        row.addWidget(QLabel("Formula:"))
        row.addWidget(self.edit, 1)
        row.addWidget(self.z_box)
        row.addWidget(self.predict_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.status)
        self.edit.textChanged.connect(self.validate)
        self.z_box.activated.connect(lambda _index: self.validate())  # the reading note follows the chosen Z
        self.edit.returnPressed.connect(self._request)
        self.predict_button.clicked.connect(self._request)

    def show_predicted(self, formula: str, z: int | None, runnable: bool) -> None:
        """The session's inputs are now ``formula`` with ``z`` (None: automatic): shown in the box,
        and remembered, so that a formula or Z changed in the box without Predict is said not to
        be what Start runs (``runnable``: the session has inputs to run; results alone have none)."""
        self._predicted = (formula, z) if formula and runnable else None
        if formula and self.edit.text() != formula:
            self.edit.setText(formula)
        index = self.z_box.findData(z)
        if formula and index >= 0 and self.z_box.currentIndex() != index:
            self.z_box.setCurrentIndex(index)
        self.validate()

    def _not_predicted_note(self, text: str) -> str | None:
        """What Start runs when the box no longer shows the predicted formula and Z, else None."""
        if self._predicted is None:
            return None
        formula, z = self._predicted
        z_shown = self.z_box.findData(z) < 0 or self.z_box.currentData() == z  # a Z the box cannot show: not compared
        if same_formula(text.strip(), formula) and z_shown:
            return None
        shown = f"{formula}, " + (f"Z = {z}" if z is not None else "Z auto")
        return f"not predicted yet: Start runs the inputs predicted for {shown} until you press Predict"

    def suggest(self, formula: str) -> None:
        """Fill the box with ``formula`` (an opened reference's) unless the user typed one: an
        empty box, or one still holding the last suggestion (a second reference replaces the
        first's formula instead of leaving it to be predicted by mistake)."""
        current = self.edit.text().strip()
        if not current or current == self._suggested:
            self._suggested = formula
            self.edit.setText(formula)

    def validate(self, text: str | None = None) -> bool:
        """Show the atoms per Z for a valid formula, or the error; update the Z chooser."""
        text = self.edit.text() if text is None else text
        self.z_box.blockSignals(True)
        previous = self.z_box.currentData()
        self.z_box.clear()
        self.z_box.addItem("Z auto", None)
        ok = False
        self.status.setToolTip("")
        if not text.strip():
            self.status.setText("")
        else:
            try:
                formula = parse_formula(text)
                check_scope(formula, None)
                zs = formula.z_values(self.max_atoms)
            except FormulaError as exc:
                note = self._not_predicted_note(text)
                self.status.setText(f"<span style='color:#b00020'>{escape(str(exc))}</span>"
                                    + (f"<br><span style='color:#8a5a00'>note: {escape(note)}</span>" if note else ""))
            else:
                for z in zs:
                    self.z_box.addItem(f"Z={z} ({self._atoms(formula, z)})", z)
                options = self._summary(formula, zs)
                typed_z, reading = z_from_formula(formula, None, self.contact_max_atoms)
                ok = True
                if formula.typed_z != self._typed_multiple:  # another multiple typed: Z as predict reads it
                    self._typed_multiple, previous = formula.typed_z, typed_z  # (Ag2F4: 2; AgF2, Fe100O150: auto)
                index = self.z_box.findData(previous)
                if previous is not None and index >= 0:
                    self.z_box.setCurrentIndex(index)
                if self.z_box.currentData() != typed_z:  # another Z chosen: the reading no longer holds
                    reading = None
                engine = self._note[1].split("\n") if self._note and self._note[0] == text.strip() else []
                notes = [n for n in (self._not_predicted_note(text), reading, *engine) if n]
                self.status.setText(f"{formula.unit_formula} — {options}" + "".join(
                    f"<br><span style='color:#8a5a00'>note: {escape(_cut(n))}</span>" for n in notes))
                self.status.setToolTip("\n\n".join(f"note: {n}" for n in notes))  # each note whole
        self.z_box.blockSignals(False)
        self.predict_button.setEnabled(ok)
        return ok

    def show_note(self, formula_text: str, note: str | None) -> None:
        """Show the engine's ``note`` on ``formula_text`` under the Z list, one line each of its
        lines (None clears it); it stays until the formula is edited."""
        self._note = (formula_text.strip(), note) if note else None
        self.validate()

    def _summary(self, formula, zs: list[int]) -> str:
        """``Z=1: 7 atoms, Z=2: 14 atoms (templates only)``; long lists as ranges
        (``Z=1-6: 2-12 atoms; Z=7-10: 14-20 atoms (templates only)``)."""
        per = formula.atoms_per_formula_unit
        if len(zs) <= 3:
            return ", ".join(f"Z={z}: {self._atoms(formula, z)}" for z in zs)
        both = [z for z in zs if z * per <= self.contact_max_atoms]
        only = [z for z in zs if z * per > self.contact_max_atoms]
        parts = []
        for group, suffix in ((both, ""), (only, " (templates only)")):
            if group:
                span = f"Z={group[0]}" if len(group) == 1 else f"Z={group[0]}–{group[-1]}"
                atoms = (counted(group[0] * per, "atom") if len(group) == 1
                         else f"{group[0] * per}–{group[-1] * per} atoms")
                parts.append(f"{span}: {atoms}{suffix}")
        return "; ".join(parts)

    def _atoms(self, formula, z: int) -> str:
        n = z * formula.atoms_per_formula_unit
        return counted(n, "atom") + (" (templates only)" if n > self.contact_max_atoms else "")

    @property
    def z(self) -> int | None:
        return self.z_box.currentData()

    def set_z(self, z: int | None) -> None:
        """Choose ``z`` (None: automatic) in the Z box, when it lists it (an opened project's Z)."""
        index = self.z_box.findData(z)
        if index >= 0:
            self.z_box.setCurrentIndex(index)

    def set_busy(self, busy: bool) -> None:
        self.predict_button.setEnabled(not busy and self.validate())
        self.edit.setReadOnly(busy)

    def _request(self) -> None:
        if self.validate() and self.predict_button.isEnabled():
            self.predictRequested.emit(self.edit.text().strip(), self.z)
