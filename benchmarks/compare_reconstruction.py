"""Paired comparison of two oracle-mode evaluations of the same structures.

Usage::

    python benchmarks/compare_reconstruction.py BEFORE.json AFTER.json [--show 20]

Both files are ``alphacrystal evaluate reconstruction --json`` outputs. The table
gives each one's match rate and fitness-1 fraction on the structures both ran, how
many matches were gained and lost, and the exact two-sided McNemar p-value of the
difference (the binomial test on the discordant pairs): a small difference with
many discordant pairs in both directions is noise, not a change of the method.
The lost and gained structures are listed with what changed for them (fitness,
escalation, jobs), which is where a cause shows.
"""

from __future__ import annotations

import argparse
import json
import sys
from math import comb
from pathlib import Path


def mcnemar_p(gained: int, lost: int) -> float:
    """Exact two-sided McNemar p-value: P(a split at least this uneven | no difference)."""
    n = gained + lost
    if n == 0:
        return 1.0
    k = min(gained, lost)
    tail = sum(comb(n, i) for i in range(k + 1)) / 2 ** n
    return min(1.0, 2 * tail)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before")
    parser.add_argument("after")
    parser.add_argument("--show", type=int, default=20, help="list up to this many gained and lost structures")
    args = parser.parse_args(argv)
    runs = [json.loads(Path(p).read_text()) for p in (args.before, args.after)]
    rows = [{r["id"]: r for r in run["structures"]} for run in runs]
    common = sorted(set(rows[0]) & set(rows[1]))
    if not common:
        print("no structure in common", file=sys.stderr)
        return 2
    before, after = ([rows[k][i] for i in common] for k in (0, 1))
    gained = [i for i, a, b in zip(common, before, after) if b["matched"] and not a["matched"]]
    lost = [i for i, a, b in zip(common, before, after) if a["matched"] and not b["matched"]]
    n = len(common)
    print(f"{n} structures in both ({len(rows[0])} and {len(rows[1])} ran)")
    print(f"{'':<10}{'match':>8}{'fitness 1':>11}{'escalated':>11}{'CPU s':>8}")
    for name, run in (("before", before), ("after", after)):
        match = sum(r["matched"] for r in run) / n
        fit1 = sum(r["fitness"] >= 1 - 1e-9 for r in run) / n
        escalated = sum(bool(r.get("escalated")) for r in run)
        seconds = sum(float(r.get("seconds") or 0) for r in run) / n
        print(f"{name:<10}{match:>8.3f}{fit1:>11.3f}{escalated:>11}{seconds:>8.1f}")
    print(f"gained {len(gained)}, lost {len(lost)}; exact McNemar p = {mcnemar_p(len(gained), len(lost)):.3f}")
    for title, ids in (("lost", lost), ("gained", gained)):
        if ids:
            print(f"\n{title}:")
        for i in ids[: args.show]:
            a, b = rows[0][i], rows[1][i]
            print(f"  {i:<12}{a['formula']:<14}{a['n_atoms']:>3} atoms  sg {a['spacegroup']:>3}  fitness "
                  f"{a['fitness']:.3f} -> {b['fitness']:.3f}  jobs {a.get('n_jobs')} -> {b.get('n_jobs')}  "
                  f"escalated {a.get('escalated')} -> {b.get('escalated')}  [{a.get('assignment')}] -> "
                  f"[{b.get('assignment')}]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
