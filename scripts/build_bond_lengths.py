"""Build resources/bond_lengths.json: the typical length of a contact-map bond per element
pair, measured in the training partition (same data and split as the shipped models).

A bond of the contact map may lie anywhere in r_i + r_j ± 0.4 Å (Cordero covalent
radii), but real bonds do not sit at the centre of that window: ionic bonds are
shorter than the sum of covalent radii (Ti-O about 1.96 Å against 2.26 Å). The
reconstruction GA uses these lengths to choose among structures of equal
fitness (core.reconstruction.fitness), so its structures have realistic bond lengths.

For each element pair (Z1 <= Z2) the median distance of all bonds between them
in the training structures (every periodic image within the window; one value
per distinct bond) is stored with its count; pairs seen fewer than
``--min-count`` times are left out (the GA then falls back to r_i + r_j).

    python scripts/build_bond_lengths.py --data ../shared/data/mp/structures.csv.gz
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict

import numpy as np
from pymatgen.optimization.neighbors import find_points_in_spheres

from core.contact_map import DEFAULT_TOLERANCE
from core.contact_model.data import DataSettings
from core.datasets import load_dataset, split_by_formula
from core.elements import element_table
from core.io import atomic_write_text
from resources import RESOURCE_DIR


def bond_distances(lattice: np.ndarray, frac: np.ndarray, numbers: np.ndarray,
                   tolerance: float = DEFAULT_TOLERANCE) -> list[tuple[int, int, float]]:
    """(Z1, Z2, distance in Å) of every bond of the contact-map definition, i < j or
    across images, each counted once."""
    table = element_table()
    numbers = np.asarray(numbers, dtype=np.int64)
    radii = table.covalent_radius[numbers]
    metal = table.is_metal[numbers]
    lattice = np.ascontiguousarray(lattice, dtype=np.float64)
    cart = np.ascontiguousarray(np.asarray(frac, dtype=np.float64) @ lattice)
    c, n, images, d = find_points_in_spheres(cart, cart, r=2 * float(radii.max()) + tolerance,
                                             pbc=np.ones(3, dtype=np.int64), lattice=lattice, tol=1e-8)
    c, n = c.astype(np.int64), n.astype(np.int64)
    ideal = radii[c] + radii[n]
    keep = (~(metal[c] & metal[n]) & (np.abs(d - ideal) <= tolerance) & ~((c == n) & ~np.any(images, axis=1))
            & (c <= n))  # i -> j and j -> i list the same bond: keep one of them
    z1, z2 = np.minimum(numbers[c], numbers[n])[keep], np.maximum(numbers[c], numbers[n])[keep]
    return list(zip(z1.tolist(), z2.tolist(), d[keep].tolist()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--out", default=str(RESOURCE_DIR / "bond_lengths.json"))
    parser.add_argument("--min-count", type=int, default=10)
    args = parser.parse_args()
    s = DataSettings(path=args.data)
    ds = load_dataset(s.path).filter(s.max_atoms, s.exclude_all_metal, s.lowest_energy_per_formula)
    train = split_by_formula(ds, s.fractions, s.split_seed, s.test_formulas).train
    found: dict[tuple[int, int], list[float]] = defaultdict(list)
    for k in range(len(train)):
        for z1, z2, d in bond_distances(*train.atoms(k)):
            found[(z1, z2)].append(d)
    table = element_table()
    pairs = {f"{z1}-{z2}": {"median": round(float(np.median(v)), 4), "count": len(v),
                            "covalent_sum": round(float(table.covalent_radius[z1] + table.covalent_radius[z2]), 4)}
             for (z1, z2), v in sorted(found.items()) if len(v) >= args.min_count}
    payload = {"source": f"{args.data} training partition (split seed {s.split_seed}), {len(train)} structures; "
                         f"median bond length in Å per element pair (atomic numbers Z1-Z2), pairs with at least "
                         f"{args.min_count} bonds",
               "command": "python scripts/build_bond_lengths.py --data " + args.data,
               "tolerance": DEFAULT_TOLERANCE, "pairs": pairs}
    atomic_write_text(args.out, json.dumps(payload, indent=0) + "\n")
    shift = np.array([p["median"] - p["covalent_sum"] for p in pairs.values()])
    print(f"wrote {args.out}: {len(pairs)} element pairs; median - (r_i + r_j): mean {shift.mean():+.3f} Å, "
          f"5-95 % {np.percentile(shift, 5):+.3f} to {np.percentile(shift, 95):+.3f} Å")


if __name__ == "__main__":
    main()
