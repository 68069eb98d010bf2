"""Automatic Z: which cells the contact route proposes when Z is not given.

    python benchmarks/z_choice.py --data ../shared/data/mp/structures.csv.gz --split validation

Held-out formulas of the 20-atom candidate model's split (lowest-energy polymorph
per formula; formulas either shipped model trained on removed), Z not given.
For each policy, the top-1 and top-5 of the ranked candidates: the space group
alone, and the space group with the true Z (the cell CMCrystal would build), by
the true cell size:

- ``12-atom model``: the shipped policy before 2026-12-02 (cells up to 12 atoms
  unless one formula unit is larger);
- ``20-atom model``: the 20-atom model alone;
- ``pooled``: :func:`core.candidates.ranking.pooled_joint`, the 12-atom model's
  ranking for cells it answers, cells of 13-20 atoms as far as the 20-atom model
  believes in them.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _hits(ranked, true_sg: int, true_z: int) -> tuple[int | None, int | None]:
    """Positions (1-based, None when absent) of the true group, and of the group with the true Z."""
    sg = next((k + 1 for k, r in enumerate(ranked) if r.spacegroup == true_sg), None)
    both = next((k + 1 for k, r in enumerate(ranked) if r.spacegroup == true_sg and r.best_z == true_z), None)
    return sg, both


def main() -> int:
    from core.candidates.data import load_candidate_data
    from core.candidates.propose import (
        load_default_candidate_model,
        load_large_cell_candidate_model,
    )
    from core.candidates.ranking import pooled_joint, rank_spacegroups
    from core.contact_model import DataSettings

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--split", choices=["validation", "test"], default="validation")
    parser.add_argument("--weights", default="1.0", help="large_weight values of the pooled policy to compare "
                                                         "(comma-separated; default 1.0)")
    parser.add_argument("--json", help="write the table as JSON")
    args = parser.parse_args()

    small, large = load_default_candidate_model(), load_large_cell_candidate_model()
    recorded = DataSettings.from_dict(large.metadata["data"])
    table = getattr(load_candidate_data(DataSettings.from_dict({**recorded.to_dict(), "path": args.data})),
                    args.split)
    seen = set(small.train_formulas) | set(large.train_formulas)
    table = table.subset(np.flatnonzero([f not in seen for f in table.formulas]))
    per_fu = table.counts.sum(axis=1)
    j_small = small.joint_probabilities(table.counts)
    j_large = large.joint_probabilities(table.counts)
    weights = [float(w) for w in args.weights.split(",")]
    pooled = {f"pooled w={w:g}" if len(weights) > 1 else "pooled": w for w in weights}
    policies = {"12-atom model": [], "20-atom model": [], **{name: [] for name in pooled}}
    for k in range(len(table)):
        species = tuple(int(n) for n in table.counts[k][table.counts[k] > 0])
        fits_small = per_fu[k] <= small.max_atoms
        joints = {"12-atom model": j_small[k] if fits_small else j_large[k], "20-atom model": j_large[k],
                  **{name: pooled_joint(j_small[k], j_large[k], per_fu[k], small.max_atoms, w) if fits_small
                     else j_large[k] for name, w in pooled.items()}}
        for name, joint in joints.items():
            ranked = rank_spacegroups(joint, species, top_k=5)
            policies[name].append(_hits(ranked, int(table.spacegroup[k]), int(table.z[k])))
    sizes = {"1-12 atoms": table.nsites <= small.max_atoms, "13-20 atoms": table.nsites > small.max_atoms,
             "all": np.ones(len(table), bool)}
    out: dict = {"split": args.split, "n": {s: int(m.sum()) for s, m in sizes.items()}, "policies": {}}
    print(f"{args.split}: {len(table)} formulas ({', '.join(f'{s}: {int(m.sum())}' for s, m in sizes.items())}), "
          "Z not given")
    print(f"{'policy':<18}{'cells':<13}{'sg top-1':>10}{'sg top-5':>10}{'sg+Z top-1':>12}{'sg+Z top-5':>12}")
    for name, hits in policies.items():
        out["policies"][name] = {}
        for size, mask in sizes.items():
            rows = [h for h, m in zip(hits, mask) if m]

            def rate(index: int, k: int, rows=rows) -> float:
                return float(np.mean([h[index] is not None and h[index] <= k for h in rows])) if rows else float("nan")

            figures = {"sg_top1": rate(0, 1), "sg_top5": rate(0, 5), "sg_z_top1": rate(1, 1), "sg_z_top5": rate(1, 5)}
            out["policies"][name][size] = figures
            print(f"{name:<18}{size:<13}" + "".join(f"{100 * v:>9.1f}%" if i < 2 else f"{100 * v:>11.1f}%"
                                                       for i, v in enumerate(figures.values())))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
