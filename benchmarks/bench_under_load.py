"""CHGNet relaxations in this process and on the pool, quiet and beside a busy machine.

Usage (from the repository root)::

    python benchmarks/bench_under_load.py [--relaxations 3] [--steps 40] [--load 2]

Prints seconds per relaxation for three paths, each on a quiet machine and with
``--load`` CPU-bound background processes (a screen or an evaluation beside the
window):

* in-process, torch's default threads (one intra-op thread per core): the
  ``--jobs 1`` path before ``core.runtime.parallel.one_thread``;
* in-process, one thread (``core.runtime.parallel.one_thread``): the ``--jobs 1`` path now;
* a spawn pool of 2 workers, one thread each (``core.runtime.parallel.spawn_pool``).

A fair share under a load of two processes on two cores is about 2-3x slower
than quiet; the table says how far each path is from that.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing as mp
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _spin(niceness: int) -> None:  # a CPU-bound background process
    os.nice(niceness)
    while True:
        pass


@contextlib.contextmanager
def background_load(processes: int, niceness: int = 0):
    ctx = mp.get_context("spawn")
    workers = [ctx.Process(target=_spin, args=(niceness,), daemon=True) for _ in range(processes)]
    for w in workers:
        w.start()
    try:
        yield
    finally:
        for w in workers:
            w.kill()
            w.join()


def structures(n: int):
    import numpy as np

    from core.io.read import read_structure

    base = read_structure(ROOT / "resources" / "examples" / "TiO2_rutile.cif")
    rng = np.random.default_rng(0)
    out = []
    for _ in range(n):
        s = base.copy()
        s.perturb(0.1)
        s.scale_lattice(s.volume * float(rng.uniform(1.03, 1.08)))
        out.append(s)
    return out


def timed(path: str, items, settings) -> float:
    import torch

    from core.relax.relaxer import RelaxRunner

    before = torch.get_num_threads()
    start = time.perf_counter()
    if path == "in-process, torch default threads":
        from core.relax.relaxer import cached_relaxer

        torch.set_num_threads(os.cpu_count() or 1)
        relaxer = cached_relaxer(settings)
        for _, s in items:
            relaxer.relax(s)
    else:
        workers = 1 if path.startswith("in-process") else 2
        with RelaxRunner(workers) as runner:
            list(runner.run(items, settings))
    torch.set_num_threads(before)
    return (time.perf_counter() - start) / len(items)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--relaxations", type=int, default=3)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--load", type=int, default=2, help="CPU-bound background processes")
    parser.add_argument("--load-nice", type=int, default=0,
                        help="their niceness (10: the pool workers of another run of this program)")
    parser.add_argument("--paths", default="0,1,2", help="which paths to time (0,1,2 as listed above)")
    args = parser.parse_args(argv)
    from core.relax.relaxer import RelaxSettings, cached_relaxer

    settings = RelaxSettings(fmax=0.01, steps=args.steps)  # fmax small: every relaxation runs all its steps
    items = [(k, s) for k, s in enumerate(structures(args.relaxations))]
    cached_relaxer(settings).relax(items[0][1])  # load CHGNet once, outside the timings
    paths = ["in-process, torch default threads", "in-process, one thread (--jobs 1 now)", "pool of 2 workers"]
    paths = [paths[int(k)] for k in args.paths.split(",")]
    rows = []
    for path in paths:
        quiet = timed(path, items, settings)
        with background_load(args.load, args.load_nice):
            time.sleep(1.0)  # let the load start
            loaded = timed(path, items, settings)
        rows.append((path, quiet, loaded))
        print(f"  {path}: quiet {quiet:.2f} s, loaded {loaded:.2f} s", flush=True)
    print(f"\n{args.relaxations} CHGNet relaxations of {args.steps} steps (TiO2, 6 atoms), seconds per relaxation; "
          f"{os.cpu_count()} cores, load = {args.load} CPU-bound processes at nice {args.load_nice}")
    print(f"{'path':<40}{'quiet':>8}{'loaded':>8}{'slowdown':>10}")
    for path, quiet, loaded in rows:
        print(f"{path:<40}{quiet:>8.2f}{loaded:>8.2f}{loaded / quiet:>9.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
