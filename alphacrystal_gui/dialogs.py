"""The window's dialogs: preferences, about, the unsaved-work question and the PNG options.

Each is a plain Qt dialog that returns the user's choice; the window acts on it.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QInputDialog,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QWidget,
)

from core import COUNT_RANGES, Preferences, Session, __version__


class PreferencesDialog(QDialog):
    """Model file, device, default processes and GA budget: the session's preferences."""

    def __init__(self, session: Session, parent=None) -> None:
        super().__init__(parent)
        chosen = session.preferences
        self.setWindowTitle("Preferences")
        self.model = QLineEdit(chosen.contact_model or "")
        self.model.setPlaceholderText("shipped model (resources/contact_model_default.pt)")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        self.device = QComboBox()
        self.device.addItems(["auto", "cpu", "cuda"])
        if self.device.findText(chosen.device) < 0:  # cuda:1, typed into the settings file
            self.device.addItem(chosen.device)
        self.device.setCurrentText(chosen.device)
        self.processes = QSpinBox()
        self.processes.setRange(*COUNT_RANGES["jobs"])
        self.processes.setValue(chosen.jobs)
        self.generations = QSpinBox()
        self.generations.setRange(*COUNT_RANGES["generations"])
        self.generations.setValue(chosen.generations)
        form = QFormLayout(self)
        form.addRow("Contact model file", self.model)
        form.addRow("", browse)
        form.addRow("Device", self.device)
        form.addRow("Processes", self.processes)
        form.addRow("GA generations (default budget)", self.generations)
        box = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        box.accepted.connect(self.accept)
        box.rejected.connect(self.reject)
        form.addRow(box)

    def chosen(self) -> Preferences:
        """The preferences as chosen (raises AlphaCrystalError for an invalid one)."""
        typed = self.model.text().strip()
        # absolute: a relative path would be read against another working directory next time
        model = str(Path(typed).expanduser().resolve()) if typed else None
        return Preferences(model, self.device.currentText(),
                           self.processes.value(), self.generations.value())

    def _browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Contact model", "", "Models (*.pt)")
        if path:
            self.model.setText(path)


ABOUT_TEXT = f"""<h3>AlphaCrystal Studio {__version__}</h3>
<p>Crystal structure prediction from a chemical formula: the AlphaCrystal method (Hu et al.; predicted
contact maps reconstructed by the CMCrystal genetic algorithm) pooled with template substitution,
relaxed and ranked with a machine-learned interatomic potential.</p>
<p><b>Data.</b> The shipped models and the template library (resources/template_library.npz: known
structures used as templates) are derived from Materials Project data (Jain et al., APL Mater. 1, 011002
(2013)) via the MP-20 set (Xie et al., ICLR 2022), licensed CC BY 4.0
(https://creativecommons.org/licenses/by/4.0/). A result whose source reads "template mp-…" is that
Materials Project entry with its elements substituted.</p>
<p><b>Methods used.</b> CHGNet (Deng et al., Nat. Mach. Intell. 2023), or on request SevenNet-0 (Park et
al., J. Chem. Theory Comput. 2024), for relaxation and energies;
ionic substitution probabilities of Hautier et al. (Inorg. Chem. 2011) and Pettifor's Mendeleev numbers
for template scores, through pymatgen; spglib and pyxtal for symmetry.</p>"""


def ask_save_discard(parent: QWidget, name: str, action: str, at_stake: str) -> str:
    """Save / Discard / Cancel before ``action`` loses the unsaved work of ``name``
    (``at_stake``: :meth:`core.Session.work_at_stake`): ``"save"``, ``"discard"`` or ``"cancel"``."""
    answer = QMessageBox.question(
        parent, "Unsaved changes", f"{name} has unsaved work: {at_stake}. Save it before you {action}?",
        QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
        QMessageBox.StandardButton.Save)
    return {QMessageBox.StandardButton.Save: "save", QMessageBox.StandardButton.Discard: "discard"}.get(answer,
                                                                                                       "cancel")


def ask_png_options(parent: QWidget, size: tuple[int, int]) -> tuple[int, bool] | None:
    """(scale, transparent background) for a PNG of a view of ``size`` pixels, or None (cancelled)."""
    w, h = size
    options = [(k, background) for background in ("white", "transparent") for k in (1, 2, 4)]
    choices = [f"{k}× ({k * w} × {k * h} pixels), {background} background" for k, background in options]
    choice, ok = QInputDialog.getItem(parent, "Save 3D view", "Resolution and background:", choices, 1, False)
    if not ok:
        return None
    scale, background = options[choices.index(choice)]
    return scale, background == "transparent"
