"""Add another potential's energy of every fully relaxed structure to cached pools.

The pools of ``benchmarks/ranking_pools.py`` hold SevenNet-0's energy at each CHGNet
geometry (``second_energy_per_atom``); this adds others under
``energies_by_potential[NAME]`` (eV/atom), so ``benchmarks/ranking_variants.py
--second NAME`` can compare them without relaxing again.

Usage::

    python benchmarks/ranking_second_energies.py benchmarks/cache/pools-validation-12 --potential sevennet-l3i5
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
warnings.simplefilter("ignore")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("caches", nargs="+")
    p.add_argument("--potential", default="sevennet-l3i5")
    args = p.parse_args(argv)
    import torch
    from pymatgen.core import Structure

    from core.relax.relaxer import Relaxer, RelaxSettings

    torch.set_num_threads(1)
    relaxer = Relaxer(RelaxSettings(potential=args.potential))
    for cache in args.caches:
        files = sorted(Path(cache).glob("mp-*.json"))
        for n, f in enumerate(files, 1):
            row = json.loads(f.read_text())
            changed = False
            for e in row.get("pool", []):
                store = e.setdefault("energies_by_potential", {})
                if args.potential not in store:
                    try:
                        store[args.potential] = float(relaxer.energy_per_atom(Structure.from_dict(e["structure"])))
                    except Exception:  # noqa: BLE001 - recorded as missing
                        store[args.potential] = None
                    changed = True
            if changed:
                f.write_text(json.dumps(row))
            print(f"  [{n}/{len(files)}] {row['id']} {row['formula']}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
