"""A screen's ``screen.csv`` in a table; double-click a formula to open its results."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QHeaderView,
    QLabel,
    QLineEdit,
    QTableWidget,
    QVBoxLayout,
    QWidget,
)

from alphacrystal_gui.widgets.results_table import NumberItem, filter_rows, hull_tooltip
from core import (
    SCREEN_FLOAT_FORMATS,
    SCREEN_LOWER_COLUMN,
    finite_number,
    lower_than_rank1,
    screen_row_uncertain,
)

COLUMNS = (("formula", "Formula"), ("status", "Status"), ("e_above_hull_meV", "E_hull\n(meV/atom)"),
           ("stability", "Stability"), (SCREEN_LOWER_COLUMN, "Lower E_hull of another\nstructure (meV/atom)"),
           ("reason", "Reason"), ("match", "Match ref."), ("best_energy_per_atom", "Best E\n(eV/atom)"),
           ("symbol", "Space group"), ("source", "Source"), ("dice", "Dice"),
           ("n_structures", "Structures"), ("seconds", "Seconds"))
"""Headers on two lines where long; a failed formula's reason and the reference match are in view
(they were beyond a 900-px dialog's edge)."""

MATCH_TEXT = {"True": "yes", "False": "no"}

LOWER_TOOLTIP = ("The lowest E_hull among this formula's structures: the ranking put another structure first "
                 "(the second potential or the symmetry prior). When it is negative (below the known phases), "
                 "rank 1's E_hull is measured from it. Double-click to open the run and see every structure.")


REASON_WIDTH_PX = 260
"""Width the reason column opens at (drag to widen; hover for the whole text): sized to its
contents, one failure's message made it 1,400 px wide and pushed the match off the dialog."""


class ScreeningTable(QDialog):
    """Rows of a screen (strings from ``core.read_screen_table``); emits ``openRequested(folder)``
    when a finished formula is double-clicked (or Enter is pressed on it)."""

    openRequested = Signal(str)

    def __init__(self, folder: str | Path, rows: list[dict], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.folder = Path(folder)
        self.rows = rows
        self.setWindowTitle(f"Screen {self.folder.name}")
        done = sum(1 for r in rows if r.get("status", "").startswith("done"))
        label = QLabel(f"{len(rows)} formulas in {self.folder}: {done} done, {len(rows) - done} failed. "
                       "Double-click a formula to open its results.")
        label.setWordWrap(True)
        self.table = QTableWidget(len(rows), len(COLUMNS))
        self.table.setHorizontalHeaderLabels([title for _, title in COLUMNS])
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setToolTip("Double-click a formula to open its run folder's results in the main window")
        for r, row in enumerate(rows):
            for c, (key, _) in enumerate(COLUMNS):
                if key == SCREEN_LOWER_COLUMN:  # shown only where it differs from rank 1's
                    lower = lower_than_rank1(row)
                    text = "" if lower is None else f"{lower:.1f}"
                else:
                    text = row.get(key) or ""
                if key == "match":
                    text = MATCH_TEXT.get(text, text)
                number = finite_number(text)
                shown = format(number, SCREEN_FLOAT_FORMATS.get(key, "g")) if number is not None else text
                if key == "stability" and row.get("hull_warning"):  # as the report flags it
                    shown = f"{shown} ⚠"
                if key in ("e_above_hull_meV", SCREEN_LOWER_COLUMN) and screen_row_uncertain(row):
                    number = None  # sorted after every trusted figure, as screen.csv and the report order it
                item = NumberItem(number, shown)  # numeric columns sort as numbers, shown as the report shows them
                item.setData(Qt.ItemDataRole.UserRole, r)
                if key in ("e_above_hull_meV", "stability") and row.get("decomposition"):
                    item.setToolTip(hull_tooltip(row) + (f"\n⚠ {row['hull_warning']}" if row.get("hull_warning") else ""))
                elif key == SCREEN_LOWER_COLUMN and text:
                    item.setToolTip(LOWER_TOOLTIP)
                elif key == "reason" and text:
                    item.setToolTip(text)  # whole: the column is cut to REASON_WIDTH_PX
                self.table.setItem(r, c, item)
        self.table.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)  # screen.csv's order (by E_hull)
        self.table.setSortingEnabled(True)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        reason = [key for key, _ in COLUMNS].index("reason")  # a long reason must not push the rest away
        header.setSectionResizeMode(reason, QHeaderView.ResizeMode.Interactive)
        header.resizeSection(reason, REASON_WIDTH_PX)
        self.table.cellDoubleClicked.connect(lambda r, _c: self._open(r))
        self.table.itemActivated.connect(lambda item: self._open(item.row()))
        self.filter = QLineEdit(placeholderText="Filter formulas (e.g. Fe, stable, Pnma, failed)")
        self.filter.setClearButtonEnabled(True)
        self.filter.setToolTip("show only the rows with a cell that contains this text (any column); a "
                               "stability is matched as a word: 'stable' finds the stable ones, not the metastable")
        self.filter.textChanged.connect(self.set_filter)
        self.status = QLabel()
        layout = QVBoxLayout(self)
        layout.addWidget(label)
        layout.addWidget(self.filter)
        layout.addWidget(self.table)
        layout.addWidget(self.status)
        self.resize(900, 420)

    def set_filter(self, text: str) -> int:
        """Show only the rows with a cell containing ``text`` (case-insensitive; a stability cell
        matches by word, so 'stable' is not 'unstable'); returns how many are shown."""
        shown = filter_rows(self.table, text, word_columns=([key for key, _ in COLUMNS].index("stability"),))
        self.status.setText(f"{shown} of {self.table.rowCount()} formulas shown" if text.strip() else "")
        return shown

    def _open(self, table_row: int) -> None:
        """The formula's run folder inside this screen folder (the path in screen.csv may be
        relative, or from another machine when the folder was copied off a cluster)."""
        row = self.rows[self.table.item(table_row, 0).data(Qt.ItemDataRole.UserRole)]
        self.status.setText("")  # no earlier row's message over this one
        if not row.get("folder"):
            self.status.setText(f"{row.get('formula', '')} has no results: {row.get('reason') or row.get('status')}")
            return
        self.openRequested.emit(str(self.folder / Path(row["folder"]).name))
