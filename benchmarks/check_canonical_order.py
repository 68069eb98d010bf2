"""How often is the canonical contact map identical after shuffling sites and shifting the origin?

Usage (from the repository root)::

    python benchmarks/check_canonical_order.py [PATH] [--n 3000] [--max-atoms 12] [--seed 1]

Samples structures of the data set, recomputes each map from a randomly
permuted and translated copy, and prints a table of identical maps per atom count.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ROOT.parent / "shared" / "data" / "mp" / "structures.csv.gz"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", default=str(DEFAULT))
    parser.add_argument("--n", type=int, default=3000)
    parser.add_argument("--max-atoms", type=int, default=12)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from core.contact.contact_map import contact_map_from_arrays
    from core.data.datasets import load_dataset

    dataset = load_dataset(args.path).filter(max_atoms=args.max_atoms)
    rng = np.random.default_rng(args.seed)
    picks = rng.choice(len(dataset), size=min(args.n, len(dataset)), replace=False)
    total: dict[int, int] = defaultdict(int)
    same: dict[int, int] = defaultdict(int)
    start = time.perf_counter()
    for k in picks:
        lattice, frac, numbers = dataset.atoms(int(k))
        reference = contact_map_from_arrays(lattice, frac, numbers)
        perm = rng.permutation(len(numbers))
        moved = contact_map_from_arrays(lattice, (frac[perm] + rng.random(3)) % 1.0, numbers[perm])
        n = len(numbers)
        total[n] += 1
        same[n] += int(moved.species == reference.species and np.array_equal(moved.matrix, reference.matrix))
    elapsed = time.perf_counter() - start
    print(f"{'atoms':>5}  {'structures':>10}  {'identical':>9}")
    for n in sorted(total):
        print(f"{n:>5}  {total[n]:>10}  {same[n]:>9}")
    print(f"{'all':>5}  {sum(total.values()):>10}  {sum(same.values()):>9}   ({elapsed:.1f} s, seed {args.seed})")
    return 0 if sum(same.values()) == sum(total.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
