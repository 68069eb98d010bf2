"""Relaxed candidate pools of held-out formulas, cached once, so that ranking and
relaxation policies can be compared without relaxing again (issue 28).

For every sampled structure the formula and its true Z are given (the protocol of
``alphacrystal evaluate prediction``), ``predict_structures`` runs with the default
settings except that *every* structure of the pool is relaxed to the full budget
(``refine_top`` unlimited). For each structure of the pool the cache keeps:

* where it came from (route, source, candidate space group and probability, template
  score, Dice/fitness of the GA structure, Z, predicted lattice volume),
* the structure before relaxation, after round 1 (``prerelax_steps``) and after the
  full relaxation, with energies (eV/atom), steps and convergence,
* whether it matches the true structure (``core.crystal.matching.CSP_TOLERANCES``),
* the energy after every optimiser step (to simulate other round-1 lengths),
* the SevenNet-0 energy (eV/atom) of the fully relaxed structure (a second opinion
  at the same geometry).

One JSON per formula under ``--cache`` (a re-run skips formulas already there), so
the job can be stopped and resumed. ``benchmarks/ranking_variants.py`` reads them.

Usage::

    python benchmarks/ranking_pools.py --split validation --max-atoms 12 --n 40 \
        --cache benchmarks/cache/pools-validation-12 --jobs 2
    python benchmarks/ranking_pools.py --split validation --max-atoms 20 --n 40 \
        --cache benchmarks/cache/pools-validation-20 --jobs 2
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "mp" / "structures.csv.gz"


def pool_one(name: str, structure: dict, second_potential: str | None) -> dict:
    """Predict one held-out formula with every structure fully relaxed; the pool as plain data."""
    import warnings
    from dataclasses import replace

    warnings.simplefilter("ignore")
    from pymatgen.core import Structure

    from core.crystal.matching import CSP_TOLERANCES, structure_match
    from core.errors import AlphaCrystalError
    from core.predict import pipeline
    from core.predict.evaluation import true_z_and_spacegroup
    from core.predict.pipeline import predict_structures
    from core.predict.settings import PredictionSettings

    # every structure relaxed, duplicates before relaxation included: the variants script
    # simulates removing them (and the near-tie merge only changes the ranked list, not the pool)
    pipeline._same_before_relaxation = lambda entries: {}

    reference = Structure.from_dict(structure)
    z, n_atoms, sg = true_z_and_spacegroup(reference)
    formula = reference.composition.reduced_formula
    settings = replace(PredictionSettings(), z=z, jobs=1, refine_top=10**6, near_tie=0.0)
    first: dict = {}  # id of the GA result or template -> (pool key, relaxation after round 1)

    def on_relaxed(key, entry) -> None:
        first.setdefault(id(entry.reconstruction or entry.template), (key, entry.relaxation))

    row = {"id": name, "formula": formula, "z": z, "n_atoms": n_atoms, "spacegroup": sg,
           "reference": structure, "prerelax_steps": settings.prerelax_steps}
    start = time.perf_counter()
    try:
        result = predict_structures(formula, settings, on_relaxed=on_relaxed)
    except AlphaCrystalError as exc:
        return {**row, "error": str(exc), "seconds": time.perf_counter() - start, "pool": []}
    row["seconds"] = time.perf_counter() - start
    row["stage_seconds"] = result.stage_seconds
    second = _second_energies([e.structure for e in result.pool], second_potential)
    pool = []
    for k, e in enumerate(result.pool):
        key, pre = first.get(id(e.reconstruction or e.template), (("?", 0), None))
        x = e.relaxation
        r, c, t = e.reconstruction, e.candidate, e.template
        pool.append({
            "key": list(key), "route": e.route, "source": e.source,
            "spacegroup": e.spacegroup, "z": e.z,
            "sg_probability": None if c is None else c.probability,
            "lattice_volume": None if c is None else _volume(c.lattice),
            "template_score": None if t is None else t.score,
            "template_id": None if t is None else t.template_id,
            "dice": None if r is None else r.dice, "fitness": None if r is None else r.fitness,
            "relaxed_score": e.relaxed_score,
            "initial": e.initial.as_dict(),
            "prerelax": None if pre is None else {"energy_per_atom": pre.energy_per_atom, "steps": pre.steps,
                                                  "converged": pre.converged, "structure": pre.structure.as_dict(),
                                                  "energies": pre.energies},
            "energy_per_atom": x.energy_per_atom, "initial_energy_per_atom": x.initial_energy_per_atom,
            "steps": x.steps, "converged": x.converged, "relax_seconds": x.seconds, "energies": x.energies,
            "structure": x.structure.as_dict(),
            "second_energy_per_atom": second[k],
            "matches_reference": bool(structure_match(e.structure, reference, CSP_TOLERANCES).matched),
        })
    row["pool"] = pool
    row["rejected"] = result.rejected
    row["shipped_match_rank"] = next((e.rank for e in result.ranked[:5]
                                      if structure_match(e.structure, reference, CSP_TOLERANCES).matched), None)
    return row


def _volume(lattice) -> float | None:
    try:
        from pymatgen.core import Lattice

        return float(Lattice.from_parameters(*lattice).volume)
    except Exception:  # noqa: BLE001 - a candidate without a usable lattice
        return None


def _second_energies(structures, name: str | None) -> list[float | None]:
    if not name:
        return [None] * len(structures)
    from core.relax.relaxer import Relaxer, RelaxSettings

    relaxer = Relaxer(RelaxSettings(potential=name))
    out = []
    for s in structures:
        try:
            out.append(float(relaxer.energy_per_atom(s)))
        except Exception:  # noqa: BLE001 - recorded as missing
            out.append(None)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=str(DATA))
    p.add_argument("--split", default="validation", choices=["validation", "test"])
    p.add_argument("--max-atoms", type=int, default=12)
    p.add_argument("--min-atoms", type=int, default=1)
    p.add_argument("--compositions", default=None, help="default: with-nonmetal up to 12 atoms, any above")
    p.add_argument("--n", type=int, default=40)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cache", required=True)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--second-potential", default="sevennet")
    args = p.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    sys.path.insert(0, str(ROOT))
    from core.data.sampling import EvaluationSample
    from core.runtime.parallel import spawn_pool

    chosen = EvaluationSample(data=args.data, split=args.split, max_atoms=args.max_atoms, min_atoms=args.min_atoms,
                              compositions=args.compositions or ("with-nonmetal" if args.max_atoms <= 12 else "any"),
                              n=args.n, seed=args.seed)
    sample = chosen.draw()
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    (cache / "sample.json").write_text(json.dumps({**chosen.record(len(sample)), "ids": [n for n, _ in sample]}, indent=1))
    todo = [(n, s) for n, s in sample if not (cache / f"{n}.json").exists()]
    print(f"{len(sample)} formulas, {len(sample) - len(todo)} cached, {len(todo)} to run", flush=True)
    from concurrent.futures import FIRST_COMPLETED, wait

    start = time.perf_counter()
    with spawn_pool(args.jobs) as pool:
        pending = {pool.submit(pool_one, n, s.as_dict(), args.second_potential): n for n, s in todo}
        done_count = 0
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                name = pending.pop(fut)
                try:
                    row = fut.result()
                except Exception as exc:  # noqa: BLE001 - logged, the others go on
                    print(f"  {name}: failed ({type(exc).__name__}: {exc})", flush=True)
                    continue
                (cache / f"{name}.json").write_text(json.dumps(row))
                done_count += 1
                matches = [k for k, e in enumerate(row["pool"]) if e["matches_reference"]]
                print(f"  [{done_count}/{len(todo)}] {name:<12} {row['formula']:<12} Z={row['z']} "
                      f"pool {len(row['pool'])} matches {matches} shipped rank {row.get('shipped_match_rank')} "
                      f"{row['seconds']:.0f} s  ({time.perf_counter() - start:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
