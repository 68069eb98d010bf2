"""Re-create resources/template_library.npz from the Materials Project data.

    python scripts/build_templates.py --data ../shared/data/mp/structures.csv.gz

Deterministic (the split is seeded; no other randomness); about 3 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> int:
    from core.templates.build import build_library
    from core.templates.library import DEFAULT_LIBRARY_NAME

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--data", required=True, help="MP-20-style CSV(.gz)")
    parser.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "resources" / DEFAULT_LIBRARY_NAME))
    parser.add_argument("--max-atoms", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    library = build_library(args.data, args.max_atoms, args.workers)
    path = library.save(args.out)
    print(f"wrote {path}: {len(library)} templates, {path.stat().st_size / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
