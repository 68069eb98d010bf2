"""How often do the potentials put Materials Project's lowest polymorph first, given the
DFT structures themselves? A bound on ranking by energy, and a test of a learned correction.

For every formula of at most 12 atoms with two or more polymorphs in the data (formation
energy per atom from Materials Project; polymorphs of one composition differ in it exactly as
in total energy), each polymorph's energy is computed at its DFT geometry by CHGNet and
SevenNet-0 (single points, ``compute``, cached). ``report`` prints, per partition of the
formula split (the reference phases' partitions), the fraction of formulas whose lowest
polymorph by each energy is MP's lowest (top-1), also with the shipped symmetry prior
(-kT ln P(group | composition, Z), kT = 10 meV/atom), and the pairwise ordering accuracy by
the DFT gap. It also fits a correction of the potentials' polymorph energy differences on the
training formulas (ridge regression of ΔE_DFT - ΔE_potential between polymorph pairs, on
differences of structural features, none from MP's energies) and reports its top-1 on the
validation formulas (chosen there; the test formulas are reported once, not tuned on).

Usage::

    python benchmarks/polymorph_order.py compute --data ../shared/data/mp/structures.csv.gz \
        --out benchmarks/cache/polymorph-energies.json --jobs 2
    python benchmarks/polymorph_order.py report --data ../shared/data/mp/structures.csv.gz \
        --energies benchmarks/cache/polymorph-energies.json --json docs/results/polymorph-order.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
warnings.simplefilter("ignore")

MAX_ATOMS = 12
KT_MEV = 10.0  # the shipped symmetry prior's kT (core.predict.settings.SYMMETRY_PRIOR)
POTENTIALS_MEASURED = ("chgnet", "sevennet")
EXTRA_POTENTIALS = ("sevennet-l3i5", "sevennet-mf-0")  # reported when computed (compute --potentials NAME)


def polymorph_rows(data: str):
    """The rows (pandas) of every formula with >= 2 polymorphs of at most MAX_ATOMS atoms."""
    import pandas as pd

    df = pd.read_csv(data, usecols=["material_id", "reduced_formula", "nsites", "formation_energy_per_atom",
                                    "spacegroup_number", "cif"])
    df = df[df.nsites <= MAX_ATOMS].dropna(subset=["formation_energy_per_atom"])
    counts = df.reduced_formula.value_counts()
    return df[df.reduced_formula.isin(counts[counts >= 2].index)].reset_index(drop=True)


def _energies(job: tuple[list[tuple[str, str]], tuple[str, ...]]) -> dict[str, dict[str, float | None]]:
    import torch
    from pymatgen.core import Structure

    from core.relax.relaxer import Relaxer, RelaxSettings

    chunk, names = job
    torch.set_num_threads(1)
    relaxers = {name: Relaxer(RelaxSettings(potential=name)) for name in names}
    out: dict[str, dict[str, float | None]] = {}
    for material_id, cif in chunk:
        structure = Structure.from_str(cif, fmt="cif")
        out[material_id] = {}
        for name, relaxer in relaxers.items():
            try:
                out[material_id][name] = float(relaxer.energy_per_atom(structure))
            except Exception:  # noqa: BLE001 - recorded as missing
                out[material_id][name] = None
    return out


def compute(args) -> int:
    import multiprocessing as mp

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    rows = polymorph_rows(args.data)
    out = Path(args.out)
    done = json.loads(out.read_text()) if out.exists() else {}
    names = tuple(args.potentials.split(","))
    todo = [(m, c) for m, c in zip(rows.material_id, rows.cif) if any(n not in done.get(m, {}) for n in names)]
    print(f"{rows.reduced_formula.nunique()} formulas, {len(rows)} polymorphs; {len(todo)} to compute", flush=True)
    chunks = [(todo[k:k + 200], names) for k in range(0, len(todo), 200)]
    start = time.perf_counter()
    with mp.get_context("spawn").Pool(args.jobs) as workers:
        for n, part in enumerate(workers.imap_unordered(_energies, chunks), 1):
            for material_id, values in part.items():
                done.setdefault(material_id, {}).update(values)
            out.write_text(json.dumps(done))  # a checkpoint after every chunk
            print(f"  [{n}/{len(chunks)}] {len(done)} structures, {time.perf_counter() - start:.0f} s", flush=True)
    return 0


def _features(cif: str) -> np.ndarray:
    """Structural features of one polymorph, none from its energy: volume per atom (Å³), mean and
    spread of the coordination number (CrystalNN-free: neighbours within 1.2x the shortest
    distance of each atom), the shortest distance (Å), the space group's order (log) and the
    crystal system (one-hot of 7)."""
    from pymatgen.core import Structure
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    s = Structure.from_str(cif, fmt="cif")
    centre, _, _, dist = s.get_neighbor_list(6.0)
    cn = []
    for i in range(len(s)):
        d = dist[centre == i]
        cn.append(int((d <= 1.2 * d.min()).sum()) if len(d) else 0)
    try:
        sga = SpacegroupAnalyzer(s, symprec=0.1)
        order = len(sga.get_space_group_operations())
        system = sga.get_crystal_system()
    except Exception:  # noqa: BLE001
        order, system = 1, "triclinic"
    systems = ("triclinic", "monoclinic", "orthorhombic", "tetragonal", "trigonal", "hexagonal", "cubic")
    return np.array([s.volume / len(s), float(np.mean(cn)), float(np.std(cn)), float(dist.min()) if len(dist) else 0,
                     np.log(order), *[float(system == x) for x in systems]])


def report(args) -> int:
    from core.candidates.propose import spacegroup_prior
    from core.stability.hull import shipped_references

    rows = polymorph_rows(args.data)
    energies = json.loads(Path(args.energies).read_text())
    refs = shipped_references("chgnet")
    partition = dict(zip(np.asarray(refs.formulas).astype(str), np.asarray(refs.partitions).astype(str)))
    rows = rows[rows.material_id.isin(energies)].copy()
    for name in POTENTIALS_MEASURED:
        rows[name] = [energies[m].get(name) for m in rows.material_id]
    rows = rows.dropna(subset=list(POTENTIALS_MEASURED))
    rows["mean"] = (rows.chgnet + rows.sevennet) / 2
    extra = [n for n in EXTRA_POTENTIALS if all(n in energies[m] and energies[m][n] is not None
                                                for m in rows.material_id)]
    for name in extra:
        rows[name] = [energies[m][name] for m in rows.material_id]
    rows["partition"] = [partition.get(f, "unknown") for f in rows.reduced_formula]
    rows = rows[rows.groupby("reduced_formula").material_id.transform("count") >= 2]
    print("structural features ...", flush=True)
    features = np.vstack([_features(c) for c in rows.cif])
    prior_cache: dict[tuple[str, int], dict] = {}

    def log_prior(formula: str, nsites: int, group: int) -> float:
        from pymatgen.core import Composition

        z = int(round(nsites / Composition(formula).num_atoms))
        if (formula, z) not in prior_cache:
            try:
                prior_cache[(formula, z)] = {g: p for (g, _), p in spacegroup_prior(formula, z).items()}
            except Exception:  # noqa: BLE001 - a cell the models cannot take
                prior_cache[(formula, z)] = {}
        return float(np.log(max(prior_cache[(formula, z)].get(group, 0.0), 1e-4)))

    rows["log_prior"] = [log_prior(f, int(n), int(g)) for f, n, g in
                         zip(rows.reduced_formula, rows.nsites, rows.spacegroup_number)]
    groups = {f: np.flatnonzero((rows.reduced_formula == f).to_numpy()) for f in rows.reduced_formula.unique()}
    dft = rows.formation_energy_per_atom.to_numpy()

    def top1(score: np.ndarray, part: str) -> tuple[float, int]:
        hits = [int(np.argmin(score[ix]) == np.argmin(dft[ix])) for f, ix in groups.items()
                if rows.partition.iloc[ix[0]] == part]
        return (float(np.mean(hits)) if hits else float("nan")), len(hits)

    table = []
    parts = ("train", "validation", "test")
    print(f"\n{'ordered by (DFT geometry)':<52}" + "".join(f"{p:>14}" for p in parts))
    for name in ("chgnet", "sevennet", "mean", *extra):
        for kt in (0.0, KT_MEV):
            score = rows[name].to_numpy() - kt / 1000 * rows.log_prior.to_numpy()
            values = {p: top1(score, p) for p in parts}
            label = f"{name}" + (f" - {kt:g} meV ln P(group)" if kt else "")
            table.append({"variant": label, **{p: values[p][0] for p in parts}})
            print(f"{label:<52}" + "".join(f"{values[p][0]:>9.3f} ({values[p][1]})" for p in parts), flush=True)
    # pairwise accuracy of CHGNet by DFT gap (validation)
    print("\npairwise order right (validation), by MP's energy gap between the two polymorphs:")
    gap_bins = (0, 5, 10, 20, 50, 1e9)
    pairs = []
    for ix in groups.values():
        if rows.partition.iloc[ix[0]] != "validation":
            continue
        for a in range(len(ix)):
            for b in range(a + 1, len(ix)):
                i, j = ix[a], ix[b]
                gap = 1000 * abs(dft[i] - dft[j])
                pairs.append((gap, np.sign(dft[i] - dft[j]) == np.sign(rows.chgnet.iloc[i] - rows.chgnet.iloc[j]),
                              np.sign(dft[i] - dft[j]) == np.sign(rows.sevennet.iloc[i] - rows.sevennet.iloc[j])))
    pairs_arr = np.array(pairs, dtype=float)
    for lo, hi in zip(gap_bins[:-1], gap_bins[1:]):
        sel = (pairs_arr[:, 0] >= lo) & (pairs_arr[:, 0] < hi)
        if sel.any():
            print(f"  {lo:>4}-{hi if hi < 1e9 else '':<4} meV/atom: n {int(sel.sum()):>5}   CHGNet "
                  f"{pairs_arr[sel, 1].mean():.3f}   SevenNet-0 {pairs_arr[sel, 2].mean():.3f}")
    learned = _learned_correction(rows, features, groups, dft, parts)
    for label, values in learned:
        table.append({"variant": label, **values})
        print(f"{label:<52}" + "".join(f"{values[p]:>14.3f}" for p in parts))
    if args.json:
        Path(args.json).write_text(json.dumps({"formulas": {p: top1(dft, p)[1] for p in parts}, "variants": table},
                                              indent=1))
    return 0


def _learned_correction(rows, features, groups, dft, parts) -> list[tuple[str, dict]]:
    """Ridge regression of (ΔE_DFT - ΔE_potential) on feature differences of polymorph pairs of
    training formulas; each validation/test polymorph's score = potential energy + its predicted
    correction. alpha chosen on validation top-1."""
    from sklearn.linear_model import Ridge

    x_all = np.column_stack([features, rows.chgnet.to_numpy() - rows.sevennet.to_numpy(), rows.log_prior.to_numpy()])
    scale = x_all.std(axis=0) + 1e-9
    x_all = (x_all - x_all.mean(axis=0)) / scale
    out = []
    for name in ("chgnet", "mean"):
        pot = rows[name].to_numpy()
        train = [ix for f, ix in groups.items() if rows.partition.iloc[ix[0]] == "train"]
        dx, dy = [], []
        for ix in train:
            base = ix[np.argmin(dft[ix])]
            for j in ix:
                if j != base:
                    dx.append(x_all[j] - x_all[base])
                    dy.append((dft[j] - dft[base]) - (pot[j] - pot[base]))
        for alpha in (1.0, 100.0, 10000.0):
            model = Ridge(alpha=alpha, fit_intercept=False).fit(np.array(dx), np.array(dy))
            score = pot + x_all @ model.coef_
            values = {}
            for p in parts:
                hits = [int(np.argmin(score[ix]) == np.argmin(dft[ix])) for f, ix in groups.items()
                        if rows.partition.iloc[ix[0]] == p]
                values[p] = float(np.mean(hits)) if hits else float("nan")
            out.append((f"{name} + learned correction (ridge alpha {alpha:g})", values))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("compute")
    c.add_argument("--data", required=True)
    c.add_argument("--out", required=True)
    c.add_argument("--jobs", type=int, default=2)
    c.add_argument("--potentials", default=",".join(POTENTIALS_MEASURED),
                   help="comma-separated (default chgnet,sevennet; sevennet-l3i5 and sevennet-mf-0 are reported when present)")
    r = sub.add_parser("report")
    r.add_argument("--data", required=True)
    r.add_argument("--energies", required=True)
    r.add_argument("--json")
    args = p.parse_args(argv)
    return compute(args) if args.command == "compute" else report(args)


if __name__ == "__main__":
    sys.exit(main())
