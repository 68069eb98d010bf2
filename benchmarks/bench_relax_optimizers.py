"""Which ASE optimiser relaxes the pipeline's structures in the fewest steps, to the same minima?

Takes structures before relaxation from cached pools (``benchmarks/ranking_pools.py``:
GA reconstructions and substituted templates of validation formulas), relaxes each
with CHGNet, cell and positions (Fréchet cell filter), at the pipeline's force
criterion, with FIRE (the shipped optimiser) and the alternatives, and prints steps,
seconds, the final energy difference to FIRE's (meV/atom) and whether the relaxed
structure is FIRE's (StructureMatcher, default tolerances).

Usage::

    python benchmarks/bench_relax_optimizers.py benchmarks/cache/pools-validation-12 --n 30
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
warnings.simplefilter("ignore")


def relax(structure, calculator, optimizer: str, fmax: float, steps: int) -> tuple[float, int, float, object]:
    from ase.filters import FrechetCellFilter
    from ase.optimize import BFGS, FIRE, LBFGS, BFGSLineSearch
    from pymatgen.io.ase import AseAtomsAdaptor

    atoms = AseAtomsAdaptor.get_atoms(structure)
    atoms.calc = calculator
    start = time.perf_counter()
    opt = {"FIRE": FIRE, "BFGS": BFGS, "LBFGS": LBFGS, "BFGSLineSearch": BFGSLineSearch}[optimizer]
    runner = opt(FrechetCellFilter(atoms), logfile=None)
    runner.run(fmax=fmax, steps=steps)
    energy = float(atoms.get_potential_energy()) / len(atoms)
    return energy, runner.nsteps, time.perf_counter() - start, AseAtomsAdaptor.get_structure(atoms)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("caches", nargs="+")
    p.add_argument("--n", type=int, default=30)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--optimizers", default="FIRE,BFGS,LBFGS")
    p.add_argument("--fmax", type=float, default=0.1)
    p.add_argument("--steps", type=int, default=300)
    args = p.parse_args(argv)
    import torch
    from pymatgen.analysis.structure_matcher import StructureMatcher
    from pymatgen.core import Structure

    from core.relax.potentials import load_calculator

    torch.set_num_threads(1)
    items = []
    for cache in args.caches:
        for f in sorted(Path(cache).glob("mp-*.json")):
            row = json.loads(f.read_text())
            items += [(row["formula"], e["source"], e["initial"]) for e in row.get("pool", [])]
    random.Random(args.seed).shuffle(items)
    items = items[:args.n]
    calculator = load_calculator("chgnet", "cpu")
    names = args.optimizers.split(",")
    matcher = StructureMatcher()
    table = {n: {"steps": [], "seconds": [], "de": [], "same": []} for n in names}
    print(f"{'formula':<14}{'source':<22}" + "".join(f"{n + ' steps/s/dE':>28}" for n in names))
    for formula, source, data in items:
        s = Structure.from_dict(data)
        results = {n: relax(s, calculator, n, args.fmax, args.steps) for n in names}
        ref_e, _, _, ref_s = results[names[0]]
        line = f"{formula:<14}{source[:21]:<22}"
        for n in names:
            e, steps, sec, out = results[n]
            same = bool(matcher.fit(out, ref_s))
            for key, value in (("steps", steps), ("seconds", sec), ("de", 1000 * (e - ref_e)), ("same", same)):
                table[n][key].append(value)
            line += f"{steps:>10d}{sec:>8.1f}{1000 * (e - ref_e):>8.1f}{'' if same else '*':>2}"
        print(line, flush=True)
    print(f"\n{'optimiser':<16}{'mean steps':>11}{'mean s':>8}{'median dE meV':>14}{'dE < -5':>8}{'dE > 5':>8}"
          f"{'same as ' + names[0]:>14}")
    for n in names:
        t = table[n]
        de = np.array(t["de"])
        print(f"{n:<16}{np.mean(t['steps']):>11.1f}{np.mean(t['seconds']):>8.2f}{np.median(de):>14.2f}"
              f"{int((de < -5).sum()):>8d}{int((de > 5).sum()):>8d}{np.mean(t['same']):>14.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
