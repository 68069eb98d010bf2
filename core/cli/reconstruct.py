"""``alphacrystal reconstruct``: CMCrystal on a target contact map (a structure file: oracle mode).
"""

from __future__ import annotations

import argparse
import dataclasses
import glob
import time
from pathlib import Path

from core.cli.options import (
    MAX_STRAIN,
    add_ga_arguments,
    add_rule_argument,
    ga_settings,
    json_output,
    output_folder,
    positive,
    strain,
    write_json_option,
)
from core.errors import AlphaCrystalError
from core.predict.run_folder import safe_name


def _match_words(strict, loose) -> str:
    """Whether a reconstruction matches its input, naming the tolerances that say so."""
    from core.crystal.matching import CSP_TOLERANCES

    if strict.matched:
        return f"matches the input at pymatgen's default tolerances, rms {strict.rms:.3f}"
    if loose.matched:
        return (f"no match at pymatgen's default tolerances; matches only at the CSP literature's looser "
                f"stol {CSP_TOLERANCES.stol}, ltol {CSP_TOLERANCES.ltol}, angle {CSP_TOLERANCES.angle_tol:g}°, "
                f"rms {loose.rms:.3f}")
    return "does not match the input"

def _earlier_results(out: Path, stem: str, overwrite: bool) -> list[Path]:
    """The CIFs an earlier reconstruction of ``stem`` wrote into ``out`` (``STEM-rankN-sgG.cif``, G the
    structure's own space group),
    to be replaced with ``overwrite``.

    Raises
    ------
    AlphaCrystalError
        When there are some and ``overwrite`` is not given: nothing is run or written.
    """
    earlier = sorted(out.glob(f"{glob.escape(stem)}-rank*-sg*.cif")) if out.is_dir() else []
    if earlier and not overwrite:
        names = ", ".join(p.name for p in earlier[:3]) + (f" and {len(earlier) - 3} more" if len(earlier) > 3 else "")
        raise AlphaCrystalError(f"{out} already holds {names} from an earlier reconstruction; nothing was run or "
                                "written: choose another --out, or pass --overwrite to replace them")
    return earlier


def cmd_reconstruct(args: argparse.Namespace) -> int:
    import multiprocessing

    from core.crystal.matching import (
        CSP_TOLERANCES,
        DEFAULT_TOLERANCES,
        reference_match,
        structure_match,
    )
    from core.crystal.symmetry import space_group_or_p1
    from core.io.read import MIN_ATOM_DISTANCE
    from core.io.write import write_cif
    from core.reconstruction.inputs import read_target
    from core.reconstruction.loop import LoopSettings, reconstruct
    from core.reconstruction.selection import distinct_results

    multiprocessing.freeze_support()
    target, reference = read_target(args.input, args.rule)
    out, stem = Path(args.out), safe_name(target.name)
    earlier = _earlier_results(out, stem, args.overwrite)  # checked before any work
    settings = LoopSettings(args.assignments, args.restarts, ga_settings(args), args.seed, args.strain, args.escalate,
                            args.jobs)
    mode = "oracle (true map, space group and lattice)" if reference is not None else "given map"
    runs: list[int] = []  # the planned number of GA runs, at the start and at each escalation

    def planned(total: int) -> None:
        if not runs:
            print(f"{target.name}: {len(target.species)} atoms, space group {target.spacegroup}, lattice "
                  f"{' '.join(f'{v:.3f}' for v in target.lattice)}; {mode}; {total} GA runs", flush=True)
        else:
            print(f"no run reached fitness 1: {total - runs[-1]} more runs on the assignments ranked up to "
                  f"{args.escalate}", flush=True)
        runs.append(total)

    def done(name, result) -> None:
        print(f"  {result.job_id:<28} fitness {result.fitness:.3f}  Dice {result.dice:.3f}  "
              f"valid {result.valid_fraction:.3f}  {result.generations:>4} gen  {result.seconds:5.1f} s  "
              f"[{result.assignment.label}]", flush=True)

    start = time.perf_counter()
    outcome = reconstruct({target.name: target}, settings, on_planned=planned, on_result=done)
    if outcome.skipped:
        raise AlphaCrystalError(outcome.skipped[target.name])
    every = outcome.results[target.name]
    results = [r for r in every if r.fitness > 0]  # fitness 0: no bond of the map reproduced, not a reconstruction
    if not results:
        raise AlphaCrystalError(f"all {len(every)} runs for {target.name} ended at fitness 0 (no contact of the "
                                "map reproduced); nothing was written: try more --assignments or --restarts")
    kept, broken = distinct_results(results, args.keep)  # several runs often end in one structure
    if not kept:  # before anything is removed: an earlier run's files stay
        raise AlphaCrystalError(f"all {len(results)} reconstructions of {target.name} have atoms closer than "
                                f"{MIN_ATOM_DISTANCE} Å; nothing was written")
    out.mkdir(parents=True, exist_ok=True)
    for path in earlier:  # --overwrite: the folder holds this run's files only
        path.unlink()
    if earlier:
        print(f"replaced {len(earlier)} file{'s' if len(earlier) != 1 else ''} of an earlier reconstruction "
              f"of {stem} in {out}")
    summary = []
    for rank, result in enumerate(kept, 1):
        own = space_group_or_p1(result.structure)  # the GA built in a subgroup of the structure's own group
        # named by the structure's own group, as the program's result folders are: a rank 2 of group
        # I4/mmm was written as "-sg136" after the group it was built in
        path = write_cif(result.structure, out / f"{stem}-rank{rank}-sg{own[0]}.cif")
        row = result.to_dict() | {"rank": rank, "cif": str(path)}
        said = ""
        if reference is not None:
            strict = reference_match(result.structure, reference)
            loose = strict if strict.matched else structure_match(result.structure, reference, CSP_TOLERANCES)
            row |= {"matches_input": strict.matched, "matches_input_csp_tolerances": loose.matched,
                    "rms": loose.rms, "match_tolerances": {"default": dataclasses.asdict(DEFAULT_TOLERANCES),
                                                           "csp": dataclasses.asdict(CSP_TOLERANCES)}}
            said = f"  ({_match_words(strict, loose)})"
        summary.append(row)
        row["structure_spacegroup"] = int(own[0])
        if int(own[0]) != target.spacegroup:
            said += f"  (built in group {target.spacegroup}; the structure's own group is {own[1]} ({own[0]}))"
        print(f"rank {rank}: fitness {result.fitness:.3f}, Dice {result.dice:.3f} -> {path}{said}")
    if len(kept) < min(args.keep, len(results)):  # every run was looked at: the rest repeat or are broken
        repeats = len(results) - len(kept) - len(broken)
        print(f"{len(kept)} distinct structure{'s' if len(kept) != 1 else ''} of {len(results)} runs written"
              + (f"; {len(broken)} with atoms closer than {MIN_ATOM_DISTANCE} Å left out" if broken else "")
              + (f"; {repeats} repeat{'s' if repeats == 1 else ''} a written structure" if repeats else ""))
    if len(results) < len(every):
        print(f"{len(every) - len(results)} of {len(every)} runs ended at fitness 0 (no contact of the map "
              "reproduced) and were not written")
    print(f"{sum(r.evaluations for r in every):,} evaluations in {time.perf_counter() - start:.1f} s")
    write_json_option(args.json, {"target": target.name, "spacegroup": target.spacegroup, "results": summary})
    return 0


def register(groups: dict[str, argparse._SubParsersAction]) -> None:
    """Add this module's commands to the parser groups (``sub``: top level; ``train``, ``evaluate``)."""
    sub, = groups["sub"],
    p = sub.add_parser("reconstruct", help="CMCrystal: build a structure whose contact map matches a target")
    p.add_argument("input", help="CIF/POSCAR (oracle mode: its true map, space group and lattice) or a JSON "
                                 "file with formula, z, spacegroup, lattice and contact_map")
    p.add_argument("--out", default="reconstructed", type=output_folder,
                   help="folder for the best CIFs (default ./reconstructed)")
    p.add_argument("--keep", type=positive, default=3, help="number of best distinct structures written (default 3)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the CIFs of an earlier reconstruction of the same input in --out (default: refuse)")
    p.add_argument("--strain", type=strain, default=0.0,
                   help=f"let free lattice lengths vary by this fraction (e.g. 0.1; default 0: fixed; at most {MAX_STRAIN})")
    add_ga_arguments(p)
    add_rule_argument(p)
    p.add_argument("--json", metavar="PATH", type=json_output, help="also write the results as JSON")
    p.set_defaults(func=cmd_reconstruct)
