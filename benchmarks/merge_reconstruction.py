"""Merge oracle-mode evaluations of disjoint samples into one (figures recomputed).

    alphacrystal evaluate reconstruction ... --n 100 --json first.json
    alphacrystal evaluate reconstruction ... --n 100 --exclude-from first.json --json second.json
    python benchmarks/merge_reconstruction.py first.json second.json --out both.json

The second command draws its seeded sample from the same pool with the first
sample's structures left out, so the two together are a sample of 200 drawn
without replacement (the further sample draws from a random stream of its own,
``core.data.formula_split.seeded_sample``). The GA seeds of a structure's runs follow
their place in its own plan, not the batch (``core.reconstruction.job.plan_jobs``),
so a structure gives the same result in either run. The merge refuses evaluations run with different settings or sharing
a structure (``core.reconstruction.evaluation.merge``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> int:
    from core.io.files import atomic_write_text
    from core.reconstruction.evaluation import merge

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sources", nargs="+", help="evaluation JSON files (evaluate reconstruction --json)")
    parser.add_argument("--out", required=True, help="merged JSON")
    args = parser.parse_args()
    try:
        merged = merge([json.loads(Path(path).read_text()) for path in args.sources])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"merge_reconstruction: {exc}", file=sys.stderr)
        return 2
    merged["merged_from"] = list(args.sources)
    atomic_write_text(args.out, json.dumps(merged, indent=2) + "\n")
    print(f"n {merged['n']}  match rate {merged['match_rate']:.3f}  Dice {merged['dice_mean']:.3f}  "
          f"fitness 1: {merged['fitness_1_fraction']:.3f}  RMSD {merged['rmsd_mean']:.3f}  MAE {merged['mae_mean']:.3f}")
    print(f"{merged['evals_per_s_per_core']:,.0f} evaluations/s/core, {merged['seconds_per_structure']:.1f} s per "
          f"structure (wall), {merged['cpu_seconds_per_structure']:.1f} s CPU; {merged['escalated']} escalated")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
