"""``alphacrystal candidates`` and ``alphacrystal templates``: what a prediction would start from.
"""

from __future__ import annotations

import argparse
import time

from core.cli.options import (
    json_output,
    positive,
    top_spacegroups,
    write_json_option,
)
from core.errors import AlphaCrystalError
from core.runtime.terminal import counted
from core.templates.retrieval import DEFAULT_SCORER, SCORERS


def candidate_model(path: str | None):
    from core.candidates import CandidateModel, load_default_candidate_model

    return CandidateModel.load(path) if path else load_default_candidate_model()

def cmd_candidates(args: argparse.Namespace) -> int:
    from core.candidates import CandidateModel, propose_candidates
    from core.crystal.composition import parse_formula
    from core.crystal.wyckoff import DEFAULT_MAX_COMBINATIONS
    from core.predict.scope import check_scope, composition_notes, z_from_formula

    # without --model the shipped models choose as `predict` does: both pooled when Z is
    # automatic, the 20-atom one for a given Z of 13-20 atoms (candidate_model_for)
    model = CandidateModel.load(args.model) if args.model else None
    parsed = parse_formula(args.formula)
    z, reading = z_from_formula(parsed, args.z)  # Na2Cl2 is Z = 2, as predict reads it
    if reading:
        print(f"note: {reading}")
    if model is None:
        check_scope(parsed, z)  # the program's 20-atom limit, in its own words
    for note in composition_notes(parsed, z, ("contact",)):  # what predict says first
        print(f"note: {note}")
    start = time.perf_counter()
    candidates = propose_candidates(parsed, top_k=args.top_k, z=z, model=model,
                                    count_wyckoff=not args.no_wyckoff)
    seconds = time.perf_counter() - start
    if not candidates:
        raise AlphaCrystalError(f"no space group admits '{args.formula}' with the allowed Z")
    print(f"{'rank':>4}  {'sg':>3} {'symbol':<10}{'system':<13}{'prob':>6}{'Z':>3}{'atoms':>6}"
          f"{'a':>8}{'b':>8}{'c':>8}{'alpha':>7}{'beta':>7}{'gamma':>7}{'Wyckoff':>9}")
    for k, c in enumerate(candidates, 1):
        a, b, cc, al, be, ga = c.lattice
        wyck = ("-" if c.n_wyckoff_assignments is None else  # the count stops at the enumeration's cap
                f"≥{c.n_wyckoff_assignments}" if c.n_wyckoff_assignments >= DEFAULT_MAX_COMBINATIONS
                else str(c.n_wyckoff_assignments))
        print(f"{k:>4}  {c.spacegroup:>3} {c.symbol:<10}{c.crystal_system:<13}{c.probability:>6.3f}{c.z:>3}"
              f"{c.n_atoms:>6}{a:>8.3f}{b:>8.3f}{cc:>8.3f}{al:>7.1f}{be:>7.1f}{ga:>7.1f}{wyck:>9}")
    wyckoff = ("Wyckoff: not counted (--no-wyckoff)" if args.no_wyckoff else
               f"Wyckoff: feasible assignments, counted up to {DEFAULT_MAX_COMBINATIONS}")
    print(f"lattice: conventional cell, Å and degrees; atoms: primitive cell; {wyckoff} ({1000 * seconds:.0f} ms)")
    write_json_option(args.json, {"formula": args.formula, "candidates": [c.to_dict() for c in candidates]})
    return 0

def cmd_templates(args: argparse.Namespace) -> int:
    from core.crystal.composition import MP20_MAX_ATOMS, parse_formula
    from core.predict.scope import check_scope, composition_notes, z_from_formula
    from core.templates.library import load_library
    from core.templates.retrieval import retrieve_templates

    parsed = parse_formula(args.formula)
    z, reading = z_from_formula(parsed, args.z)  # Na2Cl2 is Z = 2, C60 is C, as predict reads them
    if reading:
        print(f"note: {reading}")
    check_scope(parsed, z)
    library = load_library(args.library)
    for note in composition_notes(parsed, z, ("templates",)):  # what predict says first
        print(f"note: {note}")
    found = retrieve_templates(parsed, z=z, top_k=args.top_k, library=library, scorer=args.scorer,
                               max_atoms=MP20_MAX_ATOMS)
    print(f"{parsed.unit_formula}" + (f" Z={z}" if z else " (every Z up to "
                                         f"{MP20_MAX_ATOMS} atoms)")
          + f": {counted(len(found), 'distinct template')} from {counted(len(library), 'known structure')}")
    if not found:
        print("no known structure of the same stoichiometry pattern (anonymous formula and atom count)")
    print(f"{'#':>3}  {'source':<22}{'template':<14}{'space group':<16}{'Z':>3}{'score':>9}{'similar':>8}"
          f"{'V (Å³)':>9}  substitution; Wyckoff")
    for k, c in enumerate(found, 1):
        subst = ", ".join(f"{a}->{b}" for a, b in c.mapping if a != b) or "none"
        print(f"{k:>3}  {c.source:<22}{c.template_formula:<14}{c.symbol + ' (' + str(c.spacegroup) + ')':<16}"
              f"{c.z:>3}{c.score:>9.3f}{c.similar:>8}{c.volume:>9.1f}  {subst}; {c.wyckoff}")
    if found:
        meaning = ("sum of log ionic substitution probabilities" if found[0].scorer == "ionic"
                   else "minus mean |Δ Mendeleev number| per atom")
        print(f"score: {found[0].scorer} ({meaning}; higher is more likely); "
              "similar: lower-scored templates giving the same structure; V: the substituted primitive cell's "
              "volume, rescaled to the new elements")
    write_json_option(args.json, {"formula": parsed.unit_formula, "z": z,
                            "templates": [c.to_dict() for c in found]})
    return 0


def register(groups: dict[str, argparse._SubParsersAction]) -> None:
    """Add this module's commands to the parser groups (``sub``: top level; ``train``, ``evaluate``)."""
    sub, = groups["sub"],
    p = sub.add_parser("candidates", help="ranked space groups, Z and lattices predicted for a formula")
    p.add_argument("formula", help="chemical formula, e.g. AgF2")
    p.add_argument("--top-k", type=top_spacegroups, default=10, help="number of space groups (default 10)")
    p.add_argument("--z", type=positive, default=None, help="formula units in the primitive cell (default: predicted)")
    p.add_argument("--model", default=None, help="candidate model file (default: the shipped one)")
    p.add_argument("--no-wyckoff", action="store_true", help="skip counting Wyckoff assignments")
    p.add_argument("--json", metavar="PATH", type=json_output, help="also write the candidates as JSON")
    p.set_defaults(func=cmd_candidates)
    p = sub.add_parser("templates", help="known structures of the same stoichiometry with the elements substituted")
    p.add_argument("formula", help="chemical formula, e.g. KBr")
    p.add_argument("--z", type=positive, default=None, help="formula units in the cell (default: every Z up to 20 atoms)")
    p.add_argument("--top-k", type=positive, default=10, help="distinct templates listed (default 10)")
    p.add_argument("--scorer", choices=SCORERS, default=DEFAULT_SCORER,
                   help="substitution score (default mendeleev)")
    p.add_argument("--library", default=None, help="template library file (default: the shipped one)")
    p.add_argument("--json", metavar="PATH", type=json_output, help="also write the templates (with structures) as JSON")
    p.set_defaults(func=cmd_templates)
