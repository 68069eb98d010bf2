"""Which potential ranks the true structure first among the pooled candidates: CHGNet or SevenNet-0.

    python benchmarks/compare_potentials.py --data ../shared/data/mp/structures.csv.gz --split validation --n 40 \\
        --json docs/potentials-validation40.json

A seeded sample of held-out formulas up to 20 atoms (all compositions, lowest-energy
polymorph, full-range split, true Z given) runs through the pooled pipeline at the
default settings once per potential. The GA and the template retrieval do not
depend on the potential, so the second run resumes them from the first run's
folder: both potentials relax and rank exactly the same candidate structures.
Prints per potential: top-1 / top-5 structure match, how often the truth is
first among the formulas where that potential's pool holds it, and the time per
relaxation step and per relaxation (one core per formula).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

POTENTIAL_NAMES = ("chgnet", "sevennet")


def compare_one(name: str, structure: dict) -> dict:
    """Both potentials on one formula (a top-level function: runs in a worker)."""
    from pymatgen.core import Structure

    from core.crystal.matching import CSP_TOLERANCES, structure_match
    from core.errors import AlphaCrystalError
    from core.predict.evaluation import true_z_and_spacegroup
    from core.predict.pipeline import predict_structures
    from core.predict.settings import PredictionSettings

    reference = Structure.from_dict(structure)
    z, n_atoms, sg = true_z_and_spacegroup(reference)
    formula = reference.composition.reduced_formula
    row: dict = {"id": name, "formula": formula, "z": z, "n_atoms": n_atoms, "spacegroup": sg}
    with tempfile.TemporaryDirectory(prefix="alphacrystal-potentials-") as tmp:
        for potential in POTENTIAL_NAMES:
            settings = replace(PredictionSettings(), z=z, jobs=1, potential=potential)
            start = time.perf_counter()
            try:
                result = predict_structures(formula, settings, out_dir=Path(tmp) / "run")
            except AlphaCrystalError as exc:
                row[potential] = {"error": str(exc)}
                continue
            relaxations = [e.relaxation for e in result.pool if e.relaxation is not None]
            matches = [structure_match(e.structure, reference, CSP_TOLERANCES).matched for e in result.ranked]
            in_pool = any(m for m in matches) or any(
                structure_match(e.structure, reference, CSP_TOLERANCES).matched for e in result.pool)
            row[potential] = {
                "match_rank": next((k + 1 for k, m in enumerate(matches[:5]) if m), None),
                "truth_in_pool": bool(in_pool),
                "n_ranked": len(result.ranked),
                "seconds": time.perf_counter() - start,
                "relaxation_seconds": result.stage_seconds.get("relaxation"),
                "relaxations": len(relaxations),
                "relax_steps": int(sum(r.steps for r in relaxations)),
                "relax_seconds_sum": float(sum(r.seconds for r in relaxations)),
                "failed": sum(1 for r in relaxations if not r.ok),
                "top1_source": result.ranked[0].source if result.ranked else None,
            }
    return row


def summarise(rows: list[dict]) -> dict:
    out = {}
    for potential in POTENTIAL_NAMES:
        runs = [r[potential] for r in rows if "error" not in r.get(potential, {"error": 1})]
        ranks = [r["match_rank"] for r in runs]
        pooled = [r for r in runs if r["truth_in_pool"]]
        steps = sum(r["relax_steps"] for r in runs)
        seconds = sum(r["relax_seconds_sum"] for r in runs)
        relaxations = sum(r["relaxations"] for r in runs)
        out[potential] = {
            "n": len(runs),
            "match_rate_top1": float(np.mean([k == 1 for k in ranks])) if runs else float("nan"),
            "match_rate_top5": float(np.mean([k is not None for k in ranks])) if runs else float("nan"),
            "truth_in_pool": len(pooled),
            "first_when_in_pool": float(np.mean([r["match_rank"] == 1 for r in pooled])) if pooled else float("nan"),
            "ms_per_step": 1000 * seconds / steps if steps else float("nan"),
            "seconds_per_relaxation": seconds / relaxations if relaxations else float("nan"),
            "steps_per_relaxation": steps / relaxations if relaxations else float("nan"),
            "failed_relaxations": sum(r["failed"] for r in runs),
            "relaxation_stage_seconds_per_formula": float(np.mean([r["relaxation_seconds"] or 0 for r in runs])),
        }
    return out


def main() -> int:
    from core.data.formula_split import held_out_formulas, seeded_sample
    from core.runtime.parallel import spawn_pool

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--split", choices=["validation", "test"], default="validation")
    parser.add_argument("--n", type=int, default=40)
    parser.add_argument("--max-atoms", type=int, default=20)
    parser.add_argument("--jobs", type=int, default=2, help="formulas at a time, one core each")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="write all figures here")
    args = parser.parse_args()

    part = held_out_formulas(args.data, args.split)
    idx = seeded_sample(np.flatnonzero(part.nsites <= args.max_atoms), args.n, args.seed)
    structures = [(str(part.material_ids[k]), part.structure(int(k))) for k in idx]
    print(f"{len(structures)} {args.split} formulas with <= {args.max_atoms} atoms, true Z given, "
          f"{args.jobs} at a time; potentials {', '.join(POTENTIAL_NAMES)}", flush=True)
    rows: list[dict] = []
    start = time.perf_counter()
    from concurrent.futures import FIRST_COMPLETED, wait

    with spawn_pool(args.jobs) as pool:
        pending = {pool.submit(compare_one, name, s.as_dict()) for name, s in structures}
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                row = fut.result()
                rows.append(row)
                ranks = "  ".join(f"{p} {row[p].get('match_rank', row[p].get('error'))} "
                                  f"({row[p].get('relaxation_seconds') or 0:.0f} s relaxing)" for p in POTENTIAL_NAMES)
                print(f"  [{len(rows)}/{len(structures)}] {row['formula']:<12} {ranks}", flush=True)
    summary = summarise(rows)
    print(f"\n{'potential':<10}{'n':>4}{'top-1':>7}{'top-5':>7}{'first|in pool':>15}{'ms/step':>9}"
          f"{'s/relax':>9}{'steps':>7}{'failed':>7}")
    for potential, s in summary.items():
        print(f"{potential:<10}{s['n']:>4}{s['match_rate_top1']:>7.3f}{s['match_rate_top5']:>7.3f}"
              f"{s['first_when_in_pool']:>9.3f} ({s['truth_in_pool']:>2}){s['ms_per_step']:>9.0f}"
              f"{s['seconds_per_relaxation']:>9.2f}{s['steps_per_relaxation']:>7.1f}{s['failed_relaxations']:>7}")
    if args.json:
        Path(args.json).write_text(json.dumps({"summary": summary, "split": args.split, "n": len(rows),
                                               "seed": args.seed, "wall_seconds": time.perf_counter() - start,
                                               "rows": rows}, indent=1, default=str) + "\n")
    return 0


if __name__ == "__main__":
    import multiprocessing

    multiprocessing.freeze_support()
    sys.exit(main())
