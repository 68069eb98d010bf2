"""Give each element of shipped reference-phase files its Materials Project known phase.

Reference files built before 2026-12-05 took an element's known phase as the potential's lowest
elemental structure (hcp Cu, the omega phases of Ti, Zr and Hf for CHGNet); a compound's was
always Materials Project's lowest polymorph. ``alphacrystal build-references`` now takes MP's
lowest for elements too (:func:`core.stability.references.element_mp_ids`); this script makes the
same change in existing files without computing any energy again (the potential's energies,
its own lowest ids and the chemical potentials are unchanged), so the result equals a rebuild::

    python scripts/update_reference_elements.py --data ../shared/data/mp/structures.csv.gz \\
        resources/reference_phases_*.npz
"""

from __future__ import annotations

import argparse

import numpy as np

from core.stability.references import ReferencePhases, with_mp_lowest_elements


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="the structures file the references were built from")
    parser.add_argument("files", nargs="+", help="reference_phases_*.npz files, updated in place")
    args = parser.parse_args()
    for path in args.files:
        before = ReferencePhases.load(path)
        after = with_mp_lowest_elements(before, args.data)
        changed = int((np.asarray(before.mp_ids) != np.asarray(after.mp_ids)).sum())
        after.save(path)
        print(f"{path}: {changed} elements given MP's lowest structure; "
              f"{len(after.known) if after.known is not None else 0} known structures")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
