"""Which route wins on all-metal compositions: CMCrystal (empty contact map) or templates.

    python benchmarks/intermetallic_routes.py --data ../shared/data/mp/structures.csv.gz --split validation --n 30

A seeded sample of held-out all-metal formulas with at most 12 atoms (the cells
both routes cover; lowest-energy polymorph, full-range split, true Z given) runs
through the pooled pipeline at the default settings; prints the pooled figures and
each route alone (the same relaxed structures, de-duplicated and ranked by
themselves: ``core.predict.evaluation.route_match_rank``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> int:
    from core.data.formula_split import held_out_formulas, seeded_sample
    from core.predict.evaluation import evaluate_prediction
    from core.predict.settings import PredictionSettings

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--split", choices=["validation", "test"], default="validation")
    parser.add_argument("--n", type=int, default=30)
    parser.add_argument("--max-atoms", type=int, default=12)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="write all figures here")
    args = parser.parse_args()

    part = held_out_formulas(args.data, args.split)
    idx = seeded_sample(np.flatnonzero(part.all_metal() & (part.nsites <= args.max_atoms)), args.n, args.seed)
    structures = [(str(part.material_ids[k]), part.structure(int(k))) for k in idx]
    print(f"{len(structures)} all-metal {args.split} formulas with <= {args.max_atoms} atoms, true Z given, "
          f"{args.jobs} at a time", flush=True)

    def show(done: int, total: int, row: dict) -> None:
        print(f"  [{done}/{total}] {row['formula']:<12} pooled {row.get('match_rank')} "
              f"routes {row.get('route_match_rank')}  {row['seconds']:.0f} s", flush=True)

    result = evaluate_prediction(structures, PredictionSettings(), workers=args.jobs, progress=show)
    print(f"\n{'':<18}{'top-1':>7}{'top-5':>7}")
    print(f"{'pooled':<18}{result['match_rate_top1']:>7.3f}{result['match_rate_top5']:>7.3f}")
    for route, alone in result["by_route_alone"].items():
        print(f"{route + ' alone':<18}{alone['match_rate_top1']:>7.3f}{alone['match_rate_top5']:>7.3f}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1, default=str) + "\n")
    return 0


if __name__ == "__main__":
    import multiprocessing

    multiprocessing.freeze_support()
    sys.exit(main())
