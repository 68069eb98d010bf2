"""Main window: formula bar with live validation and a contact-map table for opened files."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QColor
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMessageBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

import core

BONDED = QColor("#f2c14e")


class MainWindow(QMainWindow):
    """Formula entry (validated as you type) and the contact map of an opened structure."""

    def __init__(self, max_atoms: int = core.DEFAULT_MAX_ATOMS) -> None:
        super().__init__()
        self.max_atoms = max_atoms
        self.setWindowTitle("AlphaCrystal Studio")
        self.formula_edit = QLineEdit(placeholderText="Formula, e.g. SrTiO3")
        self.formula_status = QLabel()
        self.formula_status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.structure_label = QLabel("File ▸ Open a CIF or POSCAR to see its contact map.")
        self.map_table = QTableWidget()
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Formula:"))
        bar.addWidget(self.formula_edit, 1)
        layout = QVBoxLayout()
        layout.addLayout(bar)
        layout.addWidget(self.formula_status)
        layout.addWidget(self.structure_label)
        layout.addWidget(self.map_table, 1)
        central = QWidget()
        central.setLayout(layout)
        self.setCentralWidget(central)
        open_action = QAction("&Open structure…", self, shortcut="Ctrl+O", triggered=self._ask_open)
        self.menuBar().addMenu("&File").addAction(open_action)
        self.formula_edit.textChanged.connect(self.validate_formula)
        self.resize(820, 620)

    def validate_formula(self, text: str) -> bool:
        """Show the atoms per Z for a valid formula, or the parse error; return validity."""
        if not text.strip():
            self.formula_status.setText("")
            return False
        try:
            formula = core.parse_formula(text)
            zs = formula.z_values(self.max_atoms)
        except core.FormulaError as exc:
            self.formula_status.setText(f"<span style='color:#b00020'>{exc}</span>")
            return False
        options = ", ".join(f"Z={z}: {z * formula.atoms_per_formula_unit} atoms" for z in zs)
        self.formula_status.setText(f"{formula.reduced_formula} — {options}")
        return True

    def _ask_open(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Open structure", "", "Structures (*.cif *.vasp POSCAR* CONTCAR*);;All files (*)"
        )
        if path:
            self.open_structure(path)

    def open_structure(self, path: str | Path) -> bool:
        """Read a structure file and show its primitive-cell contact map; errors go to a dialog."""
        try:
            cell = core.primitive_cell(core.read_structure(path))
            cmap = core.compute_contact_map(cell)
        except core.AlphaCrystalError as exc:
            QMessageBox.warning(self, "Cannot open structure", str(exc))
            return False
        self.structure_label.setText(
            f"{Path(path).name}: {cell.composition.reduced_formula}, {len(cell)} atoms in the primitive cell, "
            f"{cmap.n_valid_bonds} bonds, {cmap.n_short_contacts} short contacts"
        )
        self.show_map(cmap)
        return True

    def show_map(self, cmap: core.ContactMap) -> None:
        n = cmap.n_atoms
        self.map_table.clear()
        self.map_table.setRowCount(n)
        self.map_table.setColumnCount(n)
        self.map_table.setHorizontalHeaderLabels(list(cmap.labels))
        self.map_table.setVerticalHeaderLabels(list(cmap.labels))
        for i in range(n):
            for j in range(n):
                item = QTableWidgetItem(str(int(cmap.matrix[i, j])))
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                item.setFlags(Qt.ItemFlag.ItemIsEnabled)
                if cmap.matrix[i, j]:
                    item.setBackground(BONDED)
                self.map_table.setItem(i, j, item)
        self.map_table.resizeColumnsToContents()
