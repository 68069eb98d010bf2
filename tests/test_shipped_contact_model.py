"""The contact-map model shipped in resources/: loads, predicts, and kept the benchmarks out of training."""

import numpy as np
import pytest

from core.contact_model import PAPER_BENCHMARK_FORMULAS, predict_contact_map
from core.contact_model.inference import DEFAULT_MODEL_PATH, load_model

pytestmark = pytest.mark.skipif(not DEFAULT_MODEL_PATH.exists(), reason="no shipped model")


def test_shipped_model_predicts():
    prediction = predict_contact_map("NaCl", z=1)
    assert prediction.labels == ("Na1", "Cl1") and prediction.contact[0, 1] == 1
    ag = predict_contact_map("Ag2F4")
    assert ag.z == 2 and ag.species == ("Ag", "Ag", "F", "F", "F", "F")
    p = ag.probabilities
    assert np.allclose(p, p.T) and not np.diag(p).any() and ((p >= 0) & (p <= 1)).all()


def test_benchmark_formulas_were_not_trained_on():
    model = load_model()
    from pymatgen.core import Composition

    paper = {Composition(f).reduced_formula for f in PAPER_BENCHMARK_FORMULAS}
    assert model.train_formulas and not paper & set(model.train_formulas)
    settings = model.metadata["data"]
    assert settings["split_seed"] == 0 and set(settings["test_formulas"]) >= set(PAPER_BENCHMARK_FORMULAS)
    assert model.metadata["training_seconds"] < 45 * 60
