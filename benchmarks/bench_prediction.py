"""Speed of the whole prediction: both routes (CMCrystal and templates), relaxation and ranking.

Usage (from the repository root)::

    python benchmarks/bench_prediction.py [--jobs 2] [--fast] [--sources contact,templates] [FORMULA:Z ...]

``--policy before`` runs the relaxation and ranking of 2026-12-02 for comparison
(docs/ranking.md). Prints the wall time of every stage for each formula (default: 10- and 12-atom
cells, an intermetallic, and 14- and 20-atom cells that only the templates
cover) with the default settings (the paper's GA budget: population 100, up to
1000 generations, 5 Wyckoff assignments per candidate, 2 CHGNet relaxations per
candidate, 5 template structures). Target: at most 2 minutes per formula on a
2-core CPU.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ("TaON:4", "FeAsSe:4", "MgP4:2", "MgZn2:4", "MgAl2O4:2", "Ca3Al2Si3O12:1")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("formulas", nargs="*", default=list(DEFAULT), help="FORMULA:Z (default: TaON, FeAsSe with 12 atoms, MgP4 with 10)")
    parser.add_argument("--jobs", type=int, default=None, help="worker processes (default: all cores)")
    parser.add_argument("--fast", action="store_true", help="the --fast preset")
    parser.add_argument("--sources", default="contact,templates", help="routes (default both)")
    parser.add_argument("--policy", choices=["default", "before"], default="default",
                        help="before: the relaxation and ranking of 2026-12-02 (60 first-round steps, the 3 "
                             "lowest continued, no window, no second potential; duplicates are still relaxed once)")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    import os

    from core.predict.pipeline import predict_structures
    from core.predict.settings import STAGES, PredictionSettings

    stages = tuple(s for s in STAGES if s != "export")
    base = PredictionSettings.fast() if args.fast else PredictionSettings()
    if args.policy == "before":
        base = PredictionSettings(**{**base.to_dict(), "prerelax_steps": 60, "refine_top": 3, "refine_window": None,
                                     "second_potential": None})
    sources = tuple(args.sources.split(","))
    print(f"settings: {'fast' if args.fast else 'default'}, policy {args.policy}; sources {','.join(sources)}; "
          f"{args.jobs or os.cpu_count()} workers")
    print(f"{'formula':<14}{'Z':>3}{'atoms':>6}{'GA runs':>8}{'tpl':>5}{'relaxed':>8}{'steps':>7}"
          + "".join(f"{s[:12]:>14}" for s in stages) + f"{'total s':>9}")
    for item in args.formulas:
        formula, _, z = item.partition(":")
        settings = PredictionSettings(**{**base.to_dict(), "z": int(z) if z else None, "jobs": args.jobs,
                                         "sources": sources})
        start = time.perf_counter()
        result = predict_structures(formula, settings)
        total = time.perf_counter() - start
        runs = sum(len(v) for v in result.reconstructions.values())
        relaxations = {id(e.relaxation): e.relaxation for e in result.pool if e.relaxation is not None}
        relaxed, steps = len(relaxations), sum(x.steps for x in relaxations.values())  # each relaxation once
        first = (result.candidates or result.templates)[0]
        print(f"{formula:<14}{first.z:>3}{first.n_atoms:>6}{runs:>8}{len(result.templates):>5}{relaxed:>8}{steps:>7}"
              + "".join(f"{result.stage_seconds.get(s, 0.0):>14.1f}" for s in stages) + f"{total:>9.1f}", flush=True)
    return 0


if __name__ == "__main__":
    import multiprocessing

    multiprocessing.freeze_support()
    sys.exit(main())
