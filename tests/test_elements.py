import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from core.crystal.elements import (
    FEATURE_NAMES,
    N_FEATURES,
    FeatureScaler,
    atomic_numbers,
    element_sort_key,
    element_table,
    raw_features,
)

ROOT = Path(__file__).resolve().parents[1]


def test_table_covers_elements_without_gaps():
    table = element_table()
    assert N_FEATURES == 11 == len(FEATURE_NAMES)
    assert table.max_z >= 96  # up to curium at least, as in MP
    assert np.isfinite(table.features[1:]).all()
    assert table.symbols[26] == "Fe" and table.z_of("Fe") == 26


def test_known_values():
    f = dict(zip(FEATURE_NAMES, raw_features(np.array(8))))
    assert f["atomic_number"] == 8
    assert f["electronegativity_pauling"] == pytest.approx(3.44)
    assert f["covalent_radius_A"] == pytest.approx(0.66)  # Cordero 2008
    assert f["first_ionization_energy_eV"] == pytest.approx(13.618, abs=1e-3)
    assert f["unpaired_electrons"] == 2
    assert f["group"] == 16 and f["row"] == 2
    fe = dict(zip(FEATURE_NAMES, raw_features(np.array(26))))
    assert fe["unpaired_electrons"] == 4  # 3d6, high spin
    cr = dict(zip(FEATURE_NAMES, raw_features(np.array(24))))
    assert cr["unpaired_electrons"] == 6  # 3d5 4s1


def test_imputed_values_are_flagged():
    table = element_table()
    he = table.z_of("He")
    assert "electronegativity_pauling" in table.imputed[he]
    assert table.imputed[table.z_of("O")] == ""


def test_metal_flags_follow_pymatgen():
    table = element_table()
    assert table.is_metal[atomic_numbers(["Na", "Fe", "Cs", "La"])].all()
    assert not table.is_metal[atomic_numbers(["O", "Si", "As", "Cl"])].any()


def test_element_order_puts_cations_first():
    assert sorted(["O", "Ti", "Sr"], key=element_sort_key) == ["Sr", "Ti", "O"]
    assert sorted(["Cl", "Na"], key=element_sort_key) == ["Na", "Cl"]


def test_scaler_fits_training_atoms_and_round_trips():
    z = np.array([11, 17, 17, 8, 26])
    scaler = FeatureScaler().fit(raw_features(z))
    out = scaler.transform(raw_features(z))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.mean(axis=0), 0.0, atol=1e-5)
    restored = FeatureScaler.from_dict(scaler.to_dict())
    np.testing.assert_allclose(restored.transform(raw_features(z)), out)
    with pytest.raises(RuntimeError):
        FeatureScaler().transform(raw_features(z))


@pytest.mark.skipif(importlib.util.find_spec("mendeleev") is None, reason="mendeleev not installed")
def test_shipped_table_is_reproducible():
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "build_element_features.py"), "--check"],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_training_data_elements_are_the_template_librarys():
    """TRAINING_DATA_Z is what the shipped template library (the training formulas) holds: FmCl3's
    space groups were printed with confident probabilities and no word that Fm was never seen."""
    from core.crystal.elements import TRAINING_DATA_Z, unseen_elements
    from core.templates.library import load_library

    assert set(np.unique(load_library().numbers).tolist()) == set(TRAINING_DATA_Z)
    assert unseen_elements(["Fm", "Cl", "Fr"]) == ["Fm", "Fr"]


def test_a_formula_with_an_element_never_seen_in_training_says_so(capsys):
    from core.cli import main
    from core.crystal.composition import parse_formula
    from core.predict.scope import scope_notes
    from core.predict.settings import PredictionSettings

    assert any("Fm (Z = 100) never occurs" in n for n in scope_notes(parse_formula("FmCl3"), PredictionSettings()))
    assert not any("never occur" in n for n in scope_notes(parse_formula("NaCl"), PredictionSettings()))
    assert main(["templates", "FmCl3"]) == 0
    assert "note: element Fm (Z = 100) never occurs in the structures the models" in capsys.readouterr().out
