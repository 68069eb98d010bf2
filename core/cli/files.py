"""``alphacrystal export``, ``dataset-stats`` and ``build-references``: structure files, the data set, reference phases.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

from core.cli.options import (
    export_formats,
    file_stem,
    json_output,
    local_processes,
    output_file,
    output_folder,
    positive,
    seed,
    write_json_option,
)
from core.errors import AlphaCrystalError, StructureWarning
from core.io.outputs import stem_of
from core.io.read import MIN_ATOM_DISTANCE
from core.relax.potentials import DEFAULT_POTENTIAL, POTENTIALS
from core.runtime.terminal import format_seconds


def cmd_export(args: argparse.Namespace) -> int:
    from core.crystal.symmetry import primitive_cell
    from core.io.read import close_atoms, read_structure
    from core.io.write import export_structure, export_targets

    structure = read_structure(args.file, warn=False)  # the formats, the stem and --out are checked by their types
    overlap = close_atoms(structure, args.file)
    if overlap and not args.allow_close_atoms:  # DFT input from overlapping atoms is never what was meant
        raise AlphaCrystalError(f"{overlap}; nothing was written (pass --allow-close-atoms to export it anyway)")
    if overlap:
        warnings.warn(StructureWarning(f"{overlap} (exported as asked)"), stacklevel=1)
    stem = args.stem or _default_stem(Path(args.file), structure)
    targets = export_targets(Path(args.out), stem)
    source = Path(args.file).resolve()
    for fmt in args.formats:  # --overwrite replaced the very file it read (a run's symmetrised CIF by a P1 one)
        if targets[fmt].resolve() == source or targets[fmt].resolve() in source.parents:
            raise AlphaCrystalError(f"the {fmt} export would be written over {args.file}, the file this command "
                                    "reads: give another --out or --stem")
    if args.primitive:
        structure = primitive_cell(structure)
    elif len(smaller := primitive_cell(structure)) < len(structure):  # a CIF's conventional cell, as given
        print(f"note: {args.file} holds a cell of {len(structure)} atoms, its primitive cell {len(smaller)}: the "
              "files hold the cell as given; --primitive writes the smaller one (a DFT run of it costs less)",
              file=sys.stderr)  # stdout lists the files written, for scripts
    stale = ([path for fmt, path in targets.items()
              if fmt not in args.formats and path.exists()] if args.overwrite else [])
    written = export_structure(structure, args.out, stem=stem, formats=args.formats, overwrite=args.overwrite)
    for path in written:
        print(path)
    if stale:  # --overwrite replaces only the formats asked for: the others may be another structure
        print(f"note: {args.out} also holds {', '.join(p.name + ('/' if p.is_dir() else '') for p in stale)} of an "
              f"earlier export of {stem}, not replaced: they may be another structure", file=sys.stderr)
    write_json_option(args.json, {"file": str(args.file), "written": [str(p) for p in written]})
    return 0

def _default_stem(path: Path, structure) -> str:
    """The exported files' stem: the input's, or the formula for a VASP file named as VASP names them
    (``POSCAR`` gave ``POSCAR.POSCAR`` and ``POSCAR_vasp/``)."""
    stem = stem_of(path)  # NaCl.cif.gz -> NaCl
    if stem.upper().split(".")[0] in ("POSCAR", "CONTCAR"):  # POSCAR, CONTCAR.relax
        from core.crystal.composition import formula_unit_text

        return formula_unit_text(structure.composition)  # the program's convention: H8SN2O4, not H8S(NO2)2
    return stem


def cmd_dataset_stats(args: argparse.Namespace) -> int:
    from core.data.datasets import SPLIT_FRACTIONS, load_dataset, split_by_formula, stats_text

    start = time.perf_counter()
    dataset = load_dataset(args.path, use_cache=not args.no_cache)
    loaded = time.perf_counter() - start
    dataset = dataset.filter(args.max_atoms, args.exclude_all_metal, args.lowest_energy)
    stats = dataset.stats()
    split = split_by_formula(dataset, seed=args.seed).summary() if len(dataset) else {}
    stats["split_by_formula"] = {"seed": args.seed, "fractions": list(SPLIT_FRACTIONS), **split}
    stats["filters"] = {"max_atoms": args.max_atoms, "exclude_all_metal": args.exclude_all_metal,
                        "lowest_energy_per_formula": args.lowest_energy}
    stats["load_seconds"] = round(loaded, 3)
    print(stats_text(stats, top=args.top))
    if split:
        shares = "/".join(f"{100 * f:g}" for f in SPLIT_FRACTIONS)
        print(f"split by reduced formula (seed {args.seed}, {shares} % of formulas; the models' split also puts the "
              "paper's benchmark formulas in test: evaluate --split uses that one):")
        for name, part in split.items():
            print(f"  {name:>10}  {part['structures']:>7} structures  {part['formulas']:>7} formulas")
    print(f"\nloaded in {loaded:.2f} s (cache: {'off' if args.no_cache else 'on'})")
    write_json_option(args.json, stats)
    return 0

def cmd_build_references(args: argparse.Namespace) -> int:
    from core.stability.reference_energies import checkpoint_folder, remove_checkpoint
    from core.stability.references import build_reference_phases, reference_file

    target = Path(args.out) if args.out else reference_file(args.potential)
    if target.exists() and not args.overwrite:  # checked before the hours of work; the shipped file is the hull
        raise AlphaCrystalError(f"{target} exists{' (the shipped reference phases every prediction uses)' if not args.out else ''}: "
                                "give --out NEW_FILE, or --overwrite to replace it")
    folder = checkpoint_folder(target)
    if folder.is_dir():
        print(f"continuing from the energies kept in {folder}", flush=True)
    start = time.perf_counter()
    references = build_reference_phases(args.data, args.potential,
                                        progress=lambda message: print(message, flush=True),
                                        jobs=args.jobs, checkpoint=folder)
    path = references.save(target)
    remove_checkpoint(folder)
    print(f"{len(references)} reference formulas, {len(references.elements)} elements -> {path} "
          f"({path.stat().st_size / 1e6:.2f} MB) in {format_seconds(time.perf_counter() - start)}")
    return 0


def register(groups: dict[str, argparse._SubParsersAction]) -> None:
    """Add this module's commands to the parser groups (``sub``: top level; ``train``, ``evaluate``)."""
    sub, = groups["sub"],
    p = sub.add_parser("dataset-stats", help="counts by atom number, elements and space groups of a data set")
    p.add_argument("path", help="MP-20-style CSV(.gz) with a 'cif' column, or a folder of CIFs")
    p.add_argument("--max-atoms", type=positive, default=None, help="keep structures with at most N atoms")
    p.add_argument("--exclude-all-metal", action="store_true", help="drop compounds made of metals only")
    p.add_argument("--lowest-energy", action="store_true", help="keep the lowest-energy polymorph per formula")
    p.add_argument("--seed", type=seed, default=0, help="seed of the split by reduced formula (default 0)")
    p.add_argument("--top", type=positive, default=15, help="rows shown per table (default 15)")
    p.add_argument("--no-cache", action="store_true", help="ignore and do not write the on-disk cache")
    p.add_argument("--json", metavar="PATH", type=json_output, help="also write all figures as JSON")
    p.set_defaults(func=cmd_dataset_stats)
    p = sub.add_parser("export", help="write a structure as CIF, symmetrised CIF, POSCAR and a VASP input folder")
    p.add_argument("file", help="structure file to export")
    p.add_argument("--out", required=True, type=output_folder, help="output folder")
    p.add_argument("--formats", type=export_formats, default="cif,cif-symmetrized,poscar,vasp",
                   help="comma-separated, from cif, cif-symmetrized, poscar, vasp (default: all four)")
    p.add_argument("--stem", type=file_stem,
                   help="file name stem, a plain name without folders or suffix (default: the input file's stem; "
                        "for a file named POSCAR or CONTCAR, its formula)")
    p.add_argument("--primitive", action="store_true", help="reduce to the primitive cell first")
    p.add_argument("--overwrite", action="store_true",
                   help="replace files of an earlier export with the same stem (default: refuse)")
    p.add_argument("--allow-close-atoms", action="store_true",
                   help=f"export a structure with atoms closer than {MIN_ATOM_DISTANCE} Å (default: refuse; they "
                        "are duplicates or a wrong coordinate)")
    p.add_argument("--json", metavar="PATH", type=json_output, help="also write the list of written files as JSON")
    p.set_defaults(func=cmd_export)
    p = sub.add_parser("build-references", help="known phases (every formula of the data + elements) and their energies "
                       "with a potential, for energies above the convex hull")
    p.add_argument("--data", required=True, help="MP-20-style CSV(.gz) with formation energies")
    p.add_argument("--potential", choices=list(POTENTIALS), default=DEFAULT_POTENTIAL,
                   help=f"potential whose energies are stored (default {DEFAULT_POTENTIAL})")
    p.add_argument("--out", type=output_file, default=None,
                   help="file to write (default: the shipped resources/reference_phases_POTENTIAL.npz)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace --out (or the shipped file) when it exists (default: refuse; predictions read "
                        "the shipped file for E_hull)")
    p.add_argument("--jobs", type=local_processes, default=1,
                   help="processes computing the single points (default 1); the energies are kept chunk by chunk "
                        "in OUT.partial/, so a stopped build run again continues where it stopped")
    p.set_defaults(func=cmd_build_references)
