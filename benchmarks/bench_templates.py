"""Template retrieval alone, before relaxation: which substitution score finds held-out structures.

    python benchmarks/bench_templates.py --data ../shared/data/mp/structures.csv.gz --split validation --n 400

For a seeded sample of held-out formulas (lowest-energy polymorph, up to 20 atoms,
all compositions; true Z given) prints, per scorer, how often the first and one of
the first five distinct substituted templates match the known structure
(StructureMatcher, CSP tolerances), split into all-metal and other compositions,
and the volume error of the matching substitution per volume scheme.
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
    from core.predict.evaluation import true_z_and_spacegroup
    from core.templates.evaluation import VOLUME_SCHEMES, evaluate_retrieval
    from core.templates.library import load_library

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--split", choices=["validation", "test"], default="validation")
    parser.add_argument("--n", type=int, default=400)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scorers", default="auto,ionic,mendeleev")
    parser.add_argument("--json", help="write all figures here")
    args = parser.parse_args()

    part = held_out_formulas(args.data, args.split)
    idx = seeded_sample(np.arange(len(part)), args.n, args.seed)
    metal = part.all_metal()[idx]
    items = []
    for k in idx:
        s = part.structure(int(k))
        items.append((s, true_z_and_spacegroup(s)[0]))
    library = load_library()
    out = {}
    print(f"{len(items)} {args.split} formulas ({int(metal.sum())} all-metal), true Z given, top-5 distinct templates")
    print(f"{'scorer':<10}{'top-1':>7}{'top-5':>7}{'top-1 metal':>13}{'top-5 metal':>13}{'top-1 other':>13}"
          f"{'top-5 other':>13}{'s/formula':>11}")
    for scorer in args.scorers.split(","):
        r = evaluate_retrieval(items, library, scorer, top_k=5)
        ranks = np.array([row["match_rank"] or 0 for row in r["rows"]])
        by = {name: (float(np.mean(ranks[mask] == 1)), float(np.mean(ranks[mask] > 0)))
              for name, mask in (("metal", metal), ("other", ~metal))}
        r["by_composition"] = {k: {"top1": v[0], "top5": v[1], "n": int(m.sum())}
                               for (k, v), m in zip(by.items(), (metal, ~metal))}
        out[scorer] = r
        print(f"{scorer:<10}{r['match_rate_top1']:>7.3f}{r['match_rate_top5']:>7.3f}{by['metal'][0]:>13.3f}"
              f"{by['metal'][1]:>13.3f}{by['other'][0]:>13.3f}{by['other'][1]:>13.3f}{r['seconds_per_formula']:>11.2f}")
    first = out[args.scorers.split(",")[0]]
    print("\nvolume error of the matching substitution (mean |V/V_true - 1|):")
    for name in VOLUME_SCHEMES:
        print(f"  {name:<20}{first['volume_mape_of_matches'][name]:.3f}")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
