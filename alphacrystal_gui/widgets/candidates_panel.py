"""Candidates of a run: CMCrystal's space groups (editable) and the template structures.

The upper table holds the ranked (space group, Z, lattice, probability)
candidates of the contact route. Columns ``a b c α β γ`` (Å, degrees;
conventional cell) and the space group can be edited; an edited space group is
checked for Wyckoff feasibility and its symbol refreshed. The lower table holds
the template route's candidates: known structures of the same stoichiometry
with the elements substituted (source id, template formula, space group, Z,
substitution score, Wyckoff occupation). The check box of a row of either
table chooses whether it is run.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from alphacrystal_gui.widgets.labels import WrappedLabel
from core import Candidate, TemplateCandidate

COLUMNS = ("run", "space group", "symbol", "Z", "atoms", "probability", "a", "b", "c", "α", "β", "γ")
"""What each column holds (header tooltips, error messages)."""
HEADERS = ("run", "SG", "symbol", "Z", "n", "p", "a", "b", "c", "α", "β", "γ")
"""Short headers, so that every column, the lattice included, fits the panel at the window's default size."""
TOOLTIPS = ("tick to run this candidate", "space-group number (editable: type a number or a symbol such as P4_2/mnm)", "Hermann-Mauguin symbol",
            "formula units in the primitive cell", "atoms in the primitive cell",
            "probability of this space group and Z", "a (Å, editable)", "b (Å, editable)", "c (Å, editable)",
            "α (degrees, editable)", "β (degrees, editable)", "γ (degrees, editable)")
EDITABLE_COLUMNS = {1: "spacegroup", 6: "a", 7: "b", 8: "c", 9: "alpha", 10: "beta", 11: "gamma"}
"""Table column -> the candidate field it edits (``RunInputs.EDITABLE``)."""
TEMPLATE_COLUMNS = ("run", "source", "template", "space group", "Z", "score", "Wyckoff")
TEMPLATE_TOOLTIPS = {
    "source": "Materials Project id of the known structure used as a template",
    "template": "Formula of the template; its elements are replaced by the query's",
    "score": "Substitution score: sum of log ionic substitution probabilities (Hautier et al. 2011) when "
             "oxidation states can be guessed, else minus the mean |Δ Mendeleev number| per atom; higher is likelier",
    "Wyckoff": "Wyckoff occupation of the substituted structure (conventional-cell multiplicities)",
}


class CandidatesPanel(QWidget):
    """A view of the session's candidates and templates: renders them (:meth:`set_candidates`,
    :meth:`set_templates`) and turns what the user does into requests for the session
    (:class:`core.app.inputs.RunInputs`: ``edit_candidate``, ``add_candidate_like``,
    ``remove_candidate``, ``tick_candidate``, ``tick_template``); it never edits a candidate
    itself. The session's change comes back through :meth:`set_candidates`."""

    edit_requested = Signal(int, str, str)
    """(row, field of ``RunInputs.EDITABLE``, the text typed)."""
    add_requested = Signal(int)
    """A copy of this row, to edit into another candidate."""
    remove_requested = Signal(int)
    tick_requested = Signal(int, bool)
    template_tick_requested = Signal(int, bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(HEADERS)
        for col, tip in enumerate(TOOLTIPS):
            self.table.horizontalHeaderItem(col).setToolTip(tip)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.add_button = QPushButton("Add space group")
        self.remove_button = QPushButton("Remove")
        self.remove_button.setEnabled(False)
        buttons = QHBoxLayout()
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.remove_button)
        buttons.addStretch(1)
        self.templates_label = WrappedLabel("Templates: known structures with the elements substituted")
        self.templates_table = QTableWidget(0, len(TEMPLATE_COLUMNS))
        self.templates_table.setHorizontalHeaderLabels(TEMPLATE_COLUMNS)
        for col, name in enumerate(TEMPLATE_COLUMNS):
            if name in TEMPLATE_TOOLTIPS:
                self.templates_table.horizontalHeaderItem(col).setToolTip(TEMPLATE_TOOLTIPS[name])
        self.templates_table.verticalHeader().setVisible(False)
        self.templates_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.templates_table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table, 3)
        layout.addLayout(buttons)
        layout.addWidget(self.templates_label)
        layout.addWidget(self.templates_table, 2)
        self._rows: list[Candidate] = []
        """The session's candidates as last rendered (to tell a real edit from Qt's echo)."""
        self._templates: list[TemplateCandidate] = []
        self._filling = False
        self.table.itemChanged.connect(self._edited)
        self.templates_table.itemChanged.connect(self._template_ticked)
        self.add_button.clicked.connect(self.add_row)
        self.remove_button.clicked.connect(self._remove_selected)

    def set_candidates(self, candidates: list[Candidate], ticked: list[bool] | None = None) -> None:
        """Show ``candidates`` (the session's), ``ticked[k]`` for row k (default all); the
        selected row stays selected. Rows are rewritten in place when their number is unchanged
        (this is also called while the table reports an edit: its items must not be deleted)."""
        ticks = [ticked is None or k >= len(ticked) or ticked[k] for k in range(len(candidates))]
        current = self.table.currentRow()
        self._filling = True
        try:
            if len(candidates) == self.table.rowCount():
                for row, (c, tick) in enumerate(zip(candidates, ticks)):
                    self._write_row(row, c, tick)
            else:
                self.table.setRowCount(0)
                for c, tick in zip(candidates, ticks):
                    self._append(c, tick)
        finally:
            self._filling = False
        self._rows = list(candidates)
        if 0 <= current < len(self._rows):
            self.table.setCurrentCell(current, max(1, self.table.currentColumn()))
        self.add_button.setEnabled(bool(self._rows))
        self.remove_button.setEnabled(bool(self._rows))  # nothing to remove in an empty table
        self._fit_columns()

    def _fit_columns(self) -> None:
        """Ask for the width every column needs (the dock widens), so the lattice is never
        hidden behind a scrollbar."""
        self.table.resizeColumnsToContents()
        needed = (self.table.horizontalHeader().length() + self.table.verticalScrollBar().sizeHint().width()
                  + 2 * self.table.frameWidth())
        self.table.setMinimumWidth(needed)

    @staticmethod
    def _texts(c: Candidate) -> tuple[str, ...]:
        return (str(c.spacegroup), c.symbol, str(c.z), str(c.n_atoms), f"{c.probability:.2f}",
                *(f"{v:.2f}" if k < 3 else f"{v:.1f}".removesuffix(".0") for k, v in enumerate(c.lattice)))

    def _append(self, c: Candidate, checked: bool) -> None:
        row = self.table.rowCount()
        self.table.insertRow(row)
        tick = QTableWidgetItem()
        tick.setFlags(Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsEnabled)
        tick.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
        self.table.setItem(row, 0, tick)
        for col, text in enumerate(self._texts(c), 1):
            item = QTableWidgetItem(text)
            flags = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
            if col in EDITABLE_COLUMNS:
                flags |= Qt.ItemFlag.ItemIsEditable
            item.setFlags(flags)
            item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.table.setItem(row, col, item)

    def _write_row(self, row: int, c: Candidate, checked: bool) -> None:
        state = Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked
        if self.table.item(row, 0).checkState() != state:
            self.table.item(row, 0).setCheckState(state)
        for col, text in enumerate(self._texts(c), 1):
            if self.table.item(row, col).text() != text:
                self.table.item(row, col).setText(text)

    def add_row(self) -> None:
        """Ask for a copy of the selected (or first) candidate, to edit into another space group."""
        if self._rows:
            self.add_requested.emit(max(0, self.table.currentRow()))

    def _remove_selected(self) -> None:
        row = self.table.currentRow()
        if 0 <= row < len(self._rows):
            self.remove_requested.emit(row)

    def _edited(self, item: QTableWidgetItem) -> None:
        if self._filling:
            return
        row, col = item.row(), item.column()
        if col == 0:
            self.tick_requested.emit(row, item.checkState() == Qt.CheckState.Checked)
        elif item.text() != self._texts(self._rows[row])[col - 1]:  # Qt also reports unchanged texts
            self.edit_requested.emit(row, EDITABLE_COLUMNS[col], item.text())

    def _template_ticked(self, item: QTableWidgetItem) -> None:
        if item.column() == 0:
            self.template_tick_requested.emit(item.row(), item.checkState() == Qt.CheckState.Checked)

    def candidates(self) -> list[Candidate]:
        """The ticked candidates as shown."""
        return _ticked(self.table, self._rows)

    def all_candidates(self) -> list[Candidate]:
        return list(self._rows)

    def candidate_ticks(self) -> list[bool]:
        """Whether each row of :meth:`all_candidates` is ticked."""
        return [_is_ticked(self.table, row) for row in range(len(self._rows))]

    def template_ticks(self) -> list[bool]:
        """Whether each row of :meth:`all_templates` is ticked."""
        return [_is_ticked(self.templates_table, row) for row in range(len(self._templates))]

    # templates -----------------------------------------------------------------
    def set_templates(self, templates: list[TemplateCandidate], ticked: list[bool] | None = None,
                      retrieved: bool = True) -> None:
        """Show the template candidates; ``ticked[k]`` says whether row k is run (default all);
        ``retrieved`` False: none were looked for (results opened from a run folder). The same
        templates again only re-tick their rows (this is also called while the table reports a
        tick: its items must not be deleted)."""
        table = self.templates_table
        ticks = [ticked is None or k >= len(ticked) or ticked[k] for k in range(len(templates))]
        if templates and list(templates) == self._templates and table.rowCount() == len(templates):
            table.blockSignals(True)  # a rendering, not a user's tick
            for k, run in enumerate(ticks):
                table.item(k, 0).setCheckState(Qt.CheckState.Checked if run else Qt.CheckState.Unchecked)
            table.blockSignals(False)
            return
        self._templates = list(templates)
        table.blockSignals(True)  # a rendering, not a user's tick
        table.setRowCount(0)
        for k, c in enumerate(self._templates):
            table.insertRow(k)
            tick = QTableWidgetItem()
            tick.setFlags(Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsEnabled)
            tick.setCheckState(Qt.CheckState.Checked if ticks[k] else Qt.CheckState.Unchecked)
            table.setItem(k, 0, tick)
            texts = (c.template_id, c.template_formula, f"{c.symbol} ({c.spacegroup})", str(c.z),
                     f"{c.score:.2f}", c.wyckoff)
            for col, text in enumerate(texts, 1):
                item = QTableWidgetItem(text)
                item.setToolTip(f"{c.source}: {c.template_formula} with "
                                + (", ".join(f"{a}→{b}" for a, b in c.mapping if a != b) or "no substitution")
                                + f"; {c.similar} more template(s) gave the same structure")
                table.setItem(k, col, item)
        table.blockSignals(False)
        self.templates_label.setText(
            f"Templates: {len(self._templates)} known structures with the elements substituted" if self._templates
            else "Templates: none looked for (results opened from a run folder; Predict retrieves them)"
            if not retrieved else "Templates: no known structure of this stoichiometry")

    def templates(self) -> list[TemplateCandidate]:
        """The ticked template candidates."""
        return _ticked(self.templates_table, self._templates)

    def all_templates(self) -> list[TemplateCandidate]:
        return list(self._templates)


def _is_ticked(table: QTableWidget, row: int) -> bool:
    item = table.item(row, 0)
    return item is not None and item.checkState() == Qt.CheckState.Checked


def _ticked(table: QTableWidget, items: list) -> list:
    """The items whose row has its check box (column 0) ticked."""
    return [c for row, c in enumerate(items) if _is_ticked(table, row)]
