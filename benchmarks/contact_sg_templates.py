"""Does conditioning the template inputs on a predicted space group raise the 20-atom model's Dice?

Usage (from the repository root)::

    python benchmarks/contact_sg_templates.py --data ../shared/data/mp/structures.csv.gz \
        [--model resources/contact_model_l20.pt] [--atoms 13-20] [--split validation] [--json OUT]

The contact network takes, besides the composition, the maps of the 3 nearest training
compositions (same stoichiometry pattern first: ``core.contact_model.templates``). Those
templates know nothing of the structure type the compound will take. Here the same
network is given templates chosen with a space-group preference (same pattern and the
wanted space group first, then same pattern, then the rest), the wanted group being

* none (the shipped retrieval),
* the candidate model's most probable group for the composition and the cell's Z
  (:func:`core.candidates.propose.propose_candidates`: composition only, honest),
* the true group (a ceiling, not available at prediction time).

The bank holds the training maps only (as ``tune_contact_decision.py``), so no
validation cell finds itself. Prints mean positional Dice and exact-map fraction of
each, with the shipped decision (threshold, snapping).
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

SG_OFFSET = 100.0
"""Added to the rank of a template of another space group: below the pattern offset (1e3),
above any feature distance (a mean absolute difference of standardised features)."""


def query_with_spacegroup(bank, bank_groups: np.ndarray, numbers: np.ndarray, wanted: int | None) -> np.ndarray:
    """Template planes (1, 2k, n, n) of one composition (n,), preferring ``wanted``."""
    from core.contact_model.templates import PATTERN_OFFSET, pattern_codes
    from core.crystal.elements import N_FEATURES

    numbers = np.atleast_2d(numbers)
    n = numbers.shape[1]
    k = bank.k
    out = np.zeros((1, 2 * k, n, n), dtype=np.float32)
    out[:, k:] = 1.0
    idx = bank.groups.get(n)
    if idx is None or len(idx) == 0:
        return out
    dist = np.abs(bank._encode(numbers)[:, None, :] - bank.encoded[n][None]).sum(axis=2)[0] / float(n * N_FEATURES)
    rank = dist + PATTERN_OFFSET * (pattern_codes(numbers)[0] != bank.patterns[n])
    if wanted is not None:
        rank = rank + SG_OFFSET * (bank_groups[idx] != wanted)
    for j, col in enumerate(np.argsort(rank, kind="stable")[:k]):
        out[0, j] = bank.contact[idx[col], :n, :n]
        out[0, k + j] = np.tanh(dist[col])
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--model", default=str(ROOT / "resources" / "contact_model_l20.pt"))
    parser.add_argument("--atoms", default="13-20", help="LOW-HIGH")
    parser.add_argument("--split", default="validation", choices=("validation", "test"))
    parser.add_argument("--json", help="write the table as JSON")
    args = parser.parse_args(argv)

    import torch
    from pymatgen.core import Composition

    from core.candidates.propose import propose_candidates
    from core.contact.metrics import dice
    from core.contact_model import DataSettings, load_contact_data
    from core.contact_model.evaluation import drop_seen_formulas, with_training_bank
    from core.contact_model.inputs import atom_inputs
    from core.contact_model.model import ContactModel, snap_to_templates

    torch.set_num_threads(1)
    model = ContactModel.load(args.model, "cpu")
    low, high = (int(v) for v in args.atoms.split("-"))
    data = load_contact_data(DataSettings.from_dict({**model.metadata["data"], "path": args.data}))
    part = getattr(data, args.split)
    cells = part.subset(np.flatnonzero((part.n_atoms >= low) & (part.n_atoms <= high)))
    tuning = with_training_bank(model, data.train)
    bank = tuning.templates
    n_train = len(bank.numbers)
    if not np.array_equal(bank.numbers[:, : data.train.max_atoms], data.train.numbers[:n_train, : bank.numbers.shape[1]]):
        raise SystemExit("the model's bank is not the training partition in order: cannot label its space groups")
    bank_groups = np.asarray(data.train.spacegroups[:n_train], dtype=np.int64)
    cells, _ = drop_seen_formulas(cells, tuning.train_formulas)
    nets = (tuning.net, *tuning.members)
    for net in nets:
        net.eval()

    start = time.perf_counter()
    predicted_groups, sg_correct = [], 0
    for formula, n, truth in zip(cells.formulas, cells.n_atoms, cells.spacegroups):
        z = int(n) // int(round(Composition(str(formula)).num_atoms))
        best = propose_candidates(str(formula), top_k=1, z=z, count_wyckoff=False)
        group = best[0].spacegroup if best else None
        predicted_groups.append(group)
        sg_correct += group == int(truth)
    print(f"{len(cells)} {args.split} cells of {low}-{high} atoms; predicted space group top-1 "
          f"{sg_correct / len(cells):.3f} ({time.perf_counter() - start:.0f} s)", flush=True)

    @torch.no_grad()
    def decide(numbers: np.ndarray, planes: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(atom_inputs(numbers[None], tuning.scaler, tuning.max_atoms))
        t = torch.from_numpy(planes)
        probs = torch.stack([torch.sigmoid(net(x, t)) for net in nets]).mean(dim=0).numpy()
        n = probs.shape[-1]
        probs[:, np.arange(n), np.arange(n)] = 0.0
        maps = (probs > tuning.threshold).astype(np.uint8)
        if tuning.snap_similarity is not None:
            maps = snap_to_templates(maps, planes, bank.k, tuning.snap_similarity)
        return maps[0]

    variants = {"shipped retrieval (no space group)": [None] * len(cells),
                "predicted space group (candidate model top-1)": predicted_groups,
                "true space group (ceiling)": [int(g) for g in cells.spacegroups]}
    rows, per_cell = {}, {}
    for name, wanted in variants.items():
        start = time.perf_counter()
        scores, nearest = [], []
        for k in range(len(cells)):
            n = int(cells.n_atoms[k])
            numbers = cells.numbers[k, :n]
            planes = query_with_spacegroup(bank, bank_groups, numbers[None], wanted[k])
            target = cells.contact[k, :n, :n]
            scores.append(dice(decide(numbers, planes), target))
            nearest.append(dice(planes[0, 0].astype(np.uint8), target))
        values, copies = np.array(scores), np.array(nearest)
        rows[name] = {"dice": float(values.mean()), "exact": float((values > 1 - 1e-9).mean()),
                      "nearest_template_dice": float(copies.mean()),
                      "nearest_template_exact": float((copies > 1 - 1e-9).mean())}
        per_cell[name] = values
        print(f"  {name}: {time.perf_counter() - start:.0f} s", flush=True)
    width = max(len(n) for n in rows) + 2
    print(f"\n{args.split + ', ' + args.atoms + ' atoms':<{width}}{'Dice':>8}{'exact':>8}"
          f"{'nearest template Dice':>24}{'exact':>8}")
    for name, r in rows.items():
        print(f"{name:<{width}}{r['dice']:>8.4f}{100 * r['exact']:>7.1f}%{r['nearest_template_dice']:>24.4f}"
              f"{100 * r['nearest_template_exact']:>7.1f}%")
    right = np.array([g == int(t) for g, t in zip(predicted_groups, cells.spacegroups)])
    base, pred = per_cell["shipped retrieval (no space group)"], per_cell["predicted space group (candidate model top-1)"]
    print(f"\npredicted group right ({right.sum()} cells): Dice {base[right].mean():.4f} -> {pred[right].mean():.4f}; "
          f"wrong ({(~right).sum()}): {base[~right].mean():.4f} -> {pred[~right].mean():.4f}")
    if args.json:
        Path(args.json).write_text(json.dumps({"n": len(cells), "atoms": args.atoms, "split": args.split,
                                               "model": args.model, "sg_top1": sg_correct / len(cells),
                                               "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
