import json

import numpy as np
import pytest
import torch
from conftest import substituted_dataset
from pymatgen.core import Lattice, Structure

from core.cli import main
from core.contact_model import (
    ContactModel,
    ContactNet,
    TrainingConfig,
    predict_contact_map,
    preset,
    train_contact_model,
)
from core.contact_model.evaluation import PairPriorBaseline, evaluate_contact_model
from core.contact_model.inputs import N_INPUTS, atom_inputs
from core.contact_model.templates import TemplateBank, pattern_codes
from core.crystal.elements import FeatureScaler, atomic_numbers, raw_features
from core.data.featurize import featurize_dataset
from core.errors import AlphaCrystalError, FormulaError


@pytest.fixture(scope="module")
def fixture_data():
    ds = substituted_dataset()
    feats = featurize_dataset(ds, max_atoms=12, use_cache=False)
    val = np.arange(len(ds)) % 5 == 4
    return feats.subset(np.flatnonzero(~val)), feats.subset(np.flatnonzero(val))


@pytest.fixture(scope="module")
def tiny_model(fixture_data):
    train, val = fixture_data
    config = TrainingConfig(preset="tiny", epochs=25, batch_size=4, learning_rate=3e-3, patience=100, seed=0)
    return train_contact_model(train, val, config)


def test_network_shapes_and_symmetry():
    torch.manual_seed(0)
    net = ContactNet(preset("tiny", N_INPUTS)).eval()
    for n in (2, 7, 12):
        logits = net(torch.randn(3, n, N_INPUTS))
        assert logits.shape == (3, n, n)
        assert torch.allclose(logits, logits.transpose(1, 2))
    paper = preset("paper", N_INPUTS)
    assert (paper.blocks_1d, paper.filters_1d, paper.blocks_2d, paper.filters_2d) == (9, 32, 9, 256)
    with pytest.raises(ValueError):
        preset("huge", N_INPUTS)


def test_network_with_templates_requires_them():
    net = ContactNet(preset("tiny", N_INPUTS, template_channels=4)).eval()
    x = torch.randn(2, 5, N_INPUTS)
    assert net(x, torch.rand(2, 4, 5, 5)).shape == (2, 5, 5)
    with pytest.raises(ValueError, match="template planes"):
        net(x)


def test_inputs_encode_element_blocks():
    z = atomic_numbers(["Ti", "Ti", "O", "O", "O", "O"])[None, :]
    scaler = FeatureScaler().fit(raw_features(z[0]))
    x = atom_inputs(z, scaler, 12)
    assert x.shape == (1, 6, N_INPUTS)
    fraction, rank, position, size = x[0, :, -4], x[0, :, -3], x[0, :, -2], x[0, :, -1]
    np.testing.assert_allclose(fraction, [2 / 6] * 2 + [4 / 6] * 4)
    np.testing.assert_allclose(rank, [0.25, 0.75, 0.125, 0.375, 0.625, 0.875])
    assert position[0] == 0 and position[-1] == 1 and np.allclose(size, 0.5)


def test_training_reduces_loss_and_learns_fixtures(tiny_model):
    history = tiny_model.metadata["history"]
    assert history[-1]["train_loss"] < 0.7 * history[0]["train_loss"]
    assert tiny_model.metadata["val_dice_at_threshold"] > 0.6
    prediction = predict_contact_map("KCl", z=1, model=tiny_model)
    assert prediction.labels == ("K1", "Cl1")
    assert prediction.contact.tolist() == [[0, 1], [1, 0]]


def test_training_is_reproducible(fixture_data):
    train, val = fixture_data
    config = TrainingConfig(preset="tiny", epochs=2, batch_size=4, seed=3)
    a = train_contact_model(train, val, config)
    b = train_contact_model(train, val, config)
    for (ka, va), (kb, vb) in zip(a.net.state_dict().items(), b.net.state_dict().items()):
        assert ka == kb and torch.equal(va, vb)


def test_resume_from_checkpoint(fixture_data, tmp_path):
    train, val = fixture_data
    ckpt = tmp_path / "run.ckpt"
    first = train_contact_model(train, val, TrainingConfig(preset="tiny", epochs=2, batch_size=4), checkpoint=ckpt)
    assert ckpt.exists() and first.metadata["epochs_run"] == 2
    more = train_contact_model(train, val, TrainingConfig(preset="tiny", epochs=4, batch_size=4),
                               checkpoint=ckpt, resume=True)
    assert more.metadata["epochs_run"] == 4
    assert [h["epoch"] for h in more.metadata["history"]] == [1, 2, 3, 4]
    # a checkpoint of another training is refused with the reason, not resumed on other data or crashed on
    from core.contact_model.training import TrainingError

    with pytest.raises(TrainingError, match="train_formulas differ: other training formulas"):
        train_contact_model(val, train, TrainingConfig(preset="tiny", epochs=5, batch_size=4), checkpoint=ckpt,
                            resume=True)
    with pytest.raises(TrainingError, match="preset differ"):
        train_contact_model(train, val, TrainingConfig(preset="default", epochs=5, batch_size=4), checkpoint=ckpt,
                            resume=True)


def test_save_load_round_trip(tiny_model, tmp_path):
    path = tiny_model.save(tmp_path / "m.pt")
    loaded = ContactModel.load(path, device="cpu")
    z = atomic_numbers(["Sr", "Ti", "O", "O", "O"])[None, :]
    np.testing.assert_allclose(loaded.predict_probabilities(z), tiny_model.predict_probabilities(z), atol=1e-6)
    assert loaded.threshold == tiny_model.threshold and loaded.train_formulas == tiny_model.train_formulas
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"nope")
    with pytest.raises(AlphaCrystalError, match="bad.pt"):
        ContactModel.load(bad)
    with pytest.raises(AlphaCrystalError, match="no such model"):
        ContactModel.load(tmp_path / "missing.pt")


def test_template_model_round_trip(fixture_data, tmp_path):
    train, val = fixture_data
    model = train_contact_model(train, val, TrainingConfig(preset="tiny", epochs=2, batch_size=4, templates=2,
                                                           same_pattern=True))
    assert model.net.config.template_channels == 4 and model.templates.same_pattern
    loaded = ContactModel.load(model.save(tmp_path / "t.pt"), device="cpu")
    assert loaded.templates.same_pattern
    z = atomic_numbers(["K", "Cl"])[None, :]
    np.testing.assert_allclose(loaded.predict_probabilities(z), model.predict_probabilities(z), atol=1e-6)


def test_stoichiometry_patterns_and_pattern_first_retrieval():
    rows = atomic_numbers(["Ti", "O", "O"]), atomic_numbers(["Sn", "F", "F"]), atomic_numbers(["Ti", "Ti", "O"])
    codes = pattern_codes(np.stack(rows))
    assert codes[0] == codes[1] != codes[2]
    # bank: Ti2O (pattern A2B) and CaF2 (AB2); the query TiO2 shares its elements with the first
    # and its pattern with the second; with same_pattern the AB2 map comes first
    numbers = np.zeros((2, 12), dtype=np.int16)
    numbers[0, :3], numbers[1, :3] = atomic_numbers(["Ti", "Ti", "O"]), atomic_numbers(["Ca", "F", "F"])
    contact = np.zeros((2, 12, 12), dtype=np.uint8)
    contact[0, 0, 2] = contact[0, 2, 0] = 1
    contact[1, 0, 1:3] = contact[1, 1:3, 0] = 1
    scaler = FeatureScaler().fit(raw_features(numbers[numbers > 0]))
    query = atomic_numbers(["Ti", "O", "O"])[None, :]
    plain = TemplateBank(numbers, contact, scaler, k=2).query(query)
    first = TemplateBank(numbers, contact, scaler, k=2, same_pattern=True).query(query)
    assert np.array_equal(first[0, 0], contact[1, :3, :3])          # the AB2 map comes first
    assert {plain[0, 0].sum(), plain[0, 1].sum()} == {first[0, 0].sum(), first[0, 1].sum()}  # same two maps
    assert 0 < first[0, 2, 0, 0] < 1                                # distance plane: feature distance only


def test_template_bank_never_returns_the_query_itself(fixture_data):
    train, _ = fixture_data
    scaler = FeatureScaler().fit(raw_features(train.numbers[train.mask]))
    bank = TemplateBank(train.numbers, train.contact, scaler, k=1)
    n = 2
    idx = bank.groups[n]
    planes = bank.query(train.numbers[idx, :n], exclude=idx)
    own = bank.query(train.numbers[idx, :n])
    assert np.allclose(own[:, 1], np.tanh(0.0))  # without exclusion the nearest is itself (distance 0)
    assert (planes[:, 1] > 0).all()  # with exclusion it never is


def test_predict_errors_and_z_choice(tiny_model):
    with pytest.raises(FormulaError, match="unknown element"):
        predict_contact_map("Xx2O", model=tiny_model)
    with pytest.raises(FormulaError, match="more than the 12 atoms"):
        predict_contact_map("Ca3(PO4)2", model=tiny_model)
    with pytest.raises(FormulaError, match="Z=5"):
        predict_contact_map("TiO2", z=5, model=tiny_model)
    assert predict_contact_map("Ti2O4", model=tiny_model).z == 2  # typed Z
    assert predict_contact_map("TiO2", model=tiny_model).z == 2  # rutile's Z is the most common in training


def test_pair_prior_baseline(fixture_data):
    train, _ = fixture_data
    prior = PairPriorBaseline().fit(train)
    assert prior.predict(atomic_numbers(["Na", "Cl"])).tolist() == [[0, 1], [1, 0]]
    assert not prior.predict(atomic_numbers(["O", "O"])).any()


def test_evaluation_keys(tiny_model, fixture_data, tmp_path):
    train, val = fixture_data
    result = evaluate_contact_model(tiny_model, val, train, plot=tmp_path / "hist.png")
    for key in ("n", "dice_mean", "dice_std", "exact_fraction", "ge_0_8_fraction", "matched_dice_mean",
                "baseline_pair_prior_dice_mean", "baseline_nearest_dice_mean",
                "baseline_nearest_same_pattern_dice_mean", "ms_per_formula"):
        assert key in result, key
    assert result["n"] == len(val) and 0 <= result["dice_mean"] <= 1
    assert result["matched_dice_mean"] >= result["dice_mean"] - 1e-9
    assert (tmp_path / "hist.png").stat().st_size > 1000
    # structures whose formula was used for training are removed
    assert evaluate_contact_model(tiny_model, train)["n"] == 0


def test_cli_predicts_formula(tiny_model, tmp_path, capsys):
    path = tiny_model.save(tmp_path / "m.pt")
    out = tmp_path / "p.json"
    assert main(["contact-map", "Sr2Ti2O6", "--model", str(path), "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "Z = 2 (" in text and "10 atoms" in text and "Sr1" in text
    data = json.loads(out.read_text())
    assert data["labels"][:3] == ["Sr1", "Sr2", "Ti1"] and len(data["contact"]) == 10
    assert main(["contact-map", "Qq2", "--model", str(path)]) == 2
    assert "unknown element" in capsys.readouterr().err
    assert main(["contact-map", "missing.cif", "--model", str(path)]) == 2
    assert "no such file" in capsys.readouterr().err


def test_structure_file_still_gives_true_map(tmp_path, capsys):
    s = Structure(Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    path = tmp_path / "NaCl.cif"
    s.to(filename=str(path))
    assert main(["contact-map", str(path)]) == 0
    assert "valid bonds" in capsys.readouterr().out


def test_ensemble_averages_members_and_round_trips(fixture_data, tmp_path):
    from core.contact_model.training import combine_ensemble

    train, val = fixture_data
    a = train_contact_model(train, val, TrainingConfig(preset="tiny", epochs=2, batch_size=4, seed=0, templates=1))
    b = train_contact_model(train, val, TrainingConfig(preset="tiny", epochs=2, batch_size=4, seed=1, templates=1))
    z = atomic_numbers(["Sr", "Ti", "O", "O", "O"])[None, :]
    expected = (a.predict_probabilities(z) + b.predict_probabilities(z)) / 2
    ensemble = combine_ensemble([a, b], val)
    assert len(ensemble.members) == 1 and len(ensemble.metadata["ensemble"]) == 2
    np.testing.assert_allclose(ensemble.predict_probabilities(z), expected, atol=1e-6)
    loaded = ContactModel.load(ensemble.save(tmp_path / "e.pt"), device="cpu")
    np.testing.assert_allclose(loaded.predict_probabilities(z), expected, atol=1e-6)
    assert loaded.threshold == ensemble.threshold


def test_snapping_picks_the_most_similar_template():
    from core.contact_model.model import snap_to_templates

    pred = np.zeros((1, 3, 3), np.uint8)
    pred[0, 0, 1] = pred[0, 1, 0] = pred[0, 0, 2] = pred[0, 2, 0] = 1
    far, near = pred[0].copy(), pred[0].copy()
    far[0, 2] = far[2, 0] = 0
    far[1, 2] = far[2, 1] = 1
    near[1, 2] = near[2, 1] = 1  # one extra bond: Dice 0.8 with the prediction
    planes = np.zeros((1, 4, 3, 3), np.float32)
    planes[0, 0], planes[0, 1] = far, near  # nearest composition first, better map second
    planes[0, 2], planes[0, 3] = 0.1, 0.2
    np.testing.assert_array_equal(snap_to_templates(pred, planes, 2, 0.8)[0], near)
    np.testing.assert_array_equal(snap_to_templates(pred, planes, 2, 0.9)[0], pred[0])  # below: kept
    planes[0, 3] = 1.0  # the better template missing: the nearest (Dice 0.5) is not close enough
    np.testing.assert_array_equal(snap_to_templates(pred, planes, 2, 0.8)[0], pred[0])


def test_validation_maps_join_the_bank_and_count_as_seen(fixture_data, tmp_path):
    from core.contact_model.training import add_validation_templates

    train, val = fixture_data
    model = train_contact_model(train, val, TrainingConfig(preset="tiny", epochs=1, batch_size=4, templates=1))
    add_validation_templates(model, val)
    assert len(model.templates.numbers) == len(train) + len(val)
    assert set(val.formulas.tolist()) <= set(model.train_formulas)
    k = 0
    n = int(val.n_atoms[k])
    nearest = model.templates.query(val.numbers[k : k + 1, :n])
    np.testing.assert_array_equal(nearest[0, 0], val.contact[k, :n, :n])  # its own map is now retrievable
    result = evaluate_contact_model(model, val, train)
    assert result["n"] == 0 and result["n_removed_seen_in_training"] == len(val)
    loaded = ContactModel.load(model.save(tmp_path / "v.pt"), device="cpu")
    assert len(loaded.templates.numbers) == len(train) + len(val)


def test_gpu_training_harness_trains_members_and_assembles_them(fixture_data, tmp_path):
    """benchmarks/train_contact_gpu.py: members trained from exported partitions (as on the
    GPU machine) and assembled here give a working ensemble with the training+validation bank."""
    import importlib.util
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "benchmarks" / "train_contact_gpu.py"
    spec = importlib.util.spec_from_file_location("train_contact_gpu", script)
    harness = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(harness)
    train, val = fixture_data
    data, runs = tmp_path / "data", tmp_path / "runs"
    data.mkdir()
    train.save(data / "train.npz")
    val.save(data / "validation.npz")
    for run in ("a:2,8,2,8:0", "b:1,8,1,16:1"):
        assert harness.main(["train", "--data", str(data), "--run", run, "--epochs", "2", "--time-limit-s", "600",
                             "--score-atoms", "1-12", "--threads", "1", "--out", str(runs)]) == 0
    record = json.loads((runs / "b.json").read_text())
    assert record["config"]["blocks_2d"] == 1 and record["config"]["filters_2d"] == 16
    assert record["epochs_run"] == 2 and 0.0 <= record["validation_1-12"]["val_dice_final"] <= 1.0
    model = harness.assemble([str(runs / "a.member.pt"), str(runs / "b.member.pt")], train, val, {"command": "test"})
    assert len(model.members) == 1 and model.metadata["command"] == "test"
    assert len(model.templates.numbers) == len(train) + len(val)
    probs = model.predict_probabilities(train.numbers[:3, :int(train.n_atoms[0])])
    assert probs.shape[0] == 3 and np.all((probs >= 0) & (probs <= 1))
    with pytest.raises(SystemExit):
        harness.main(["train", "--data", str(data), "--run", "bad:1,2:0", "--out", str(runs)])
