import pytest
from conftest import FIXTURES
from pymatgen.io.cif import CifWriter

pytest.importorskip("PySide6")
from alphacrystal_gui.main_window import MainWindow  # noqa: E402


@pytest.fixture
def window(qtbot):
    w = MainWindow()
    qtbot.addWidget(w)
    return w


def test_formula_validation_as_you_type(window, qtbot):
    qtbot.keyClicks(window.formula_edit, "AgF2")
    assert "Z=4: 12 atoms" in window.formula_status.text()
    window.formula_edit.setText("Xx2")
    assert "unknown element" in window.formula_status.text()
    window.formula_edit.setText("Ca3(PO4)2")
    assert "13 atoms per formula unit" in window.formula_status.text()


def test_open_structure_shows_contact_map(window, tmp_path):
    path = tmp_path / "rutile.cif"
    CifWriter(FIXTURES["TiO2"](), symprec=0.01).write_file(path)
    assert window.open_structure(path)
    table = window.map_table
    assert table.rowCount() == 6
    assert table.horizontalHeaderItem(0).text() == "Ti1"
    assert table.item(0, 2).text() == "1" and table.item(0, 1).text() == "0"
    assert "TiO2" in window.structure_label.text()


def test_bad_file_shows_dialog_not_traceback(window, tmp_path, monkeypatch):
    shown = []
    monkeypatch.setattr(
        "alphacrystal_gui.main_window.QMessageBox.warning", lambda *args: shown.append(args[2])
    )
    bad = tmp_path / "broken.cif"
    bad.write_text("this is not a cif")
    assert not window.open_structure(bad)
    assert shown and "broken.cif" in shown[0]
