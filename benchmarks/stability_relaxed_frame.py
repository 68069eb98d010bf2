"""Frame (a) of docs/stability.md: every energy from the potential after relaxation, on a sample.

Relaxing all 34,731 training structures is out of reach here, so this relaxes only the
reference phases of the chemical systems of the first N compounds of the relaxed
validation sample of ``benchmarks/stability_frames.py`` (same seed; the known
structures' relaxed energies come from its cache), and the elements' lowest structures
(the ``crystal`` chemical potentials, already relaxed). For each reference formula the
polymorph with the lowest Materials Project formation energy is relaxed. On the same N
compounds it compares the relaxed frame with the shipped frames: E_hull MAE against MP's
own energies on the same hull, and the fraction of known compounds within each threshold.

Usage::

    python benchmarks/stability_relaxed_frame.py --references resources/reference_phases_chgnet.npz --compounds 60
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
warnings.simplefilter("ignore")
THRESHOLDS_EV = (0.0, 0.05, 0.08, 0.1)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--references", required=True)
    p.add_argument("--data", default=str(ROOT.parent / "shared/data/mp/structures.csv.gz"))
    p.add_argument("--relaxed", type=int, default=200, help="the relaxed sample of stability_frames.py")
    p.add_argument("--compounds", type=int, default=60, help="the first N of that sample")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cache", default=str(ROOT / "benchmarks/cache/stability"))
    p.add_argument("--json")
    args = p.parse_args(argv)
    import torch
    from pymatgen.core import Composition

    from core.data.datasets import load_dataset
    from core.data.formula_split import held_out_formulas, seeded_sample
    from core.relax.relaxer import Relaxer, RelaxSettings
    from core.stability.hull import HullJudge, chemical_subsystems
    from core.stability.references import ReferencePhases

    torch.set_num_threads(1)
    refs = ReferencePhases.load(args.references)
    held = held_out_formulas(args.data, "validation")
    keep = [k for k in range(len(held)) if len(set(held.atoms(k)[2].tolist())) > 1 and np.isfinite(held.energies[k])]
    held = held.subset(keep)
    sample = np.sort(seeded_sample(np.arange(len(held)), min(args.relaxed, len(held)), args.seed))
    known = json.loads((Path(args.cache) / f"relaxed-{refs.potential}-validation.json").read_text())
    chosen = [k for k in sample if known.get(str(held.material_ids[k])) is not None][:args.compounds]
    systems = {frozenset(str(e) for e in Composition(str(held.formulas[k])).elements) for k in chosen}
    subsystems = {sub for system in systems for sub in chemical_subsystems(system)}
    # judged as new compounds: no validation or test phase on the hull, whatever the file's partitions say
    exclude = refs.held_out() | {str(f) for f in held.formulas}
    wanted = {k for k, f in enumerate(refs.formulas)
              if frozenset(str(e) for e in Composition(str(f)).elements) in subsystems and str(f) not in exclude}
    print(f"{len(chosen)} compounds, {len(systems)} chemical systems, {len(wanted)} reference formulas to relax",
          flush=True)
    data = load_dataset(args.data)
    row_of = {str(m): k for k, m in enumerate(data.material_ids)}
    cache_path = Path(args.cache) / f"relaxed-references-{refs.potential}.json"
    cache = json.loads(cache_path.read_text()) if cache_path.is_file() else {}
    relaxer = Relaxer(RelaxSettings(potential=refs.potential))
    start = time.perf_counter()
    for n, k in enumerate(sorted(wanted), 1):
        mid = str(refs.mp_ids[k])
        if mid not in cache and mid in row_of:
            result = relaxer.relax(data.structure(row_of[mid]))
            cache[mid] = result.energy_per_atom if result.ok else None
        if n % 100 == 0:
            cache_path.write_text(json.dumps(cache))
            print(f"relaxed {n}/{len(wanted)} ({time.perf_counter() - start:.0f} s)", flush=True)
    cache_path.write_text(json.dumps(cache))
    relaxed_refs = copy.deepcopy(refs)
    for k in wanted:
        value = cache.get(str(refs.mp_ids[k]))
        relaxed_refs.potential_energy[k] = np.nan if value is None else value
        relaxed_refs.potential_ids[k] = refs.mp_ids[k]  # the polymorph relaxed is MP's lowest
    crystal = relaxed_refs.mu["crystal"]
    relaxed_refs.mu["static"] = np.where(np.isfinite(crystal), crystal, relaxed_refs.mu["fitted"])
    oracle = HullJudge(refs, "mp-fitted", exclude=exclude)
    oracle.mu = {str(el): 0.0 for el in refs.elements}
    judges = {"(a) relaxed references, relaxed elements": HullJudge(relaxed_refs, "potential", exclude=exclude),
              "potential (stored geometry)": HullJudge(refs, "potential", exclude=exclude),
              "mp-fitted (default)": HullJudge(refs, "mp-fitted", exclude=exclude)}
    rows = []
    print("| frame | n | E_hull MAE vs MP's (meV/atom) | " + " | ".join(f"≤ {1000 * t:.0f}" for t in THRESHOLDS_EV)
          + " |")
    print("|" + "---|" * (3 + len(THRESHOLDS_EV)))
    for name, judge in judges.items():
        hulls, errors = [], []
        for k in chosen:
            comp, energy = Composition(str(held.formulas[k])), known[str(held.material_ids[k])]
            e_hull = judge.assess(comp, energy).e_above_hull
            hulls.append(e_hull)
            errors.append(abs(e_hull - oracle.assess(comp, float(held.energies[k])).e_above_hull))
        hulls = np.array(hulls)
        row = {"frame": name, "n": len(chosen), "hull_mae_meV": float(1000 * np.mean(errors)),
               "within": {str(t): float((hulls <= t + 1e-9).mean()) for t in THRESHOLDS_EV}}
        rows.append(row)
        print(f"| {name} | {row['n']} | {row['hull_mae_meV']:.0f} | "
              + " | ".join(f"{row['within'][str(t)]:.3f}" for t in THRESHOLDS_EV) + " |")
    if args.json:
        Path(args.json).write_text(json.dumps({"references": args.references, "compounds": len(chosen),
                                               "reference_formulas_relaxed": len(wanted), "rows": rows},
                                              indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
