"""Ranking and relaxation policies compared on cached relaxed pools (issue 28).

Reads the pools written by ``benchmarks/ranking_pools.py`` (every structure relaxed
for the first round *and* to the full budget), simulates a relaxation policy (which
structures get the full budget, which are de-duplicated before relaxing) and a
ranking policy (energy order, near-ties merged onto the higher symmetry, a second
potential, a learned ranker), and prints for each variant top-1, top-5 and the
relaxation steps per formula. It also prints the miss analysis of the default:
each miss classified (not generated / ranked 2-5 / ranked > 5) with the energy gap
between rank 1 and the true structure, their symmetry relation and sources.

Usage::

    python benchmarks/ranking_variants.py benchmarks/cache/pools-validation-12 [more caches] \
        [--json docs/results/ranking-validation.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
warnings.simplefilter("ignore")

from pymatgen.core import Structure  # noqa: E402

from core.crystal.matching import CSP_TOLERANCES, structure_match  # noqa: E402
from core.predict.settings import PRIOR_FLOOR  # noqa: E402 - the pipeline's own floor


@dataclass
class Member:
    """One structure of a cached pool, at one relaxation stage (``pre`` or ``full``)."""

    uid: tuple
    source: str
    route: str
    stage: str
    structure: Structure
    energy: float
    second: float | None
    steps: int
    matches: bool
    info: dict = field(default_factory=dict)


class Pool:
    """One formula's cached pool with lazily computed symmetry and matches."""

    def __init__(self, row: dict) -> None:
        self.row = row
        self.id, self.formula = row["id"], row["formula"]
        self.reference = Structure.from_dict(row["reference"])
        self.items = row["pool"]
        self._structures: dict = {}
        self._groups: dict = {}
        self._matches: dict = {}
        self._same: dict = {}
        self.stage_energy: dict = {}  # (k, "pre") -> energy of a simulated shorter first round
        self._prior: dict[int, float] | None = None

    def sg_prior(self) -> dict[int, float]:
        """Space group -> the candidate model's probability for this composition and Z (the
        composition only: no reference), over the feasible groups."""
        if self._prior is None:
            from core.candidates.propose import spacegroup_prior

            self._prior = {group: p for (group, _), p in spacegroup_prior(self.formula, int(self.row["z"])).items()}
        return self._prior

    def structure(self, k: int, stage: str) -> Structure:
        key = (k, stage)
        if key not in self._structures:
            item = self.items[k]
            data = item["structure"] if stage == "full" or item["prerelax"] is None else item["prerelax"]["structure"]
            self._structures[key] = Structure.from_dict(data if stage != "initial" else item["initial"])
        return self._structures[key]

    def group(self, k: int, stage: str) -> int:
        from core.crystal.symmetry import space_group

        if (k, stage) not in self._groups:
            try:
                self._groups[(k, stage)] = int(space_group(self.structure(k, stage))[0])
            except Exception:  # noqa: BLE001
                self._groups[(k, stage)] = 1
        return self._groups[(k, stage)]

    def matches(self, k: int, stage: str) -> bool:
        if stage == "full":
            return bool(self.items[k]["matches_reference"])
        if (k, stage) not in self._matches:
            self._matches[(k, stage)] = bool(structure_match(self.structure(k, stage), self.reference,
                                                             CSP_TOLERANCES).matched)
        return self._matches[(k, stage)]

    def same(self, a: tuple, b: tuple, matcher, cells: dict) -> bool:
        from core.crystal.matching import same_structure
        from core.reconstruction.selection import same_reported_structure

        key = (a, b) if a <= b else (b, a)
        if key not in self._same:
            if a[1] == "initial":
                self._same[key] = same_structure(matcher, self.structure(*a), self.structure(*b))
            else:
                self._same[key] = same_reported_structure(matcher, self.structure(*a), self.structure(*b), cells)
        return self._same[key]


# --- relaxation policies: which members get the full budget ------------------------------

def relax_policy(pool: Pool, policy: str, dedup_initial: bool, matcher, cells) -> tuple[list[tuple], int]:
    """(member (index, stage) after relaxation, total optimiser steps) under ``policy``:
    ``top3`` (shipped: the 3 lowest unconverged continued), ``all``, or ``window:W[:N]``
    (every unconverged structure within W meV/atom of the lowest, at least N)."""
    from core.relax.rounds import continued_within_window

    items = list(range(len(pool.items)))
    items = [k for k in items if pool.items[k]["prerelax"] is not None]
    if dedup_initial:
        kept: list[int] = []
        # templates first: their geometry is a known structure's
        for k in sorted(items, key=lambda k: pool.items[k]["route"] != "templates"):
            if not any(pool.same((k, "initial"), (j, "initial"), matcher, cells) for j in kept):
                kept.append(k)
        items = sorted(kept)
    pre = {k: pool.items[k]["prerelax"] for k in items}
    if policy.startswith("stage:"):  # stage:L:W:N[:M], a first round of L steps read off the cached course
        _, length, window, least, *most = policy.split(":")
        return staged(pool, items, int(length), float(window) / 1000, int(least), int(most[0]) if most else None)
    energies = {k: pre[k]["energy_per_atom"] for k in items}
    converged = {k: bool(pre[k]["converged"]) for k in items}
    if policy == "top3":
        cont = continued_within_window(energies, converged, 0.0, 3)
    elif policy == "all":
        cont = [k for k in items if not converged[k]]
    else:
        parts = policy.split(":")
        cont = continued_within_window(energies, converged, float(parts[1]) / 1000,
                                       int(parts[2]) if len(parts) > 2 else 0)
    steps = 0
    out = []
    for k in items:
        if k in cont:
            out.append((k, "full"))
            steps += pool.items[k]["steps"]
        else:
            out.append((k, "pre"))
            steps += pre[k]["steps"]
    return out, steps


def staged(pool: Pool, items: list[int], length: int, window: float, least: int, most: int | None
           ) -> tuple[list[tuple], int]:
    """A first round of ``length`` steps for all, then the full relaxation for the unconverged
    structures within ``window`` eV/atom of the lowest (at least ``least``), simulated from the
    cached energy after every step. A structure left after round 1 is reported with its energy
    at step ``length`` and, as an approximation, its structure after the cached 60-step round."""
    from core.relax.rounds import continued_within_window

    energies, converged, steps_first = {}, {}, {}
    for k in items:
        course = pool.items[k]["energies"] or []
        first_steps = min(length, pool.items[k]["steps"])
        energies[k] = course[first_steps] if first_steps < len(course) else pool.items[k]["energy_per_atom"]
        converged[k] = pool.items[k]["converged"] and pool.items[k]["steps"] <= length
        steps_first[k] = first_steps
    cont = continued_within_window(energies, converged, window, least, most)
    out, steps = [], 0
    for k in items:
        if k in cont or converged[k]:
            out.append((k, "full"))
            steps += pool.items[k]["steps"]
        else:
            out.append((k, "pre"))
            pool.stage_energy[(k, "pre")] = energies[k]
            steps += steps_first[k]
    return out, steps


def energy_of(pool: Pool, member: tuple) -> float:
    k, stage = member
    if (k, stage) in pool.stage_energy:
        return pool.stage_energy[(k, stage)]
    return pool.items[k]["energy_per_atom"] if stage == "full" else pool.items[k]["prerelax"]["energy_per_atom"]


def distinct_by_energy(pool: Pool, members: list[tuple], matcher, cells, key=None) -> list[tuple]:
    """Members in ascending ``key`` (default energy), duplicates (the pipeline's test) merged."""
    key = key or (lambda m: energy_of(pool, m))
    kept: list[tuple] = []
    for m in sorted(members, key=key):
        if not any(pool.same(m, j, matcher, cells) for j in kept):
            kept.append(m)
    return kept


def rank_policy(pool: Pool, members: list[tuple], policy: dict, matcher, cells, ranker=None) -> list[tuple]:
    """Ranked distinct members under a ranking policy."""
    from core.predict.ranking import merge_near_ties

    energy = {m: energy_of(pool, m) for m in members}
    score = energy
    ranked = distinct_by_energy(pool, members, matcher, cells, key=lambda m: score[m])
    if policy.get("near_tie"):
        order, _ = merge_near_ties([pool.structure(*m) for m in ranked], [energy[m] for m in ranked],
                                   [pool.group(*m) for m in ranked], policy["near_tie"] / 1000,
                                   policy.get("symprec", 0.3))
        ranked = [ranked[i] for i in order]
    if policy.get("second"):  # the k lowest distinct structures re-ordered by both potentials
        head = ranked[:policy.get("second_top", len(ranked))]
        name = policy.get("second_name", "sevennet")
        second = {m: pool.items[m[0]]["second_energy_per_atom"] if name == "sevennet"
                  else pool.items[m[0]].get("energies_by_potential", {}).get(name) for m in head}
        if head and all(v is not None for v in second.values()):
            lo1, lo2 = min(energy[m] for m in head), min(second.values())
            w = policy["second"]
            score = {m: (1 - w) * (energy[m] - lo1) + w * (second[m] - lo2) for m in head}
            ranked = sorted(head, key=lambda m: score[m]) + ranked[len(head):]
    if policy.get("sg_prior"):  # the first k by energy (as re-ranked so far) - kT ln P(relaxed group)
        head = ranked[:policy.get("prior_top", 5)]  # within the second potential's head (5) when both are on
        prior, kt = pool.sg_prior(), policy["sg_prior"] / 1000
        low = min(score[m] for m in head) if head else 0.0
        reach = policy.get("prior_reach", np.inf) / 1000  # the prior term capped: it moves nothing further
        prior_score = {m: score[m] - low + min(-kt * np.log(max(prior.get(pool.group(*m), 0.0), PRIOR_FLOOR)), reach)
                       for m in head}
        ranked = sorted(head, key=lambda m: prior_score[m]) + ranked[len(head):]
    if ranker is not None:
        ranked = ranker(pool, ranked)
    return ranked


def match_rank(pool: Pool, ranked: list[tuple], top: int = 5) -> int | None:
    for n, m in enumerate(ranked[:top], 1):
        if pool.matches(*m):
            return n
    return None


def evaluate(pools: list[Pool], relax: str, dedup: bool, ranking: dict, ranker=None) -> dict:
    from pymatgen.analysis.structure_matcher import StructureMatcher

    matcher = StructureMatcher()
    ranks, steps = [], []
    for pool in pools:
        cells: dict = {}
        pool.stage_energy.clear()
        members, n_steps = relax_policy(pool, relax, dedup, matcher, cells)
        ranked = rank_policy(pool, members, ranking, matcher, cells, ranker) if members else []
        ranks.append(match_rank(pool, ranked))
        steps.append(n_steps)
    n = len(pools)
    return {"n": n, "top1": sum(r == 1 for r in ranks) / n, "top5": sum(r is not None for r in ranks) / n,
            "steps": float(np.mean(steps)), "ranks": ranks}


def feature_rows(pool: Pool, ranked: list[tuple], members: list[tuple], matcher, cells) -> list[dict]:
    """The learned ranker's raw inputs for each distinct ranked member (no reference used)."""
    rows = []
    for m in ranked:
        item = pool.items[m[0]]
        found = sum(1 for j in members if pool.same(m, j, matcher, cells))
        structure, initial = pool.structure(*m), pool.structure(m[0], "initial")
        rows.append({"energy_per_atom": energy_of(pool, m), "relaxed_spacegroup": pool.group(*m),
                     "route": item["route"], "template_score": item["template_score"],
                     "sg_probability": item["sg_probability"], "dice": item["dice"],
                     "relaxed_dice": (item["relaxed_score"] or [None, None])[1],
                     "volume_per_atom": structure.volume / len(structure),
                     "initial_volume_per_atom": initial.volume / len(initial),
                     "times_found": found, "converged": item["converged"] if m[1] == "full"
                     else item["prerelax"]["converged"]})
    return rows


def ranker_data(pools: list[Pool], relax: str, dedup: bool) -> list[tuple]:
    """(pool, distinct ranked members, feature matrix, labels, steps) of each pool."""
    from pymatgen.analysis.structure_matcher import StructureMatcher

    from core.predict.ranking import ranker_features

    matcher = StructureMatcher()
    data = []
    for pool in pools:
        cells: dict = {}
        pool.stage_energy.clear()
        members, steps = relax_policy(pool, relax, dedup, matcher, cells)
        ranked = distinct_by_energy(pool, members, matcher, cells)
        x = ranker_features(feature_rows(pool, ranked, members, matcher, cells))
        y = np.array([pool.matches(*m) for m in ranked], dtype=int)
        data.append((pool, ranked, x, y, steps))
    return data


def learned_ranker_cv(pools: list[Pool], relax: str = "all", c: float = 1.0, top_k: int | None = None,
                      dedup: bool = False) -> dict:
    """Leave-one-formula-out: the ranker trained on the other pools re-orders each pool's
    distinct structures (all of them, or the ``top_k`` lowest in energy)."""
    from core.predict.ranking import LinearRanker

    data = ranker_data(pools, relax, dedup)
    ranks = []
    for k, (pool, ranked, x, _y, _) in enumerate(data):
        train = [d for j, d in enumerate(data) if j != k and len(d[3])]
        xs, ys = np.vstack([d[2] for d in train]), np.concatenate([d[3] for d in train])
        model = LinearRanker.fit(xs, ys, c)
        if len(ranked):
            head = len(ranked) if top_k is None else min(top_k, len(ranked))
            order = list(np.argsort(-model.score(x[:head]), kind="stable")) + list(range(head, len(ranked)))
            ranked = [ranked[i] for i in order]
        ranks.append(match_rank(pool, ranked))
    n = len(pools)
    return {"n": n, "top1": sum(r == 1 for r in ranks) / n, "top5": sum(r is not None for r in ranks) / n,
            "steps": float(np.mean([d[4] for d in data])), "ranks": ranks}


def miss_table(pools: list[Pool]) -> list[dict]:
    """Each miss of the fully relaxed, energy-ranked pool: class, energy gap, symmetry relation."""
    from pymatgen.analysis.structure_matcher import StructureMatcher

    from core.crystal.spacegroups import is_proper_subgroup

    matcher = StructureMatcher()
    rows = []
    for pool in pools:
        cells: dict = {}
        members, _ = relax_policy(pool, "all", False, matcher, cells)
        ranked = distinct_by_energy(pool, members, matcher, cells)
        rank = next((n for n, m in enumerate(ranked, 1) if pool.matches(*m)), None)
        if rank == 1:
            continue
        top = ranked[0] if ranked else None
        row = {"id": pool.id, "formula": pool.formula, "n_atoms": pool.row["n_atoms"],
               "true_sg": pool.row["spacegroup"], "class": "not generated" if rank is None else
               ("ranked 2-5" if rank <= 5 else "ranked > 5"), "rank": rank}
        if top is not None:
            g1 = pool.group(*top)
            row.update(top1_sg=g1, top1_source=pool.items[top[0]]["source"])
            if rank is not None:
                true = ranked[rank - 1]
                g2 = pool.group(*true)
                row.update(gap_mev=1000 * (energy_of(pool, true) - energy_of(pool, top)), true_found_sg=g2,
                           true_source=pool.items[true[0]]["source"],
                           relation="same group" if g1 == g2 else "top-1 a subgroup of the true" if
                           is_proper_subgroup(g1, g2) else "true a subgroup of top-1" if is_proper_subgroup(g2, g1)
                           else "none")
        rows.append(row)
    return rows


def load(paths: list[str]) -> list[Pool]:
    pools = []
    for path in paths:
        for f in sorted(Path(path).glob("*.json")):
            if f.name == "sample.json":
                continue
            row = json.loads(f.read_text())
            if row.get("pool"):
                pools.append(Pool(row))
    return pools


def prior_reach_table(pools: list[Pool], args) -> int:
    """The shipped ranking (SevenNet-0 re-ranks the first 5, symmetry prior kT = 10 meV/atom) with the
    prior's term -kT ln P capped at R meV/atom, so that it re-orders only structures within R of each
    other: top-1 / top-5 and how far rank 1 lies above the lowest by the judging potential."""
    out: dict = {"pools": [p.id for p in pools], "variants": {}}
    print(f"\n{'prior term capped at (meV/atom)':<34}{'top-1':>7}{'top-5':>7}")
    for reach in (None, 50, 30, 20, 15, 10):
        ranking = {"second": 1.0, "second_top": 5, "sg_prior": 10} | ({"prior_reach": reach} if reach else {})
        res = evaluate(pools, args.policy, True, ranking)
        name = "uncapped (shipped)" if reach is None else f"{reach}"
        out["variants"][name] = res
        print(f"{name:<34}{res['top1']:>7.3f}{res['top5']:>7.3f}", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1) + "\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("caches", nargs="+")
    p.add_argument("--json")
    p.add_argument("--misses", action="store_true", help="print the miss analysis")
    p.add_argument("--policy", default="stage:20:100:1", help="relaxation policy of the ranking variants")
    p.add_argument("--train", metavar="JSON", help="fit the learned ranker on every pool given and write it here")
    p.add_argument("--train-policy", default="all", help="relaxation policy the ranker's features come from")
    p.add_argument("--train-c", type=float, default=0.1, help="inverse L2 strength of the ranker")
    p.add_argument("--prior-reach", action="store_true",
                   help="only the symmetry prior with its term capped at 10-50 meV/atom (and uncapped)")
    args = p.parse_args(argv)
    pools = load(args.caches)
    if args.prior_reach:
        return prior_reach_table(pools, args)
    print(f"{len(pools)} pools from {', '.join(args.caches)}")
    if args.train:
        from core.predict.ranking import RANKER_FEATURES, LinearRanker

        data = [d for d in ranker_data(pools, args.train_policy, True) if len(d[3])]
        model = LinearRanker.fit(np.vstack([d[2] for d in data]), np.concatenate([d[3] for d in data]), args.train_c)
        labels = np.concatenate([d[3] for d in data])
        print(f"{len(labels)} distinct relaxed structures, {int(labels.sum())} of them the known structure")
        payload = model.to_dict() | {"trained_on": [p.id for p in pools], "policy": args.train_policy,
                                     "rows": len(labels), "positives": int(labels.sum()),
                                     "C": args.train_c, "command": " ".join(sys.argv)}
        Path(args.train).write_text(json.dumps(payload, indent=1) + "\n")
        for name, coef in zip(RANKER_FEATURES, model.coef):
            print(f"  {name:<16}{coef:+.3f}")
        print(f"wrote {args.train}")
        return 0
    out: dict = {"pools": [p.id for p in pools], "variants": {}}
    if args.misses:
        rows = miss_table(pools)
        out["misses"] = rows
        print(f"\n{'id':<12}{'formula':<14}{'atoms':>5}  {'class':<14}{'rank':>5}{'gap meV':>9}  "
              f"{'top-1 sg':>8} {'true sg':>8}  relation / sources")
        for r in rows:
            gap = f"{r['gap_mev']:.1f}" if "gap_mev" in r else "-"
            print(f"{r['id']:<12}{r['formula']:<14}{r['n_atoms']:>5}  {r['class']:<14}{str(r['rank'] or '-'):>5}"
                  f"{gap:>9}  {str(r.get('top1_sg', '-')):>8} {str(r.get('true_found_sg', r['true_sg'])):>8}  "
                  f"{r.get('relation', '')} / {r.get('top1_source', '')} vs {r.get('true_source', '')}")
    variants = [("top3", False, {}), ("all", False, {}), ("top3", True, {})]
    for w in (25, 50, 100):
        variants.append((f"window:{w}:1", True, {}))
    for length in (15, 20, 30, 40):
        for w in (50, 100, 200):
            variants.append((f"stage:{length}:{w}:1", True, {}))
        variants.append((f"stage:{length}:100:1:3", True, {}))
        variants.append((f"stage:{length}:1000:3:3", True, {}))
    chosen = args.policy
    for d in (5, 10, 20, 30):
        variants.append((chosen, True, {"near_tie": d}))
    for w in (0.3, 0.5, 1.0):
        for k in (3, 5):
            variants.append((chosen, True, {"second": w, "second_top": k}))
    variants.append((chosen, True, {"second": 0.5, "second_top": 5, "near_tie": 10}))
    for w in (0.5, 1.0):
        for k in (3, 5):
            variants.append((chosen, True, {"second": w, "second_top": k, "second_name": "sevennet-l3i5"}))
    for kt in (2, 5, 10, 20):
        variants.append((chosen, True, {"second": 1.0, "second_top": 5, "sg_prior": kt}))
        variants.append((chosen, True, {"sg_prior": kt}))
    print(f"\n{'relaxation':<16}{'dedup':<7}{'ranking':<34}{'top-1':>7}{'top-5':>7}{'steps':>8}")
    for relax, dedup, ranking in variants:
        res = evaluate(pools, relax, dedup, ranking)
        name = ", ".join(f"{k} {v}" for k, v in ranking.items()) or "energy"
        out["variants"][f"{relax}|{dedup}|{name}"] = res
        print(f"{relax:<16}{str(dedup):<7}{name:<34}{res['top1']:>7.3f}{res['top5']:>7.3f}{res['steps']:>8.0f}",
              flush=True)
    for c in (0.1, 1.0):
        for top_k in (3, None):
            res = learned_ranker_cv(pools, chosen, c, top_k, True)
            name = f"learned C={c} top-{top_k or 'all'} (CV)"
            out["variants"][f"{chosen}|True|{name}"] = res
            print(f"{chosen:<16}{'True':<7}{name:<34}{res['top1']:>7.3f}{res['top5']:>7.3f}{res['steps']:>8.0f}",
                  flush=True)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
