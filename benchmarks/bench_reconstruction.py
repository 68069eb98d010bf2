"""Fitness evaluations per second per core of the CMCrystal GA, by cell size.

Runs the GA (population 100) for a fixed number of generations on one core
(one numpy/BLAS thread) on textbook-like cells of 4 to 24 atoms (20: CaTiO3 Pnma, MP-20's largest) and
prints evaluations per second. The reference CMCrystal writes and re-parses a
CIF per evaluation: about 100 evaluations/s at 12 atoms.

    python benchmarks/bench_reconstruction.py [--generations 200]
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
from pymatgen.core import Lattice, Structure  # noqa: E402

from core.reconstruction import GASettings, oracle_target, plan_jobs, run_job  # noqa: E402

CASES = {
    # name: builder of a structure (its primitive cell is reconstructed)
    "ZnO wurtzite, P6_3mc": lambda: Structure.from_spacegroup(
        "P6_3mc", Lattice.hexagonal(3.25, 5.207), ["Zn", "O"], [[1 / 3, 2 / 3, 0], [1 / 3, 2 / 3, 0.382]]),
    "AB on 2 x 4c, Pnma": lambda: Structure.from_spacegroup(
        "Pnma", Lattice.orthorhombic(5.2, 3.3, 6.1), ["Ca", "Si"], [[0.03, 0.25, 0.7], [0.2, 0.25, 0.1]]),
    "CaCO3 calcite, R-3c (centred)": lambda: Structure.from_spacegroup(
        "R-3c", Lattice.hexagonal(4.99, 17.06), ["Ca", "C", "O"], [[0, 0, 0], [0, 0, 0.25], [0.257, 0, 0.25]]),
    "ABC on 3 x 4c, Pnma": lambda: Structure.from_spacegroup(
        "Pnma", Lattice.orthorhombic(5.5, 3.8, 10.2), ["La", "Cu", "O"],
        [[0.03, 0.25, 0.6], [0.2, 0.25, 0.1], [0.4, 0.25, 0.85]]),
    "ABC2 on 4 x 4c, Pnma": lambda: Structure.from_spacegroup(
        "Pnma", Lattice.orthorhombic(6.9, 3.8, 10.2), ["Ba", "Cu", "O", "O"],
        [[0.03, 0.25, 0.6], [0.2, 0.25, 0.1], [0.4, 0.25, 0.85], [0.33, 0.25, 0.35]]),
    "MgAl2O4 spinel, Fd-3m (centred)": lambda: Structure.from_spacegroup(
        "Fd-3m", Lattice.cubic(8.08), ["Mg", "Al", "O"], [[0, 0, 0], [0.625, 0.625, 0.625],
                                                       [0.387, 0.387, 0.387]]),  # origin choice 1
    "CaTiO3 perovskite, Pnma": lambda: Structure.from_spacegroup(
        "Pnma", Lattice.orthorhombic(5.44, 7.64, 5.38), ["Ca", "Ti", "O", "O"],
        [[0.0065, 0.25, 0.9939], [0.0, 0.0, 0.5], [0.5711, 0.25, 0.0851], [0.2897, 0.0375, 0.7104]]),
    "A2B2C2 on 6 x 4c, Pnma": lambda: Structure.from_spacegroup(
        "Pnma", Lattice.orthorhombic(11.0, 3.8, 10.2), ["La", "La", "Cu", "Cu", "O", "O"],
        [[0.015, 0.25, 0.6], [0.265, 0.25, 0.62], [0.1, 0.25, 0.1], [0.35, 0.25, 0.12],
         [0.2, 0.25, 0.85], [0.45, 0.25, 0.87]]),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generations", type=int, default=200)
    args = parser.parse_args()
    print(f"{'cell':<52}{'atoms':>6}{'genes':>6}{'evals/s/core':>14}{'100k evals':>12}")
    for name, build in CASES.items():
        target = oracle_target(build())
        # the assignment with the most free parameters among the top 5 (the hardest decode)
        jobs = plan_jobs(target, n_assignments=5, settings=GASettings(generations=args.generations, patience=10**6))
        job = max(jobs, key=lambda j: j.assignment.dof)
        run_job(jobs[0])  # warm caches (pyxtal groups, orbit maps)
        start = time.perf_counter()
        result = run_job(job)
        seconds = time.perf_counter() - start
        rate = result.evaluations / seconds
        print(f"{name:<52}{len(target.species):>6}{job.assignment.dof:>6}{rate:>14,.0f}{100_000 / rate:>11.1f}s")
    print("reference CMCrystal (CIF write + parse per evaluation): about 100 evals/s at 12 atoms")
    _ = np


if __name__ == "__main__":
    main()
