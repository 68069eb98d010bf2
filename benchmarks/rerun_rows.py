"""Re-measure the rows of a stored prediction evaluation that a change affects.

    python benchmarks/rerun_rows.py --data ../shared/data/mp/structures.csv.gz \\
        --from docs/results/prediction-all20-test100.json --only all-metal --out docs/results/prediction-all20-test100.json

A change that touches only some compositions (e.g. all-metal formulas now run
on templates alone when templates exist, or cells of 13-20 atoms now run the
contact route too) need not re-run the whole sample: the selected rows
(``--only all-metal``, ``13-20-atoms`` or ``all``) run again through
``core.predict.evaluation.evaluate_one`` with the stored settings (current
code and defaults for anything the JSON does not name), the others are kept,
and the summary is recomputed from all rows. The output records each re-run
(``rerun``: a list, newest last) with the date, the command and the ids done.

The output is written after every finished row, so a long re-run cut short
keeps what it did: ``--resume`` (with ``--from`` the cut-short output) skips
the rows the last re-run of the same selector already did.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SELECTORS = ("all-metal", "13-20-atoms", "all")


def selected(row: dict, only: str) -> bool:
    from core.crystal.composition import parse_formula
    from core.predict.scope import is_all_metal

    if only == "all-metal":
        return is_all_metal(parse_formula(row["formula"]))
    if only == "13-20-atoms":
        return 13 <= int(row["n_atoms"]) <= 20
    if only == "all":
        return True
    raise ValueError(only)


def reruns_of(stored: dict) -> list[dict]:
    """The re-run records of a stored evaluation, oldest first (one dict before lists)."""
    record = stored.get("rerun")
    return [] if record is None else list(record) if isinstance(record, list) else [record]


def main() -> int:
    from concurrent.futures import FIRST_COMPLETED, wait

    from core.data.datasets import load_dataset
    from core.io.files import atomic_write_text
    from core.predict.evaluation import evaluate_one, summarise
    from core.runtime.parallel import spawn_pool

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--from", dest="source", required=True, help="stored evaluation JSON")
    parser.add_argument("--only", choices=SELECTORS, required=True, help="which rows to re-run")
    parser.add_argument("--protocol", default="predicted", help="protocol key under 'structures'")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--resume", action="store_true",
                        help="skip the rows the last, cut-short re-run of the same selector did")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    stored = json.loads(Path(args.source).read_text())
    rows = stored["structures"][args.protocol]
    history = reruns_of(stored)
    done_ids: list[str] = []
    started = {"date": datetime.date.today().isoformat(), "command": " ".join(sys.argv)}
    if args.resume:
        if not (history and history[-1].get("rows") == args.only and not history[-1].get("complete", True)):
            print(f"rerun_rows: --resume: the last re-run of {args.source} is not a cut-short '{args.only}' "
                  "re-run; nothing to resume", file=sys.stderr)
            return 2
        last = history.pop()
        done_ids = list(last["ids"])
        started = {"date": last["date"], "command": last["command"],
                   "resumed": list(last.get("resumed", [])) + [started]}
    picked = [k for k, r in enumerate(rows) if selected(r, args.only) and r["id"] not in done_ids]
    dataset = load_dataset(args.data)
    where = {mid: k for k, mid in enumerate(dataset.material_ids)}
    settings = stored["settings"]
    given = args.protocol == "given"
    record = {"rows": args.only, "n": len(picked) + len(done_ids), **started, "ids": done_ids,
              "complete": not picked}

    def write() -> dict:
        summary = summarise(rows)
        out = {**stored, **summary, "structures": {**stored["structures"], args.protocol: rows},
               "rerun": history + [record]}
        atomic_write_text(args.out, json.dumps(out, indent=1, default=str) + "\n")
        return summary

    print(f"re-running {len(picked)} of {len(rows)} rows ({args.only}; {len(done_ids)} done before), "
          f"{args.jobs} at a time", flush=True)
    with spawn_pool(args.jobs) as pool:
        futures = {pool.submit(evaluate_one, rows[k]["id"], dataset.structure(where[rows[k]["id"]]).as_dict(),
                               settings, given): k for k in picked}
        pending = set(futures)
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                k = futures[fut]
                old, rows[k] = rows[k], fut.result()
                record["ids"].append(rows[k]["id"])
                record["complete"] = len(record["ids"]) == record["n"]
                write()
                print(f"  [{len(record['ids'])}/{record['n']}] {rows[k]['formula']:<12} match rank "
                      f"{old.get('match_rank')} -> {rows[k].get('match_rank')}"
                      f"  ({old.get('seconds', 0):.0f} s -> {rows[k]['seconds']:.0f} s)", flush=True)
    summary = write()
    print(f"top-1 {stored['match_rate_top1']:.3f} -> {summary['match_rate_top1']:.3f}, "
          f"top-5 {stored['match_rate_top5']:.3f} -> {summary['match_rate_top5']:.3f}, "
          f"s/formula {stored['seconds_per_formula']:.1f} -> {summary['seconds_per_formula']:.1f}")
    for route, alone in summary["by_route_alone"].items():
        print(f"  {route} alone: {alone['match_rate_top1']:.3f} / {alone['match_rate_top5']:.3f}")
    return 0


if __name__ == "__main__":
    import multiprocessing

    multiprocessing.freeze_support()
    sys.exit(main())
