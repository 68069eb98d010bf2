"""The candidate model shipped in resources/: loads, proposes sensible candidates, kept
the test formulas out of training; and, where the data set is present, its evaluation CLI."""

import json

import numpy as np
import pytest

from core.candidates import load_default_candidate_model, propose_candidates
from core.candidates.propose import DEFAULT_MODEL_NAME
from core.cli import main
from core.contact_model import PAPER_BENCHMARK_FORMULAS
from core.crystal.spacegroups import satisfies_constraints
from resources import RESOURCE_DIR

pytestmark = pytest.mark.skipif(not (RESOURCE_DIR / DEFAULT_MODEL_NAME).exists(), reason="no shipped model")


@pytest.mark.parametrize("formula, expected, z", [("NaCl", 225, 1), ("SrTiO3", 221, 1), ("TiO2", 136, 2)])
def test_textbook_compounds_rank_their_space_group_in_top_5(formula, expected, z):
    candidates = propose_candidates(formula, top_k=5)
    found = {c.spacegroup: c for c in candidates}
    assert expected in found, [c.spacegroup for c in candidates]
    assert found[expected].z == z
    for c in candidates:
        assert satisfies_constraints(c.spacegroup, np.array(c.lattice), tol_length=1e-3, tol_angle=1e-3)
        assert c.n_wyckoff_assignments is None or c.n_wyckoff_assignments >= 1


def test_nacl_lattice_is_close_to_experiment():
    nacl = next(c for c in propose_candidates("NaCl", top_k=3) if c.spacegroup == 225)
    assert nacl.lattice[0] == pytest.approx(5.64, rel=0.06)  # experiment 5.64 Å, DFT (PBE) about 5.69 Å


def test_shipped_model_provenance():
    model = load_default_candidate_model()
    from pymatgen.core import Composition

    paper = {Composition(f).reduced_formula for f in PAPER_BENCHMARK_FORMULAS}
    assert model.train_formulas and not paper & set(model.train_formulas)
    assert model.metadata["data"]["split_seed"] == 0
    assert model.metadata["training_seconds"] < 20 * 60
    assert "alphacrystal train candidates" in model.metadata["command"]


def test_evaluate_candidates_on_the_test_split(shared_mp_csv, tmp_path, capsys):
    out = tmp_path / "cand.json"
    assert main(["evaluate", "candidates", "--data", str(shared_mp_csv), "--split", "test", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["n"] > 1000 and result["n_removed_seen_in_training"] == 0
    assert result["sample"]["split"] == "test" and result["sample"]["data"] == str(shared_mp_csv)  # its provenance
    assert result["sg_top5"] > result["baseline_frequency_sg_top5"]
    assert result["volume_mape"] < result["baseline_prototype_volume_mape"]
    assert "top-10" in capsys.readouterr().out
