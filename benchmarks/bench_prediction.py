"""Speed of the whole prediction: a 12-atom formula, top-5 space groups, reconstruction and relaxation.

Usage (from the repository root)::

    python benchmarks/bench_prediction.py [--jobs 2] [--fast] [FORMULA:Z ...]

Prints the wall time of every stage for each formula (default: 10- and 12-atom
cells) with the default settings (the paper's GA budget: population 100, up to
1000 generations, 5 Wyckoff assignments per candidate, 2 CHGNet relaxations per
candidate). Target: at most 2 minutes per 12-atom formula on a 2-core CPU.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ("TaON:4", "FeAsSe:4", "MgP4:2")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("formulas", nargs="*", default=list(DEFAULT), help="FORMULA:Z (default: TaON, FeAsSe with 12 atoms, MgP4 with 10)")
    parser.add_argument("--jobs", type=int, default=None, help="worker processes (default: all cores)")
    parser.add_argument("--fast", action="store_true", help="the --fast preset")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    import os

    from core.pipeline import PredictionSettings, predict_structures

    stages = ("candidates", "contact maps", "reconstruction", "relaxation", "ranking")
    base = PredictionSettings.fast() if args.fast else PredictionSettings()
    print(f"settings: {'fast' if args.fast else 'default'}; {args.jobs or os.cpu_count()} workers")
    print(f"{'formula':<10}{'Z':>3}{'atoms':>6}{'GA runs':>8}{'relaxed':>8}" + "".join(f"{s[:12]:>14}" for s in stages)
          + f"{'total s':>9}")
    for item in args.formulas:
        formula, _, z = item.partition(":")
        settings = PredictionSettings(**{**base.to_dict(), "z": int(z) if z else None, "jobs": args.jobs})
        start = time.perf_counter()
        result = predict_structures(formula, settings)
        total = time.perf_counter() - start
        runs = sum(len(v) for v in result.reconstructions.values())
        relaxed = sum(1 + r.duplicates for r in result.ranked) + len(result.rejected)
        atoms = result.candidates[0].n_atoms
        print(f"{formula:<10}{result.candidates[0].z:>3}{atoms:>6}{runs:>8}{relaxed:>8}"
              + "".join(f"{result.stage_seconds.get(s, 0.0):>14.1f}" for s in stages) + f"{total:>9.1f}", flush=True)
    return 0


if __name__ == "__main__":
    import multiprocessing

    multiprocessing.freeze_support()
    sys.exit(main())
