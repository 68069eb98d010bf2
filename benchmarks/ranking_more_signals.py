"""Can any other signal order the first five better than the shipped rule? Measured on
cached validation pools (``benchmarks/ranking_pools.py``) only.

The shipped rule orders the five lowest distinct CHGNet structures by SevenNet-0's energy
minus kT ln P(relaxed space group | composition, Z), kT = 10 meV/atom. This prints top-1
for the same five ordered by:

* **other energies**: CHGNet, SevenNet-0, SevenNet-l3i5, SevenNet-MF-0 (PBE head) and their
  means, each with the space-group prior at several kT (the l3i5 and MF-0 energies must have been
  added first with ``benchmarks/ranking_second_energies.py CACHE --potential NAME``; a mix whose
  energies are missing is skipped);
* **a prototype prior**: the 60 best-scored template substitutions of the formula
  (:func:`core.templates.retrieval.retrieve_templates`; the library holds training formulas
  only) grouped into distinct structures; a candidate's support is the size of the largest
  group whose structure it matches (loose tolerances; 0 for none), and the score adds
  -kT2 ln((support + 1) / (60 + number of groups)), 60 being the substitutions retrieved;
* **a learned re-ordering**: logistic regression over the ranker's features
  (:data:`core.predict.ranking.RANKER_FEATURES`) plus ln P(group) and both potentials'
  energy gaps, leave-one-formula-out, pointwise or pairwise.

Usage::

    python benchmarks/ranking_more_signals.py benchmarks/cache/pools-validation-12-n100 \
        benchmarks/cache/pools-validation-13-20-n20 --json docs/results/ranking-more-signals-validation.json
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
warnings.simplefilter("ignore")

ENERGY_MIXES = {"CHGNet": {"chg": 1.0}, "SevenNet-0 (shipped)": {"7n0": 1.0}, "SevenNet-l3i5": {"l3i5": 1.0},
                "CHGNet + SevenNet-0": {"chg": 0.5, "7n0": 0.5}, "SevenNet-0 + l3i5": {"7n0": 0.5, "l3i5": 0.5},
                "all three": {"chg": 1 / 3, "7n0": 1 / 3, "l3i5": 1 / 3},
                "SevenNet-MF-0 (PBE)": {"mf0": 1.0}, "SevenNet-0 + MF-0": {"7n0": 0.5, "mf0": 0.5},
                "MF-0 + l3i5": {"mf0": 0.5, "l3i5": 0.5}, "CHGNet + MF-0": {"chg": 0.5, "mf0": 0.5}}
EXTRA = {"l3i5": "sevennet-l3i5", "mf0": "sevennet-mf-0"}
"""Energies added to the pools by ``benchmarks/ranking_second_energies.py --potential NAME``."""
LOOSE = {"ltol": 0.3, "stol": 0.5, "angle_tol": 10}


def pool_heads(pools, with_prototypes: bool) -> list[dict]:
    """The five lowest distinct structures of each pool (the shipped relaxation policy), with
    every signal measured on them; ``y`` marks those matching the known structure."""
    from pymatgen.analysis.structure_matcher import StructureMatcher
    from ranking_variants import distinct_by_energy, energy_of, feature_rows, relax_policy

    from core.predict.ranking import ranker_features
    from core.templates.retrieval import retrieve_templates

    matcher, loose = StructureMatcher(), StructureMatcher(**LOOSE)
    rows = []
    for pool in pools:
        cells: dict = {}
        pool.stage_energy.clear()
        members, _ = relax_policy(pool, "stage:20:100:1", True, matcher, cells)
        head = distinct_by_energy(pool, members, matcher, cells)[:5]
        prior = pool.sg_prior()
        row = {"formula": pool.formula, "n_atoms": int(pool.row["n_atoms"]),
               "y": [bool(pool.matches(*h)) for h in head],
               "chg": [energy_of(pool, h) for h in head],
               "7n0": [pool.items[h[0]]["second_energy_per_atom"] for h in head],
               **{key: [pool.items[h[0]].get("energies_by_potential", {}).get(name) for h in head]
                  for key, name in EXTRA.items()},
               "log_prior": [float(np.log(max(prior.get(pool.group(*h), 0.0), 1e-4))) for h in head],
               "features": ranker_features(feature_rows(pool, head, members, matcher, cells)).tolist()}
        if with_prototypes:
            prototypes = retrieve_templates(pool.formula, z=int(pool.row["z"]), top_k=60, pool=60)
            row["prototypes"] = len(prototypes)
            row["support"] = [max([p.similar + 1 for p in prototypes if loose.fit(pool.structure(*h), p.structure)],
                                  default=0) for h in head]
        rows.append(row)
        print(f"  {pool.formula}", flush=True)
    return rows


def _gap(values) -> np.ndarray:
    v = np.array([np.nan if x is None else x for x in values], dtype=float)
    return 1000 * (v - np.nanmin(v))


def rule_top1(rows: list[dict], mix: dict, kt: float, kt2: float = 0.0) -> tuple[float, float]:
    """Top-1 at <= 12 and 13-20 atoms of energy mix - kT ln P(group) - kT2 ln P(prototype)."""
    hits = {True: [], False: []}
    for r in rows:
        score = sum(w * _gap(r[k]) for k, w in mix.items()) - kt * np.array(r["log_prior"])
        if kt2:
            score = score - kt2 * np.log((np.array(r["support"]) + 1.0) / (60 + r["prototypes"]))
        score = np.where(np.isnan(score), np.inf, score)
        hits[r["n_atoms"] <= 12].append(bool(r["y"]) and r["y"][int(np.argmin(score))])
    return tuple(float(np.mean(hits[k])) if hits[k] else float("nan") for k in (True, False))


def learned_top1(rows: list[dict], c: float, pairwise: bool) -> tuple[float, float]:
    """Leave-one-formula-out logistic re-ordering of the five."""
    from sklearn.linear_model import LogisticRegression

    def x_of(r):
        extra = np.column_stack([r["log_prior"], _gap(r["7n0"]), _gap(r["chg"])])
        return np.nan_to_num(np.hstack([np.array(r["features"]), extra]), nan=1000.0)

    xs = [x_of(r) if r["y"] else None for r in rows]
    hits = {True: [], False: []}
    for k, r in enumerate(rows):
        if not r["y"]:
            hits[r["n_atoms"] <= 12].append(False)
            continue
        train = [(xs[j], np.array(rows[j]["y"], int)) for j in range(len(rows)) if j != k and xs[j] is not None
                 and any(rows[j]["y"])]
        if pairwise:
            pairs = [(x[p] - x[q], 1) for x, y in train for p in np.flatnonzero(y) for q in np.flatnonzero(1 - y)]
            pairs += [(-d, 0) for d, _ in pairs]
            features, labels = np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])
        else:
            features, labels = np.vstack([x for x, _ in train]), np.concatenate([y for _, y in train])
        scale = features.std(axis=0) + 1e-9
        centre = 0.0 if pairwise else features.mean(axis=0)
        model = LogisticRegression(C=c, max_iter=5000, fit_intercept=not pairwise).fit((features - centre) / scale,
                                                                                      labels)
        best = int(np.argmax(model.decision_function((xs[k] - centre) / scale)))
        hits[r["n_atoms"] <= 12].append(r["y"][best])
    return tuple(float(np.mean(hits[k])) if hits[k] else float("nan") for k in (True, False))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("caches", nargs="+")
    p.add_argument("--json")
    p.add_argument("--no-prototypes", action="store_true", help="skip the prototype prior (template retrieval)")
    args = p.parse_args(argv)
    from ranking_variants import load

    pools = load(args.caches)
    print(f"{len(pools)} pools from {', '.join(args.caches)}")
    rows = pool_heads(pools, not args.no_prototypes)
    table = []

    def report(name: str, values: tuple[float, float]) -> None:
        table.append({"variant": name, "top1_le12": values[0], "top1_13_20": values[1]})
        print(f"{name:<58}{values[0]:>8.2f}{values[1]:>8.2f}", flush=True)

    print(f"\n{'first five ordered by':<58}{'<= 12':>8}{'13-20':>8}")
    have = {key for key in EXTRA if all(v is not None for r in rows for v in r[key])}
    for name, mix in ENERGY_MIXES.items():
        if any(key in EXTRA and key not in have for key in mix):
            continue
        for kt in (0, 5, 10, 15, 20):
            report(f"{name} - {kt} meV ln P(group)", rule_top1(rows, mix, kt))
    if not args.no_prototypes:
        for kt in (0, 5, 10):
            for kt2 in (5, 10, 20, 30, 50):
                report(f"SevenNet-0 - {kt} ln P(group) - {kt2} ln P(prototype)", rule_top1(rows, {"7n0": 1.0}, kt, kt2))
    for c in (0.1, 1.0):
        for pairwise in (False, True):
            report(f"learned, C = {c}, {'pairwise' if pairwise else 'pointwise'} (leave one formula out)",
                   learned_top1(rows, c, pairwise))
    top5 = {k: float(np.mean([any(r["y"]) for r in rows if (r["n_atoms"] <= 12) == k])) for k in (True, False)}
    print(f"{'ceiling: the known structure among the five':<58}{top5[True]:>8.2f}{top5[False]:>8.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps({"pools": [r["formula"] for r in rows], "variants": table,
                                               "top5": {"le12": top5[True], "13_20": top5[False]}}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
