"""``alphacrystal predict`` and ``alphacrystal screen``: formula in, ranked structures out; many formulas on Dask.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from core.cli.options import (
    DEFAULT_TOP_K,
    Number,
    add_prediction_options,
    json_output,
    local_processes,
    output_folder,
    positive_float,
    predict_settings,
    processes,
    seed,
    spacegroup_number,
    top_spacegroups,
    write_json_option,
    z_or_auto,
)
from core.errors import AlphaCrystalError
from core.io.outputs import SCREEN_REPORT, SCREEN_TABLE
from core.screen.cluster import CLUSTERS


def _rerun_from(path: str, formula, settings):
    """([candidate], settings) of ``predict --from-structure``: the structure's space group,
    Z, lattice and Wyckoff assignment, CMCrystal only."""
    from core.candidates.propose import rerun_candidate
    from core.io.read import read_structure

    if settings.z is not None or settings.spacegroups:
        raise AlphaCrystalError("--from-structure takes the space group and Z from the structure: "
                                "leave out --z and --spacegroup")
    candidate = rerun_candidate(read_structure(path), formula)
    print(f"note: CMCrystal from {path}: {candidate.symbol} ({candidate.spacegroup}), Z = {candidate.z}, "
          f"[{(candidate.assignment or {}).get('label', '')}], lattice "
          f"{' '.join(f'{v:.3f}' for v in candidate.lattice)}; its p = {candidate.probability:.2f} is P(group | "
          f"composition, Z = {candidate.z}) (with an automatic Z, predicted candidates show the joint P(group, Z))",
          flush=True)
    return [candidate], dataclasses.replace(settings, z=candidate.z, sources=("contact",))

def _default_out(formula) -> Path:
    """``predictions/UNIT`` (the unit formula, :attr:`Formula.unit_formula`), or the folder an
    earlier version named by pymatgen's reduced formula (``predictions/H2``) when only that
    exists, so that re-running the same command resumes there."""
    from core.io.outputs import STATE_DIR
    from core.predict.run_folder import safe_name

    out = Path("predictions") / safe_name(formula.unit_formula)
    earlier = Path("predictions") / safe_name(formula.reduced_formula)
    return earlier if not out.exists() and earlier != out and (earlier / STATE_DIR).is_dir() else out

def _refuse_a_screens_formula_folder(out: Path, overwrite: bool) -> None:
    """A ``predict --out`` into a formula's folder of a screen replaced that formula's results behind
    the screen's table and report (they still showed the earlier ones): refused, unless told
    ``--overwrite``; re-running the screen is the way to change a screen's formula. A folder beside
    them that holds no run yet (another formula) is no screen's result: not refused."""
    from core.io.outputs import STATE_DIR, SUMMARY_JSON
    from core.predict.run_folder import OutputFolderError

    screen = out.resolve().parent
    holds_a_run = (out / STATE_DIR).is_dir() or (out / SUMMARY_JSON).is_file()
    if not overwrite and holds_a_run and (screen / SCREEN_TABLE).is_file():
        raise OutputFolderError(f"{out} is a formula's folder of the screen {screen} (it holds {SCREEN_TABLE}): "
                                f"a prediction there would change that screen's results behind its {SCREEN_TABLE} "
                                f"and {SCREEN_REPORT}; re-run the screen (it resumes; its --overwrite re-runs formulas "
                                "made with other settings), give another --out, or --overwrite to predict there")


def _worker_timeout(given: float | None, kind: str) -> float | None:
    """``--worker-timeout`` as given, else the default of the cluster kind: none for SLURM/PBS
    (a queue can hold batch jobs for hours), :data:`core.screen.cluster.DEFAULT_WORKER_TIMEOUT` otherwise."""
    from core.screen.cluster import DEFAULT_WORKER_TIMEOUT

    if given is not None:
        return given
    return None if kind in ("slurm", "pbs") else DEFAULT_WORKER_TIMEOUT

def cmd_predict(args: argparse.Namespace) -> int:
    import multiprocessing
    import signal

    from core.crystal.composition import parse_formula
    from core.predict.pipeline import predict_structures
    from core.predict.record import energies_above_lowest
    from core.predict.scope import cell_size_note, z_from_formula
    from core.runtime.parallel import CancelToken
    from core.runtime.terminal import ProgressBar, counted, format_seconds
    from core.stability.hull import whole_mev

    multiprocessing.freeze_support()
    settings = predict_settings(args)
    formula = parse_formula(args.formula)  # a bad formula fails here, before any folder is made
    candidates = None
    if args.from_structure:
        candidates, settings = _rerun_from(args.from_structure, formula, settings)
    else:
        z, reading = z_from_formula(formula, settings.z)
        if reading:
            print(f"note: {reading}", flush=True)
            settings = dataclasses.replace(settings, z=z)
    said = [note for note in [cell_size_note(formula, settings)] if note]  # before work starts
    for note in said:
        print(f"note: {note}", flush=True)
    out = Path(args.out) if args.out else _default_out(formula)
    _refuse_a_screens_formula_folder(out, args.overwrite)
    if args.json:  # an explicit --out was checked with the other options; the default one is known only now
        from core.cli.options import check_not_a_run_folder_file

        check_not_a_run_folder_file("json", args.json, out)
    cancel = CancelToken()

    received: list[int] = []

    def interrupt(signum, frame) -> None:  # first Ctrl-C or SIGTERM: stop cleanly; second Ctrl-C: abort
        received.append(signum)
        cancel.cancel()
        signal.signal(signal.SIGINT, signal.default_int_handler)
        what = "terminated" if signum == signal.SIGTERM else "Ctrl-C"
        print(f"\nalphacrystal: {what}: stopping after the current step (Ctrl-C again to abort) ...",
              file=sys.stderr, flush=True)

    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        result = predict_structures(args.formula, settings, out_dir=out, progress=ProgressBar(), cancel=cancel,
                                    candidates=candidates, overwrite=args.overwrite)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if result.cancelled:
        print(f"alphacrystal: interrupted; finished steps are kept in {out} - run the same command to resume",
              file=sys.stderr)
        return 143 if signal.SIGTERM in received else 130
    records = result.records()
    above = energies_above_lowest(records)
    for note in result.notes:
        if note not in said:
            print(f"note: {note}")
    print(f"\n{result.formula}: {counted(len(records), 'distinct structure')} from "
          f"{counted(len(result.candidates), 'space-group candidate')} and {counted(len(result.templates), 'template')} "
          f"in {format_seconds(result.seconds)}"
          + (f" (resumed {result.resumed['reconstructions']} reconstructions, "
             f"{result.resumed['relaxations']} relaxations)" if any(result.resumed.values()) else ""))
    group = "relaxed SG" if result.settings.relax else "SG (GA)"  # --no-relax: the structure as built
    print(f"{'rank':>4}  {'folder':<28}{group:<17}{'E (eV/atom)':>12}{'dE':>10}{'score':>8}"
          f"{'E_hull':>13}  {'stability':<11}{'Dice':>7}{'fitness':>9}{'Dice rlx':>9}  source")
    for k, r in enumerate(records):
        print(_result_line(r, above[k]))
    if records:
        print("dE, score, E_hull: meV/atom (dE above the lowest result, E_hull above the hull of the known phases)")
    if any(r.rank_score_meV is not None for r in records):
        print(score_legend(result.settings))
    unconverged = [r.rank for r in records if r.converged is False]
    if unconverged:
        print(f"not converged (the relaxation stopped at its step limit before the force criterion; outside the "
              f"window of the lowest, after the first round's steps): rank {', '.join(map(str, unconverged))}; their "
              "E, dE and E_hull are upper bounds")
    first = records[0] if records else None
    if first is not None and first.rank_reason:
        print(f"why #1: {first.rank_reason} (every rank's reason: summary.csv, rank_reason)")
    if first is not None and first.stability and first.e_above_hull_meV is not None:
        e_hull = first.e_above_hull_meV
        where = (f"{whole_mev(e_hull):+d} meV/atom above the hull" if whole_mev(e_hull) >= 0 else
                 f"{-whole_mev(e_hull)} meV/atom below the hull")
        print(f"hull of #1: {first.stability}, {where} (here "
              f"{first.decomposition}){'; ' + first.hull_note if first.hull_note else ''} "
              "(summary.csv: e_above_hull_meV, decomposition, hull_note; docs/stability.md)")
        if first.hull_warning:
            print(f"warning: E_hull of #1 in doubt: {first.hull_warning}")
    if result.rejected:
        print(f"{len(result.rejected)} reconstruction{'' if len(result.rejected) == 1 else 's'} or candidate"
              f"{'' if len(result.rejected) == 1 else 's'} rejected (broken geometry, failed "
              f"relaxation, no Wyckoff assignment): "
              f"listed in summary.json")
    print(f"wrote {out}/summary.csv, summary.json and one folder per structure (CIF, POSCAR, VASP inputs)")
    write_json_option(args.json, {"formula": result.formula, "out": str(out), "seconds": result.seconds,
                            "structures": [r.to_row() for r in records]})
    if not records:  # a run that produced nothing is not a success
        print(f"alphacrystal: error: {result.formula}: no structure was produced ({len(result.rejected)} "
              f"reconstructions or candidates rejected, listed in {out}/summary.json)", file=sys.stderr)
        return 1
    return 0

def _number(value, spec: str) -> str:
    return "" if value is None else format(value, spec)

def score_legend(settings) -> str:
    """The line under ``predict``'s table that says what the score column is (``settings``: the run's
    ``PredictionSettings``; the prior's weight is stored in eV/atom)."""
    return ("score: what the first ranks are ordered by, meV/atom above the lowest of them (energy, by the "
            f"re-ranking potential when there is one, minus {1000 * settings.symmetry_prior:g} meV/atom x ln P(space "
            "group), --symmetry-prior: rank_reason); the rest by dE")


def _result_line(r, delta: float | None) -> str:
    """One row of the ``predict`` table for a :class:`core.predict.record.ResultRecord`
    (route-specific columns blank for the other route)."""
    from core.stability.hull import whole_mev

    energy = r.energy_per_atom
    if r.route == "templates":
        start = f"{r.source} ({r.template_formula}, {r.symbol} Z={r.start_z})"
    else:
        start = f"{r.source} ({r.symbol} Z={r.start_z} p={_number(r.sg_probability, '.2f')})"
    if r.found_also_by:
        start += f"; also {r.found_also_by}"
    relaxed = f"{r.relaxed_symbol} ({r.relaxed_spacegroup})"
    return (f"{r.rank:>4}  {r.folder:<28}{relaxed:<17}"
            f"{_number(energy, '.4f'):>12}{_number(delta, '.1f'):>10}{_number(r.rank_score_meV, '.1f'):>8}"
            f"{'' if r.e_above_hull_meV is None else whole_mev(r.e_above_hull_meV):>13}  {r.stability or '':<11}{_number(r.dice, '.3f'):>7}"
            f"{_number(r.fitness, '.3f'):>9}{_number(r.relaxed_dice, '.3f'):>9}  {start}")

def cmd_screen(args: argparse.Namespace) -> int:
    """``alphacrystal screen``: one prediction per formula on a Dask cluster (core.screen.screening)."""
    import signal

    from core.runtime.terminal import counted, format_seconds
    from core.screen.cluster import ClusterSpec, read_cluster_config, start_cluster
    from core.screen.inputs import read_screen_input
    from core.screen.screening import check_screen_folder, check_screen_outputs, screen

    check_screen_folder(args.out)
    found = read_screen_input(args.input)
    bad = len(found.problems)
    if found.problems and not args.skip_bad_lines:  # checked before any work: a typo is not a shorter screen
        shown = "; ".join(found.problems[:5]) + (f"; and {bad - 5} more" if bad > 5 else "")
        raise AlphaCrystalError(f"{args.input}: {bad} bad line{'s' if bad != 1 else ''}, nothing was run: {shown} "
                                "(correct them, or pass --skip-bad-lines to screen the rest)")
    for problem in found.problems:
        print(f"skipped: {problem}", file=sys.stderr)
    for note in found.notes:
        print(f"note: {note}", file=sys.stderr)
    if not found.items:
        raise AlphaCrystalError(f"{args.input}: no formula left to screen ({bad} bad lines)")
    settings = predict_settings(args)
    check_screen_outputs(args.out, found.items, dataclasses.asdict(settings), args.overwrite)
    if args.scheduler and args.cluster != "local":
        raise AlphaCrystalError("give either --scheduler or --cluster, not both")
    kind = "scheduler" if args.scheduler else args.cluster
    if kind == "local" and args.workers:  # worker processes on this machine, each with a potential loaded
        from core.runtime.parallel import local_processes_problem

        too_many, slower = local_processes_problem(args.workers)
        if too_many:
            raise AlphaCrystalError(f"--workers {args.workers}: {too_many}")
        if slower:
            print(f"alphacrystal: warning: --workers {args.workers}: {slower}", file=sys.stderr)
    config = read_cluster_config(args.cluster_config) if args.cluster_config else {}
    if config and kind not in ("slurm", "pbs"):
        raise AlphaCrystalError("--cluster-config is for --cluster slurm or pbs")
    spec = ClusterSpec(kind, args.scheduler, args.workers, args.threads_per_worker, config)
    print(f"screen: {counted(len(found.items), 'formula')} from {found.source} -> {args.out}"
          + (f" ({bad} bad line{'s' if bad != 1 else ''} skipped)" if bad else ""), flush=True)
    client, cluster = start_cluster(spec, args.retries)

    def progress(p) -> None:
        finished_now = p.done + p.failed
        eta = "" if not finished_now or not p.running else \
            f", ETA {format_seconds(p.elapsed_s / finished_now * p.running)}"
        filled = int(24 * (p.total - p.running) / p.total) if p.total else 24
        print(f"screen [{'#' * filled}{'-' * (24 - filled)}] {format_seconds(p.elapsed_s)}  done "
              f"{p.done + p.skipped}/{p.total} ({p.skipped} earlier), failed {p.failed}, left {p.running}{eta}"
              + (f"  {p.last}" if p.last else ""), flush=True)

    def terminate(signum, frame) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, terminate)
    interrupted = False
    try:
        workers = len(client.scheduler_info().get("workers", {}))
        print(f"Dask dashboard: {client.dashboard_link}  ({workers} workers now; {spec.kind})", flush=True)
        rows = screen(found.items, args.out, dataclasses.asdict(settings), client, retries=args.retries,
                      progress=progress, worker_timeout=_worker_timeout(args.worker_timeout, spec.kind),
                      skipped=tuple(found.problems))
    except KeyboardInterrupt:
        print(f"alphacrystal: screen interrupted; finished formulas are in {Path(args.out) / SCREEN_TABLE} - run the same "
              "command to continue", file=sys.stderr)
        interrupted = True
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)
        client.close()
        if cluster is not None:
            cluster.close()
        if interrupted and spec.kind == "local":  # a worker busy in a prediction outlived its cluster
            from core.runtime.parallel import stop_child_processes

            stop_child_processes()
    failed = [r for r in rows if r["status"] == "failed"]
    print(f"\n{len(rows) - len(failed)} done, {len(failed)} failed: {Path(args.out) / SCREEN_TABLE}, "
          f"{Path(args.out) / SCREEN_REPORT}")
    for row in failed:
        print(f"  failed: {row['formula']}: {row.get('reason', '')}")
    return 1 if failed else 0


def register(groups: dict[str, argparse._SubParsersAction]) -> None:
    """Add this module's commands to the parser groups (``sub``: top level; ``train``, ``evaluate``)."""
    from core.screen.cluster import DEFAULT_WORKER_TIMEOUT

    sub, = groups["sub"],
    p = sub.add_parser("predict", help="formula in, relaxed and ranked crystal structures out (CIF, POSCAR, VASP)")
    p.add_argument("formula", help="chemical formula, e.g. TiO2")
    p.add_argument("--out", type=output_folder,
                   help="output folder (default predictions/FORMULA); re-running into it resumes")
    p.add_argument("--overwrite", action="store_true",
                   help="replace another formula's results in --out (refused otherwise); files you added to "
                        "result folders are kept either way")
    p.add_argument("--top-k", type=top_spacegroups, default=DEFAULT_TOP_K, help=f"space-group candidates (default {DEFAULT_TOP_K})")
    p.add_argument("--z", type=z_or_auto, default="auto", help="formula units in the primitive cell, or auto (default)")
    p.add_argument("--spacegroup", type=spacegroup_number, action="append", metavar="SG",
                   help="try this space group (number or symbol: 225 or Fm-3m; a symbol of another setting, P2_1/n or Pbnm, names "
                        "its group, built in the standard setting) instead of the predicted ones "
                        "(repeatable)")
    p.add_argument("--from-structure", metavar="FILE",
                   help="CMCrystal only, from this structure's space group, lattice and Wyckoff assignment (a "
                        "result's CIF, say), on the predicted map of its Z: the desktop app's 're-run from it'")
    p.add_argument("--jobs", type=local_processes, default=None, help="worker processes (default: one per core this process may use)")
    add_prediction_options(p)
    p.add_argument("--seed", type=seed, default=0, help="seed of the GA runs (default 0; same seed, same result)")
    p.add_argument("--json", metavar="PATH", type=json_output, help="also write the ranked rows as JSON")
    p.set_defaults(func=cmd_predict)
    p = sub.add_parser("screen", help="predict many formulas on a Dask cluster (laptop to SLURM/PBS), "
                                      "resumable, with a report",
                       description="One prediction per formula, run as Dask tasks: a local cluster by default "
                                   "(one worker per core), an existing scheduler, or SLURM/PBS via dask-jobqueue. "
                                   f"Writes DIR/FORMULA/ (as predict), DIR/{SCREEN_TABLE} and DIR/{SCREEN_REPORT}. "
                                   "See docs/screening.md.")
    p.add_argument("input", metavar="INPUT",
                   help="a text file (formula [Z] [space group] per line, # comments), a CSV file with a formula "
                        "column (and optional z, spacegroup, reference), or a pattern such as {Li,Na}{Co,Ni}O2")
    p.add_argument("--out", required=True, type=output_folder,
                   help="output folder; re-running into it skips finished formulas")
    p.add_argument("--scheduler", metavar="ADDRESS", help="connect to a running Dask scheduler, e.g. tcp://host:8786")
    p.add_argument("--cluster", choices=CLUSTERS, default="local",
                   help="local (default: a Dask LocalCluster here), or slurm / pbs through dask-jobqueue")
    p.add_argument("--cluster-config", metavar="FILE",
                   help="dask-jobqueue settings for slurm/pbs (queue, cores, memory, walltime, account, ...)")
    p.add_argument("--workers", type=processes, default=None,
                   help="local: worker processes (default one per core); slurm/pbs: batch jobs (default 1)")
    p.add_argument("--threads-per-worker", type=processes, default=1,
                   help="threads per worker (default 1: each formula runs on one core)")
    p.add_argument("--skip-bad-lines", action="store_true",
                   help="screen the good lines of an input with bad ones (default: refuse, naming them)")
    p.add_argument("--overwrite", action="store_true",
                   help="re-run and replace the results of formulas that --out holds from a screen with other "
                        "settings (default: refuse, naming them; the same settings continue that screen)")
    p.add_argument("--retries", type=Number(int, 0, 100), default=2,
                   help="re-runs of a formula whose task crashed or whose worker died (default 2)")
    p.add_argument("--worker-timeout", type=positive_float, default=None, metavar="SECONDS",
                   help="stop with an error when the cluster has had no worker for this long while formulas are "
                        f"left (default {DEFAULT_WORKER_TIMEOUT:g} s on a local cluster or a scheduler; none on "
                        "SLURM/PBS, whose batch jobs may wait in the queue for hours)")
    p.add_argument("--top-k", type=top_spacegroups, default=DEFAULT_TOP_K,
                   help=f"space-group candidates per formula (default {DEFAULT_TOP_K})")
    add_prediction_options(p)
    p.add_argument("--seed", type=seed, default=0, help="seed of the GA runs (default 0)")
    p.set_defaults(func=cmd_screen, z="auto", spacegroup=None, jobs=1)
