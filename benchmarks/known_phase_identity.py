"""Does the known-phase test (core.stability.identity.is_same_phase) recognise the known phase
after a relaxation's strain (measured on the structures the reference phases ship: validation
and test formulas' known phases), and tell other phases apart (rock salt, zinc blende and CsCl
types of ten AB compounds, which StructureMatcher at the CSP tolerances partly pairs)?

Each sampled known structure is compared with copies of itself strained as a relaxation leaves
them (expanded, unevenly strained, shaken; and in a doubled cell with noise): the fraction
recognised. Exact contact-map equality, the rule before the bond margin, is printed beside it.

Usage::

    python benchmarks/known_phase_identity.py --references resources/reference_phases_chgnet.npz --n 120
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
from pymatgen.core import Lattice


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--references", default="resources/reference_phases_chgnet.npz")
    p.add_argument("--n", type=int, default=120, help="known structures sampled (seed 0)")
    p.add_argument("--pools", help="a folder of cached relaxed pools (benchmarks/ranking_pools.py): how many "
                   "relaxed predictions that StructureMatcher matches to the known structure are recognised")
    args = p.parse_args()

    from core.contact.contact_map import compute_contact_map
    from core.contact.contact_rule import rule_for_cell
    from core.crystal.symmetry import primitive_cell
    from core.stability.identity import is_same_phase
    from core.stability.references import ReferencePhases

    known = ReferencePhases.load(args.references).known
    idx = np.random.default_rng(0).choice(len(known), min(args.n, len(known)), replace=False)

    def exact(a, b) -> bool:  # the rule before the margin: identical canonical maps of the primitive cells
        maps = []
        for s in (a, b):
            cell = primitive_cell(s)
            z = np.array([site.specie.Z for site in cell])
            maps.append(compute_contact_map(cell, rule=rule_for_cell("metallic", z)).matrix)
        return maps[0].shape == maps[1].shape and bool(np.array_equal(*maps))

    def strained(s, expand: float, uneven: float, jitter: float, seed: int):
        rng = np.random.default_rng(seed)
        t = s.copy()
        t.lattice = Lattice(t.lattice.matrix @ (np.eye(3) * (1 + expand) ** (1 / 3)
                                                + np.diag(rng.uniform(-uneven, uneven, 3))))
        if jitter:
            t.perturb(jitter, min_distance=jitter / 2, seed=seed)
        return t

    print("| copy of the known structure | n | recognised (bonds with a margin, first shells) | recognised (exact maps) | s |")
    print("|---|---|---|---|---|")
    cases = [("expanded 1 %", (0.01, 0, 0)), ("expanded 3 %", (0.03, 0, 0)),
             ("expanded 2 %, 0.7 % uneven, shaken 0.01 Å", (0.02, 0.007, 0.01)),
             ("expanded 3 %, 1 % uneven, shaken 0.03 Å", (0.03, 0.01, 0.03))]
    for name, case in cases:
        start = time.perf_counter()
        pairs = [(strained(known.structure(int(k)), *case, int(k)), known.structure(int(k))) for k in idx]
        ours = np.mean([is_same_phase(a, b) for a, b in pairs])
        seconds = time.perf_counter() - start
        before = np.mean([exact(a, b) for a, b in pairs])
        print(f"| {name} | {len(pairs)} | {ours:.3f} | {before:.3f} | {seconds:.1f} |")
    pairs = []
    for k in idx:
        s = known.structure(int(k))
        if len(s) <= 10:
            d = s.copy()
            d.make_supercell([2, 1, 1])
            d.perturb(0.005, min_distance=0.002, seed=int(k))
            pairs.append((d, s))
    start = time.perf_counter()
    ours = np.mean([is_same_phase(a, b) for a, b in pairs])
    seconds = time.perf_counter() - start
    print(f"| doubled cell, shaken 0.005 Å | {len(pairs)} | {ours:.3f} | {np.mean([exact(a, b) for a, b in pairs]):.3f} "
          f"| {seconds:.1f} |")
    # other phases: AB compounds as rock salt, zinc blende and caesium chloride at one volume per
    # atom; StructureMatcher at the CSP tolerances pairs some of them, the test must not
    from pymatgen.core import Structure

    from core.crystal.matching import structure_match

    prototypes = {"rock salt": ("Fm-3m", [[0, 0, 0], [0.5, 0.5, 0.5]], 4),
                  "zinc blende": ("F-43m", [[0, 0, 0], [0.25, 0.25, 0.25]], 4),
                  "CsCl": ("Pm-3m", [[0, 0, 0], [0.5, 0.5, 0.5]], 1)}
    wrong, matched, total = [0, 0], 0, 0
    for a, b in (("Na", "Cl"), ("Cu", "Cl"), ("Ag", "I"), ("Ga", "As"), ("Zn", "Se"), ("Mg", "O"), ("Pb", "S"),
                 ("Cd", "Te"), ("Cs", "Cl"), ("Ti", "C")):
        cells = {name: Structure.from_spacegroup(group, Lattice.cubic((20.0 * 2 * per / 2) ** (1 / 3)), [a, b],
                                                 coords).get_primitive_structure()
                 for name, (group, coords, per) in prototypes.items()}
        names = list(cells)
        for i, x in enumerate(names):
            for y in names[i + 1:]:
                total += 1
                if structure_match(cells[x], cells[y]).matched:
                    matched += 1
                    wrong[0] += exact(cells[x], cells[y])
                    wrong[1] += is_same_phase(cells[x], cells[y]) or is_same_phase(cells[y], cells[x])
    print(f"\nother phases (rock salt / zinc blende / CsCl of 10 AB compounds, 20 Å^3 per atom): {total} pairs, "
          f"{matched} matched by StructureMatcher at the CSP tolerances, called the same phase by the test: "
          f"{wrong[1]} (exact contact maps: {wrong[0]})")
    if args.pools:
        _pools(args.pools, is_same_phase, exact)
    return 0


def _pools(folder: str, is_same_phase, exact) -> None:
    """Real relaxed predictions: those matched to the reference at the CSP tolerances (the
    benchmarks' loose criterion, which also pairs rock salt with zinc blende), how many the
    known-phase test and exact maps recognise, and per formula whether the run would find its
    known phase; a formula without one is listed with its matches at pymatgen's default tolerances."""
    import json
    from pathlib import Path

    from pymatgen.core import Structure

    from core.crystal.matching import DEFAULT_TOLERANCES, structure_match

    ours = before = n = formulas = found = 0
    missed = []
    for path in sorted(Path(folder).glob("*.json")):
        row = json.loads(path.read_text())
        if "reference" not in row:  # the pool folder's own index or settings
            continue
        reference = Structure.from_dict(row["reference"])
        matched = [Structure.from_dict(e["structure"]) for e in row.get("pool", [])
                   if e.get("matches_reference") and e.get("structure")]
        if not matched:
            continue
        same = [is_same_phase(s, reference) for s in matched]
        n, formulas = n + len(matched), formulas + 1
        ours, found = ours + sum(same), found + any(same)
        before += sum(exact(s, reference) for s in matched)
        if not any(same):
            tight = sum(structure_match(s, reference, DEFAULT_TOLERANCES).matched for s in matched)
            missed.append(f"{row['formula']} ({tight} of {len(matched)} at the default tolerances)")
    print(f"\nrelaxed predictions of {folder} matched to the known structure at the CSP tolerances: {n}; called "
          f"the known phase {ours} ({ours / max(n, 1):.3f}; exact contact maps {before / max(n, 1):.3f}). Formulas "
          f"with such a match: {formulas}; with a structure called the known phase: {found}")
    if missed:
        print("formulas without: " + ", ".join(missed))


if __name__ == "__main__":
    sys.exit(main())
