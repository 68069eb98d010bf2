"""Relaxation speed of the potentials on this CPU, and batched against one-by-one evaluation.

    python benchmarks/bench_potentials.py --data ../shared/data/mp/structures.csv.gz --n 24

Structures: a seeded sample of training structures up to 20 atoms, rattled
(0.05 Å and 3 % volume) so the optimiser has work to do. One thread, one process.

Table 1: per potential, the mean time per optimiser step (one energy + forces +
stress evaluation and the FIRE update) by cell size, and the model load time.

Table 2: CHGNet's model takes a list of structures (one graph batch per call).
Time per structure of one call over N structures against N calls of one: what
a batched optimiser (one model call per step over all pooled structures) would
gain at best.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SIZE_BINS = ((1, 4), (5, 8), (9, 12), (13, 16), (17, 20))


def rattled(structures, seed: int):
    rng = np.random.default_rng(seed)
    out = []
    for s in structures:
        s = s.copy()
        s.scale_lattice(s.volume * (1 + rng.uniform(-0.03, 0.03)))
        s.perturb(0.05)
        out.append(s)
    return out


def main() -> int:
    import torch

    from core.data.formula_split import full_range_split
    from core.relax.potentials import POTENTIALS
    from core.relax.relaxer import Relaxer, RelaxSettings

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--n", type=int, default=24, help="structures (spread over the size bins)")
    parser.add_argument("--steps", type=int, default=40, help="optimiser steps per relaxation")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")

    train = full_range_split(args.data).train
    rng = np.random.default_rng(args.seed)
    per_bin = max(1, args.n // len(SIZE_BINS))
    picked = []
    for lo, hi in SIZE_BINS:
        idx = np.flatnonzero((train.nsites >= lo) & (train.nsites <= hi))
        picked += [int(k) for k in rng.choice(idx, size=min(per_bin, len(idx)), replace=False)]
    structures = rattled([train.structure(k) for k in picked], args.seed)
    sizes = np.array([len(s) for s in structures])
    print(f"{len(structures)} rattled training structures, {sizes.min()}-{sizes.max()} atoms, "
          f"{args.steps} FIRE steps each, 1 thread\n")

    print(f"{'potential':<26}{'load s':>8}" + "".join(f"{f'{lo}-{hi} at.':>11}" for lo, hi in SIZE_BINS)
          + f"{'all':>9}   (ms per step)")
    for name, potential in POTENTIALS.items():
        relaxer = Relaxer(RelaxSettings(potential=name, steps=args.steps, fmax=0.0))
        t = time.perf_counter()
        relaxer.energy_per_atom(structures[0])
        load = time.perf_counter() - t
        ms = []
        for s in structures:
            r = relaxer.relax(s)
            ms.append(1000 * r.seconds / max(r.steps, 1))
        ms = np.array(ms)
        cells = "".join(f"{ms[(sizes >= lo) & (sizes <= hi)].mean():>11.0f}" for lo, hi in SIZE_BINS)
        print(f"{potential.label:<26}{load:>8.1f}{cells}{ms.mean():>9.0f}")

    from chgnet.model import CHGNet

    model = CHGNet.load(verbose=False, use_device="cpu")
    print(f"\n{'CHGNet, N structures':<24}{'one by one':>12}{'one batch':>12}   (ms per structure, e+f+s)")
    for n in (4, 8, 16):
        batch = structures[:n] if n <= len(structures) else structures
        model.predict_structure(batch[:2], task="efs")  # warm up
        single, batched = [], []
        for _ in range(3):
            t = time.perf_counter()
            for s in batch:
                model.predict_structure(s, task="efs")
            single.append((time.perf_counter() - t) / len(batch))
            t = time.perf_counter()
            model.predict_structure(batch, task="efs", batch_size=len(batch))
            batched.append((time.perf_counter() - t) / len(batch))
        print(f"{len(batch):<24}{1000 * min(single):>12.0f}{1000 * min(batched):>12.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
