"""The centre of the window: which map is shown (one entry per Z, or the viewed result's), its
title, the way back to the input map, and the contact-map editor.

A view of the session: :meth:`MapPanel.show_session` renders the map the session has on view
(the current Z's input map, editable, or a result's, read-only, or an opened reference's true
map); the user's choices go out as signals.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from alphacrystal_gui.widgets.contact_map_editor import ContactMapEditor
from alphacrystal_gui.widgets.labels import WrappedLabel
from core import AlphaCrystalError, ContactMapDocument, Session, counted, parse_formula

Z_SELECT_TIP = ("the contact map of each Z (a candidate runs on the map of its own Z); while a result's map "
                "is on view, it is named first")


class MapPanel(QWidget):
    """Map selector, title, *Input map* (back to the input map) and the editor (see the module docstring)."""

    zChosen = Signal(int)
    """The user chose the input map of that Z."""
    backRequested = Signal()

    def __init__(self, session: Session, contact_max_atoms: int, parent=None) -> None:
        super().__init__(parent)
        self.session = session
        self.contact_max_atoms = contact_max_atoms
        self.no_map = ContactMapDocument()
        """Shown where there is no map (not the last viewed result's, which stayed under the title)."""
        self.editor = ContactMapEditor(self.no_map)
        self.title = WrappedLabel("Contact map")
        self.z_select = QComboBox()
        self.z_select.setToolTip(Z_SELECT_TIP)
        self.back_button = QPushButton("Input map")  # short: the selector beside it needs the width
        self.back_button.setToolTip("Back to the input map of the current Z (editable)")
        self.back_button.setEnabled(False)  # enabled, not shown/hidden: a relayout repaints the 3D canvas
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        row.addWidget(QLabel("Map:"))
        row.addWidget(self.z_select, 1)
        row.addWidget(self.back_button)
        layout.addLayout(row)
        layout.addWidget(self.title)
        layout.addWidget(self.editor, 1)
        self.back_button.clicked.connect(self.backRequested)
        self.z_select.activated.connect(self._chosen)

    def _chosen(self, index: int) -> None:
        z = self.z_select.itemData(index)
        if z is not None:  # not the viewed result's entry
            self.zChosen.emit(z)

    def show_session(self) -> None:
        """The editor shows the viewed result's map (read-only), the current Z's input map, or
        the reference's true map (read-only) when there is no input map."""
        s = self.session
        if s.run.viewing is not None:
            record = s.run.records[s.run.viewing]
            self.editor.set_document(s.run.result_document, read_only=True)
            provisional = ", provisional rank" if record.provisional else ""
            self.title.setText(f"Contact map of result #{record.rank} ({s.run.results.formula}{provisional}; view only)")
            self.back_button.setEnabled(True)
            self.show_z_choices()
            return
        self.back_button.setEnabled(False)
        doc = s.inputs.document()
        if doc is None:
            reference = s.reference_document
            self.editor.set_document(reference or self.no_map, read_only=True)
            if s.results_only:
                text = (f"Results of {s.inputs.formula} opened without their inputs: no input map. Select a result "
                        "to see its map, or press Predict for the formula's maps and candidates.")
            elif s.inputs.formula and not s.inputs.zs:
                text = (f"No contact map for {s.inputs.formula}: the contact route covers cells of up to "
                        f"{self.contact_max_atoms} atoms; the run uses the templates.")
            else:
                text = "" if reference is not None else "Contact map: type a formula and press Predict"
            if reference is not None:
                shown = f"true contact map of {s.reference_name} ({counted(reference.n, 'atom')})"
                text = f"{text} Shown: the {shown}" if text else shown[0].upper() + shown[1:]
            self.title.setText(text)
        else:
            self.editor.set_document(doc)
            self.title.setText(f"Contact map of {s.inputs.formula}, Z = {s.inputs.current_z} ({counted(doc.n, 'atom')}, primitive "
                               "cell): click a cell to toggle a bond")
        if self.z_select.currentData() != s.inputs.current_z or self.z_select.findData(None) >= 0:
            self.show_z_choices()  # it named the viewed result's map, or another Z

    def show_z_choices(self) -> None:
        """One entry per Z: atoms, the candidates that run on its map, whether it is edited;
        while a result's map is on view, an entry naming it comes first and is the one shown."""
        s = self.session
        self.z_select.blockSignals(True)
        self.z_select.clear()
        if s.run.viewing is not None:
            self.z_select.addItem(self._viewed_map_name(), None)
        for z in s.inputs.zs:
            doc = s.inputs.documents[z]
            groups = [str(c.spacegroup) for c, t in zip(s.inputs.candidates, s.inputs.candidate_ticked) if c.z == z and t]
            text = f"Z = {z}: {counted(doc.n, 'atom')} · " + (f"candidates sg {', '.join(groups)}" if groups
                                                    else "no ticked candidate")
            if doc.edited:
                text += " · edited"
            self.z_select.addItem(text, z)
        if s.run.viewing is not None:
            self.z_select.setCurrentIndex(0)
        elif s.inputs.current_z is not None:
            self.z_select.setCurrentIndex(self.z_select.findData(s.inputs.current_z))
        self.z_select.setEnabled(bool(s.inputs.zs) or s.run.viewing is not None)
        self.z_select.setToolTip(f"{self.z_select.currentText()}\n{Z_SELECT_TIP}" if self.z_select.count()
                                 else Z_SELECT_TIP)  # the whole entry, where the box cuts it
        self.z_select.blockSignals(False)

    def _viewed_map_name(self) -> str:
        """``result #1: 10 atoms (Z = 2)`` (the viewed result's map, its own Z; the title under
        the selector says it is view only)."""
        s = self.session
        record, n = s.run.records[s.run.viewing], s.run.result_document.n
        try:
            per_unit = parse_formula(s.run.results.formula).atoms_per_formula_unit
        except AlphaCrystalError:
            per_unit = 0
        z = f" (Z = {n // per_unit})" if per_unit and n and n % per_unit == 0 else ""
        provisional = " · provisional rank" if record.provisional else ""
        return f"result #{record.rank}: {counted(n, 'atom')}{z}{provisional}"
