"""The ``alphacrystal`` command line: thin wrappers that parse arguments, call ``core`` and print.

Every sub-command that computes figures accepts ``--json PATH`` and writes them
there. Bad input ends with one ``alphacrystal: error: ...`` line and exit code 2.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from core.errors import AlphaCrystalError

__version__ = "0.1.0"


def _write_json(path: str | None, payload: dict) -> None:
    if path:
        from core.io import atomic_write_text

        atomic_write_text(path, json.dumps(payload, indent=2) + "\n")


def format_contact_map(labels: Sequence[str], matrix: np.ndarray) -> str:
    """The map as a labelled 0/1 table."""
    width = max(3, *(len(lab) for lab in labels)) + 1
    lines = [" " * width + "".join(f"{lab:>{width}}" for lab in labels)]
    for lab, row in zip(labels, matrix):
        lines.append(f"{lab:<{width}}" + "".join(f"{int(v):>{width}}" for v in row))
    return "\n".join(lines)


def cmd_contact_map(args: argparse.Namespace) -> int:
    from core.contact_map import compute_contact_map
    from core.io import primitive_cell, read_structure, space_group

    structure = read_structure(args.file)
    cell = structure if args.as_given else primitive_cell(structure)
    cmap = compute_contact_map(cell, tolerance=args.tolerance)
    number, symbol = space_group(cell)
    print(f"file: {args.file}")
    print(
        f"formula: {cell.composition.reduced_formula}   atoms ({'as given' if args.as_given else 'primitive cell'}): "
        f"{len(cell)}   space group: {symbol} ({number})   window: r_i + r_j ± {args.tolerance} Å"
    )
    print()
    print(format_contact_map(cmap.labels, cmap.matrix))
    print()
    print("atom  coordination (bonds over images)  map degree")
    for lab, cn, deg in zip(cmap.labels, cmap.coordination_numbers, cmap.degree):
        print(f"{lab:<6}{cn:>12}{deg:>30}")
    print(
        f"\nvalid bonds: {cmap.n_valid_bonds}   short contacts: {cmap.n_short_contacts}   "
        f"valid-bond fraction: {cmap.valid_bond_fraction:.3f}"
    )
    payload = {"file": str(args.file), "formula": cell.composition.reduced_formula,
               "spacegroup_number": number, "spacegroup_symbol": symbol,
               "primitive": not args.as_given, **cmap.to_dict()}
    _write_json(args.json, payload)
    return 0


def cmd_dataset_stats(args: argparse.Namespace) -> int:
    from core.datasets import load_dataset, split_by_formula, stats_text

    start = time.perf_counter()
    dataset = load_dataset(args.path, use_cache=not args.no_cache)
    loaded = time.perf_counter() - start
    dataset = dataset.filter(args.max_atoms, args.exclude_all_metal, args.lowest_energy)
    stats = dataset.stats()
    split = split_by_formula(dataset, seed=args.seed).summary() if len(dataset) else {}
    stats["split_by_formula"] = {"seed": args.seed, "fractions": [0.8, 0.1, 0.1], **split}
    stats["filters"] = {"max_atoms": args.max_atoms, "exclude_all_metal": args.exclude_all_metal,
                        "lowest_energy_per_formula": args.lowest_energy}
    stats["load_seconds"] = round(loaded, 3)
    print(stats_text(stats, top=args.top))
    if split:
        print(f"split by reduced formula (seed {args.seed}, 80/10/10 of formulas):")
        for name, part in split.items():
            print(f"  {name:>10}  {part['structures']:>7} structures  {part['formulas']:>7} formulas")
    print(f"\nloaded in {loaded:.2f} s (cache: {'off' if args.no_cache else 'on'})")
    _write_json(args.json, stats)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from core.io import EXPORT_FORMATS, export_structure, primitive_cell, read_structure

    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    unknown = [f for f in formats if f not in EXPORT_FORMATS]
    if unknown:
        raise AlphaCrystalError(f"unknown format(s) {', '.join(unknown)}; choose from {', '.join(EXPORT_FORMATS)}")
    structure = read_structure(args.file)
    if args.primitive:
        structure = primitive_cell(structure)
    written = export_structure(structure, args.out, stem=args.stem or Path(args.file).stem, formats=formats)
    for path in written:
        print(path)
    _write_json(args.json, {"file": str(args.file), "written": [str(p) for p in written]})
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="alphacrystal",
        description="AlphaCrystal Studio engine: contact maps, data sets and structure export.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("contact-map", help="print the contact map of a structure file (CIF, POSCAR)")
    p.add_argument("file", help="CIF, POSCAR/CONTCAR or *.vasp file")
    p.add_argument("--tolerance", type=float, default=0.4, help="bond window half-width in Å (default 0.4)")
    p.add_argument("--as-given", action="store_true", help="use the cell as stored instead of the primitive cell")
    p.add_argument("--json", metavar="PATH", help="also write the map and counts as JSON")
    p.set_defaults(func=cmd_contact_map)

    p = sub.add_parser("dataset-stats", help="counts by atom number, elements and space groups of a data set")
    p.add_argument("path", help="MP-20-style CSV(.gz) with a 'cif' column, or a folder of CIFs")
    p.add_argument("--max-atoms", type=int, default=None, help="keep structures with at most N atoms")
    p.add_argument("--exclude-all-metal", action="store_true", help="drop compounds made of metals only")
    p.add_argument("--lowest-energy", action="store_true", help="keep the lowest-energy polymorph per formula")
    p.add_argument("--seed", type=int, default=0, help="seed of the split by reduced formula (default 0)")
    p.add_argument("--top", type=int, default=15, help="rows shown per table (default 15)")
    p.add_argument("--no-cache", action="store_true", help="ignore and do not write the on-disk cache")
    p.add_argument("--json", metavar="PATH", help="also write all figures as JSON")
    p.set_defaults(func=cmd_dataset_stats)

    p = sub.add_parser("export", help="write a structure as CIF, symmetrised CIF, POSCAR and a VASP input folder")
    p.add_argument("file", help="structure file to export")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--formats", default="cif,cif-symmetrized,poscar,vasp", help="comma-separated (default: all)")
    p.add_argument("--stem", help="file name stem (default: input file stem)")
    p.add_argument("--primitive", action="store_true", help="reduce to the primitive cell first")
    p.add_argument("--json", metavar="PATH", help="also write the list of written files as JSON")
    p.set_defaults(func=cmd_export)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except AlphaCrystalError as exc:
        print(f"alphacrystal: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("alphacrystal: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
