"""Results table: every reconstructed (and relaxed) structure, sortable, one row selected at a time."""

from __future__ import annotations

import math
from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QMenu, QTableWidget, QTableWidgetItem

from core import (
    DEFAULT_TOLERANCE,
    DEFAULT_TOLERANCES,
    SECOND_TOP,
    SPACEGROUP_SYMPREC,
    STABILITY_LABELS,
    SYMMETRY_PRIOR,
    energies_above_lowest,
    whole_mev,
)

ROW_ACTIONS = (("copy-cif", "Copy CIF"), ("copy-poscar", "Copy POSCAR"), ("export", "Export…"),
               ("map", "Show its contact map and 3D structure"),
               ("rerun", "Re-run CMCrystal from its Wyckoff assignment (on the current map)"))
"""The right-click menu of a result: (action id, label)."""

COLUMNS = ("rank", "relaxed SG", "ΔE (meV/atom)", "E_hull (meV/atom)", "stability", "score (meV/atom)", "source",
           "space group", "Z", "E (eV/atom)", "E 2nd (eV/atom)", "match ref.", "RMSD ref.", "Dice relaxed",
           "Dice", "valid bonds", "fitness", "a b c (Å)", "α β γ (°)", "Wyckoff", "V (Å³)", "V/atom (Å³)",
           "ρ (g/cm³)", "Wyckoff (start)")
"""What a crystallographer reads first (the order, the stability, the order's score) comes first, so
the stability is in view on a 1366-px screen; the route's and the GA's details follow."""

UNRELAXED_GROUP = (f"Space group of the structure as built (spglib, {SPACEGROUP_SYMPREC:g} Å): the run did not "
                   "relax its structures")

SOURCE_WIDTH_PX = 190
"""Widest the source column opens at (px); drag to widen, hover for the whole text."""

TOOLTIPS = {
    "rank": f"Order of the results: by the potential's energy per atom, the first {SECOND_TOP} re-ranked by a "
            "second potential at the same geometry (SevenNet-0 after CHGNet) and a symmetry prior (energy − "
            f"{1000 * SYMMETRY_PRIOR:g} meV/atom × ln P(space group | composition) by default; docs/ranking.md); "
            "hover a rank for the reason",
    "source": "Which route made the structure: CMCrystal (the GA on the contact map, in the named space group) "
              "or a template (a known Materials Project structure, id given, with the elements substituted); "
              "'also' names other routes that found the same structure",
    "space group": "The space group the structure started in: the GA's candidate or the template's",
    "relaxed SG": f"Space group of the relaxed structure (spglib, {SPACEGROUP_SYMPREC:g} Å)",
    "Z": "Formula units in the result's cell: the relaxed structure's primitive cell when relaxation raised "
         "the symmetry so that it is smaller than the start's ('1 (from 2)': the candidate's Z was 2)",
    "Dice": "Dice of the GA structure's contact map against the input map (same-element atoms matched)",
    "valid bonds": "Fraction of the GA structure's contacts that lie in the bond window "
                   f"(r_i + r_j ± {DEFAULT_TOLERANCE:g} Å)",
    "fitness": "GA fitness: Dice × valid-bond fraction",
    "Dice relaxed": "Dice of the relaxed structure against the input map: does it keep the map's bonds?",
    "E (eV/atom)": "Energy per atom of the relaxed structure by the potential that relaxed it (CHGNet unless "
                   "chosen otherwise; ranks polymorphs; not a formation energy)",
    "ΔE (meV/atom)": "Energy per atom above the lowest result of this run ('≤': the relaxation stopped at its step limit "
                     "before converging, an upper bound)",
    "score (meV/atom)": f"What the first {SECOND_TOP} are ordered by, above the lowest of them: the re-ranking "
                        "potential's energy (when there is one) minus kT × ln P(space group | composition), kT the "
                        f"symmetry prior's weight ({1000 * SYMMETRY_PRIOR:g} meV/atom by default; not a temperature); "
                        "the rest "
                        "are ordered by ΔE. Hover a rank for the reason",
    "E 2nd (eV/atom)": "Energy per atom by the second potential (SevenNet-0 after CHGNet, CHGNet after a "
                       "SevenNet, unless chosen otherwise) at the first potential's relaxed geometry; only the "
                       f"lowest {SECOND_TOP} distinct structures are evaluated, and they are re-ranked by it "
                       "(docs/ranking.md)",
    "E_hull (meV/atom)": "Energy above the convex hull of the known phases of the formula's chemical system "
                         "(training data of Materials Project; negative: below every known combination); "
                         "hover a value for the decomposition (docs/stability.md)",
    "stability": "stable: on or below the hull of the known phases; metastable: above it by at most the "
                 "threshold; unstable: above that; uncertain: far below the known hull, beyond the frame's "
                 "error, where the references most likely lack a phase of the system (⚠: hover for the warning)",
    "match ref.": "Same structure as the open reference: pymatgen StructureMatcher at its default tolerances "
                  f"(ltol {DEFAULT_TOLERANCES.ltol:g}, stol {DEFAULT_TOLERANCES.stol:g}, "
                  f"angle {DEFAULT_TOLERANCES.angle_tol:g}°)",
    "a b c (Å)": f"Conventional standard cell of the relaxed structure (spglib, {SPACEGROUP_SYMPREC:g} Å)",
    "α β γ (°)": "Conventional standard cell angles of the relaxed structure",
    "V (Å³)": "Volume of the conventional cell",
    "V/atom (Å³)": "Volume per atom of the relaxed structure (compares polymorphs and cells of any size)",
    "ρ (g/cm³)": "Density of the relaxed structure",
    "Wyckoff": "Occupied Wyckoff sites of the result (relaxed, unless the run did not relax) in its "
               f"conventional standard cell (spglib, {SPACEGROUP_SYMPREC:g} Å), as its CIF lists them",
    "Wyckoff (start)": "Wyckoff assignment the structure started from, in the starting space group (the GA's or "
                       "the template's)",
    "RMSD ref.": ("Fractional-coordinate RMSD against the open reference (the paper's eq. 4): atoms paired in each "
                  "cell's own fractional coordinates, without aligning the lattices, so it is comparable only "
                  "between cells of the same setting; a structure that does not match can read lower than one that "
                  "does. 'match ref.' is the test of sameness"),
}


PROVISIONAL = ("Provisional rank: by energy so far, among the structures relaxed so far. Some may still be "
               "relaxed further and duplicates are merged only when the run ends; the final ranking then "
               "replaces these rows")

RELAXATION_ONLY = ("* The GA structure had no bond of the map (fitness 0: an assignment without free parameters "
                   "or far from the map); this result comes from the relaxation, not from the contact map")


def filter_rows(table: QTableWidget, text: str, word_columns: tuple[int, ...] = ()) -> int:
    """Show only the rows of ``table`` with a cell containing ``text`` (case-insensitive; in
    ``word_columns`` a whole word of the cell: 'stable' is not 'metastable'); returns how many are
    shown. The one filter of the window's tables."""
    needle = text.strip().lower()
    shown = 0
    for row in range(table.rowCount()):
        texts = {col: table.item(row, col).text().lower() for col in range(table.columnCount())
                 if table.item(row, col) is not None}
        hide = bool(needle) and not any(needle in t.replace("⚠", " ").split() if col in word_columns else needle in t
                                        for col, t in texts.items())
        table.setRowHidden(row, hide)
        shown += not hide
    return shown


class NumberItem(QTableWidgetItem):
    """A cell that shows ``text`` and sorts by ``value`` (numbers first, right-aligned; blanks and
    words after them, by their text): the display and edit roles of a QTableWidgetItem are one
    value, so a number stored for sorting would be shown unformatted."""

    def __init__(self, value, text: str) -> None:
        super().__init__(text)
        self.value = value if _is_number(value) else None
        if self.value is not None:
            self.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)

    def __lt__(self, other) -> bool:
        mine, theirs = self.value, getattr(other, "value", None)
        if mine is not None and theirs is not None:
            return mine < theirs
        if (mine is None) != (theirs is None):
            return mine is not None
        return self.text() < other.text()


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and not math.isnan(value)


class ResultsTable(QTableWidget):
    """One line per result (:class:`core.ResultRecord`); ``rowSelected(index)`` gives the index
    into the list last passed to :meth:`set_records`."""

    rowSelected = Signal(int)
    actionRequested = Signal(str, int)
    """(action id of :data:`ROW_ACTIONS`, result index): the right-click menu."""

    def __init__(self, parent=None) -> None:
        super().__init__(0, len(COLUMNS), parent)
        self.action_problem: Callable[[str, int], str | None] | None = None
        """Why a menu action cannot be done on a result now (``(action, index) -> reason or None``),
        asked of the session by the window; such an action is shown disabled with its reason."""
        self.setHorizontalHeaderLabels([name.replace(" (", "\n(") for name in COLUMNS])  # units on a second line
        for col, name in enumerate(COLUMNS):
            if name in TOOLTIPS:
                self.horizontalHeaderItem(col).setToolTip(TOOLTIPS[name])
        self.verticalHeader().setVisible(False)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        # the source can be long ("CMCrystal sg136; also template mp-1058; template mp-556324"): capped width,
        # the whole text in the cell's tooltip, so energy and match stay in view
        self.horizontalHeader().setSectionResizeMode(COLUMNS.index("source"), QHeaderView.ResizeMode.Interactive)
        self.itemSelectionChanged.connect(self._selected)
        # a click on the row already selected shows it again (after a reference took the 3D view,
        # clicking the highlighted row did nothing); the receiver ignores a result already shown
        self.cellClicked.connect(lambda row, _column: self._selected())
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(self._menu)
        self.setToolTip("Click a row to show it; right-click to copy its CIF or POSCAR, export it, show its map, "
                        "or re-run CMCrystal from its space group, lattice and Wyckoff assignment")

    def row_menu(self, index: int) -> QMenu:
        """The right-click menu of result ``index`` (its actions emit :attr:`actionRequested`)."""
        menu = QMenu(self)
        menu.setToolTipsVisible(True)
        for action, label in ROW_ACTIONS:
            item = menu.addAction(label, lambda a=action: self.actionRequested.emit(a, index))
            problem = self.action_problem(action, index) if self.action_problem is not None else None
            if problem:  # offered only where it can be done; the reason on hover
                item.setEnabled(False)
                item.setToolTip(problem)
        return menu

    def _menu(self, point) -> None:
        item = self.itemAt(point)
        if item is not None:
            self.row_menu(int(item.data(Qt.ItemDataRole.UserRole))).exec(self.viewport().mapToGlobal(point))

    def set_filter(self, text: str) -> int:
        """Show only the rows whose cells contain ``text`` (any column, case-insensitive);
        returns how many are shown."""
        return filter_rows(self, text)

    def set_records(self, records: list, provisional: bool = False) -> None:
        """Show ``records`` (:class:`core.ResultRecord`); ``provisional``: a running run's results,
        ranked by energy so far (the rank header and each rank say so, in italics, with a tooltip)."""
        self.setSortingEnabled(False)
        self.setRowCount(0)
        rank_header = self.horizontalHeaderItem(0)
        rank_header.setText("rank (provisional)" if provisional else "rank")
        rank_header.setToolTip(PROVISIONAL if provisional else TOOLTIPS["rank"])
        # a run without relaxation shows the structure as built, as predict's "SG (GA)" column does
        relaxed = not records or any(r.energy_per_atom is not None for r in records)
        group_header = self.horizontalHeaderItem(COLUMNS.index("relaxed SG"))
        group_header.setText("relaxed SG" if relaxed else "SG (as built)")
        group_header.setToolTip(TOOLTIPS["relaxed SG"] if relaxed else UNRELAXED_GROUP)
        above = energies_above_lowest(records)
        for index, r in enumerate(records):
            row = self.rowCount()
            self.insertRow(row)
            cells = _cells(r, above[index], provisional)
            relaxation_only = r.from_relaxation_only
            for col, name in enumerate(COLUMNS):
                value, text = cells[name]
                item = NumberItem(value, text) if name != "source" else QTableWidgetItem(text)
                if name == "source":
                    item.setToolTip(text)
                elif name == "fitness" and relaxation_only:
                    item.setToolTip(RELAXATION_ONLY)
                elif name == "rank" and provisional:
                    item.setToolTip(PROVISIONAL)
                elif name == "rank" and r.rank_reason:
                    item.setToolTip(f"Why rank {r.rank}: {r.rank_reason}")
                elif name in ("E_hull (meV/atom)", "stability") and r.stability:
                    item.setToolTip(hull_tooltip(r.to_row()))
                if provisional:
                    font = item.font()
                    font.setItalic(True)
                    item.setFont(font)
                item.setData(Qt.ItemDataRole.UserRole, index)
                self.setItem(row, col, item)
        self.setSortingEnabled(True)
        self.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        source = COLUMNS.index("source")
        self.resizeColumnToContents(source)
        self.setColumnWidth(source, min(self.columnWidth(source), SOURCE_WIDTH_PX))

    def _selected(self) -> None:
        items = self.selectedItems()
        if items:
            self.rowSelected.emit(int(items[0].data(Qt.ItemDataRole.UserRole)))

    def select_index(self, index: int, notify: bool = True) -> None:
        """Select the row of result ``index``; ``notify=False``: without emitting ``rowSelected``."""
        was_blocked = self.blockSignals(True) if not notify else self.signalsBlocked()
        try:
            for row in range(self.rowCount()):
                if self.item(row, 0).data(Qt.ItemDataRole.UserRole) == index:
                    self.selectRow(row)
                    return
        finally:
            self.blockSignals(was_blocked)


LABEL_ORDER = {label: k for k, label in enumerate(STABILITY_LABELS)}
"""Sort order of the stability column."""


def hull_tooltip(row: dict) -> str:
    """Where a result lies against the known phases, in words (from its summary row, or a row of
    screen.csv, whose values are strings)."""
    return (f"{row['stability']}: {whole_mev(float(row['e_above_hull_meV'])):+d} meV/atom against the hull, which at this "
            f"composition is {row['decomposition']}; formation energy "
            f"{float(row['formation_energy_per_atom']):.3f} eV/atom"
            + (f"; {row['hull_note']}" if row.get("hull_note") else ""))


def _f(value) -> str:
    return "" if value is None else f"{value:.3f}"


def _cells(r, above: float | None, provisional: bool) -> dict[str, tuple]:
    """(sort value, text) of every column for record ``r``; ``above``: its energy above the run's
    lowest, meV/atom (:func:`core.energies_above_lowest`)."""
    energy, match = r.energy_per_atom, r.match_reference
    source = r.source + (f" ({r.template_formula})" if r.template_formula else "") \
        + (f"; also {r.found_also_by}" if r.found_also_by else "")
    cell = (r.a, r.b, r.c, r.alpha, r.beta, r.gamma)
    bound = "≤ " if r.converged is False else ""  # stopped at its step limit: the energy is an upper bound
    return {
        "rank": (r.rank, f"{r.rank}" + ("?" if provisional else "")),
        "source": (source, source),
        "space group": (r.spacegroup, f"{r.symbol} ({r.spacegroup})"),
        "Z": (r.z, "" if r.z is None else str(r.z) if r.start_z in (None, r.z) else f"{r.z} (from {r.start_z})"),
        "relaxed SG": (r.relaxed_spacegroup,
                       f"{r.relaxed_symbol or ''} ({r.relaxed_spacegroup})" if r.relaxed_spacegroup else ""),
        "E (eV/atom)": (energy, "" if energy is None else f"{energy:.4f}"),
        "ΔE (meV/atom)": (above, "" if above is None else bound + f"{above:.1f}"),
        "score (meV/atom)": (r.rank_score_meV, "" if r.rank_score_meV is None else f"{r.rank_score_meV:.1f}"),
        "E 2nd (eV/atom)": (r.second_energy_per_atom,
                            "" if r.second_energy_per_atom is None else f"{r.second_energy_per_atom:.4f}"),
        "E_hull (meV/atom)": (r.e_above_hull_meV, "" if r.e_above_hull_meV is None else
                              ("⚠ " if r.hull_warning else "") + bound + f"{whole_mev(r.e_above_hull_meV):+d}"),
        "stability": (LABEL_ORDER.get(r.stability or ""), r.stability or ""),
        "match ref.": (0 if match else 1, "" if match is None else ("yes" if match else "no")),
        "RMSD ref.": (r.rmsd_reference, _f(r.rmsd_reference)),
        "Dice relaxed": (r.relaxed_dice, _f(r.relaxed_dice)),
        "Dice": (r.dice, _f(r.dice)),
        "valid bonds": (r.valid_fraction, _f(r.valid_fraction)),
        "fitness": (r.fitness, _f(r.fitness) + (" *" if r.from_relaxation_only else "")),
        "a b c (Å)": (r.a, " ".join(f"{v:.3f}" for v in cell[:3]) if None not in cell[:3] else ""),
        "α β γ (°)": (r.alpha, " ".join(f"{v:.1f}" for v in cell[3:]) if None not in cell[3:] else ""),
        "V (Å³)": (r.volume, "" if r.volume is None else f"{r.volume:.2f}"),
        "V/atom (Å³)": (r.volume_per_atom, "" if r.volume_per_atom is None else f"{r.volume_per_atom:.2f}"),
        "ρ (g/cm³)": (r.density, "" if r.density is None else f"{r.density:.3f}"),
        "Wyckoff": (r.relaxed_wyckoff, r.relaxed_wyckoff),
        "Wyckoff (start)": (r.assignment or "", r.assignment or ""),
    }
