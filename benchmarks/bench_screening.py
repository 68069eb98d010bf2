"""Screening throughput: the same --fast formulas with 1 and with 2 local Dask workers.

Each run starts from an empty output folder (nothing resumed) and counts the wall
time of the whole screen, cluster start-up included. Prints one row per worker
count, the speed-up, and the throughput projected to N nodes from the per-formula
cost (ideal scaling: one formula per core at a time, models loaded once per worker).

    python benchmarks/bench_screening.py [--workers 1 2] [--formulas NaCl,KBr,...]
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import dataclasses  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

FORMULAS = "NaCl,MgO,ZnS,TiO2,AgF2,CaF2,SrTiO3,GaN"


def main() -> None:
    from core.predict.settings import PredictionSettings
    from core.screen.cluster import ClusterSpec, start_cluster
    from core.screen.inputs import ScreenItem
    from core.screen.screening import screen

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--formulas", default=FORMULAS, help="comma-separated (default: 8 small binaries/ternaries)")
    args = parser.parse_args()
    items = [ScreenItem(f.strip(), line=k + 1) for k, f in enumerate(args.formulas.split(","))]
    settings = dataclasses.asdict(PredictionSettings.fast())
    print(f"{len(items)} formulas, --fast, {os.cpu_count()} cores")
    print(f"{'workers':>8}{'wall s':>9}{'s/formula':>11}{'failed':>8}{'speed-up':>10}")
    base = None
    for workers in args.workers:
        out = Path(tempfile.mkdtemp(prefix="bench-screen-"))
        start = time.perf_counter()
        client, cluster = start_cluster(ClusterSpec("local", workers=workers))
        try:
            rows = screen(items, out, settings, client)
        finally:
            client.close()
            cluster.close()
        wall = time.perf_counter() - start
        shutil.rmtree(out, ignore_errors=True)
        base = base or wall
        failed = sum(r["status"] == "failed" for r in rows)
        cpu = sum(float(r.get("seconds") or 0) for r in rows) / len(rows)
        print(f"{workers:>8}{wall:>9.1f}{wall / len(items):>11.1f}{failed:>8}{base / wall:>10.2f}")
    print(f"per-formula cost on one core (task time, mean): {cpu:.1f} s -> about {3600 / cpu:.0f} formulas "
          "per core-hour; N nodes of C cores: N x C x that, plus about 10 s of start-up per worker")


if __name__ == "__main__":
    main()
