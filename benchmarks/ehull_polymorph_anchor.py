"""E_hull of a known formula's other polymorphs: the frame's estimate against an anchor on the
known phase's stored energy.

For every formula of a partition with two or more polymorphs of at most 12 atoms, each polymorph
that is not Materials Project's lowest is judged two ways against MP's own formation energies:

* **frame** (``mp-fitted``, CHGNet's default): its formation energy from the potential's energy and
  the fitted chemical potentials, error ``(E_pot - sum x mu) - E_f^MP``, which is its E_hull error
  when the rest of the hull is MP's;
* **anchored**: MP's place of the known (lowest) polymorph plus the potential's energy difference,
  error ``(E_pot,i - E_pot,known) - (E_f,i - E_f,known)``.

Energies are the potential's at the DFT geometry, from ``benchmarks/polymorph_order.py compute``
(cache ``benchmarks/cache/polymorph-energies.json``). Nothing here is used by the program yet: it
measures whether ``core.stability.hull.place_polymorphs`` should anchor every run of a known formula
on the stored energy of its known phase, as it does when the run finds that phase.

    python benchmarks/ehull_polymorph_anchor.py --data ../shared/data/mp/structures.csv.gz
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from polymorph_order import polymorph_rows  # noqa: E402

CACHE = Path(__file__).resolve().parent / "cache" / "polymorph-energies.json"


def errors(rows, energies: dict, potential: str, mu: dict[str, float], formulas: set[str]):
    """(anchored, frame) errors in eV/atom of every non-lowest polymorph of ``formulas``."""
    from pymatgen.core import Composition

    anchored, frame = [], []
    for formula, group in rows.groupby("reduced_formula"):
        if formula not in formulas:
            continue
        group = group[[energies.get(m, {}).get(potential) is not None for m in group.material_id]]
        if len(group) < 2:
            continue
        ef = group.formation_energy_per_atom.to_numpy()
        ep = np.array([energies[m][potential] for m in group.material_id])
        known = int(np.argmin(ef))
        fractions = Composition(formula).fractional_composition
        reference = sum(float(x) * mu.get(str(el), np.nan) for el, x in fractions.items())
        for i in range(len(group)):
            if i != known:
                anchored.append((ep[i] - ep[known]) - (ef[i] - ef[known]))
                frame.append((ep[i] - reference) - ef[i])
    return np.array(anchored), np.array(frame)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--cache", default=str(CACHE))
    parser.add_argument("--split", choices=("validation", "test"), default="validation")
    args = parser.parse_args(argv)
    from core.data.formula_split import full_range_split
    from core.stability.references import ReferencePhases, reference_file

    rows = polymorph_rows(args.data)
    energies = json.loads(Path(args.cache).read_text())
    formulas = set(getattr(full_range_split(args.data), args.split).formulas.tolist())
    print(f"{args.split}: non-lowest polymorphs of formulas with >= 2 polymorphs (<= 12 atoms), |error| of E_hull "
          "against Materials Project's, meV/atom")
    print(f"{'potential':<10}{'n':>6}  {'anchored MAE':>12}{'median':>8}{'p90':>7}  {'frame MAE':>10}{'median':>8}{'p90':>7}")
    for potential in ("chgnet", "sevennet"):
        refs = ReferencePhases.load(reference_file(potential))
        mu = dict(zip(refs.elements.tolist(), refs.mu["fitted"]))
        anchored, frame = (1000 * np.abs(e) for e in errors(rows, energies, potential, mu, formulas))
        frame = frame[np.isfinite(frame)]
        print(f"{potential:<10}{len(anchored):>6}  {anchored.mean():>12.1f}{np.median(anchored):>8.1f}"
              f"{np.percentile(anchored, 90):>7.1f}  {frame.mean():>10.1f}{np.median(frame):>8.1f}{np.percentile(frame, 90):>7.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
