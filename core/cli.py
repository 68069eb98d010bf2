"""The ``alphacrystal`` command line: thin wrappers that parse arguments, call ``core`` and print.

Every sub-command that computes figures accepts ``--json PATH`` and writes them
there. Bad input ends with one ``alphacrystal: error: ...`` line and exit code 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

import numpy as np

from core.errors import AlphaCrystalError, AlphaCrystalWarning
from core.predict.ranking import NEAR_TIE_EV
from core.reconstruction.ga import MIN_POPULATION  # one rule, the GA's own
from core.relax.potentials import DEFAULT_POTENTIAL, POTENTIALS
from core.stability.hull import DEFAULT_EHULL_THRESHOLD_EV
from core.stability.hull import DEFAULT_FRAME as DEFAULT_STABILITY_FRAME
from core.stability.hull import FRAMES as STABILITY_FRAMES

__version__ = "0.1.0"


def _write_json(path: str | None, payload: dict) -> None:
    if path:
        from core.io.files import write_json

        write_json(path, payload)


def format_contact_map(labels: Sequence[str], matrix: np.ndarray) -> str:
    """The map as a labelled 0/1 table."""
    width = max(3, *(len(lab) for lab in labels)) + 1
    lines = [" " * width + "".join(f"{lab:>{width}}" for lab in labels)]
    for lab, row in zip(labels, matrix):
        lines.append(f"{lab:<{width}}" + "".join(f"{int(v):>{width}}" for v in row))
    return "\n".join(lines)


_STRUCTURE_SUFFIXES = (".cif", ".vasp", ".json", ".poscar", ".contcar", ".gz")


def _looks_like_formula(text: str) -> bool:
    """A missing path without a folder, a structure-file suffix or a POSCAR-like name."""
    path = Path(text)
    if path.exists() or "/" in text or "\\" in text:
        return False
    name = path.name.lower()
    return not (name.endswith(_STRUCTURE_SUFFIXES) or name.startswith(("poscar", "contcar")))


def cmd_contact_map(args: argparse.Namespace) -> int:
    if not args.file.strip():
        raise AlphaCrystalError("contact-map: the formula or file name is empty")
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
    from core.crystal.composition import formula_unit_text
    from core.crystal.symmetry import space_group
    from core.io.structures import primitive_cell, read_structure

    structure = read_structure(args.file)
    cell = structure if args.as_given else primitive_cell(structure)
    window = DEFAULT_TOLERANCE if args.tolerance is None else args.tolerance
    cmap = compute_contact_map(cell, tolerance=window, rule=args.rule or "paper")
    number, symbol = space_group(cell)
    print(f"file: {args.file}")
    print(
        f"formula: {formula_unit_text(cell.composition)}   atoms ({'as given' if args.as_given else 'primitive cell'}): "
        f"{len(cell)}   space group: {symbol} ({number})   window: r_i + r_j ± {window} Å"
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
    payload = {"file": str(args.file), "formula": formula_unit_text(cell.composition),
               "spacegroup_number": number, "spacegroup_symbol": symbol,
               "primitive": not args.as_given, **cmap.to_dict()}
    _write_json(args.json, payload)
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

    parsed = parse_formula(args.file)
    z, how = args.z, "as given" if args.z else None
    if args.model:
        model = load_model(args.model, args.device)
        how = how or "from the model's training statistics"
    else:  # the Z and the model `predict` would use
        z, reading = _z_as_predict_reads_it(parsed, args.z)
        if reading:
            print(f"note: {reading}")
        how = how or ("as typed" if reading else "the top space-group candidate's, as predict tries first")
        model = model_for_cell(z * parsed.atoms_per_formula_unit, args.device)
    prediction = predict_contact_map(parsed, z=z, model=model)
    n = len(prediction.species)
    print(f"formula: {prediction.formula}   Z = {prediction.z} ({how}; {n} atoms, primitive cell; "
          f"Z options {', '.join(map(str, prediction.z_options))}; model of up to {model.max_atoms} atoms)   "
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
    _write_json(args.json, prediction.to_dict())
    return 0


def _z_as_predict_reads_it(parsed, z: int | None) -> tuple[int, str | None]:
    """(Z, note): a given or typed Z as ``predict`` reads it (:func:`core.predict.pipeline.z_from_formula`),
    else the Z of the top space-group candidate (the shipped models pooled, as ``predict``)."""
    from core.candidates import propose_candidates
    from core.predict.pipeline import z_from_formula

    z, reading = z_from_formula(parsed, z)
    if z is None:
        top = propose_candidates(parsed, top_k=1, count_wyckoff=False)
        if not top:
            raise AlphaCrystalError(f"no space group admits '{parsed.text}' in a cell of up to 20 atoms; pass --z")
        z = top[0].z
    return z, reading


def cmd_evaluate_contact_map(args: argparse.Namespace) -> int:
    from core.contact_model.inference import DEFAULT_MODEL_PATH, LARGE_CELL_MODEL_PATH

    wanted = _atom_range(args.atoms) if args.atoms else (1, 10**6)
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
    results, empty = {}, []
    for path, atoms in plan:
        result = _evaluate_contact_model_on(args, path, atoms)
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
    _write_json(args.json, next(iter(results.values())) if len(results) == 1 else {"by_cell_size": results})
    return 0


def _evaluate_contact_model_on(args: argparse.Namespace, model_path: str, atoms: tuple[int, int]) -> dict:
    """Evaluate one model on the cells of ``atoms`` = (low, high) atoms of ``args.data``,
    print its table and return its figures (``n`` = 0 when nothing was left to evaluate)."""
    from core.contact_model import DataSettings, load_contact_data, load_model
    from core.contact_model.evaluation import evaluate_contact_model
    from core.data.datasets import load_dataset
    from core.data.featurize import featurize_dataset

    model = load_model(model_path, args.device)
    low, high = atoms[0], min(atoms[1], model.max_atoms)
    recorded = DataSettings.from_dict(model.metadata["data"])
    train_path = args.train_data or recorded.path
    data = None
    if args.split == "all":
        data = load_dataset(args.data).filter(min_atoms=low, max_atoms=high)
        if len(data) == 0:  # said before the training data is needed
            return {"n": 0, "n_removed_seen_in_training": 0}
        data = featurize_dataset(data, model.max_atoms)
    if not Path(train_path).exists():
        raise AlphaCrystalError(f"training data {train_path} not found (needed for the baselines); pass --train-data")
    base = load_contact_data(DataSettings.from_dict({**recorded.to_dict(), "path": train_path}))
    if data is None and Path(args.data).resolve() == Path(train_path).resolve():
        data = getattr(base, args.split)
    elif data is None:
        other = load_contact_data(DataSettings.from_dict({**recorded.to_dict(), "path": args.data}))
        data = getattr(other, args.split)
    data = data.subset(np.flatnonzero((data.n_atoms >= low) & (data.n_atoms <= high)))
    print(f"\ncells of {low}-{high} atoms: {Path(model_path).name} (contact model of up to {model.max_atoms} atoms)")
    if len(data) == 0:
        return {"n": 0, "n_removed_seen_in_training": 0}
    plot = args.plot
    if plot and not args.model and (low, high) != (1, 12):  # one histogram per model
        plot = str(Path(plot).with_name(f"{Path(plot).stem}-{low}-{high}{Path(plot).suffix}"))
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


def _candidate_model(path: str | None):
    from core.candidates import CandidateModel, load_default_candidate_model

    return CandidateModel.load(path) if path else load_default_candidate_model()


def cmd_candidates(args: argparse.Namespace) -> int:
    from core.candidates import CandidateModel, propose_candidates

    # without --model the shipped models choose as `predict` does: both pooled when Z is
    # automatic, the 20-atom one for a given Z of 13-20 atoms (candidate_model_for)
    model = CandidateModel.load(args.model) if args.model else None
    start = time.perf_counter()
    candidates = propose_candidates(args.formula, top_k=args.top_k, z=args.z, model=model,
                                    count_wyckoff=not args.no_wyckoff)
    seconds = time.perf_counter() - start
    if not candidates:
        raise AlphaCrystalError(f"no space group admits '{args.formula}' with the allowed Z")
    print(f"{'rank':>4}  {'sg':>3} {'symbol':<10}{'system':<13}{'prob':>6}{'Z':>3}{'atoms':>6}"
          f"{'a':>8}{'b':>8}{'c':>8}{'alpha':>7}{'beta':>7}{'gamma':>7}{'Wyckoff':>9}")
    for k, c in enumerate(candidates, 1):
        a, b, cc, al, be, ga = c.lattice
        wyck = "-" if c.n_wyckoff_assignments is None else str(c.n_wyckoff_assignments)
        print(f"{k:>4}  {c.spacegroup:>3} {c.symbol:<10}{c.crystal_system:<13}{c.probability:>6.3f}{c.z:>3}"
              f"{c.n_atoms:>6}{a:>8.3f}{b:>8.3f}{cc:>8.3f}{al:>7.1f}{be:>7.1f}{ga:>7.1f}{wyck:>9}")
    print(f"lattice: conventional cell, Å and degrees; atoms: primitive cell; "
          f"Wyckoff: feasible assignments ({1000 * seconds:.0f} ms)")
    _write_json(args.json, {"formula": args.formula, "candidates": [c.to_dict() for c in candidates]})
    return 0


def cmd_templates(args: argparse.Namespace) -> int:
    from core.crystal.composition import parse_formula
    from core.predict.pipeline import MAX_ATOMS, check_scope
    from core.templates.library import load_library
    from core.templates.retrieval import retrieve_templates

    parsed = parse_formula(args.formula)
    check_scope(parsed, args.z)
    library = load_library(args.library)
    found = retrieve_templates(parsed, z=args.z, top_k=args.top_k, library=library, scorer=args.scorer,
                               max_atoms=MAX_ATOMS)
    print(f"{parsed.unit_formula}" + (f" Z={args.z}" if args.z else " (every Z up to "
                                         f"{MAX_ATOMS} atoms)")
          + f": {len(found)} distinct templates from {len(library)} known structures")
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
              "similar: lower-scored templates giving the same structure")
    _write_json(args.json, {"formula": parsed.unit_formula, "z": args.z,
                            "templates": [c.to_dict() for c in found]})
    return 0


def cmd_train_candidates(args: argparse.Namespace) -> int:
    import shlex

    import torch

    from core.candidates.data import load_candidate_data
    from core.candidates.training import CandidateTrainingConfig, train_candidate_model
    from core.contact_model import DataSettings

    if args.threads:
        torch.set_num_threads(args.threads)
    settings = DataSettings(path=args.data, max_atoms=args.max_atoms, split_seed=args.split_seed)
    print(f"loading {args.data} and finding space groups (cached after the first run) ...", flush=True)
    data = load_candidate_data(settings)
    print(f"train {len(data.train)}  validation {len(data.validation)}  test {len(data.test)} structures "
          f"(split by reduced formula, seed {args.split_seed})", flush=True)
    config = CandidateTrainingConfig(sg_hidden=args.sg_hidden, sg_dropout=args.sg_dropout,
                                     lattice_hidden=args.lattice_hidden, lattice_dropout=args.lattice_dropout,
                                     epochs=args.epochs,
                                     learning_rate=args.lr, patience=args.patience, ensemble=args.ensemble,
                                     seed=args.seed, max_atoms=args.max_atoms)

    def progress(info: dict) -> None:
        if info["epoch"] % 10 == 0:
            print(f"{info['model']:<18} epoch {info['epoch']:>3}  loss {info['train_loss']:.4f}  "
                  f"val {info['val_loss']:.4f} (best {info['best_val_loss']:.4f})  "
                  f"{_format_seconds(info['elapsed_s'])}", flush=True)

    metadata = {"data": settings.to_dict(), "torch": str(torch.__version__),
                "command": "alphacrystal " + " ".join(shlex.quote(a) for a in sys.argv[1:])}
    model = train_candidate_model(data, config, progress=progress, metadata=metadata)
    path = model.save(args.out)
    print(f"wrote {path} ({_format_seconds(model.metadata['training_seconds'])} of training)")
    _write_json(args.json, {k: v for k, v in model.metadata.items()} | {"model": str(path)})
    return 0


def cmd_evaluate_candidates(args: argparse.Namespace) -> int:
    from core.candidates.data import candidate_table, load_candidate_data
    from core.candidates.evaluation import evaluate_candidates
    from core.contact_model import DataSettings
    from core.data.datasets import load_dataset

    atoms = _atom_range(args.atoms) if args.atoms else None
    if args.model is None and atoms is not None and atoms[1] > 12:  # the model predict uses for such cells
        from core.candidates.propose import load_large_cell_candidate_model

        model = load_large_cell_candidate_model() or _candidate_model(None)
    else:
        model = _candidate_model(args.model)
    print(f"model: {args.model or 'shipped'}, cells of up to {model.max_atoms} atoms")
    recorded = DataSettings.from_dict(model.metadata["data"])
    train_path = args.train_data or recorded.path
    if not Path(train_path).exists():
        raise AlphaCrystalError(f"training data {train_path} not found (needed for the baselines); pass --train-data")
    base = load_candidate_data(DataSettings.from_dict({**recorded.to_dict(), "path": train_path}))
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
    _write_json(args.json, result)
    return 0


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


def _atom_range(text: str) -> tuple[int, int]:
    """``13-20`` -> (13, 20); ``12`` -> (1, 12)."""
    parts = text.split("-")
    try:
        low, high = (1, int(parts[0])) if len(parts) == 1 else (int(parts[0]), int(parts[1]))
    except ValueError:
        raise AlphaCrystalError(f"--atoms takes LOW-HIGH or HIGH, e.g. 13-20, not {text!r}") from None
    if len(parts) > 2 or not 1 <= low <= high:
        raise AlphaCrystalError(f"--atoms {text}: need 1 <= LOW <= HIGH")
    return low, high


def _ga_settings(args: argparse.Namespace):
    from core.reconstruction import GASettings

    return GASettings(population=args.population, generations=args.generations, patience=args.patience)


def cmd_reconstruct(args: argparse.Namespace) -> int:
    import multiprocessing

    from core.crystal.matching import CSP_TOLERANCES, DEFAULT_TOLERANCES, structure_match
    from core.io.structures import write_cif
    from core.reconstruction.inputs import read_target
    from core.reconstruction.loop import LoopSettings, reconstruct

    multiprocessing.freeze_support()
    target, reference = read_target(args.input, args.rule)
    settings = LoopSettings(args.assignments, args.restarts, _ga_settings(args), args.seed, args.strain, args.escalate,
                            args.jobs)
    mode = "oracle (true map, space group and lattice)" if reference is not None else "given map"
    runs = []

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
    results = outcome.results[target.name]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    summary = []
    for rank, result in enumerate(results[: args.keep], 1):
        path = write_cif(result.structure, out / f"{target.name}-rank{rank}-sg{target.spacegroup}.cif")
        row = result.to_dict() | {"rank": rank, "cif": str(path)}
        said = ""
        if reference is not None:
            strict = structure_match(result.structure, reference, DEFAULT_TOLERANCES)
            loose = strict if strict.matched else structure_match(result.structure, reference, CSP_TOLERANCES)
            row |= {"matches_input": strict.matched, "matches_input_csp_tolerances": loose.matched,
                    "rms": loose.rms, "match_tolerances": {"default": dataclasses.asdict(DEFAULT_TOLERANCES),
                                                           "csp": dataclasses.asdict(CSP_TOLERANCES)}}
            said = f"  ({_match_words(strict, loose)})"
        summary.append(row)
        print(f"rank {rank}: fitness {result.fitness:.3f}, Dice {result.dice:.3f} -> {path}{said}")
    print(f"{sum(r.evaluations for r in results):,} evaluations in {time.perf_counter() - start:.1f} s")
    _write_json(args.json, {"target": target.name, "spacegroup": target.spacegroup, "results": summary})
    return 0


def cmd_screen(args: argparse.Namespace) -> int:
    """``alphacrystal screen``: one prediction per formula on a Dask cluster (core.screen.screening)."""
    import signal

    from core.runtime.terminal import format_seconds
    from core.screen.inputs import read_screen_input
    from core.screen.screening import ClusterSpec, read_cluster_config, screen, start_cluster

    found = read_screen_input(args.input)
    for problem in found.problems:
        print(f"skipped: {problem}", file=sys.stderr)
    if not found.items:
        raise AlphaCrystalError(f"{args.input}: no formula left to screen ({len(found.problems)} bad lines)")
    settings = _predict_settings(args)
    if args.scheduler and args.cluster != "local":
        raise AlphaCrystalError("give either --scheduler or --cluster, not both")
    kind = "scheduler" if args.scheduler else args.cluster
    config = read_cluster_config(args.cluster_config) if args.cluster_config else {}
    if config and kind not in ("slurm", "pbs"):
        raise AlphaCrystalError("--cluster-config is for --cluster slurm or pbs")
    spec = ClusterSpec(kind, args.scheduler, args.workers, args.threads_per_worker, config)
    print(f"screen: {len(found.items)} formulas from {found.source} -> {args.out}"
          + (f" ({len(found.problems)} lines skipped)" if found.problems else ""), flush=True)
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
    try:
        workers = len(client.scheduler_info().get("workers", {}))
        print(f"Dask dashboard: {client.dashboard_link}  ({workers} workers now; {spec.kind})", flush=True)
        rows = screen(found.items, args.out, dataclasses.asdict(settings), client, retries=args.retries,
                      progress=progress, worker_timeout=_worker_timeout(args.worker_timeout, spec.kind))
    except KeyboardInterrupt:
        print(f"alphacrystal: screen interrupted; finished formulas are in {args.out}/screen.csv - run the same "
              "command to continue", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)
        client.close()
        if cluster is not None:
            cluster.close()
    failed = [r for r in rows if r["status"] == "failed"]
    print(f"\n{len(rows) - len(failed)} done, {len(failed)} failed: {args.out}/screen.csv, {args.out}/report.html")
    for row in failed:
        print(f"  failed: {row['formula']}: {row.get('reason', '')}")
    return 1 if failed else 0


def _predict_settings(args: argparse.Namespace):
    from core.predict.pipeline import PredictionSettings

    z = None if args.z in (None, "auto") else args.z  # checked by z_or_auto (screen's default: "auto")
    base = PredictionSettings.fast() if args.fast else PredictionSettings()
    changes = {"top_k": args.top_k, "z": z, "jobs": args.jobs, "relax": not args.no_relax, "seed": args.seed,
               "spacegroups": tuple(args.spacegroup) if args.spacegroup else None}
    for name in ("assignments", "restarts", "escalate", "population", "generations", "strain", "relax_per_candidate",
                 "templates_top_k", "template_scorer", "potential", "device", "magmom", "second_potential", "second_weight", "ranking"):
        value = getattr(args, name, None)
        if value is not None:
            changes[{"assignments": "n_assignments", "strain": "max_strain", "escalate": "escalate_to",
                     "templates_top_k": "template_top_k"}.get(name, name)] = value
    changes["sources"] = _sources(args.sources)
    if changes.get("second_potential") == "none":
        changes["second_potential"] = None
    if getattr(args, "near_tie", None) is not None:
        changes["near_tie"] = args.near_tie / 1000
    if getattr(args, "stability_frame", None) is not None:
        changes["stability_frame"] = None if args.stability_frame == "none" else args.stability_frame
    if getattr(args, "ehull_threshold", None) is not None:
        changes["ehull_threshold"] = args.ehull_threshold / 1000
    return dataclasses.replace(base, **changes)


def _sources(text: str) -> tuple[str, ...]:
    """``contact,templates`` -> ("contact", "templates"); an unknown name is an error naming it."""
    from core.predict.pipeline import SOURCES

    names = tuple(dict.fromkeys(s.strip() for s in text.split(",") if s.strip()))
    unknown = [s for s in names if s not in SOURCES]
    if unknown or not names:
        raise AlphaCrystalError(f"--sources: unknown source {', '.join(unknown) or '(none given)'}; "
                                f"choose from {','.join(SOURCES)}")
    return names


MAX_COUNT = 1_000_000
"""Ceiling of whole-number options without a bound of their own (a typo, not a setting)."""
MAX_PROCESSES = 1024
"""Most worker processes, threads or batch jobs an option may ask for."""
MAX_POPULATION = 10_000
"""The GA evaluates the whole population at once: 100x the paper's 100 fills the memory."""
MAX_GA_RUNS = 1000
"""Most Wyckoff assignments, restarts or escalated assignments per candidate (each run
takes tens of seconds)."""
MAX_STRAIN = 0.5
"""Largest lattice-length freedom: lengths vary by ``1 ± strain`` (at 1 a length may reach 0)."""
MAX_SEED = 2**32 - 1
"""numpy's and torch's seeds are unsigned 32-bit numbers here."""


class Number:
    """argparse type: a whole (``int``) or real (finite ``float``) number from ``low`` to
    ``high`` (None: no bound; ``low_open``/``high_open``: the bound itself excluded).

    A bad value is a usage error naming the option and the allowed range (argparse adds
    the option: ``argument --strain: -1 is not allowed: give a number from 0 to 0.5``).
    Every numeric option of the CLI has one (tests/test_fuzzing.py finds them by this class).
    """

    def __init__(self, kind: type, low: float | None = None, high: float | None = None, *,
                 low_open: bool = False, high_open: bool = False, note: str = "") -> None:
        self.kind, self.low, self.high = kind, low, high
        self.low_open, self.high_open, self.note = low_open, high_open, note
        self.__name__ = "whole number" if kind is int else "number"  # argparse's name of the type

    def describe(self) -> str:
        """``a whole number of 1 or more``, ``a number from 0 to 0.5``, ..."""
        what = "a whole number" if self.kind is int else "a number"
        low, high = (None if v is None else str(v) if self.kind is int else f"{v:g}" for v in (self.low, self.high))
        low = f"above {low}" if low is not None and self.low_open else low
        high = f"below {high}" if high is not None and self.high_open else high
        if low is None and high is None:
            text = what
        elif high is None:
            text = f"{what} {low}" if self.low_open else f"{what} of {low} or more"
        elif low is None:
            text = f"{what} {high}" if self.high_open else f"{what} of {high} or less"
        elif self.low_open or self.high_open:
            text = f"{what} {low if self.low_open else 'of ' + low + ' or more'} and " \
                   f"{high if self.high_open else high + ' or less'}"
        else:
            text = f"{what} from {low} to {high}"
        return text + (f" ({self.note})" if self.note else "")

    def __call__(self, text: str) -> int | float:
        try:
            value = self.kind(text.strip())
        except (ValueError, OverflowError):
            raise argparse.ArgumentTypeError(f"{text!r} is not allowed: give {self.describe()}") from None
        if self.kind is float and not np.isfinite(value):
            raise argparse.ArgumentTypeError(f"{text.strip()} is not allowed: give {self.describe()}")
        below = self.low is not None and (value <= self.low if self.low_open else value < self.low)
        above = self.high is not None and (value >= self.high if self.high_open else value > self.high)
        if below or above:
            raise argparse.ArgumentTypeError(f"{text.strip()} is not allowed: give {self.describe()}")
        return value

    def __repr__(self) -> str:
        return f"Number({self.describe()})"


positive = Number(int, 1, MAX_COUNT)
"""argparse type: a whole number >= 1 (argparse names the option in its error)."""
non_negative = Number(int, 0, MAX_COUNT)
processes = Number(int, 1, MAX_PROCESSES)
seed = Number(int, 0, MAX_SEED)
top_spacegroups = Number(int, 1, 230, note="there are 230 space groups")
population = Number(int, MIN_POPULATION, MAX_POPULATION,
                    note="the GA keeps 2 elite individuals and breeds at least 2 children")
ga_runs = Number(int, 1, MAX_GA_RUNS)
escalate_to = Number(int, 0, MAX_GA_RUNS, note="0: off")
strain = Number(float, 0.0, MAX_STRAIN, note="a fraction of the lattice lengths; 0: fixed")
positive_float = Number(float, 0.0, low_open=True)
non_negative_float = Number(float, 0.0)
dropout = Number(float, 0.0, 1.0, high_open=True)
learning_rate = Number(float, 0.0, 1.0, low_open=True)


def spacegroup_number(text: str) -> int:
    """argparse type: an international space-group number, 1-230."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a space-group number: they run from 1 to 230") from None
    if not 1 <= value <= 230:
        raise argparse.ArgumentTypeError(f"{value} is not a space-group number: they run from 1 to 230")
    return value


def z_or_auto(text: str) -> int | None:
    """argparse type of ``--z``: ``auto`` (None) or formula units, a whole number >= 1."""
    if text.strip().lower() == "auto":
        return None
    try:
        return positive(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"{text.strip()} is not allowed: give auto or {positive.describe()}") from None


def tolerance(text: str) -> float:
    """argparse type of ``--tolerance``: a bond window half-width in Å, 0 to
    :data:`core.contact.contact_map.MAX_TOLERANCE`."""
    from core.contact.contact_map import MAX_TOLERANCE

    return Number(float, 0.0, MAX_TOLERANCE, note="Å")(text)


def atom_range(text: str) -> str:
    """argparse type of ``--atoms``: LOW-HIGH or HIGH, checked at parse time by
    :func:`_atom_range` (which the commands call for the numbers)."""
    try:
        _atom_range(text)
    except AlphaCrystalError as exc:  # argparse names the option itself
        raise argparse.ArgumentTypeError(str(exc).removeprefix("--atoms ")) from None
    return text


def _checked(check: Callable[[str], object]) -> Callable[[str], str]:
    """An argparse type from a ``core.io.structures`` check (its error becomes a usage error)."""

    def convert(text: str) -> str:
        try:
            check(text)
        except AlphaCrystalError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
        return text

    convert.__name__ = check.__name__
    return convert


def output_file(text: str) -> str:
    """argparse type of ``--json``, ``--plot`` and other files written: checked before any
    work (:func:`core.io.structures.check_output_file`: not a folder, in a writable folder that exists)."""
    from core.io.structures import check_output_file

    return _checked(check_output_file)(text)


def output_folder(text: str) -> str:
    """argparse type of ``--out`` folders: not a file, under a writable folder
    (:func:`core.io.structures.check_output_folder`)."""
    from core.io.structures import check_output_folder

    return _checked(check_output_folder)(text)


def export_formats(text: str) -> tuple[str, ...]:
    """argparse type of ``export --formats``: known formats, at least one."""
    from core.io.structures import check_export_formats

    try:
        return check_export_formats(text.split(","))
    except AlphaCrystalError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def file_stem(text: str) -> str:
    """argparse type of ``export --stem``: a plain file name (:func:`core.io.structures.check_file_stem`)."""
    from core.io.structures import check_file_stem

    return _checked(check_file_stem)(text)


def _rerun_from(path: str, formula, settings):
    """([candidate], settings) of ``predict --from-structure``: the structure's space group,
    Z, lattice and Wyckoff assignment, CMCrystal only."""
    from core.candidates.propose import rerun_candidate
    from core.io.structures import read_structure

    if settings.z is not None or settings.spacegroups:
        raise AlphaCrystalError("--from-structure takes the space group and Z from the structure: "
                                "leave out --z and --spacegroup")
    candidate = rerun_candidate(read_structure(path), formula)
    print(f"note: CMCrystal from {path}: {candidate.symbol} ({candidate.spacegroup}), Z = {candidate.z}, "
          f"[{candidate.assignment['label']}], lattice "
          f"{' '.join(f'{v:.3f}' for v in candidate.lattice)}", flush=True)
    return [candidate], dataclasses.replace(settings, z=candidate.z, sources=("contact",))


def _default_out(formula) -> Path:
    """``predictions/UNIT`` (the unit formula, :attr:`Formula.unit_formula`), or the folder an
    earlier version named by pymatgen's reduced formula (``predictions/H2``) when only that
    exists, so that re-running the same command resumes there."""
    from core.predict.run_folder import safe_name

    out = Path("predictions") / safe_name(formula.unit_formula)
    earlier = Path("predictions") / safe_name(formula.reduced_formula)
    return earlier if not out.exists() and earlier != out and (earlier / ".alphacrystal").is_dir() else out


def _worker_timeout(given: float | None, kind: str) -> float | None:
    """``--worker-timeout`` as given, else the default of the cluster kind: none for SLURM/PBS
    (a queue can hold batch jobs for hours), :data:`core.screen.screening.DEFAULT_WORKER_TIMEOUT` otherwise."""
    from core.screen.screening import DEFAULT_WORKER_TIMEOUT

    if given is not None:
        return given
    return None if kind in ("slurm", "pbs") else DEFAULT_WORKER_TIMEOUT


def cmd_predict(args: argparse.Namespace) -> int:
    import multiprocessing
    import signal

    from core.crystal.composition import parse_formula
    from core.predict.pipeline import cell_size_note, predict_structures, z_from_formula
    from core.runtime.parallel import CancelToken
    from core.runtime.terminal import ProgressBar, format_seconds

    multiprocessing.freeze_support()
    settings = _predict_settings(args)
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
    rows = result.rows()
    best = min((r["energy_per_atom"] for r in rows if r["energy_per_atom"] is not None), default=None)
    for note in result.notes:
        if note not in said:
            print(f"note: {note}")
    print(f"\n{result.formula}: {len(rows)} distinct structures from {len(result.candidates)} space-group "
          f"candidates and {len(result.templates)} templates "
          f"in {format_seconds(result.seconds)}"
          + (f" (resumed {result.resumed['reconstructions']} reconstructions, "
             f"{result.resumed['relaxations']} relaxations)" if any(result.resumed.values()) else ""))
    print(f"{'rank':>4}  {'folder':<28}{'relaxed SG':<17}{'E (eV/atom)':>12}{'dE (meV)':>10}"
          f"{'E_hull (meV)':>13}  {'stability':<11}{'Dice':>7}{'fitness':>9}{'Dice rlx':>9}  source")
    for r in rows:
        print(_result_line(r, best))
    if rows and rows[0].get("rank_reason"):
        print(f"why #1: {rows[0]['rank_reason']} (every rank's reason: summary.csv, rank_reason)")
    if rows and rows[0].get("stability"):
        print(f"hull of #1: {rows[0]['stability']}, {rows[0]['e_above_hull_meV']:+.0f} meV/atom against the known "
              f"phases; the hull there is {rows[0]['decomposition']} (summary.csv: e_above_hull_meV, "
              "decomposition; docs/stability.md)")
    if result.rejected:
        print(f"{len(result.rejected)} reconstructions or candidates rejected (broken geometry, failed "
              f"relaxation, no Wyckoff assignment): "
              f"listed in summary.json")
    print(f"wrote {out}/summary.csv, summary.json and one folder per structure (CIF, POSCAR, VASP inputs)")
    _write_json(args.json, {"formula": result.formula, "out": str(out), "seconds": result.seconds,
                            "structures": rows})
    return 0


def _number(value, spec: str) -> str:
    return "" if value is None else format(value, spec)


def _result_line(r: dict, best: float | None) -> str:
    """One row of the ``predict`` table (route-specific columns blank for the other route)."""
    energy = r["energy_per_atom"]
    delta = None if energy is None or best is None else 1000 * (energy - best)
    if r["source"].startswith("template"):
        start = f"{r['source']} ({r['template_formula']}, {r['symbol']} Z={r['z']})"
    else:
        start = f"{r['source']} ({r['symbol']} Z={r['z']} p={r['sg_probability']:.2f})"
    if r.get("found_also_by"):
        start += f"; also {r['found_also_by']}"
    return (f"{r['rank']:>4}  {r['folder']:<28}{r['relaxed_symbol'] + ' (' + str(r['relaxed_spacegroup']) + ')':<17}"
            f"{_number(energy, '.4f'):>12}{_number(delta, '.1f'):>10}"
            f"{_number(r.get('e_above_hull_meV'), '.0f'):>13}  {r.get('stability') or '':<11}{_number(r['dice'], '.3f'):>7}"
            f"{_number(r['fitness'], '.3f'):>9}{_number(r['relaxed_dice'], '.3f'):>9}  {start}")


def _add_rule_argument(p: argparse.ArgumentParser) -> None:
    """``--rule``: the contact rule of maps computed from structures (core.contact.contact_rule)."""
    from core.contact.contact_rule import RULES

    p.add_argument("--rule", choices=RULES, default=None,
                   help="contact rule of a structure's map: paper (default; metal-metal pairs never in contact) "
                        "or metallic (metal-metal pairs of all-metal cells within the metallic-radius sum "
                        "± tolerance)")


def _add_size_filter_arguments(p: argparse.ArgumentParser) -> None:
    """``--min-atoms`` and ``--compositions``: which held-out structures a sample draws from."""
    p.add_argument("--min-atoms", type=positive, default=1,
                   help="smallest primitive cell sampled (default 1; e.g. 13 with --max-atoms 20 for 13-20 atoms)")
    p.add_argument("--compositions", choices=["any", "with-nonmetal", "all-metal"], default="any",
                   help="which compositions are sampled: any (default), only those with a non-metal, or only "
                        "all-metal ones (up to 12 atoms the held-out split is the paper's: with a non-metal)")
    p.add_argument("--exclude-from", nargs="+", metavar="JSON", default=[],
                   help="leave out the structures of these earlier evaluations (their JSON output) before "
                        "sampling: a further sample disjoint from theirs, to be merged with them")


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
    settings = _predict_settings(args)
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
              f"{r['seconds_per_formula']:.1f} s/formula (one core)", flush=True)
        for route, alone in r["by_route_alone"].items():
            print(f"  {route} alone: top-1 {alone['match_rate_top1']:.3f}, top-5 {alone['match_rate_top5']:.3f}; "
                  f"first correct structure from {route}: {r['first_match_by_source'][route]:.3f}", flush=True)
    main_result = results.get("predicted", results.get("given"))
    payload = {k: v for k, v in main_result.items() if k != "structures"}
    if "given" in results and "predicted" in results:
        payload["given_spacegroup"] = {k: v for k, v in results["given"].items() if k != "structures"}
    payload["sample"] = _evaluation_sample(args).record(len(structures))
    payload["anchors"] = {"DiffCSP_match_rate_mp20_1_sample": 0.5149, "CDVAE_match_rate_mp20_1_sample": 0.3390,
                          "FlowMM_match_rate_mp20_1_sample": 0.6139, "OMatG_match_rate_mp20_1_sample": 0.638,
                          "TCSP2_top5_cspbench": 0.783, "PNcsp_plus_top5_cspbench": 0.850,
                          "note": "MP-20 test set, up to 20 atoms, one sample per formula (top-1); TCSP 2.0 and "
                                  "PNcsp+: top-5 structure match on CSPBench; ours: <= "
                                  f"{args.max_atoms} atoms, held-out formulas of our split, true Z given"}
    payload["structures"] = {name: r["structures"] for name, r in results.items()}
    _write_json(args.json, payload)
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
    result = evaluate_reconstruction(structures, args.assignments, args.restarts, _ga_settings(args),
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
    _write_json(args.json, result)
    return 0


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
        print(f"split by reduced formula (seed {args.seed}, 80/10/10 of formulas):")
        for name, part in split.items():
            print(f"  {name:>10}  {part['structures']:>7} structures  {part['formulas']:>7} formulas")
    print(f"\nloaded in {loaded:.2f} s (cache: {'off' if args.no_cache else 'on'})")
    _write_json(args.json, stats)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from core.io.structures import export_structure, primitive_cell, read_structure

    structure = read_structure(args.file)  # the formats, the stem and --out are checked by their types
    if args.primitive:
        structure = primitive_cell(structure)
    written = export_structure(structure, args.out, stem=args.stem or Path(args.file).stem, formats=args.formats)
    for path in written:
        print(path)
    _write_json(args.json, {"file": str(args.file), "written": [str(p) for p in written]})
    return 0


def _format_seconds(seconds: float) -> str:
    seconds = int(max(0, seconds))
    return f"{seconds // 3600:d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def cmd_build_references(args: argparse.Namespace) -> int:
    from core.stability.references import build_reference_phases, reference_file

    start = time.perf_counter()
    references = build_reference_phases(args.data, args.potential,
                                        progress=lambda message: print(message, flush=True))
    path = references.save(args.out or reference_file(args.potential))
    print(f"{len(references)} reference formulas, {len(references.elements)} elements -> {path} "
          f"({path.stat().st_size / 1e6:.2f} MB) in {_format_seconds(time.perf_counter() - start)}")
    return 0


def cmd_train_contact_map(args: argparse.Namespace) -> int:
    import dataclasses
    import shlex

    import torch

    from core.contact_model import (
        DataSettings,
        TrainingConfig,
        load_contact_data,
        train_contact_model,
    )
    from core.contact_model.training import add_validation_templates, combine_ensemble

    if args.threads:
        torch.set_num_threads(args.threads)
    settings = DataSettings(path=args.data, max_atoms=args.max_atoms, split_seed=args.split_seed)
    print(f"loading and featurising {args.data} (cached after the first run) ...", flush=True)
    data = load_contact_data(settings)
    print(f"train {len(data.train)}  validation {len(data.validation)}  test {len(data.test)} structures "
          f"(split by reduced formula, seed {args.split_seed})", flush=True)
    config = TrainingConfig(
        preset=args.preset, epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.lr,
        patience=args.patience, seed=args.seed, matched_loss=args.matched_loss, device=args.device,
        templates=args.templates, same_pattern=args.same_pattern, dice_loss=args.dice_loss,
        time_limit_s=args.time_limit_min * 60 if args.time_limit_min else None,
    )

    def progress(info: dict) -> None:
        if info.get("stopped"):
            snap = info["snap_similarity"]
            print(f"stopped ({info['stopped']}) after epoch {info['epoch']}: best validation Dice "
                  f"{info['best_val_dice']:.4f}; threshold {info['threshold']:.2f} gives "
                  f"{info['val_dice_at_threshold']:.4f}; template snapping "
                  f"{'off' if snap is None else f'at map Dice >= {snap:.2f}'} gives {info['val_dice_final']:.4f} "
                  f"({100 * info['val_exact_fraction_final']:.1f}% exact)", flush=True)
            return
        print(f"epoch {info['epoch']:>3}/{info['epochs']}  loss {info['train_loss']:.4f}  "
              f"val Dice {info['val_dice']:.4f} (best {info['best_val_dice']:.4f})  "
              f"elapsed {_format_seconds(info['elapsed_s'])}  left <= {_format_seconds(info['eta_s'])}", flush=True)

    checkpoint = args.checkpoint or f"{args.out}.ckpt"
    metadata = {"data": settings.to_dict(), "preset": args.preset,
                "command": "alphacrystal " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
                "torch": str(torch.__version__)}
    members = []
    for k in range(args.ensemble):
        member_config = dataclasses.replace(
            config, seed=args.seed + k,
            time_limit_s=config.time_limit_s / args.ensemble if config.time_limit_s else None)
        if args.ensemble > 1:
            print(f"ensemble member {k + 1}/{args.ensemble} (seed {member_config.seed})", flush=True)
        members.append(train_contact_model(
            data.train, data.validation, member_config,
            checkpoint=checkpoint if k == 0 else f"{checkpoint}.seed{member_config.seed}",
            resume=args.resume, progress=progress, metadata=metadata))
    model = members[0] if len(members) == 1 else combine_ensemble(members, data.validation)
    if len(members) > 1:
        print(f"ensemble of {len(members)}: threshold {model.threshold:.2f}, validation Dice "
              f"{model.metadata['val_dice_final']:.4f} ({100 * model.metadata['val_exact_fraction_final']:.1f}% exact)")
    if model.templates is not None:
        add_validation_templates(model, data.validation)
        print(f"template bank: {len(model.templates.numbers)} maps (training + validation)", flush=True)
    path = model.save(args.out)
    print(f"wrote {path}")
    _write_json(args.json, {k: v for k, v in model.metadata.items() if k != "history"} | {"model": str(path)})
    return 0


def _add_prediction_options(p: argparse.ArgumentParser) -> None:
    """Options of ``predict`` that ``evaluate prediction`` shares (read by ``_predict_settings``)."""
    p.add_argument("--no-relax", action="store_true", help="skip relaxation; rank by contact-map fitness")
    p.add_argument("--device", default=None, metavar="auto|cpu|cuda[:N]",
                   help="where the contact-map network and the potential run (default auto: CUDA when present)")
    p.add_argument("--magmom", choices=["input-set", "potential"], default=None,
                   help="INCAR MAGMOM of the VASP inputs: input-set (default: the Materials Project set's value "
                        "per element, e.g. 5 for Mn, 0.6 otherwise) or potential (CHGNet's predicted moments)")
    p.add_argument("--potential", choices=list(POTENTIALS), default=None,
                   help="interatomic potential that relaxes and ranks (default chgnet; sevennet: SevenNet-0; "
                        "both offline; see docs/potentials.md)")
    p.add_argument("--fast", action="store_true",
                   help="quick preset: 3 assignments, population 60, 300 generations, 1 relaxation per candidate")
    p.add_argument("--assignments", type=ga_runs, default=None, help="Wyckoff assignments per candidate (default 5)")
    p.add_argument("--restarts", type=ga_runs, default=None, help="GA runs per assignment (default 1)")
    p.add_argument("--escalate", type=escalate_to, default=None, metavar="N",
                   help="a candidate whose runs all end below fitness 1 goes on with the assignments ranked up "
                        "to N (default 0: off; each escalated candidate costs about 30 s on 2 cores)")
    p.add_argument("--population", type=population, default=None,
                   help=f"GA population (default 100, as in the paper; {MIN_POPULATION} to {MAX_POPULATION})")
    p.add_argument("--generations", type=positive, default=None, help="GA generations (default 1000, as in the paper)")
    p.add_argument("--strain", type=strain, default=None,
                   help=f"lattice length freedom around the prediction, a fraction (default 0.1; 0 to {MAX_STRAIN})")
    p.add_argument("--relax-per-candidate", type=positive, default=None, help="distinct structures relaxed per candidate (default 2)")
    p.add_argument("--ranking", choices=["energy", "learned"], default=None,
                   help="order of the relaxed structures: energy (default: the potential's energy per atom) or "
                        "learned (a logistic ranker over energy gap, symmetry, route and map agreement, trained "
                        "on validation pools; docs/ranking.md)")
    p.add_argument("--second-potential", choices=[*POTENTIALS, "none"], default=None,
                   help="potential that re-ranks the 5 lowest distinct structures at the first one's relaxed "
                        "geometry (default: SevenNet-0 after CHGNet, CHGNet after a SevenNet; --fast: none; "
                        "docs/ranking.md)")
    p.add_argument("--second-weight", type=Number(float, 0.0, 1.0), default=None, metavar="W",
                   help="weight of the second potential's energy against the first's when re-ranking (0.5: the "
                        "mean; 1: the second alone at the first one's geometry)")
    p.add_argument("--near-tie", type=Number(float, 0.0, 1000.0, note="meV/atom; 0: off"), default=None,
                   metavar="MEV", help="merge a relaxed structure onto a higher-symmetry one it distorts when that "
                   f"one is at most this many meV/atom higher (default 0: off; e.g. {1000 * NEAR_TIE_EV:g}; "
                   "docs/ranking.md)")
    p.add_argument("--stability-frame", choices=[DEFAULT_STABILITY_FRAME, *STABILITY_FRAMES, "none"], default=None,
                   help="energies of the convex hull of the known phases that each relaxed result is placed on "
                        f"(default {DEFAULT_STABILITY_FRAME}: chosen per potential, mp-fitted for CHGNet "
                        "(Materials Project's formation energies, the potential's fitted elemental energies), "
                        "potential for SevenNet-0; none: no energy above the hull; docs/stability.md)")
    p.add_argument("--ehull-threshold", type=Number(float, 0.0, 10000.0, note="meV/atom"), default=None,
                   metavar="MEV", help="a result at most this many meV/atom above the hull is metastable, above it "
                   f"unstable (default {1000 * DEFAULT_EHULL_THRESHOLD_EV:g}; docs/stability.md)")
    p.add_argument("--sources", default="contact,templates",
                   help="routes pooled into one ranking: contact (CMCrystal on the predicted map), templates "
                        "(substituted known structures) or both (default contact,templates)")
    p.add_argument("--templates-top-k", type=positive, default=None, metavar="K",
                   help="distinct template structures relaxed (default 5, --fast 3)")
    p.add_argument("--template-scorer", choices=["mendeleev", "ionic", "auto"], default=None,
                   help="substitution score of the template retrieval (default mendeleev: the Mendeleev-number "
                        "distance; ionic: data-mined ionic substitution probabilities; auto: ionic when "
                        "oxidation states can be guessed)")


def _add_ga_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--assignments", type=ga_runs, default=5, help="Wyckoff assignments tried, best prior first (default 5)")
    p.add_argument("--restarts", type=ga_runs, default=1, help="GA runs per assignment with different seeds")
    p.add_argument("--escalate", type=escalate_to, default=20, metavar="N",
                   help="when every run ends below fitness 1, go on with the assignments ranked up to N "
                        "(default 20; 0: off)")
    p.add_argument("--population", type=population, default=100,
                   help=f"GA population (paper: 100; {MIN_POPULATION} to {MAX_POPULATION})")
    p.add_argument("--generations", type=positive, default=1000, help="maximum generations (paper: 1000)")
    p.add_argument("--patience", type=non_negative, default=50,
                   help="generations to keep refining bond lengths after fitness 1 (default 50)")
    p.add_argument("--jobs", type=processes, default=None, help="worker processes (default: all cores)")
    p.add_argument("--seed", type=seed, default=0, help="seed of the GA runs (default 0; same seed, same result)")


class _Parser(argparse.ArgumentParser):
    """argparse with the project's one-line errors: ``alphacrystal: error: predict: argument
    --population: 2 is not allowed: ... (see alphacrystal predict --help)``, exit code 2."""

    def error(self, message: str) -> NoReturn:
        command = self.prog.removeprefix("alphacrystal").strip()
        self.exit(2, f"alphacrystal: error: {command + ': ' if command else ''}{message} "
                     f"(see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    from core.screen.screening import DEFAULT_WORKER_TIMEOUT

    parser = _Parser(
        prog="alphacrystal",
        description="AlphaCrystal Studio: crystal structures predicted from a chemical formula, relaxed, ranked "
                    "and ready for DFT (start with: alphacrystal predict AgF2). The other commands give each step "
                    "on its own: predicted contact maps, space-group candidates, template structures, CMCrystal "
                    "reconstruction, structure export, training and evaluation.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("contact-map", help="contact map of a structure file, or the predicted map of a formula")
    p.add_argument("file", metavar="FILE_OR_FORMULA", help="CIF/POSCAR file, or a formula such as Ag2F4")
    p.add_argument("--z", type=positive, default=None, help="formula units for a prediction (default: chosen)")
    p.add_argument("--model", default=None, help="contact model file (default: the shipped one)")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument("--probabilities", action="store_true", help="also print predicted probabilities")
    p.add_argument("--tolerance", type=tolerance, default=None,
                   help="bond window half-width in Å, for structure files (default 0.4; at most 1)")
    p.add_argument("--as-given", action="store_true", help="use the cell as stored instead of the primitive cell")
    _add_rule_argument(p)
    p.add_argument("--json", metavar="PATH", type=output_file, help="also write the map and counts as JSON")
    p.set_defaults(func=cmd_contact_map)

    p = sub.add_parser("dataset-stats", help="counts by atom number, elements and space groups of a data set")
    p.add_argument("path", help="MP-20-style CSV(.gz) with a 'cif' column, or a folder of CIFs")
    p.add_argument("--max-atoms", type=positive, default=None, help="keep structures with at most N atoms")
    p.add_argument("--exclude-all-metal", action="store_true", help="drop compounds made of metals only")
    p.add_argument("--lowest-energy", action="store_true", help="keep the lowest-energy polymorph per formula")
    p.add_argument("--seed", type=seed, default=0, help="seed of the split by reduced formula (default 0)")
    p.add_argument("--top", type=positive, default=15, help="rows shown per table (default 15)")
    p.add_argument("--no-cache", action="store_true", help="ignore and do not write the on-disk cache")
    p.add_argument("--json", metavar="PATH", type=output_file, help="also write all figures as JSON")
    p.set_defaults(func=cmd_dataset_stats)

    p = sub.add_parser("export", help="write a structure as CIF, symmetrised CIF, POSCAR and a VASP input folder")
    p.add_argument("file", help="structure file to export")
    p.add_argument("--out", required=True, type=output_folder, help="output folder")
    p.add_argument("--formats", type=export_formats, default="cif,cif-symmetrized,poscar,vasp",
                   help="comma-separated, from cif, cif-symmetrized, poscar, vasp (default: all four)")
    p.add_argument("--stem", type=file_stem,
                   help="file name stem, a plain name without folders (default: input file stem)")
    p.add_argument("--primitive", action="store_true", help="reduce to the primitive cell first")
    p.add_argument("--json", metavar="PATH", type=output_file, help="also write the list of written files as JSON")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("candidates", help="ranked space groups, Z and lattices predicted for a formula")
    p.add_argument("formula", help="chemical formula, e.g. AgF2")
    p.add_argument("--top-k", type=top_spacegroups, default=10, help="number of space groups (default 10)")
    p.add_argument("--z", type=positive, default=None, help="formula units in the primitive cell (default: predicted)")
    p.add_argument("--model", default=None, help="candidate model file (default: the shipped one)")
    p.add_argument("--no-wyckoff", action="store_true", help="skip counting Wyckoff assignments")
    p.add_argument("--json", metavar="PATH", type=output_file, help="also write the candidates as JSON")
    p.set_defaults(func=cmd_candidates)

    p = sub.add_parser("templates", help="known structures of the same stoichiometry with the elements substituted")
    p.add_argument("formula", help="chemical formula, e.g. KBr")
    p.add_argument("--z", type=positive, default=None, help="formula units in the cell (default: every Z up to 20 atoms)")
    p.add_argument("--top-k", type=positive, default=10, help="distinct templates listed (default 10)")
    p.add_argument("--scorer", choices=["mendeleev", "ionic", "auto"], default="mendeleev",
                   help="substitution score (default mendeleev)")
    p.add_argument("--library", default=None, help="template library file (default: the shipped one)")
    p.add_argument("--json", metavar="PATH", type=output_file, help="also write the templates (with structures) as JSON")
    p.set_defaults(func=cmd_templates)

    p = sub.add_parser("reconstruct", help="CMCrystal: build a structure whose contact map matches a target")
    p.add_argument("input", help="CIF/POSCAR (oracle mode: its true map, space group and lattice) or a JSON "
                                 "file with formula, z, spacegroup, lattice and contact_map")
    p.add_argument("--out", default="reconstructed", type=output_folder,
                   help="folder for the best CIFs (default ./reconstructed)")
    p.add_argument("--keep", type=positive, default=3, help="number of best structures written (default 3)")
    p.add_argument("--strain", type=strain, default=0.0,
                   help=f"let free lattice lengths vary by this fraction (e.g. 0.1; default 0: fixed; at most {MAX_STRAIN})")
    _add_ga_arguments(p)
    _add_rule_argument(p)
    p.add_argument("--json", metavar="PATH", type=output_file, help="also write the results as JSON")
    p.set_defaults(func=cmd_reconstruct)

    p = sub.add_parser("predict", help="formula in, relaxed and ranked crystal structures out (CIF, POSCAR, VASP)")
    p.add_argument("formula", help="chemical formula, e.g. TiO2")
    p.add_argument("--out", type=output_folder,
                   help="output folder (default predictions/FORMULA); re-running into it resumes")
    p.add_argument("--overwrite", action="store_true",
                   help="replace another formula's results in --out (refused otherwise); files you added to "
                        "result folders are kept either way")
    p.add_argument("--top-k", type=top_spacegroups, default=5, help="space-group candidates (default 5)")
    p.add_argument("--z", type=z_or_auto, default="auto", help="formula units in the primitive cell, or auto (default)")
    p.add_argument("--spacegroup", type=spacegroup_number, action="append", metavar="N",
                   help="try this space group instead of the predicted ones (repeatable)")
    p.add_argument("--from-structure", metavar="FILE",
                   help="CMCrystal only, from this structure's space group, lattice and Wyckoff assignment (a "
                        "result's CIF, say), on the predicted map of its Z: the desktop app's 're-run from it'")
    p.add_argument("--jobs", type=processes, default=None, help="worker processes (default: all cores)")
    _add_prediction_options(p)
    p.add_argument("--seed", type=seed, default=0, help="seed of the GA runs (default 0; same seed, same result)")
    p.add_argument("--json", metavar="PATH", type=output_file, help="also write the ranked rows as JSON")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("screen", help="predict many formulas on a Dask cluster (laptop to SLURM/PBS), "
                                      "resumable, with a report",
                       description="One prediction per formula, run as Dask tasks: a local cluster by default "
                                   "(one worker per core), an existing scheduler, or SLURM/PBS via dask-jobqueue. "
                                   "Writes DIR/FORMULA/ (as predict), DIR/screen.csv and DIR/report.html. "
                                   "See docs/screening.md.")
    p.add_argument("input", metavar="INPUT",
                   help="a text file (formula [Z] [space group] per line, # comments), a CSV file with a formula "
                        "column (and optional z, spacegroup, reference), or a pattern such as {Li,Na}{Co,Ni}O2")
    p.add_argument("--out", required=True, type=output_folder,
                   help="output folder; re-running into it skips finished formulas")
    p.add_argument("--scheduler", metavar="ADDRESS", help="connect to a running Dask scheduler, e.g. tcp://host:8786")
    p.add_argument("--cluster", choices=["local", "slurm", "pbs"], default="local",
                   help="local (default: a Dask LocalCluster here), or slurm / pbs through dask-jobqueue")
    p.add_argument("--cluster-config", metavar="FILE",
                   help="dask-jobqueue settings for slurm/pbs (queue, cores, memory, walltime, account, ...)")
    p.add_argument("--workers", type=processes, default=None,
                   help="local: worker processes (default one per core); slurm/pbs: batch jobs (default 1)")
    p.add_argument("--threads-per-worker", type=processes, default=1,
                   help="threads per worker (default 1: each formula runs on one core)")
    p.add_argument("--retries", type=Number(int, 0, 100), default=2,
                   help="re-runs of a formula whose task crashed or whose worker died (default 2)")
    p.add_argument("--worker-timeout", type=positive_float, default=None, metavar="SECONDS",
                   help="stop with an error when the cluster has had no worker for this long while formulas are "
                        f"left (default {DEFAULT_WORKER_TIMEOUT:g} s on a local cluster or a scheduler; none on "
                        "SLURM/PBS, whose batch jobs may wait in the queue for hours)")
    p.add_argument("--top-k", type=top_spacegroups, default=5, help="space-group candidates per formula (default 5)")
    _add_prediction_options(p)
    p.add_argument("--seed", type=seed, default=0, help="seed of the GA runs (default 0)")
    p.set_defaults(func=cmd_screen, z="auto", spacegroup=None, jobs=1)

    train = sub.add_parser("train", help="train a model").add_subparsers(dest="what", required=True, metavar="MODEL")
    p = train.add_parser("contact-map", help="train the contact-map network")
    p.add_argument("--data", required=True, help="MP-20-style CSV(.gz) or folder of CIFs")
    p.add_argument("--out", default="contact_model.pt", type=output_file, help="model file to write")
    p.add_argument("--preset", default="default", choices=["default", "paper", "tiny"],
                   help="network size and schedule: default, paper (as published) or tiny (tests)")
    p.add_argument("--epochs", type=positive, default=200, help="maximum training epochs (default 200)")
    p.add_argument("--time-limit-min", type=positive_float, default=None, help="stop before this many minutes")
    p.add_argument("--batch-size", type=Number(int, 1, 65536), default=64, help="maps per optimiser step (default 64)")
    p.add_argument("--lr", type=learning_rate, default=1e-3, help="Adam learning rate (default 1e-3)")
    p.add_argument("--patience", type=positive, default=20, help="early-stopping patience in epochs")
    p.add_argument("--seed", type=seed, default=0, help="seed of weights and batch order")
    p.add_argument("--split-seed", type=seed, default=0, help="seed of the split by reduced formula")
    p.add_argument("--max-atoms", type=positive, default=12, help="L: largest primitive cell")
    p.add_argument("--matched-loss", action="store_true",
                   help="align targets to predictions by same-element permutation before the loss")
    p.add_argument("--templates", type=Number(int, 0, 100), default=0, metavar="K",
                   help="feed the maps of the K most similar training compositions to the network (0: off)")
    p.add_argument("--same-pattern", action="store_true",
                   help="retrieve templates with the same stoichiometry pattern first (with --templates)")
    p.add_argument("--dice-loss", type=non_negative_float, default=0.0, metavar="W",
                   help="add W x (1 - soft Dice) to the cross-entropy (0: off, the paper's loss)")
    p.add_argument("--ensemble", type=positive, default=1, metavar="N",
                   help="train N models (seeds SEED..SEED+N-1, time limit shared) and average them")
    p.add_argument("--device", default="auto", help="auto (CUDA if present), cpu or cuda")
    p.add_argument("--threads", type=processes, default=None, help="CPU threads for torch")
    p.add_argument("--checkpoint", type=output_file, help="checkpoint file (default OUT.ckpt)")
    p.add_argument("--resume", action="store_true", help="continue from the checkpoint")
    p.add_argument("--json", metavar="PATH", type=output_file, help="write the training summary as JSON")
    p.set_defaults(func=cmd_train_contact_map)

    p = train.add_parser("candidates", help="train the space-group/Z and lattice predictors")
    p.add_argument("--data", required=True, help="MP-20-style CSV(.gz) or folder of CIFs")
    p.add_argument("--out", default="candidate_model.pt", type=output_file, help="model file to write")
    p.add_argument("--epochs", type=positive, default=200, help="maximum training epochs (default 200)")
    p.add_argument("--sg-hidden", type=Number(int, 1, 65536), default=256, help="hidden width of the space-group network")
    p.add_argument("--sg-dropout", type=dropout, default=0.3, help="dropout of the space-group network (default 0.3)")
    p.add_argument("--lattice-hidden", type=Number(int, 1, 65536), default=512, help="hidden width of the lattice network")
    p.add_argument("--lattice-dropout", type=dropout, default=0.2, help="dropout of the lattice network (default 0.2)")
    p.add_argument("--lr", type=learning_rate, default=1e-3, help="Adam learning rate")
    p.add_argument("--patience", type=positive, default=20, help="early-stopping patience in epochs")
    p.add_argument("--ensemble", type=positive, default=3, help="networks per predictor (seeds SEED..SEED+N-1)")
    p.add_argument("--seed", type=seed, default=0, help="seed of weights and batch order (default 0)")
    p.add_argument("--split-seed", type=seed, default=0, help="seed of the split by reduced formula")
    p.add_argument("--max-atoms", type=positive, default=12, help="largest primitive cell")
    p.add_argument("--threads", type=processes, default=None, help="CPU threads for torch")
    p.add_argument("--json", metavar="PATH", type=output_file, help="write the training summary as JSON")
    p.set_defaults(func=cmd_train_candidates)

    p = sub.add_parser("build-references", help="known phases (training data + elements) and their energies "
                       "with a potential, for energies above the convex hull")
    p.add_argument("--data", required=True, help="MP-20-style CSV(.gz) with formation energies")
    p.add_argument("--potential", choices=list(POTENTIALS), default=DEFAULT_POTENTIAL,
                   help=f"potential whose energies are stored (default {DEFAULT_POTENTIAL})")
    p.add_argument("--out", type=output_file, default=None,
                   help="file to write (default: the shipped resources/reference_phases_POTENTIAL.npz)")
    p.set_defaults(func=cmd_build_references)

    evaluate = sub.add_parser("evaluate", help="evaluate a model").add_subparsers(dest="what", required=True, metavar="MODEL")
    p = evaluate.add_parser("contact-map", help="Dice of predicted contact maps against true ones, with baselines")
    p.add_argument("--data", required=True, help="CSV(.gz) or folder of CIFs (structures with <= L atoms are used)")
    p.add_argument("--split", choices=["all", "test", "validation"], default="all",
                   help="all rows (default), or the model's recorded held-out split of this file")
    p.add_argument("--model", default=None,
                   help="contact model file (default: the shipped ones as predict uses them: the 12-atom model "
                        "for cells of up to 12 atoms, the 20-atom model for 13-20; one table each)")
    p.add_argument("--train-data", default=None, help="training data for the baselines (default: as recorded)")
    p.add_argument("--device", default="auto", help="auto (CUDA if present), cpu or cuda[:N]")
    p.add_argument("--plot", metavar="PNG", type=output_file, help="write a histogram of Dice (paper Figure 3)")
    p.add_argument("--per-structure", action="store_true", help="print one row per structure")
    p.add_argument("--json", metavar="PATH", type=output_file, help="write all figures as JSON")
    p.add_argument("--atoms", metavar="LOW-HIGH", type=atom_range, default=None,
                   help="only cells of LOW to HIGH atoms (e.g. 13-20; 12 means 1-12)")
    p.set_defaults(func=cmd_evaluate_contact_map)

    p = evaluate.add_parser("candidates", help="space-group top-k and lattice errors, with baselines")
    p.add_argument("--data", required=True, help="CSV(.gz) or folder of CIFs (structures with <= L atoms are used)")
    p.add_argument("--split", choices=["all", "test", "validation"], default="all",
                   help="all rows (default), or the model's recorded held-out split of this file")
    p.add_argument("--model", default=None, help="candidate model file (default: the shipped one)")
    p.add_argument("--train-data", default=None, help="training data for the baselines (default: as recorded)")
    p.add_argument("--atoms", metavar="LOW-HIGH", type=atom_range, default=None,
                   help="only cells of LOW to HIGH atoms (e.g. 13-20; 12 means 1-12)")
    p.add_argument("--json", metavar="PATH", type=output_file, help="write all figures as JSON")
    p.set_defaults(func=cmd_evaluate_candidates)

    p = evaluate.add_parser("reconstruction", help="oracle-mode reconstruction: match rate, Dice, RMSD, speed")
    p.add_argument("--data", required=True, help="CSV(.gz) or folder of CIFs")
    p.add_argument("--split", choices=["all", "test", "validation"], default="all",
                   help="all structures (default), or the held-out test or validation formulas of the models")
    p.add_argument("--n", type=non_negative, default=200, help="seeded sample of at most N structures (0: all)")
    p.add_argument("--max-atoms", type=positive, default=12, help="largest primitive cell sampled (default 12)")
    _add_size_filter_arguments(p)
    _add_rule_argument(p)
    _add_ga_arguments(p)
    p.add_argument("--relax-top", type=non_negative, default=0, metavar="M",
                   help="also relax the best M distinct results (and the truth) with CHGNet and rank by energy")
    p.add_argument("--relax-steps", type=positive, default=150, help="CHGNet optimiser steps (with --relax-top)")
    p.add_argument("--fmax", type=positive_float, default=0.1, help="force criterion in eV/Å (with --relax-top)")
    p.add_argument("--json", metavar="PATH", type=output_file, help="write all figures as JSON")
    p.set_defaults(func=cmd_evaluate_reconstruction)
    p = evaluate.add_parser("prediction", help="full CSP: formula and Z in, match rate of the ranked structures")
    p.add_argument("--data", required=True, help="CSV(.gz) or folder of CIFs")
    p.add_argument("--split", choices=["all", "test", "validation"], default="test",
                   help="held-out formulas: test (default) or validation (for tuning), or all structures; "
                        "up to 12 atoms the paper's scope, above it all compositions (core.data.formula_split)")
    p.add_argument("--n", type=non_negative, default=30, help="seeded sample of at most N structures (0: all)")
    p.add_argument("--max-atoms", type=positive, default=12,
                   help="largest cell sampled: up to 12 the paper's scope, up to 20 all compositions (default 12)")
    p.add_argument("--protocol", choices=["predicted", "given", "both"], default="both",
                   help="predicted top-k space groups, the true space group given, or both (default)")
    _add_size_filter_arguments(p)
    p.add_argument("--top-k", type=top_spacegroups, default=5, help="space-group candidates (default 5)")
    p.add_argument("--z", type=z_or_auto, default="auto", help=argparse.SUPPRESS)
    p.add_argument("--spacegroup", type=spacegroup_number, action="append", help=argparse.SUPPRESS)
    p.add_argument("--jobs", type=processes, default=None, help="formulas evaluated at a time, one core each")
    _add_prediction_options(p)
    p.add_argument("--seed", type=seed, default=0, help="seed of the sample (default 0)")
    p.add_argument("--json", metavar="PATH", type=output_file, help="write all figures as JSON")
    p.set_defaults(func=cmd_evaluate_prediction)
    return parser


def _one_line_warnings(show: Callable) -> Callable:
    """``warnings.showwarning`` that prints our warnings about the input as one line,
    ``alphacrystal: warning: ...``, and passes others on to ``show``."""

    def show_warning(message, category, filename, lineno, file=None, line=None) -> None:
        if issubclass(category, AlphaCrystalWarning):
            print(f"alphacrystal: warning: {message}", file=sys.stderr, flush=True)
        else:
            show(message, category, filename, lineno, file, line)

    return show_warning


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        with warnings.catch_warnings():  # restores the filters and showwarning afterwards
            warnings.simplefilter("always", AlphaCrystalWarning)
            warnings.showwarning = _one_line_warnings(warnings.showwarning)
            code = func(args)
        sys.stdout.flush()  # a closed pipe shows here, inside the handler below, not at exit
        return code
    except AlphaCrystalError as exc:
        print(f"alphacrystal: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("alphacrystal: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (``| head -1``): stop quietly, as Unix tools do
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return 141


if __name__ == "__main__":
    sys.exit(main())
