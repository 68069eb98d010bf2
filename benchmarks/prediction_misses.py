"""Why did a held-out prediction miss? CHGNet energy of the true structure against our top-1.

Usage (from the repository root, after ``alphacrystal evaluate prediction ... --json docs/results/prediction-test20.json``)::

    python benchmarks/prediction_misses.py [docs/results/prediction-test20.json]

For every formula whose top-1 did not match, the true structure is relaxed with
the same CHGNet settings as the pipeline. If its energy is lower than our
top-1's, the search (GA or relaxation) missed it; if higher, CHGNet ranks our
structure first and the miss is a ranking (potential) limitation.
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    path = Path(argv[0]) if argv else ROOT / "docs" / "prediction-test20.json"
    sys.path.insert(0, str(ROOT))
    warnings.simplefilter("ignore")
    from core.contact_model import DataSettings
    from core.data.formula_split import split_dataset
    from core.relax.relaxer import Relaxer, RelaxSettings

    result = json.loads(path.read_text())
    data = split_dataset(DataSettings(path=str(ROOT.parent / "shared/data/mp/structures.csv.gz"), max_atoms=12)).test
    index = {str(m): k for k, m in enumerate(data.material_ids)}
    relaxer = Relaxer(RelaxSettings())
    print(f"{'protocol':<10}{'id':<12}{'formula':<12}{'match rank':>11}{'E true':>10}{'E top-1':>10}{'ΔE meV':>8}  verdict")
    for protocol, rows in result["structures"].items():
        for row in rows:
            if row.get("match_rank") == 1:
                continue
            true = relaxer.relax(data.structure(index[row["id"]])).energy_per_atom
            top = row.get("top1_energy_per_atom")
            if top is None:
                verdict, delta = "no structure survived (all reconstructions rejected)", ""
            else:
                delta = f"{1000 * (top - true):.0f}"
                verdict = "search missed a lower-energy structure" if true < top else "CHGNet prefers ours"
            print(f"{protocol:<10}{row['id']:<12}{row['formula']:<12}{str(row.get('match_rank') or '-'):>11}"
                  f"{true:>10.4f}{'' if top is None else f'{top:.4f}':>10}{delta:>8}  {verdict}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
