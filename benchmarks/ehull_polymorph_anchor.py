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
(cache ``benchmarks/cache/polymorph-energies.json``).

``--relaxed N`` measures what the program reports: N of those polymorphs (seed 0), each *relaxed* by
the potential as ``predict`` relaxes (``RelaxSettings()``), placed by
``core.stability.hull.place_polymorphs`` as a run that did not find the known phase (the shipped
anchor on the reference file's stored energy of the known phase, where it has one), against the
frame's estimate (``HullJudge.assess``) of the same relaxed energy. A relaxed energy lies below the
stored (DFT-geometry) energy of the known phase by the potential's own relaxation, which this
measures as well.

    python benchmarks/ehull_polymorph_anchor.py --data ../shared/data/mp/structures.csv.gz
    python benchmarks/ehull_polymorph_anchor.py --data ../shared/data/mp/structures.csv.gz --relaxed 150 --jobs 2
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


def _relax(job: tuple[str, list[tuple[str, str]]]) -> dict[str, float | None]:
    """Relaxed energies per atom (eV/atom) of ``(material_id, cif)`` pairs by one potential, in one worker."""
    import torch
    from pymatgen.core import Structure

    from core.relax.relaxer import Relaxer, RelaxSettings

    potential, chunk = job
    torch.set_num_threads(1)
    relaxer = Relaxer(RelaxSettings(potential=potential))
    out: dict[str, float | None] = {}
    for material_id, cif in chunk:
        result = relaxer.relax(Structure.from_str(cif, fmt="cif"))
        out[material_id] = float(result.energy_per_atom) if result.ok else None
    return out


def relaxed_errors(rows, potential: str, formulas: set[str], n: int, jobs: int) -> dict:
    """Errors (eV/atom) of the program's E_hull of ``n`` relaxed non-lowest polymorphs of ``formulas``:
    ``anchored`` (``place_polymorphs``, no known phase found), ``frame`` (``HullJudge.assess``), and the
    relaxation's own drop below the stored energy (``relaxation``)."""
    import multiprocessing as mp

    from core.stability.hull import HullJudge, place_polymorphs
    from core.stability.references import ReferencePhases, reference_file

    judge = HullJudge(ReferencePhases.load(reference_file(potential)), "auto")
    picked = []
    for formula, group in rows.groupby("reduced_formula"):
        if formula in formulas and judge.reference_id(formula) is not None:
            known = group.formation_energy_per_atom.idxmin()
            picked += [(formula, row.material_id, row.cif, row.formation_energy_per_atom - group.formation_energy_per_atom[known],
                        group.material_id[known], group.cif[known]) for row in group.drop(index=known).itertuples()]
    order = np.random.default_rng(0).permutation(len(picked))[:n]
    picked = [picked[k] for k in sorted(order)]
    cache = CACHE.with_name(f"polymorph-relaxed-{potential}.json")  # relaxed energies by material id
    energies = json.loads(cache.read_text()) if cache.is_file() else {}
    todo = [(m, c) for _, m, c, _, _, _ in picked if m not in energies]
    todo += list({m: (m, c) for *_, m, c in picked if m not in energies}.values())  # the known phases, relaxed
    if todo and jobs == 1:  # in this process: a worker that dies would leave a pool waiting for ever
        energies |= _relax((potential, todo))
    elif todo:
        chunks = [(potential, todo[k::jobs]) for k in range(jobs)]
        with mp.get_context("spawn").Pool(jobs) as pool:
            energies |= {k: v for part in pool.map(_relax, chunks) for k, v in part.items()}
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps(energies))
    out: dict[str, list[float]] = {"anchored": [], "frame": [], "stored_anchor": [], "relaxed_known": [],
                                   "gap_potential": [], "gap_mp": []}
    for formula, material_id, _, above_known, known_id, _ in picked:
        energy, known_energy = energies.get(material_id), energies.get(known_id)
        if energy is None or known_energy is None:
            continue
        truth = judge.known_place(formula) + above_known  # MP's E_hull of this polymorph on the same hull
        anchored = place_polymorphs(judge, formula, [energy], [set()])[0]
        out["anchored"].append(anchored.e_above_hull - truth)
        out["frame"].append(judge.assess(formula, energy).e_above_hull - truth)
        out["stored_anchor"].append(float(judge.stored_energy(formula) is not None))
        out["relaxed_known"].append((energy - known_energy) - above_known)  # anchored on the known phase relaxed
        out["gap_potential"].append(energy - known_energy)
        out["gap_mp"].append(above_known)
    return {k: np.array(v) for k, v in out.items()} | {"frame_name": judge.frame_name}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--cache", default=str(CACHE))
    parser.add_argument("--split", choices=("validation", "test"), default="validation")
    parser.add_argument("--relaxed", type=int, default=0, metavar="N",
                        help="relax N polymorphs (seed 0) and judge them as the program does")
    parser.add_argument("--potentials", default="chgnet,sevennet")
    parser.add_argument("--jobs", type=int, default=1)
    args = parser.parse_args(argv)
    if args.relaxed:
        return report_relaxed(args)
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


def report_relaxed(args) -> int:
    """The ``--relaxed`` table: the program's E_hull errors of relaxed polymorphs."""
    from core.data.formula_split import full_range_split

    rows = polymorph_rows(args.data)
    formulas = set(getattr(full_range_split(args.data), args.split).formulas.tolist())
    print(f"{args.split}: {args.relaxed} non-lowest polymorphs (<= 12 atoms, seed 0) relaxed by the potential, "
          "|E_hull error| against Materials Project's on the same hull, meV/atom")
    print(f"{'potential':<14}{'frame':<11}{'n':>5}{'anchored':>9}  {'MAE':>6}{'median':>8}{'p90':>7}{'bias':>7}"
          f"  {'frame MAE':>10}{'median':>8}{'p90':>7}{'bias':>7}")
    for potential in args.potentials.split(","):
        errors = relaxed_errors(rows, potential, formulas, args.relaxed, args.jobs)
        a, f = 1000 * errors["anchored"], 1000 * errors["frame"]
        subset = errors["stored_anchor"] > 0
        _line(potential, errors["frame_name"], a, f, subset)
        _line("  anchored only", "", a[subset], f[subset], subset[subset])
        r = 1000 * errors["relaxed_known"]
        _line("  known relaxed", "", r, f, np.ones(len(r), bool))  # every formula: the known phase relaxed too
    return 0


def _line(name: str, frame: str, a: np.ndarray, f: np.ndarray, subset: np.ndarray) -> None:
    """One row of the ``--relaxed`` table (errors in meV/atom)."""
    if not len(a):
        return
    print(f"{name:<14}{frame:<11}{len(a):>5}{int(subset.sum()):>9}  "
          f"{np.abs(a).mean():>6.1f}{np.median(np.abs(a)):>8.1f}{np.percentile(np.abs(a), 90):>7.1f}{a.mean():>+7.1f}"
          f"  {np.abs(f).mean():>10.1f}{np.median(np.abs(f)):>8.1f}{np.percentile(np.abs(f), 90):>7.1f}{f.mean():>+7.1f}")


if __name__ == "__main__":
    sys.exit(main())
