"""Can a different *decision* on the 20-atom model's probabilities reach Dice 0.85 at 13-20 atoms?

Usage (from the repository root)::

    python benchmarks/contact_decoding.py --data ../shared/data/mp/structures.csv.gz \
        [--model resources/contact_model_l20.pt] [--atoms 13-20] [--templates 10] [--json OUT]

On the validation cells of the given sizes (template bank: training maps only, as
``tune_contact_decision.py``), the network's probabilities are computed once and
turned into maps several ways, each printed with its mean positional Dice and
exact-map fraction:

* the shipped decision (threshold, then template snapping) and plain thresholds;
* **expected-Dice decoding**: per map, the k most probable pairs with k maximising
  the plug-in expected Dice 2 sum(p_top k) / (k + sum p) (decision theory for F1
  under independent Bernoulli contacts);
* **canonicalised prediction**: the thresholded map re-ordered by the canonical
  order of its own graph (``core.contact.contact_map.canonical_order``), since the target's
  order within an element block is canonical;
* **learned choice**: among the thresholded map, its snapped version and the
  ``--templates`` nearest training maps, a gradient-boosted regressor (scikit-learn,
  features without the target: expected Dice under p, template rank and distance,
  agreement with the thresholded map, size) predicts each candidate's Dice and the
  best is taken; 5-fold cross-validation grouped by cell, so no cell chooses with
  a regressor that saw it;
* two ceilings: the best of the candidates (oracle) and the permutation-matched
  Dice of the thresholded map (``core.contact.metrics.matched_dice``).

The point is a measured answer to whether the 0.85 target is a decision problem or
a model problem (docs/contact-model.md).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def expected_dice_map(probabilities: np.ndarray) -> np.ndarray:
    """The 0/1 symmetric map of the k most probable pairs maximising 2 S_k / (k + S)."""
    n = len(probabilities)
    upper = np.triu_indices(n, 1)
    p = probabilities[upper]
    order = np.argsort(-p, kind="stable")
    score = 2 * np.cumsum(p[order]) / (np.arange(1, len(p) + 1) + p.sum())
    chosen = np.zeros(len(p), dtype=np.uint8)
    chosen[order[: int(np.argmax(score)) + 1]] = 1
    out = np.zeros((n, n), dtype=np.uint8)
    out[upper] = chosen
    return out | out.T


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--model", default=str(ROOT / "resources" / "contact_model_l20.pt"))
    parser.add_argument("--atoms", default="13-20", help="LOW-HIGH")
    parser.add_argument("--templates", type=int, default=10, help="nearest training maps offered to the choice")
    parser.add_argument("--json", help="write the table as JSON")
    args = parser.parse_args(argv)

    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.model_selection import GroupKFold

    from core.contact.contact_map import canonical_order
    from core.contact.metrics import dice, matched_dice
    from core.contact_model import DataSettings, load_contact_data
    from core.contact_model.data import groups_by_size
    from core.contact_model.evaluation import drop_seen_formulas, with_training_bank
    from core.contact_model.model import ContactModel, snap_to_templates
    from core.contact_model.templates import TemplateBank

    model = ContactModel.load(args.model, "cpu")
    low, high = (int(v) for v in args.atoms.split("-"))
    data = load_contact_data(DataSettings.from_dict({**model.metadata["data"], "path": args.data}))
    cells = data.validation.subset(np.flatnonzero((data.validation.n_atoms >= low)
                                                  & (data.validation.n_atoms <= high)))
    tuning = with_training_bank(model, data.train)
    bank, n_train = tuning.templates, len(tuning.templates.numbers)
    cells, _ = drop_seen_formulas(cells, tuning.train_formulas)
    wide = TemplateBank(bank.numbers, bank.contact, bank.scaler, args.templates, bank.same_pattern)
    start = time.perf_counter()
    probs, shipped, targets, numbers, planes = [], [], [], [], []
    for n, idx in groups_by_size(cells).items():
        p, m = tuning.predict(cells.numbers[idx, :n])
        probs += list(p)
        shipped += list(m)
        targets += [cells.contact[k, :n, :n] for k in idx]
        numbers += [cells.numbers[k, :n] for k in idx]
        planes += list(wide.query(cells.numbers[idx, :n]))
    print(f"{args.model}: {len(targets)} validation cells of {low}-{high} atoms, bank of {n_train} training "
          f"maps; probabilities in {time.perf_counter() - start:.0f} s", flush=True)

    def score(maps: list[np.ndarray]) -> tuple[float, float]:
        values = np.array([dice(m, t) for m, t in zip(maps, targets)])
        return float(values.mean()), float((values >= 1 - 1e-9).mean())

    threshold = tuning.threshold
    thresholded = [(p > threshold).astype(np.uint8) for p in probs]
    k = args.templates
    rows: dict[str, tuple[float, float]] = {
        f"shipped decision (threshold {threshold:.2f}, snap {tuning.snap_similarity})": score(shipped)}
    for t in (0.35, 0.45, 0.5, 0.55):
        rows[f"threshold {t:.2f}, no snapping"] = score([(p > t).astype(np.uint8) for p in probs])
    rows["expected-Dice decoding"] = score([expected_dice_map(p) for p in probs])
    rows["expected-Dice decoding, snap 0.80"] = score(
        [snap_to_templates(expected_dice_map(p)[None], pl[None], k, 0.8)[0] for p, pl in zip(probs, planes)])
    canonical = []
    for m, z in zip(thresholded, numbers):
        order = canonical_order(m, z)
        canonical.append(m[np.ix_(order, order)])
    rows["canonicalised prediction"] = score(canonical)
    rows["nearest training map (same stoichiometry first)"] = score([pl[0].astype(np.uint8) for pl in planes])

    groups, features, values, candidates = [], [], [], []
    for cell, (p, m, pl, t) in enumerate(zip(probs, thresholded, planes, targets)):
        options = [(0, m, 0.0), (1, snap_to_templates(m[None], pl[None], k, 0.8)[0], 0.0)]
        options += [(j + 2, pl[j].astype(np.uint8), float(pl[k + j, 0, 0])) for j in range(k) if pl[k + j, 0, 0] < 1]
        total = p.sum()
        for kind, candidate, distance in options:
            expected = 2 * (p * candidate).sum() / (candidate.sum() + total + 1e-9)
            features.append([kind == 0, kind == 1, kind, distance, expected, dice(candidate, m),
                             candidate.sum() / (total + 1e-9), len(t)])
            values.append(dice(candidate, t))
            groups.append(cell)
            candidates.append(candidate)
    features_array, values_array, groups_array = np.array(features, float), np.array(values), np.array(groups)
    predicted = np.zeros(len(values_array))
    for train, held in GroupKFold(5).split(features_array, values_array, groups_array):
        regressor = HistGradientBoostingRegressor(max_iter=200, learning_rate=0.05, max_leaf_nodes=15,
                                                  random_state=0)
        predicted[held] = regressor.fit(features_array[train], values_array[train]).predict(features_array[held])
    chosen, oracle = [], []
    for cell in range(len(targets)):
        idx = np.flatnonzero(groups_array == cell)
        chosen.append(candidates[idx[np.argmax(predicted[idx])]])
        oracle.append(candidates[idx[np.argmax(values_array[idx])]])
    rows[f"learned choice among prediction, snap and {k} templates (5-fold CV)"] = score(chosen)
    rows["ceiling: best of those candidates (oracle)"] = score(oracle)
    matched = np.array([matched_dice(m, t, [str(z) for z in zs]) for m, t, zs in zip(thresholded, targets, numbers)])
    rows["ceiling: permutation-matched Dice of the thresholded map"] = (float(matched.mean()),
                                                                       float((matched >= 1 - 1e-9).mean()))
    width = max(len(name) for name in rows) + 2
    print(f"\n{'validation, ' + args.atoms + ' atoms':<{width}}{'Dice':>8}{'exact':>8}")
    for name, (d, e) in rows.items():
        print(f"{name:<{width}}{d:>8.4f}{100 * e:>7.1f}%")
    if args.json:
        Path(args.json).write_text(json.dumps({"n": len(targets), "atoms": args.atoms, "model": args.model,
                                               "rows": {n: {"dice": d, "exact": e} for n, (d, e) in rows.items()}},
                                              indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
