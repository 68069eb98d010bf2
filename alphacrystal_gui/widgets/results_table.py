"""Results table: every reconstructed (and relaxed) structure, sortable, one row selected at a time."""

from __future__ import annotations

import math

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem

COLUMNS = ("rank", "space group", "relaxed SG", "Z", "Dice", "valid bonds", "fitness", "E (eV/atom)",
           "match ref.", "RMSD ref.")


class _NumberItem(QTableWidgetItem):
    """Sorts by the number it shows (blank last)."""

    def __init__(self, value, text: str) -> None:
        super().__init__(text)
        self.value = value
        self.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)

    def __lt__(self, other) -> bool:
        a = self.value if isinstance(self.value, (int, float)) and not math.isnan(self.value) else math.inf
        b = other.value if isinstance(other.value, (int, float)) and not math.isnan(other.value) else math.inf
        return a < b


class ResultsTable(QTableWidget):
    """Rows are dicts (``RankedStructure.row()`` plus optional reference columns);
    ``rowSelected(index)`` gives the index into the list last passed to ``set_rows``."""

    rowSelected = Signal(int)

    def __init__(self, parent=None) -> None:
        super().__init__(0, len(COLUMNS), parent)
        self.setHorizontalHeaderLabels(COLUMNS)
        self.verticalHeader().setVisible(False)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.itemSelectionChanged.connect(self._selected)

    def set_rows(self, rows: list[dict]) -> None:
        self.setSortingEnabled(False)
        self.setRowCount(0)
        for index, r in enumerate(rows):
            row = self.rowCount()
            self.insertRow(row)
            energy = r.get("energy_per_atom")
            match = r.get("match_reference")
            cells = [
                (r.get("rank", index + 1), str(r.get("rank", index + 1))),
                (r.get("spacegroup"), f"{r.get('symbol', '')} ({r.get('spacegroup', '')})"),
                (r.get("relaxed_spacegroup"), f"{r.get('relaxed_symbol', '')} ({r.get('relaxed_spacegroup', '')})"
                 if r.get("relaxed_spacegroup") else ""),
                (r.get("z"), str(r.get("z", ""))),
                (r.get("dice"), _f(r.get("dice"))),
                (r.get("valid_fraction"), _f(r.get("valid_fraction"))),
                (r.get("fitness"), _f(r.get("fitness"))),
                (energy, "" if energy is None else f"{energy:.4f}"),
                (0 if match else 1, "" if match is None else ("yes" if match else "no")),
                (r.get("rmsd_reference"), _f(r.get("rmsd_reference"))),
            ]
            for col, (value, text) in enumerate(cells):
                item = _NumberItem(value, text)
                item.setData(Qt.ItemDataRole.UserRole, index)
                self.setItem(row, col, item)
        self.setSortingEnabled(True)
        self.sortByColumn(0, Qt.SortOrder.AscendingOrder)

    def _selected(self) -> None:
        items = self.selectedItems()
        if items:
            self.rowSelected.emit(int(items[0].data(Qt.ItemDataRole.UserRole)))

    def select_index(self, index: int) -> None:
        for row in range(self.rowCount()):
            if self.item(row, 0).data(Qt.ItemDataRole.UserRole) == index:
                self.selectRow(row)
                return


def _f(value) -> str:
    return "" if value is None else f"{value:.3f}"
