"""Honest evaluation of a contact-map model on held-out structures, with two baselines.

Baselines are computed from the training partition only:

* **pair prior** - predict a contact between every two atoms whose element pair
  is bonded in more than half of the training structures that contain the pair
  (two atoms of the element for a same-element pair);
* **nearest** - copy the map of the training structure with the same atom count
  whose per-atom element features (standardised, canonical order) are closest
  in L1 distance.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from core.contact.contact_map import DEFAULT_THRESHOLD
from core.contact.metrics import dice, matched_dice
from core.contact_model.data import groups_by_size
from core.contact_model.model import ContactModel
from core.contact_model.templates import TemplateBank
from core.crystal.elements import FeatureScaler
from core.data.featurize import FeaturizedDataset


def drop_seen_formulas(data: FeaturizedDataset, formulas: list[str]) -> tuple[FeaturizedDataset, int]:
    """Remove structures whose reduced formula was used for training; returns (rest, n_removed)."""
    seen = set(formulas)
    keep = np.array([f not in seen for f in data.formulas], dtype=bool)
    return data.subset(np.flatnonzero(keep)), int((~keep).sum())


def predict_dataset(model: ContactModel, data: FeaturizedDataset) -> tuple[list[np.ndarray], float]:
    """Predicted 0/1 maps (one n x n array per structure) and the inference wall time in s."""
    out: list[np.ndarray] = [np.zeros((0, 0))] * len(data)
    start = time.perf_counter()
    for n, idx in groups_by_size(data).items():
        _, maps = model.predict(data.numbers[idx, :n])
        for k, m in zip(idx, maps):
            out[k] = m
    return out, time.perf_counter() - start


class PairPriorBaseline:
    """Contact wherever the element pair is bonded in > 50 % of training structures containing it."""

    def fit(self, train: FeaturizedDataset) -> PairPriorBaseline:
        size = int(train.numbers.max()) + 1
        bonded = np.zeros((size, size))
        present = np.zeros((size, size))
        for k in range(len(train)):
            n = int(train.n_atoms[k])
            z = train.numbers[k, :n].astype(np.int64)
            ii, jj = np.nonzero(~np.eye(n, dtype=bool))
            pairs = np.zeros((size, size), dtype=bool)
            pairs[z[ii], z[jj]] = True  # pair present (two atoms of it for a same-element pair)
            bi, bj = np.nonzero(train.contact[k, :n, :n])
            hit = np.zeros((size, size), dtype=bool)
            hit[z[bi], z[bj]] = True  # pair bonded somewhere in this structure
            present += pairs
            bonded += hit
        with np.errstate(invalid="ignore", divide="ignore"):
            self.probability = np.where(present > 0, bonded / np.maximum(present, 1), 0.0)
        return self

    def predict(self, numbers: np.ndarray) -> np.ndarray:
        z = np.asarray(numbers, dtype=np.int64)
        z = np.where(z < len(self.probability), z, 0)
        out = (self.probability[z[:, None], z[None, :]] > DEFAULT_THRESHOLD).astype(np.uint8)
        np.fill_diagonal(out, 0)
        return out


class NearestCompositionBaseline:
    """Copy the map of the closest training composition with the same atom count
    (the first template of a :class:`TemplateBank` over the training set);
    ``same_pattern``: among those with the same stoichiometry pattern first."""

    def __init__(self, same_pattern: bool = False) -> None:
        self.same_pattern = same_pattern

    def fit(self, train: FeaturizedDataset, scaler: FeatureScaler) -> NearestCompositionBaseline:
        self.bank = TemplateBank(train.numbers, train.contact, scaler, k=1, same_pattern=self.same_pattern)
        return self

    @classmethod
    def of_bank(cls, bank: TemplateBank) -> NearestCompositionBaseline:
        """The baseline over an existing bank (e.g. a model's training + validation maps)."""
        baseline = cls(bank.same_pattern)
        baseline.bank = bank
        return baseline

    def predict_many(self, numbers: np.ndarray) -> np.ndarray:
        """Maps, shape (B, n, n), for structures of one atom count n (numbers: (B, n))."""
        return self.bank.query(numbers)[:, 0].astype(np.uint8)

    def predict_dataset(self, data: FeaturizedDataset) -> list[np.ndarray]:
        """One map per structure of ``data`` (queried one atom count at a time)."""
        maps: list[np.ndarray] = [np.zeros((0, 0), dtype=np.uint8)] * len(data)
        for size, idx in groups_by_size(data).items():
            for k, m in zip(idx, self.predict_many(data.numbers[idx, :size])):
                maps[k] = m
        return maps


def _summary(scores: np.ndarray) -> dict[str, float]:
    return {
        "dice_mean": float(scores.mean()) if len(scores) else float("nan"),
        "dice_std": float(scores.std()) if len(scores) else float("nan"),
        "exact_fraction": float((scores >= 1 - 1e-9).mean()) if len(scores) else float("nan"),
        "ge_0_8_fraction": float((scores >= 0.8 - 1e-9).mean()) if len(scores) else float("nan"),
    }


def evaluate_contact_model(
    model: ContactModel,
    data: FeaturizedDataset,
    train: FeaturizedDataset | None = None,
    plot: str | Path | None = None,
) -> dict:
    """Metrics of ``model`` on ``data`` (formulas seen in training are removed first).

    Returns a JSON-ready dict with ``n``, ``dice_mean``, ``dice_std``,
    ``exact_fraction``, ``ge_0_8_fraction``, ``matched_dice_mean``,
    ``matched_exact_fraction``, the baselines' figures (when ``train`` is
    given), ``ms_per_formula``, a breakdown by atom count and per-structure rows.
    """
    data, n_seen = drop_seen_formulas(data, model.train_formulas)
    preds, seconds = predict_dataset(model, data)
    n = len(data)
    species = [[str(z) for z in data.numbers[k, : int(data.n_atoms[k])]] for k in range(n)]
    targets = [data.contact[k, : int(data.n_atoms[k]), : int(data.n_atoms[k])] for k in range(n)]
    scores = np.array([dice(p, t) for p, t in zip(preds, targets)])
    matched = np.array([matched_dice(p, t, s) for p, t, s in zip(preds, targets, species)])
    result: dict = {"n": n, "n_removed_seen_in_training": n_seen, **_summary(scores),
                    "matched_dice_mean": float(matched.mean()) if n else float("nan"),
                    "matched_exact_fraction": float((matched >= 1 - 1e-9).mean()) if n else float("nan"),
                    "threshold": model.threshold, "snap_similarity": model.snap_similarity,
                    "ms_per_formula": 1000 * seconds / max(1, n)}
    if train is not None:
        prior = PairPriorBaseline().fit(train)
        prior_scores = np.array([dice(prior.predict(data.numbers[k, : len(t)]), t) for k, t in enumerate(targets)])
        nearest = {"nearest": NearestCompositionBaseline(False).fit(train, model.scaler),
                   "nearest_same_pattern": NearestCompositionBaseline(True).fit(train, model.scaler)}
        if model.templates is not None and len(model.templates.numbers) > len(train):
            # the nearest map in the model's own bank (training + validation maps)
            nearest["nearest_in_model_bank"] = NearestCompositionBaseline.of_bank(model.templates)
        baselines = [("pair_prior", prior_scores)]
        for name, baseline in nearest.items():
            maps = baseline.predict_dataset(data)
            baselines.append((name, np.array([dice(p, t) for p, t in zip(maps, targets)])))
        for name, values in baselines:
            summary = _summary(values)
            result[f"baseline_{name}_dice_mean"] = summary["dice_mean"]
            result[f"baseline_{name}_exact_fraction"] = summary["exact_fraction"]
    sizes = data.n_atoms
    result["by_atom_count"] = {
        int(s): {"n": int((sizes == s).sum()), "dice_mean": float(scores[sizes == s].mean()),
                 "exact_fraction": float((scores[sizes == s] >= 1 - 1e-9).mean())}
        for s in np.unique(sizes)
    }
    result["structures"] = [
        {"material_id": str(data.material_ids[k]), "formula": str(data.formulas[k]),
         "n_atoms": int(sizes[k]), "dice": round(float(scores[k]), 4), "matched_dice": round(float(matched[k]), 4)}
        for k in range(n)
    ]
    if plot:
        plot_histogram(scores, plot, result)
    return result


def plot_histogram(scores: np.ndarray, path: str | Path, result: dict) -> Path:
    """Histogram of per-structure Dice, like Figure 3 of the paper."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=120)
    ax.hist(scores, bins=np.linspace(0, 1, 21).tolist(), color="#3a6ea5", edgecolor="white")
    ax.set_xlabel("contact map accuracy (Dice)")
    ax.set_ylabel("test structures")
    text = (f"n = {result['n']}\nmean {result['dice_mean']:.3f} ± {result['dice_std']:.3f}\n"
            f"exact {100 * result['exact_fraction']:.1f} %")
    if "baseline_pair_prior_dice_mean" in result:
        text += (f"\npair-prior baseline {result['baseline_pair_prior_dice_mean']:.3f}"
                 f"\nnearest baseline {result['baseline_nearest_dice_mean']:.3f}")
    ax.text(0.03, 0.97, text, transform=ax.transAxes, va="top", fontsize=9)
    ax.set_title("Predicted contact maps, held-out formulas")
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out


def with_training_bank(model: ContactModel, train: FeaturizedDataset) -> ContactModel:
    """A copy of ``model`` for choosing things on validation: its template bank holds the
    training maps only (the shipped bank adds the validation maps after tuning) and its
    seen formulas are the training ones, so no validation cell finds itself."""
    import copy

    bank = model.templates
    if bank is None:
        raise ValueError("the model has no template bank to restrict to its training maps")
    n_train = int(model.metadata.get("template_bank", {}).get("train", len(bank.numbers)))
    tuning = copy.copy(model)
    tuning.templates = TemplateBank(bank.numbers[:n_train], bank.contact[:n_train], bank.scaler, bank.k,
                                    bank.same_pattern)
    tuning.train_formulas = sorted(set(train.formulas.tolist()))
    return tuning
