"""Choose a shipped contact model's decision (threshold, template snapping) on the validation
cells of the sizes it is used for, with the validation maps taken out of its template bank.

Usage (from the repository root)::

    python benchmarks/tune_contact_decision.py --data ../shared/data/mp/structures.csv.gz \
        --model resources/contact_model_l20.pt --atoms 13-20 [--rule above-baselines] [--write]

The 20-atom model is used only for cells of 13-20 atoms (``model_for_cell``), but its
threshold and snapping were tuned on the validation cells of every size (most of them
of up to 12 atoms, where the default model answers). This prints the validation Dice and
exact fraction of every (threshold, snapping) pair of a grid on the cells the model
answers, with the baselines, and picks one:

* ``--rule dice``: the best mean Dice (what training's ``tune_decision`` maximises);
* ``--rule above-baselines`` (default): the best mean Dice among the decisions whose
  Dice *and* exact fraction are above every baseline's (nearest composition, nearest
  with the same stoichiometry, pair prior); the best Dice when none is.

``--write`` stores the choice in the model file. The bank used here holds the training
maps only (the shipped bank adds the validation maps after tuning, as
:func:`core.contact_model.training.add_validation_templates` does), so no validation cell
finds itself. Report test figures afterwards with ``alphacrystal evaluate contact-map
--split test --atoms 13-20``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

THRESHOLDS = (0.45, 0.5, 0.55)
SNAPS = (None, 0.95, 0.9, 0.85, 0.8, 0.75, 0.7)
BASELINES = (("nearest composition", "baseline_nearest"),
             ("nearest, same stoichiometry", "baseline_nearest_same_pattern"),
             ("pair prior", "baseline_pair_prior"))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--model", default=str(ROOT / "resources" / "contact_model_l20.pt"))
    parser.add_argument("--atoms", default="13-20", help="LOW-HIGH: the cells the model answers")
    parser.add_argument("--rule", choices=["dice", "above-baselines"], default="above-baselines")
    parser.add_argument("--write", action="store_true", help="store the chosen decision in the model file")
    args = parser.parse_args(argv)

    from core.contact_model import DataSettings, load_contact_data
    from core.contact_model.evaluation import evaluate_contact_model, with_training_bank
    from core.contact_model.model import ContactModel

    model = ContactModel.load(args.model, "cpu")
    low, high = (int(v) for v in args.atoms.split("-"))
    data = load_contact_data(DataSettings.from_dict({**model.metadata["data"], "path": args.data}))
    validation = data.validation.subset(np.flatnonzero((data.validation.n_atoms >= low)
                                                       & (data.validation.n_atoms <= high)))
    tuning = with_training_bank(model, data.train)  # the shipped bank and formula list add validation's
    n_train = len(tuning.templates.numbers)
    before = (model.threshold, model.snap_similarity)
    print(f"{args.model}: {len(validation)} validation cells of {low}-{high} atoms; bank of {n_train} training "
          f"maps; decision now: threshold {before[0]:.2f}, snapping {before[1]}", flush=True)
    base = evaluate_contact_model(tuning, validation, data.train)
    baselines = {name: (base[f"{key}_dice_mean"], base[f"{key}_exact_fraction"]) for name, key in BASELINES}
    grid = {}
    for threshold in THRESHOLDS:
        for snap in SNAPS:
            tuning.threshold, tuning.snap_similarity = threshold, snap
            r = evaluate_contact_model(tuning, validation)
            grid[(threshold, snap)] = (r["dice_mean"], r["exact_fraction"])
    best_dice = max(d for d, _ in baselines.values())
    best_exact = max(e for _, e in baselines.values())
    ok = {k: v for k, v in grid.items() if v[0] > best_dice and v[1] > best_exact}
    pool = ok if args.rule == "above-baselines" and ok else grid
    chosen = max(pool, key=lambda k: (pool[k][0], pool[k][1]))
    print(f"\n{'validation, ' + args.atoms + ' atoms':<40}{'Dice':>8}{'exact':>8}")
    for (threshold, snap), (dice, exact) in grid.items():
        mark = " <- chosen" if (threshold, snap) == chosen else (" (now)" if (threshold, snap) == before else "")
        print(f"{f'model, threshold {threshold:.2f}, snap {snap}':<40}{dice:>8.4f}{100 * exact:>7.1f}%{mark}")
    for name, (dice, exact) in baselines.items():
        print(f"{'baseline: ' + name:<40}{dice:>8.4f}{100 * exact:>7.1f}%")
    print(f"rule {args.rule}: threshold {chosen[0]:.2f}, snapping {chosen[1]}"
          + ("" if args.rule == "dice" or ok else " (no decision beats every baseline on both: best Dice)"))
    if args.write:
        model.threshold, model.snap_similarity = chosen
        model.metadata.update({"decision_rule": f"{args.rule} on validation cells of {low}-{high} atoms "
                                                f"(training bank; benchmarks/tune_contact_decision.py)",
                               "threshold": chosen[0], "snap_similarity": chosen[1],
                               f"val_dice_{low}_{high}": round(grid[chosen][0], 4),
                               f"val_exact_fraction_{low}_{high}": round(grid[chosen][1], 4)})
        model.save(args.model)
        print(f"wrote {args.model}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
