"""Do two prediction folders hold the same results? The golden check of a refactoring.

Usage (from the repository root)::

    alphacrystal predict AgF2 --fast --out /tmp/before     # on the old commit
    alphacrystal predict AgF2 --fast --out /tmp/after      # on the new one
    python benchmarks/compare_runs.py /tmp/before /tmp/after [--energy-tol 1e-6]

Compares ``summary.json`` rank by rank (folder, source, space groups, energy per atom
within ``--energy-tol`` eV/atom, E_hull, stability) and each rank's CIF (same species,
lattice within 1e-4 Å, fractional coordinates within 1e-5). Prints one line per rank and
exits 1 on any difference.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

KEYS = ("folder", "source", "spacegroup", "relaxed_spacegroup", "z", "n_atoms", "stability", "decomposition")


def compare(before: Path, after: Path, energy_tol: float) -> list[str]:
    from pymatgen.core import Structure

    a = json.loads((before / "summary.json").read_text())["structures"]
    b = json.loads((after / "summary.json").read_text())["structures"]
    problems = [] if len(a) == len(b) else [f"{len(a)} results before, {len(b)} after"]
    for x, y in zip(a, b):
        rank = x["rank"]
        for key in KEYS:
            if x.get(key) != y.get(key):
                problems.append(f"rank {rank}: {key} {x.get(key)!r} -> {y.get(key)!r}")
        for key in ("energy_per_atom", "second_energy_per_atom"):
            if (x.get(key) is None) != (y.get(key) is None) or (
                    x.get(key) is not None and abs(x[key] - y[key]) > energy_tol):
                problems.append(f"rank {rank}: {key} {x.get(key)} -> {y.get(key)}")
        cif_a = sorted((before / x["folder"]).glob("*.cif"))
        cif_b = sorted((after / y["folder"]).glob("*.cif"))
        if [p.name for p in cif_a] != [p.name for p in cif_b]:
            problems.append(f"rank {rank}: CIF files {[p.name for p in cif_a]} -> {[p.name for p in cif_b]}")
            continue
        for pa, pb in zip(cif_a, cif_b):
            sa, sb = Structure.from_file(pa), Structure.from_file(pb)
            same = (sa.species == sb.species and np.allclose(sa.lattice.matrix, sb.lattice.matrix, atol=1e-4)
                    and np.allclose(sa.frac_coords, sb.frac_coords, atol=1e-5))
            if not same:
                problems.append(f"rank {rank}: {pa.name} differs")
        print(f"rank {rank}: {x['folder']:<24} {x['energy_per_atom']:.6f} -> {y['energy_per_atom']:.6f} eV/atom")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--energy-tol", type=float, default=1e-6, help="eV/atom")
    args = parser.parse_args(argv)
    problems = compare(args.before, args.after, args.energy_tol)
    print("\n".join(problems) if problems else "same results: every rank, energy, space group and CIF")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
