"""``alphacrystal evaluate contact-map|candidates|reconstruction|prediction``: held-out figures with baselines.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from core.cli.options import (
    DEFAULT_TOP_K,
    add_ga_arguments,
    add_prediction_options,
    add_rule_argument,
    add_size_filter_arguments,
    atom_range,
    ga_settings,
    json_output,
    local_processes,
    non_negative,
    parse_atom_range,
    plot_output,
    positive,
    positive_float,
    predict_settings,
    seed,
    spacegroup_number,
    top_spacegroups,
    write_json_option,
    z_or_auto,
)
from core.cli.proposals import candidate_model
from core.crystal.composition import MP20_MAX_ATOMS, PAPER_MAX_ATOMS
from core.data.sampling import SPLITS
from core.errors import AlphaCrystalError
from core.predict.settings import PredictionSettings


def cmd_evaluate_contact_map(args: argparse.Namespace) -> int:
    from core.contact_model.inference import DEFAULT_MODEL_PATH, LARGE_CELL_MODEL_PATH

    wanted = parse_atom_range(args.atoms) if args.atoms else (1, 10**6)
    if args.model:
        plan = [(args.model, wanted)]
    else:  # each cell with the model `predict` uses for it (model_for_cell)
        plan = [(str(DEFAULT_MODEL_PATH), (1, 12))]
        if LARGE_CELL_MODEL_PATH.is_file():
            plan.append((str(LARGE_CELL_MODEL_PATH), (13, 20)))
        plan = [(path, (max(low, wanted[0]), min(high, wanted[1]))) for path, (low, high) in plan]
        plan = [(path, (low, high)) for path, (low, high) in plan if low <= high]
        if not plan:
            raise AlphaCrystalError(f"--atoms {args.atoms}: the shipped models take cells of 1-20 atoms")
    plots = {atoms: _histogram_path(args.plot, atoms, derived=not args.model) for _, atoms in plan}
    for (low, high), plot in plots.items():  # a derived name is checked as --plot was, before any work
        if plot and plot != args.plot:
            try:
                plot_output(plot)
            except argparse.ArgumentTypeError as exc:
                raise AlphaCrystalError(f"--plot {args.plot}: the histogram of the {low}-{high}-atom cells "
                                        f"goes to {exc}") from None
    results, empty = {}, []
    for path, atoms in plan:
        result = _evaluate_contact_model_on(args, path, atoms, plots[atoms])
        if result["n"] == 0:
            empty.append(f"{atoms[0]}-{atoms[1]} atoms ({Path(path).name}): "
                         + (f"all {result['n_removed_seen_in_training']} have a formula seen in training"
                            if result["n_removed_seen_in_training"] else "none in the sample"))
            continue
        results[f"{atoms[0]}-{atoms[1]}"] = result
    if not results:
        raise AlphaCrystalError(f"{args.data}: no structure to evaluate in the {args.split} split: "
                                + "; ".join(empty))
    for line in empty:
        print(f"not evaluated: {line}")
    write_json_option(args.json, next(iter(results.values())) if len(results) == 1 else {"by_cell_size": results})
    return 0

def _histogram_path(plot: str | None, atoms: tuple[int, int], derived: bool) -> str | None:
    """Where the Dice histogram of the cells of ``atoms`` goes: ``--plot`` itself, or with the shipped
    models (``derived``) one file per model, ``NAME-13-20.png`` beside ``NAME.png`` for the 20-atom one."""
    if not plot or not derived or atoms == (1, 12):
        return plot
    return str(Path(plot).with_name(f"{Path(plot).stem}-{atoms[0]}-{atoms[1]}{Path(plot).suffix}"))


def _evaluate_contact_model_on(args: argparse.Namespace, model_path: str, atoms: tuple[int, int],
                               plot: str | None) -> dict:
    """Evaluate one model on the cells of ``atoms`` = (low, high) atoms of ``args.data``,
    print its table, write its histogram to ``plot`` and return its figures (``n`` = 0 when nothing
    was left to evaluate)."""
    from core.contact_model import DataSettings, load_contact_data, load_model
    from core.contact_model.evaluation import evaluate_contact_model
    from core.data.datasets import load_dataset
    from core.data.featurize import featurize_dataset

    model = load_model(model_path, args.device)
    low, high = atoms[0], min(atoms[1], model.max_atoms)
    recorded = DataSettings.from_dict(model.metadata["data"])
    data: Any = None  # a FeaturizedDataset once chosen
    if args.split == "all":
        data = load_dataset(args.data).filter(min_atoms=low, max_atoms=high)
        if len(data) == 0:  # said before the training data is needed
            return {"n": 0, "n_removed_seen_in_training": 0}
        data = featurize_dataset(data, model.max_atoms)
    train_path = _training_data(args, recorded)
    base = load_contact_data(DataSettings.from_dict({**recorded.to_dict(), "path": train_path}))
    _check_training_split(train_path, base.train.formulas, model.train_formulas)
    if data is None and Path(args.data).resolve() == Path(train_path).resolve():
        data = getattr(base, args.split)
    elif data is None:
        other = load_contact_data(DataSettings.from_dict({**recorded.to_dict(), "path": args.data}))
        data = getattr(other, args.split)
    data = data.subset(np.flatnonzero((data.n_atoms >= low) & (data.n_atoms <= high)))
    print(f"\ncells of {low}-{high} atoms: {Path(model_path).name} (contact model of up to {model.max_atoms} atoms)")
    if len(data) == 0:
        return {"n": 0, "n_removed_seen_in_training": 0}
    result = evaluate_contact_model(model, data, base.train, plot=plot)
    if result["n"] == 0:
        return result
    print(f"n = {result['n']} structures ({result['n_removed_seen_in_training']} removed: formula seen in training)")
    rows = [("model", result["dice_mean"], result["exact_fraction"]),
            ("model, matched (same-element permutations)", result["matched_dice_mean"], result["matched_exact_fraction"]),
            ("baseline: pair prior", result["baseline_pair_prior_dice_mean"], result["baseline_pair_prior_exact_fraction"]),
            ("baseline: nearest composition", result["baseline_nearest_dice_mean"], result["baseline_nearest_exact_fraction"]),
            ("baseline: nearest, same stoichiometry", result["baseline_nearest_same_pattern_dice_mean"],
             result["baseline_nearest_same_pattern_exact_fraction"])]
    if "baseline_nearest_in_model_bank_dice_mean" in result:
        rows.append(("baseline: nearest in model bank (train+val)", result["baseline_nearest_in_model_bank_dice_mean"],
                     result["baseline_nearest_in_model_bank_exact_fraction"]))
    print(f"{'':<44}{'Dice mean':>10}{'exact':>8}")
    for name, value, exact in rows:
        print(f"{name:<44}{value:>10.3f}{100 * exact:>7.1f}%")
    print(f"Dice std {result['dice_std']:.3f}   >= 0.8: {100 * result['ge_0_8_fraction']:.1f}%   "
          f"inference {result['ms_per_formula']:.2f} ms/formula (batched, {model.device})")
    if args.per_structure:
        print(f"\n{'material_id':<16}{'formula':<14}{'atoms':>6}{'Dice':>8}{'matched':>9}")
        for row in result["structures"]:
            print(f"{row['material_id']:<16}{row['formula']:<14}{row['n_atoms']:>6}{row['dice']:>8.3f}{row['matched_dice']:>9.3f}")
    if plot:
        print(f"histogram: {plot}")
    return {**result, "model": str(model_path), "atoms": [low, high]}

def _training_data(args: argparse.Namespace, recorded) -> str:
    """The data file a model was trained on, needed for the baselines and the split: ``--train-data``;
    else the path recorded in the model, as given or, when relative, from the repository root (where
    the shipped models were trained); else ``--data`` when it is a file of the recorded name (the
    same data set kept elsewhere), with a note. Whichever it is, its training split is then
    checked against the formulas the model records (:func:`_check_training_split`).

    Raises
    ------
    AlphaCrystalError
        When none of these exists.
    """
    if args.train_data:
        if not Path(args.train_data).exists():
            raise AlphaCrystalError(f"--train-data {args.train_data}: no such file")
        return str(args.train_data)
    from resources import RESOURCE_DIR

    path = Path(recorded.path)
    repository = RESOURCE_DIR.parent  # where the shipped models were trained, their paths relative to it
    for place in (path, repository / path):  # an absolute path stays itself under "/"
        if place.exists():
            return str(place)
    if Path(args.data).name == path.name and Path(args.data).is_file():
        print(f"note: the training data is taken to be {args.data} (the model records {recorded.path}, not found "
              "here; --train-data names another file)", flush=True)
        return str(args.data)
    raise AlphaCrystalError(f"training data {recorded.path} (recorded in the model) not found, needed for the "
                            "baselines; pass --train-data FILE")


def _check_training_split(path: str, split_formulas, model_formulas) -> None:
    """The training file is the model's when its training split is among the formulas the model
    records as seen (a content check: a file of the recorded name elsewhere, or one changed
    since, would draw another split and give the baselines other structures).

    Raises
    ------
    AlphaCrystalError
        When formulas of the file's training split are unknown to the model.
    """
    unknown = set(split_formulas) - set(model_formulas)
    if model_formulas and unknown:
        many = len(unknown) != 1
        raise AlphaCrystalError(f"{path}: not the data the model was trained on ({len(unknown)} formula"
                                f"{'s' if many else ''} of its training split, e.g. {sorted(unknown)[0]}, "
                                f"{'are' if many else 'is'} not among the model's {len(set(model_formulas))}); "
                                "pass --train-data with the model's training file")


def cmd_evaluate_candidates(args: argparse.Namespace) -> int:
    from core.candidates.data import candidate_table, load_candidate_data
    from core.candidates.evaluation import evaluate_candidates
    from core.contact_model import DataSettings
    from core.data.datasets import load_dataset

    atoms = parse_atom_range(args.atoms) if args.atoms else None
    if args.model is None and atoms is not None and atoms[1] > PAPER_MAX_ATOMS:  # the model predict uses for such cells
        from core.candidates.propose import load_large_cell_candidate_model

        model = load_large_cell_candidate_model() or candidate_model(None)
    else:
        model = candidate_model(args.model)
    print(f"model: {args.model or 'shipped'}, cells of up to {model.max_atoms} atoms")
    recorded = DataSettings.from_dict(model.metadata["data"])
    train_path = _training_data(args, recorded)
    base = load_candidate_data(DataSettings.from_dict({**recorded.to_dict(), "path": train_path}))
    _check_training_split(train_path, base.train.formulas, model.train_formulas)
    if args.split == "all":
        table = candidate_table(load_dataset(args.data).filter(max_atoms=model.max_atoms))
    elif Path(args.data).resolve() == Path(train_path).resolve():
        table = getattr(base, args.split)
    else:
        table = getattr(load_candidate_data(DataSettings.from_dict({**recorded.to_dict(), "path": args.data})),
                        args.split)
    drawn = len(table)
    seen = set(model.train_formulas)
    keep = np.array([f not in seen for f in table.formulas], dtype=bool)
    table = table.subset(np.flatnonzero(keep))
    if atoms:
        low, high = atoms
        table = table.subset(np.flatnonzero((table.nsites >= low) & (table.nsites <= high)))
        print(f"cells of {low}-{high} atoms only")
    if len(table) == 0:
        raise AlphaCrystalError(
            f"{args.data}: no structure to evaluate in the {args.split} split: {drawn} of up to {model.max_atoms} "
            f"atoms, {int((~keep).sum())} of them with a formula seen in training"
            + (f", none left of {atoms[0]}-{atoms[1]} atoms" if atoms else ""))
    result = evaluate_candidates(model, table, base.train) | {"n_removed_seen_in_training": int((~keep).sum())}
    print(f"n = {result['n']} structures ({result['n_removed_seen_in_training']} removed: formula seen in training)")
    print(f"{'space group (Z unknown)':<40}{'top-1':>7}{'top-3':>7}{'top-5':>7}{'top-10':>7}")
    for name, prefix, suffix in (("model", "sg_top", ""), ("model given the true Z", "sg_top", "_given_z"),
                                 ("baseline: frequency (true atom count)", "baseline_frequency_sg_top", "")):
        print(f"{name:<40}" + "".join(f"{100 * result[f'{prefix}{k}{suffix}']:>6.1f}%" for k in (1, 3, 5, 10)))
    print(f"{'crystal system':<40}{'top-1':>7}{'top-2':>7}")
    print(f"{'model':<40}{100 * result['crystal_system_top1']:>6.1f}%{100 * result['crystal_system_top2']:>6.1f}%")
    print(f"{'baseline: frequency':<40}{100 * result['baseline_frequency_crystal_system_top1']:>6.1f}%"
          f"{100 * result['baseline_frequency_crystal_system_top2']:>6.1f}%")
    print(f"{'lattice (true space group and Z)':<40}{'abc MAPE':>9}{'abc MAE':>9}{'V/atom MAPE':>12}"
          f"{'R2 a':>7}{'R2 b':>7}{'R2 c':>7}")
    for name, prefix in (("model", ""), ("baseline: prototype + atomic volumes", "baseline_prototype_")):
        print(f"{name:<40}{result[prefix + 'abc_mape']:>8.2f}%{result[prefix + 'abc_mae']:>7.3f} Å"
              f"{result[prefix + 'volume_mape']:>11.2f}%" + "".join(
                  f"{result[prefix + k + '_r2']:>7.3f}" for k in "abc"))
    print(f"cubic a R2 {result['cubic_a_r2']:.3f}   {result['ms_per_formula']:.1f} ms/formula (CPU)")
    sample = {"data": str(args.data), "split": args.split, "atoms": list(atoms) if atoms else None,
              "model": args.model or "shipped", "model_max_atoms": int(model.max_atoms), "training_data": str(train_path)}
    write_json_option(args.json, {"sample": sample, **result})  # what was measured, as the other evaluations say
    return 0

def _evaluation_sample(args: argparse.Namespace):
    """The :class:`core.data.sampling.EvaluationSample` of an ``evaluate`` command's options."""
    from core.data.sampling import EvaluationSample

    min_atoms = getattr(args, "min_atoms", 1)
    if min_atoms > args.max_atoms:
        raise AlphaCrystalError(f"--min-atoms {min_atoms} is above --max-atoms {args.max_atoms}")
    return EvaluationSample(data=str(args.data), split=getattr(args, "split", "test"), max_atoms=args.max_atoms,
                            min_atoms=min_atoms, compositions=getattr(args, "compositions", "any"), n=args.n,
                            seed=args.seed, exclude_from=tuple(getattr(args, "exclude_from", None) or ()))

def _sample_structures(args: argparse.Namespace) -> list:
    """(material id, Structure) of the sample an ``evaluate`` command's options describe."""
    return _evaluation_sample(args).draw()

def cmd_evaluate_prediction(args: argparse.Namespace) -> int:
    import multiprocessing

    from core.predict.evaluation import evaluate_prediction

    multiprocessing.freeze_support()
    data = Path(args.data)
    structures = _sample_structures(args)
    settings = predict_settings(args)
    protocols = {"predicted": False, "given": True}
    chosen = list(protocols) if args.protocol == "both" else [args.protocol]
    results = {}
    for name in chosen:
        print(f"{len(structures)} formulas from {data} ({args.split}), true Z given, "
              f"{'true space group given' if protocols[name] else f'top-{settings.top_k} predicted space groups'}, "
              f"{args.jobs or 1} formulas at a time", flush=True)

        def show(done: int, total: int, row: dict) -> None:
            rank = row.get("match_rank")
            status = row.get("error") or (f"match at rank {rank}, rms {row['rms']:.3f}" if rank else "no match")
            print(f"  [{done}/{total}] {row['id']:<12} {row['formula']:<12} Z={row['z']} sg {row['spacegroup']:<4}"
                  f"{row['seconds']:6.1f} s  {status}", flush=True)

        results[name] = evaluate_prediction(structures, settings, protocols[name], args.jobs or 1, show)
        r = results[name]
        print(f"{name} space groups: match rate top-1 {r['match_rate_top1']:.3f}, top-5 {r['match_rate_top5']:.3f}, "
              f"RMS {r['rms_mean']:.3f}, attempted {r['attempted_fraction']:.3f}, "
              f"{r['seconds_per_formula']:.1f} s/formula (one core), {r['ga_generations_per_formula']:.0f} GA "
              f"generations and {r['relax_steps_per_formula']:.0f} relaxation steps per formula", flush=True)
        for route, alone in r["by_route_alone"].items():
            print(f"  {route} alone: top-1 {alone['match_rate_top1']:.3f}, top-5 {alone['match_rate_top5']:.3f}; "
                  f"first correct structure from {route}: {r['first_match_by_source'][route]:.3f}", flush=True)
    main_result = results["predicted"] if "predicted" in results else results["given"]
    payload = {k: v for k, v in main_result.items() if k != "structures"}
    if "given" in results and "predicted" in results:
        payload["given_spacegroup"] = {k: v for k, v in results["given"].items() if k != "structures"}
    payload["sample"] = _evaluation_sample(args).record(len(structures))
    from core.predict.evaluation import LITERATURE_MATCH_RATES

    payload["anchors"] = {**LITERATURE_MATCH_RATES,
                          "note": "MP-20 test set, up to 20 atoms, one sample per formula (top-1); TCSP 2.0 and "
                                  "PNcsp+: top-5 structure match on CSPBench; ours: <= "
                                  f"{args.max_atoms} atoms, held-out formulas of our split, true Z given"}
    payload["structures"] = {name: r["structures"] for name, r in results.items()}
    write_json_option(args.json, payload)
    return 0

def cmd_evaluate_reconstruction(args: argparse.Namespace) -> int:
    import multiprocessing

    from core.reconstruction.evaluation import evaluate_reconstruction

    multiprocessing.freeze_support()
    data = Path(args.data)
    structures = _sample_structures(args)
    print(f"{len(structures)} structures from {data} ({args.split}), {args.assignments} Wyckoff assignments x "
          f"{args.restarts} restarts each (below fitness 1: up to {args.escalate} assignments), population "
          f"{args.population}, up to {args.generations} generations",
          flush=True)

    def progress(done: int, total: int) -> None:
        if done % max(1, total // 20) == 0 or done == total:
            print(f"  {done}/{total} GA runs done", flush=True)

    relax = None
    if args.relax_top:
        from core.relax.relaxer import RelaxSettings

        relax = RelaxSettings(fmax=args.fmax, steps=args.relax_steps)
        print(f"then CHGNet relaxation of the best {args.relax_top} distinct results and of the true structure "
              f"({args.relax_steps} steps, fmax {args.fmax} eV/Å); the lowest energy is ranked first", flush=True)
    result = evaluate_reconstruction(structures, args.assignments, args.restarts, ga_settings(args),
                                     args.jobs, args.seed, progress, relax, args.relax_top, args.escalate,
                                     args.rule or "paper")
    result["sample"] = _evaluation_sample(args).record(len(structures))
    print(f"{'id':<22}{'formula':<12}{'atoms':>6}{'sg':>5}{'fitness':>9}{'Dice':>7}{'match':>7}{'rms':>7}"
          f"{'RMSD':>7}{'MAE':>7}")
    for row in result["structures"]:
        rms = f"{row['rms']:.3f}" if row["rms"] is not None else "-"
        print(f"{row['id']:<22}{row['formula']:<12}{row['n_atoms']:>6}{row['spacegroup']:>5}{row['fitness']:>9.3f}"
              f"{row['dice']:>7.3f}{'yes' if row['matched'] else 'no':>7}{rms:>7}{row['rmsd']:>7.3f}"
              f"{row['mae']:>7.3f}")
    print(f"n {result['n']}  match rate {result['match_rate']:.3f}  Dice {result['dice_mean']:.3f}  "
          f"fitness 1: {result['fitness_1_fraction']:.3f}  RMSD {result['rmsd_mean']:.3f}  MAE {result['mae_mean']:.3f}")
    print(f"{result['evals_per_s_per_core']:,.0f} evaluations/s/core, {result['seconds_per_structure']:.1f} s per "
          f"structure (wall), {result['cpu_seconds_per_structure']:.1f} s CPU"
          + (f"; skipped {len(result['skipped'])}" if result["skipped"] else "")
          + (f"; {result['escalated']} escalated to {args.escalate} assignments" if result["escalated"] else ""))
    if relax is not None:
        print(f"energy-ranked (CHGNet): match rate {result['match_rate_energy']:.3f}; some relaxed result matches "
              f"{result['match_rate_any_relaxed']:.3f}; of {result['energy_misses']} misses, the true structure "
              f"is lower in energy for {result['energy_misses_truth_lower']}")
    write_json_option(args.json, result)
    return 0


def register(groups: dict[str, argparse._SubParsersAction]) -> None:
    """Add this module's commands to the parser groups (``sub``: top level; ``train``, ``evaluate``)."""
    evaluate, = groups["evaluate"],
    p = evaluate.add_parser("contact-map", help="Dice of predicted contact maps against true ones, with baselines")
    p.add_argument("--data", required=True, help="CSV(.gz) or folder of CIFs (structures with <= L atoms are used)")
    p.add_argument("--split", choices=SPLITS, default="all",
                   help="all rows (default), or the model's recorded held-out split of this file")
    p.add_argument("--model", default=None,
                   help="contact model file (default: the shipped ones as predict uses them: the 12-atom model "
                        "for cells of up to 12 atoms, the 20-atom model for 13-20; one table each)")
    p.add_argument("--train-data", default=None, help="training data for the baselines (default: as recorded)")
    p.add_argument("--device", default="auto", help="auto (CUDA if present), cpu or cuda[:N]")
    p.add_argument("--plot", metavar="PNG", type=plot_output, help="write a histogram of Dice (paper Figure 3)")
    p.add_argument("--per-structure", action="store_true", help="print one row per structure")
    p.add_argument("--json", metavar="PATH", type=json_output, help="write all figures as JSON")
    p.add_argument("--atoms", metavar="LOW-HIGH", type=atom_range, default=None,
                   help="only cells of LOW to HIGH atoms (e.g. 13-20; 12 means 1-12)")
    p.set_defaults(func=cmd_evaluate_contact_map)
    p = evaluate.add_parser("candidates", help="space-group top-k and lattice errors, with baselines")
    p.add_argument("--data", required=True, help="CSV(.gz) or folder of CIFs (structures with <= L atoms are used)")
    p.add_argument("--split", choices=SPLITS, default="all",
                   help="all rows (default), or the model's recorded held-out split of this file")
    p.add_argument("--model", default=None, help="candidate model file (default: the shipped one)")
    p.add_argument("--train-data", default=None, help="training data for the baselines (default: as recorded)")
    p.add_argument("--atoms", metavar="LOW-HIGH", type=atom_range, default=None,
                   help="only cells of LOW to HIGH atoms (e.g. 13-20; 12 means 1-12)")
    p.add_argument("--json", metavar="PATH", type=json_output, help="write all figures as JSON")
    p.set_defaults(func=cmd_evaluate_candidates)
    p = evaluate.add_parser("reconstruction", help="oracle-mode reconstruction: match rate, Dice, RMSD, speed")
    p.add_argument("--data", required=True, help="CSV(.gz) or folder of CIFs")
    p.add_argument("--split", choices=SPLITS, default="all",
                   help="all structures (default), or the held-out test or validation formulas of the models")
    p.add_argument("--n", type=non_negative, default=200, help="seeded sample of at most N structures (0: all; default %(default)s)")
    p.add_argument("--max-atoms", type=positive, default=PAPER_MAX_ATOMS, help=f"largest primitive cell sampled (default {PAPER_MAX_ATOMS})")
    add_size_filter_arguments(p)
    add_rule_argument(p)
    add_ga_arguments(p)
    p.add_argument("--relax-top", type=non_negative, default=0, metavar="M",
                   help="also relax the best M distinct results (and the truth) with CHGNet and rank by energy")
    p.add_argument("--relax-steps", type=positive, default=150, help="CHGNet optimiser steps (with --relax-top)")
    p.add_argument("--fmax", type=positive_float, default=PredictionSettings.fmax,
                   help=f"force criterion in eV/Å (with --relax-top; default {PredictionSettings.fmax:g})")
    p.add_argument("--json", metavar="PATH", type=json_output, help="write all figures as JSON")
    p.set_defaults(func=cmd_evaluate_reconstruction)
    p = evaluate.add_parser("prediction", help="full CSP: formula and Z in, match rate of the ranked structures")
    p.add_argument("--data", required=True, help="CSV(.gz) or folder of CIFs")
    p.add_argument("--split", choices=SPLITS, default="test",
                   help="held-out formulas: test (default) or validation (for tuning), or all structures; "
                        "up to 12 atoms the paper's scope, above it all compositions (core.data.formula_split)")
    p.add_argument("--n", type=non_negative, default=30, help="seeded sample of at most N structures (0: all; default %(default)s)")
    p.add_argument("--max-atoms", type=positive, default=PAPER_MAX_ATOMS,
                   help=f"largest cell sampled: up to {PAPER_MAX_ATOMS} the paper's scope, up to {MP20_MAX_ATOMS} all "
                        f"compositions (default {PAPER_MAX_ATOMS})")
    p.add_argument("--protocol", choices=["predicted", "given", "both"], default="both",
                   help="predicted top-k space groups, the true space group given, or both (default)")
    add_size_filter_arguments(p)
    p.add_argument("--top-k", type=top_spacegroups, default=DEFAULT_TOP_K, help=f"space-group candidates (default {DEFAULT_TOP_K})")
    p.add_argument("--z", type=z_or_auto, default="auto", help=argparse.SUPPRESS)
    p.add_argument("--spacegroup", type=spacegroup_number, action="append", help=argparse.SUPPRESS)
    p.add_argument("--jobs", type=local_processes, default=None, help="formulas evaluated at a time, one core each")
    add_prediction_options(p)
    p.add_argument("--seed", type=seed, default=0, help="seed of the sample (default 0)")
    p.add_argument("--json", metavar="PATH", type=json_output, help="write all figures as JSON")
    p.set_defaults(func=cmd_evaluate_prediction)
