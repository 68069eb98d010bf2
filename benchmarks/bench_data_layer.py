"""Speed of the data layer on the MP-20-style data set: loading, stats, featurisation, maps.

Usage (from the repository root)::

    python benchmarks/bench_data_layer.py [PATH] [--max-atoms 12]

PATH defaults to ``../shared/data/mp/structures.csv.gz``. Cold runs use a fresh,
temporary cache folder; warm runs reuse it. Prints a table of wall times.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ROOT.parent / "shared" / "data" / "mp" / "structures.csv.gz"


def _timed(fn):
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", default=str(DEFAULT))
    parser.add_argument("--max-atoms", type=int, default=12)
    args = parser.parse_args(argv)
    if not Path(args.path).exists():
        print(f"data set not found: {args.path}", file=sys.stderr)
        return 1
    os.environ["ALPHACRYSTAL_CACHE"] = tempfile.mkdtemp(prefix="alphacrystal-bench-")
    sys.path.insert(0, str(ROOT))
    import numpy as np

    from core.contact.contact_map import contact_map_from_arrays
    from core.data.datasets import load_dataset
    from core.data.featurize import featurize_dataset

    rows: list[tuple[str, str, str]] = []
    cli = [sys.executable, "-m", "core.cli", "dataset-stats", args.path]
    _, t = _timed(lambda: subprocess.run(cli, capture_output=True, check=True, cwd=ROOT))
    rows.append(("alphacrystal dataset-stats (cold cache, whole process)", f"{t:.2f} s", ""))
    _, t = _timed(lambda: subprocess.run(cli, capture_output=True, check=True, cwd=ROOT))
    rows.append(("alphacrystal dataset-stats (warm cache, whole process)", f"{t:.2f} s", ""))

    dataset, t = _timed(lambda: load_dataset(args.path))
    rows.append(("load_dataset (warm cache)", f"{t:.3f} s", f"{len(dataset)} structures"))
    _, t = _timed(dataset.stats)
    rows.append(("CrystalDataset.stats", f"{t:.3f} s", ""))
    small = dataset.filter(max_atoms=args.max_atoms, exclude_all_metal=True, lowest_energy_per_formula=True)
    rows.append(("filter (<= L atoms, no all-metal, lowest energy)", "", f"{len(small)} structures"))

    feats, t = _timed(lambda: featurize_dataset(small, max_atoms=args.max_atoms))
    rows.append(("featurize (cold: maps + canonical order)", f"{t:.2f} s", f"{1000 * t / len(small):.3f} ms/structure"))
    _, t = _timed(lambda: featurize_dataset(small, max_atoms=args.max_atoms))
    rows.append(("featurize (warm cache)", f"{t:.3f} s", ""))

    sizes = small.nsites
    for n in sorted({4, 8, 12} & set(sizes.tolist())):
        idx = np.flatnonzero(sizes == n)[:500]
        _, t = _timed(lambda idx=idx: [contact_map_from_arrays(*small.atoms(int(k))) for k in idx])
        rows.append((f"contact_map_from_arrays, {n} atoms", f"{1000 * t / len(idx):.3f} ms", f"mean of {len(idx)}"))

    rows.append(("mean map density (1s / off-diagonal entries)", "",
                 f"{feats.contact.sum() / max(1, (feats.n_atoms * (feats.n_atoms - 1)).sum()):.3f}"))
    width = max(len(r[0]) for r in rows)
    print(f"{'step':<{width}}  {'time':>10}  note")
    print("-" * (width + 30))
    for name, t, note in rows:
        print(f"{name:<{width}}  {t:>10}  {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
