"""Do near-ties resolve when the first five are relaxed further? Measured on cached
validation pools (``benchmarks/ranking_pools.py``) only.

The shipped ranking relaxes with CHGNet to |F| < 0.1 eV/Å and orders CHGNet's five lowest
distinct structures by SevenNet-0's energy *at the CHGNet geometry* minus kT ln P(group).
A residual force of 0.1 eV/Å can leave a soft distortion a few meV/atom from its minimum,
the size of the near-ties that decide the misses, and SevenNet-0's single point at another
potential's geometry carries that potential's residual strain. This relaxes each of the five
further, two ways, and re-ranks:

* ``chg_tight``: CHGNet continued to |F| < 0.02 eV/Å (300 steps at most), then SevenNet-0's
  energy at that geometry (``7n0_at_tight``);
* ``7n0_relaxed``: SevenNet-0's own relaxation from the CHGNet geometry to |F| < 0.05 eV/Å
  (200 steps at most).

Each relaxed structure is matched to the known one again (a further relaxation may move it
onto or off the match). ``compute`` writes one JSON per pool into ``--out`` (re-runs skip
finished pools); ``report`` prints top-1 of every energy with and without the shipped prior.

``compute --add sevennet-l3i5`` adds a third potential's single point and own relaxation to
the records already written.

Usage::

    python benchmarks/ranking_tight_relax.py compute benchmarks/cache/pools-validation-12-n100 \
        benchmarks/cache/pools-validation-13-20-n20 --out benchmarks/cache/tight-relax --jobs 2
    python benchmarks/ranking_tight_relax.py report benchmarks/cache/tight-relax \
        --json docs/results/ranking-tight-relax-validation.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
warnings.simplefilter("ignore")

SHIPPED_POLICY = "stage:20:100:1"  # the shipped relaxation: 20 steps, window 100 meV/atom, at least 1
TIGHT_FMAX, TIGHT_STEPS = 0.02, 300  # eV/Å, steps: CHGNet continued
SECOND_FMAX, SECOND_STEPS = 0.05, 200  # eV/Å, steps: SevenNet-0's own relaxation


def _relaxers():
    import torch

    from core.relax.relaxer import Relaxer, RelaxSettings

    torch.set_num_threads(1)
    return (Relaxer(RelaxSettings(fmax=TIGHT_FMAX, steps=TIGHT_STEPS, potential="chgnet")),
            Relaxer(RelaxSettings(fmax=SECOND_FMAX, steps=SECOND_STEPS, potential="sevennet")))


_RELAXERS = None


def head_of_pool(path: str, out_dir: str) -> str:
    """Relax the shipped first five of one cached pool further; write ``out_dir/<id>.json``."""
    global _RELAXERS
    from pymatgen.analysis.structure_matcher import StructureMatcher
    from ranking_variants import Pool, distinct_by_energy, energy_of, relax_policy

    from core.crystal.matching import CSP_TOLERANCES, structure_match

    row = json.loads(Path(path).read_text())
    target = Path(out_dir) / f"{row['id']}.json"
    if target.exists():
        return f"{row['formula']} (done before)"
    if _RELAXERS is None:
        _RELAXERS = _relaxers()
    tight, second = _RELAXERS
    pool, matcher, cells = Pool(row), StructureMatcher(), {}
    members, _ = relax_policy(pool, SHIPPED_POLICY, True, matcher, cells)
    head = distinct_by_energy(pool, members, matcher, cells)[:5]
    prior = pool.sg_prior()
    entries, start = [], time.perf_counter()
    for k, stage in head:
        structure = pool.structure(k, stage)
        entry = {"key": [k, stage], "source": pool.items[k]["source"], "group": pool.group(k, stage),
                 "log_prior": float(np.log(max(prior.get(pool.group(k, stage), 0.0), 1e-4))),
                 "match": bool(pool.matches(k, stage)), "chg": energy_of(pool, (k, stage)),
                 "7n0": pool.items[k]["second_energy_per_atom"]}
        for name, relaxer in (("chg_tight", tight), ("7n0_relaxed", second)):
            result = relaxer.relax(structure)
            entry[name] = float(result.energy_per_atom) if result.ok else None
            entry[f"{name}_steps"] = int(result.steps)
            entry[f"{name}_match"] = bool(result.ok and structure_match(result.structure, pool.reference,
                                                                        CSP_TOLERANCES).matched)
            if name == "chg_tight":
                entry["7n0_at_tight"] = float(second.energy_per_atom(result.structure)) if result.ok else None
                try:
                    from core.crystal.symmetry import space_group

                    entry["group_tight"] = int(space_group(result.structure)[0])
                except Exception:  # noqa: BLE001 - recorded as P1
                    entry["group_tight"] = 1
        entries.append(entry)
    record = {"id": row["id"], "formula": row["formula"], "n_atoms": int(row["n_atoms"]), "z": int(row["z"]),
              "head": entries, "seconds": time.perf_counter() - start,
              "group_prior": {str(g): p for g, p in prior.items()}}
    target.write_text(json.dumps(record))
    return f"{row['formula']} {record['seconds']:.0f} s"


def add_potential(job: tuple[str, str, str]) -> str:
    """Add ``potential``'s single point at the shipped geometry and its own relaxation (|F| <
    SECOND_FMAX, SECOND_STEPS) of each of the five to ``out_dir/<id>.json``."""
    from pymatgen.analysis.structure_matcher import StructureMatcher  # noqa: F401 - matches below
    from ranking_variants import Pool

    from core.crystal.matching import CSP_TOLERANCES, structure_match
    from core.relax.relaxer import Relaxer, RelaxSettings

    path, out_dir, potential = job
    row = json.loads(Path(path).read_text())
    target = Path(out_dir) / f"{row['id']}.json"
    record = json.loads(target.read_text()) if target.exists() else None
    if record is None or all(f"{potential}_relaxed" in e for e in record["head"]):
        return f"{row['formula']} (nothing to add)"
    import torch

    torch.set_num_threads(1)
    relaxer = Relaxer(RelaxSettings(fmax=SECOND_FMAX, steps=SECOND_STEPS, potential=potential))
    pool, start = Pool(row), time.perf_counter()
    for entry in record["head"]:
        structure = pool.structure(*entry["key"])
        entry[potential] = float(relaxer.energy_per_atom(structure))
        result = relaxer.relax(structure)
        entry[f"{potential}_relaxed"] = float(result.energy_per_atom) if result.ok else None
        entry[f"{potential}_relaxed_steps"] = int(result.steps)
        entry[f"{potential}_relaxed_match"] = bool(result.ok and structure_match(result.structure, pool.reference,
                                                                                 CSP_TOLERANCES).matched)
    target.write_text(json.dumps(record))
    return f"{row['formula']} {time.perf_counter() - start:.0f} s"


def compute(args) -> int:
    import multiprocessing as mp

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    Path(args.out).mkdir(parents=True, exist_ok=True)
    files = [str(f) for cache in args.caches for f in sorted(Path(cache).glob("mp-*.json"))]
    if args.limit:
        files = files[:args.limit]
    jobs = [(f, args.out, args.add) if args.add else (f, args.out) for f in files]
    with mp.get_context("spawn").Pool(args.jobs) as workers:
        for n, message in enumerate(workers.imap_unordered(_task, jobs), 1):
            print(f"  [{n}/{len(files)}] {message}", flush=True)
    return 0


def _task(job: tuple) -> str:
    try:
        return add_potential(job) if len(job) == 3 else head_of_pool(*job)
    except Exception as error:  # noqa: BLE001 - one pool's failure is reported, the rest go on
        return f"{job[0]}: failed ({type(error).__name__}: {error})"


def _top1(records: list[dict], energy: str, match: str, kt: float, prior_group: str = "group") -> dict:
    """Top-1 at <= 12 and 13-20 atoms when the five are ordered by ``energy`` - kT ln P(group)."""
    hits: dict[bool, list[bool]] = {True: [], False: []}
    for r in records:
        values = np.array([np.nan if e[energy] is None else e[energy] for e in r["head"]], dtype=float)
        if np.all(np.isnan(values)):
            hits[r["n_atoms"] <= 12].append(False)
            continue
        if prior_group == "group":
            log_prior = np.array([e["log_prior"] for e in r["head"]])
        else:  # the group after the tight relaxation
            log_prior = np.array([np.log(max(r["group_prior"].get(str(e[prior_group]), 0.0), 1e-4))
                                  for e in r["head"]])
        score = 1000 * (values - np.nanmin(values)) - kt * log_prior
        score = np.where(np.isnan(score), np.inf, score)
        hits[r["n_atoms"] <= 12].append(bool(r["head"][int(np.argmin(score))][match]))
    return {("le12" if k else "13_20"): float(np.mean(v)) if v else float("nan") for k, v in hits.items()}


def report(args) -> int:
    records = [json.loads(f.read_text()) for f in sorted(Path(args.dir).glob("mp-*.json"))]
    n12 = sum(r["n_atoms"] <= 12 for r in records)
    print(f"{len(records)} pools ({n12} of <= 12 atoms, {len(records) - n12} of 13-20)")
    variants = {
        "CHGNet (fmax 0.1), SevenNet-0 at its geometry (shipped)": ("7n0", "match", "group"),
        "CHGNet (fmax 0.1)": ("chg", "match", "group"),
        "CHGNet continued to fmax 0.02": ("chg_tight", "chg_tight_match", "group_tight"),
        "SevenNet-0 at the fmax 0.02 CHGNet geometry": ("7n0_at_tight", "chg_tight_match", "group_tight"),
        "SevenNet-0 relaxed (fmax 0.05)": ("7n0_relaxed", "7n0_relaxed_match", "group"),
    }
    with_l3i5 = [r for r in records if all("sevennet-l3i5_relaxed" in e for e in r["head"])]
    if with_l3i5:  # measured on the pools that have it (all of them once `compute --add` has finished)
        variants["SevenNet-l3i5 at the CHGNet geometry (fmax 0.1)"] = ("sevennet-l3i5", "match", "group")
        variants["SevenNet-l3i5 relaxed (fmax 0.05)"] = ("sevennet-l3i5_relaxed", "sevennet-l3i5_relaxed_match",
                                                         "group")
        if len(with_l3i5) < len(records):
            n12 = sum(r["n_atoms"] <= 12 for r in with_l3i5)
            print(f"SevenNet-l3i5 rows: on the {len(with_l3i5)} pools that have it ({n12} of <= 12 atoms)")
    table = []
    print(f"\n{'first five ordered by':<58}{'kT':>4}{'<= 12':>8}{'13-20':>8}")
    for name, (energy, match, group) in variants.items():
        for kt in (0, 10):
            top1 = _top1(with_l3i5 if "l3i5" in energy else records, energy, match, kt, group)
            table.append({"variant": name, "kT_meV": kt, **top1})
            print(f"{name:<58}{kt:>4}{top1['le12']:>8.2f}{top1['13_20']:>8.2f}")
    ceiling = {("le12" if k else "13_20"): float(np.mean([any(e["match"] for e in r["head"]) for r in records
                                                          if (r["n_atoms"] <= 12) == k])) for k in (True, False)}
    steps = {name: float(np.mean([e[f"{name}_steps"] for r in records for e in r["head"]]))
             for name in ("chg_tight", "7n0_relaxed")}
    seconds = float(np.mean([r["seconds"] for r in records]))
    print(f"{'ceiling: the known structure among the five':<62}{ceiling['le12']:>8.2f}{ceiling['13_20']:>8.2f}")
    print(f"mean further steps per structure: CHGNet {steps['chg_tight']:.0f}, SevenNet-0 {steps['7n0_relaxed']:.0f};"
          f" {seconds:.0f} s per formula for both (one core)")
    if args.json:
        Path(args.json).write_text(json.dumps({"pools": [r["formula"] for r in records], "variants": table,
                                               "ceiling": ceiling, "mean_steps": steps,
                                               "seconds_per_formula": seconds}, indent=1))
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("compute")
    c.add_argument("caches", nargs="+")
    c.add_argument("--out", required=True)
    c.add_argument("--jobs", type=int, default=2)
    c.add_argument("--limit", type=int, default=0)
    c.add_argument("--add", metavar="POTENTIAL",
                   help="add this potential's single point and own relaxation to the records already in --out")
    r = sub.add_parser("report")
    r.add_argument("dir")
    r.add_argument("--json")
    args = p.parse_args(argv)
    return compute(args) if args.command == "compute" else report(args)


if __name__ == "__main__":
    sys.exit(main())
