"""``alphacrystal contact-map``: the contact map of a structure file, or the predicted map of a formula.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from core.cli.options import (
    add_rule_argument,
    json_output,
    positive,
    tolerance,
    write_json_option,
)
from core.errors import AlphaCrystalError


def format_contact_map(labels: Sequence[str], matrix: np.ndarray) -> str:
    """The map as a labelled 0/1 table."""
    width = max(3, *(len(lab) for lab in labels)) + 1
    lines = [" " * width + "".join(f"{lab:>{width}}" for lab in labels)]
    for lab, row in zip(labels, matrix):
        lines.append(f"{lab:<{width}}" + "".join(f"{int(v):>{width}}" for v in row))
    return "\n".join(lines)

_STRUCTURE_SUFFIXES = (".cif", ".vasp", ".json", ".poscar", ".contcar", ".gz")

def _looks_like_formula(text: str) -> bool:
    """Not a file, and no folder part, structure-file suffix or POSCAR-like name: a folder that
    happens to be named like the formula (``predict AgF2`` writes ``AgF2/``-like folders) does
    not make the formula a path."""
    path = Path(text)
    if path.is_file() or "/" in text or "\\" in text:
        return False
    name = path.name.lower()
    return not (name.endswith(_STRUCTURE_SUFFIXES) or name.startswith(("poscar", "contcar")))

def cmd_contact_map(args: argparse.Namespace) -> int:
    if not args.file.strip():
        raise AlphaCrystalError("contact-map: the formula or file name is empty")
    from core.crystal.composition import is_formula

    if Path(args.file).is_dir() and not is_formula(args.file):  # a screen's NaCl/ folder leaves NaCl a formula
        raise AlphaCrystalError(f"contact-map: {args.file} is a folder, not a structure file or a formula")
    if _looks_like_formula(args.file):
        if args.rule not in (None, "paper"):
            raise AlphaCrystalError(f"contact-map {args.file}: --rule {args.rule} applies to structure files; "
                                    "predicted maps follow the paper's rule the network was trained on")
        _options_not_for(args, "a formula (a predicted map is of the primitive cell, with the paper's "
                               "window of the network's training)", as_given="--as-given", tolerance="--tolerance")
        return _predict_contact_map(args)
    _options_not_for(args, "a structure file (its atoms fix the cell and the map)", z="--z",
                     probabilities="--probabilities")
    from core.contact.contact_map import DEFAULT_TOLERANCE, compute_contact_map
    from core.contact.contact_rule import rule_for_cell
    from core.crystal.composition import formula_unit_text
    from core.crystal.symmetry import primitive_cell, space_group
    from core.io.read import read_structure

    try:
        structure = read_structure(args.file)
    except AlphaCrystalError as exc:  # a file named like a formula (KBr) hid the formula without a word
        if is_formula(args.file) and "/" not in args.file and "\\" not in args.file:
            raise AlphaCrystalError(f"{exc}; {args.file} is read as the file of that name in this folder: for the "
                                    f"formula's predicted map, run from another folder or rename the file") from None
        raise
    cell = structure if args.as_given else primitive_cell(structure)
    window = DEFAULT_TOLERANCE if args.tolerance is None else args.tolerance
    cmap = compute_contact_map(cell, tolerance=window, rule=args.rule or "paper")
    number, symbol = space_group(cell)
    applied = rule_for_cell(args.rule or "paper", np.array(cell.atomic_numbers))
    radii = ("metallic radii R_i + R_j for metal pairs (covalent r_i + r_j otherwise)" if applied == "metallic"
             else "covalent radii r_i + r_j")
    # the JSON first: output piped into `head` ends at its SIGPIPE, which left the JSON unwritten
    write_json_option(args.json, {"file": str(args.file), "formula": formula_unit_text(cell.composition),
                                  "spacegroup_number": number, "spacegroup_symbol": symbol,
                                  "primitive": not args.as_given, **cmap.to_dict()})
    print(f"file: {args.file}")
    print(
        f"formula: {formula_unit_text(cell.composition)}   atoms ({'as given' if args.as_given else 'primitive cell'}): "
        f"{len(cell)}   space group: {symbol} ({number})   window: {radii} ± {window} Å"
        + ("   (rule metallic asked; this cell is not all-metal, so the paper's rule applies)"
           if args.rule == "metallic" and applied != "metallic" else "")
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
    return 0

def _options_not_for(args: argparse.Namespace, what: str, **options: str) -> None:
    """An error naming the given ``options`` (attribute -> option) that do not apply to ``what``."""
    given = [option for name, option in options.items() if getattr(args, name) not in (None, False)]
    if given:
        raise AlphaCrystalError(f"contact-map {args.file}: {' and '.join(given)} "
                                f"{'does' if len(given) == 1 else 'do'} not apply to {what}")

def _predict_contact_map(args: argparse.Namespace) -> int:
    from core.contact_model import load_model, predict_contact_map
    from core.contact_model.inference import model_for_cell
    from core.crystal.composition import parse_formula
    from core.predict.scope import (
        check_scope,
        composition_notes,
        contact_model_max_atoms,
        is_all_metal,
    )

    parsed = parse_formula(args.file)
    if not args.model:
        check_scope(parsed, args.z)  # the program's 20-atom limit, in its own words
    for note in composition_notes(parsed, args.z, ("contact",)):  # what predict says first
        print(f"note: {note}")
    z, how = args.z, "as given" if args.z else None
    if args.model:
        model = load_model(args.model, args.device)
        how = how or "from the model's training statistics"
    else:  # the Z and the model `predict` would use
        z, reading, typed = _z_as_predict_reads_it(parsed, args.z)
        if reading:
            print(f"note: {reading}")
        how = how or ("as typed" if typed else "the top space-group candidate's, as predict tries first")
        model = model_for_cell(z * parsed.atoms_per_formula_unit, args.device)
    if is_all_metal(parsed):
        print(f"note: {parsed.unit_formula} is all-metal: under the paper's contact rule its map is empty by "
              "definition (two metals are never in contact); predict builds it from templates, or places its "
              "atoms by the space-group and Wyckoff priors alone (docs/reconstruction.md: the metallic rule)")
    prediction = predict_contact_map(parsed, z=z, model=model)
    n = len(prediction.species)
    if args.model:  # one model: the Z its cells hold
        z_options = list(prediction.z_options)
        options = ", ".join(map(str, z_options))
    else:  # every Z the shipped models take, as the window offers them (the model follows the cell's size)
        top = contact_model_max_atoms() // parsed.atoms_per_formula_unit
        z_options = list(range(1, top + 1))
        options = f"1-{top}" if top > 1 else "1"
    # the JSON first (as printed below): output piped into `head` ends at its SIGPIPE
    write_json_option(args.json, {**prediction.to_dict(), "z_options": z_options})
    print(f"formula: {prediction.formula}   Z = {prediction.z} ({how}; {n} atoms, primitive cell; "
          f"Z options {options}; model of up to {model.max_atoms} atoms)   "
          f"threshold {prediction.threshold:.2f}")
    print()
    print(format_contact_map(prediction.labels, prediction.contact))
    if args.probabilities:
        print("\nprobabilities:")
        width = max(5, *(len(lab) for lab in prediction.labels)) + 1
        print(" " * width + "".join(f"{lab:>{width}}" for lab in prediction.labels))
        for lab, row in zip(prediction.labels, prediction.probabilities):
            print(f"{lab:<{width}}" + "".join(f"{v:>{width}.2f}" for v in row))
    print("\natom  predicted map degree")
    for lab, deg in zip(prediction.labels, prediction.contact.sum(axis=1)):
        print(f"{lab:<6}{int(deg):>10}")
    return 0

def _z_as_predict_reads_it(parsed, z: int | None) -> tuple[int, str | None, bool]:
    """(Z, note, typed): a given or typed Z as ``predict`` reads it (:func:`core.predict.scope.z_from_formula`;
    ``typed`` True), else the Z of the top space-group candidate (the shipped models pooled, as ``predict``)."""
    from core.candidates import propose_candidates
    from core.predict.scope import z_from_formula

    z, reading = z_from_formula(parsed, z)
    if z is not None:
        return z, reading, True
    top = propose_candidates(parsed, top_k=1, count_wyckoff=False)
    if not top:
        raise AlphaCrystalError(f"no space group admits '{parsed.text}' in a cell of up to 20 atoms; pass --z")
    return top[0].z, reading, False


def register(groups: dict[str, argparse._SubParsersAction]) -> None:
    """Add this module's commands to the parser groups (``sub``: top level; ``train``, ``evaluate``)."""
    sub, = groups["sub"],
    p = sub.add_parser("contact-map", help="contact map of a structure file, or the predicted map of a formula")
    p.add_argument("file", metavar="FILE_OR_FORMULA", help="CIF/POSCAR file, or a formula such as Ag2F4")
    p.add_argument("--z", type=positive, default=None, help="formula units for a prediction (default: chosen)")
    p.add_argument("--model", default=None, help="contact model file (default: the shipped one)")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument("--probabilities", action="store_true", help="also print predicted probabilities")
    p.add_argument("--tolerance", type=tolerance, default=None,
                   help="bond window half-width in Å, for structure files (default 0.4; at most 1)")
    p.add_argument("--as-given", action="store_true", help="use the cell as stored instead of the primitive cell")
    add_rule_argument(p)
    p.add_argument("--json", metavar="PATH", type=json_output, help="also write the map and counts as JSON")
    p.set_defaults(func=cmd_contact_map)
