"""``predict_structures``: formula in, relaxed and ranked crystal structures out.

The one orchestration used by the CLI (``alphacrystal predict``) and the GUI:

1. candidates: top-k feasible (space group, Z, lattice) of the candidate model;
2. contact maps: the shipped network's map for every Z among the candidates
   (or maps given by the caller, e.g. edited by hand in the GUI);
3. templates: the top distinct known structures of the same stoichiometry
   pattern with the elements substituted (:mod:`core.templates`);
4. reconstruction: CMCrystal GA runs for the top Wyckoff assignments of every
   candidate, all on one spawn process pool;
5. relaxation: the best distinct reconstructions of every candidate and every
   template structure relaxed with the potential (CHGNet by default; positions
   and cell), one pool;
6. ranking: one list for both routes: duplicates dropped (StructureMatcher),
   the rest ordered by energy per atom; every entry names its ``source``
   (``CMCrystal sg225`` or ``template mp-22862``);
7. export (when an output folder is given): see :mod:`core.predict.run_folder`.

Routes (``PredictionSettings.sources``): ``contact`` (the paper's CMCrystal
route, cells up to the shipped models' 20 atoms, automatic Z included) and ``templates`` (every composition
up to :data:`core.crystal.composition.MP20_MAX_ATOMS` atoms). A composition outside a route's scope runs on the
other route, and ``PredictionResult.notes`` says why.

Progress arrives through a callback with the stage, counts and an ETA; a
cancel token stops the run after the current GA generation / relaxation, and
every finished step is kept for a resumed run in the same folder.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from pymatgen.core import Structure

from core.candidates.propose import Candidate, load_default_candidate_model
from core.contact_model.inference import (
    ContactPrediction,
    _cached_model,
    load_model,
    model_for_cell,
    predict_contact_map,
)
from core.crystal.composition import Formula, parse_formula
from core.crystal.matching import fractional_rmsd_mae, reference_match
from core.io.read import MIN_ATOM_DISTANCE
from core.io.vasp import ferromagnetic_start_note
from core.predict.export import export_prediction
from core.predict.ordering import _learned_order, _place_on_hull, _rank, _rerank_first
from core.predict.record import ResultRecord
from core.predict.results import PredictionResult, RankedStructure
from core.predict.run_folder import RunFolder
from core.predict.scope import (
    check_scope,
    contact_route_fits,
    hull_caveat,
    large_cell_note,
    runs_cmcrystal_by_default,
    scope_notes,
)
from core.predict.settings import PredictionError, PredictionSettings
from core.predict.stages import (
    _Clock,
    _entries,
    _is_set,
    _propose,
    _reconstruct,
    _relax,
    _relaxed_score,
    _retrieve,
    _same_before_relaxation,
)
from core.reconstruction.job import ReconstructionResult
from core.reconstruction.selection import distinct_results
from core.relax.potentials import POTENTIALS
from core.relax.relaxer import (
    RelaxResult,
)
from core.runtime.device import resolve_device
from core.runtime.progress import Progress
from core.templates.library import load_library
from core.templates.retrieval import TemplateCandidate


def predict_structures(
    formula: str,
    settings: PredictionSettings | None = None,
    out_dir: str | Path | None = None,
    progress: Progress | None = None,
    cancel=None,
    candidates: list[Candidate] | None = None,
    contact_maps: dict[int, ContactPrediction] | None = None,
    on_generation: Callable[[str, dict], None] | None = None,
    on_reconstruction: Callable[[str, ReconstructionResult], None] | None = None,
    templates: list[TemplateCandidate] | None = None,
    on_relaxed: Callable[[tuple[str, int], RankedStructure], None] | None = None,
    overwrite: bool = False,
) -> PredictionResult:
    """Predict, relax and rank crystal structures of ``formula``.

    Parameters
    ----------
    formula : str
        E.g. ``"TiO2"``.
    settings : PredictionSettings, optional
    out_dir : path, optional
        Output folder (created; a re-run into it resumes). Without it nothing is written.
    progress : callable, optional
        Called with a :class:`PipelineProgress` at every step.
    cancel : object with ``is_set()``, optional
        Stops the run early; finished steps are kept, nothing is exported.
    candidates : list of Candidate, optional
        Use these instead of the candidate model's.
    contact_maps : dict[int, ContactPrediction], optional
        Maps per Z to use instead of the network's (e.g. edited in the GUI).
    on_generation : callable, optional
        ``(job_id, {generation, best_fitness, mean_fitness, evaluations})`` for every GA generation.
    on_reconstruction : callable, optional
        ``(candidate key, result)`` as soon as a GA run ends (its structure, fitness, Dice).
    templates : list of TemplateCandidate, optional
        Use these template structures instead of retrieving them.
    on_relaxed : callable, optional
        ``(key, entry)`` as each structure's relaxation finishes (and again when the second
        round continues it; resumed ones at once): ``key`` is ``(candidate key, k)`` or
        ``(template key, 0)``, ``entry`` an unranked :class:`RankedStructure` (rank 0) with the
        relaxation so far. Failed relaxations and structures with atoms too close are not
        reported; duplicates are merged only by the final ranking.
    overwrite : bool
        Replace another formula's results in ``out_dir`` (refused otherwise, before any
        work); files the user added there are kept either way (:mod:`core.predict.run_folder`).

    Raises
    ------
    FormulaError
        Bad formula, unknown element, or a cell of more than :data:`core.crystal.composition.MP20_MAX_ATOMS` atoms.
    PredictionError
        Neither route has a structure to offer (no feasible candidate, no template).
    OutputFolderError
        The output folder cannot be written.
    """
    settings = settings or PredictionSettings()
    start = time.perf_counter()
    clock = _Clock(progress, start)
    parsed = parse_formula(formula)
    check_scope(parsed, settings.z)
    settings.check_elements(parsed.counts)
    device = resolve_device(settings.device)  # no CUDA where CUDA was asked: an error before any work
    folder = RunFolder(out_dir, parsed.unit_formula, overwrite) if out_dir is not None else None
    if folder is not None:
        folder.check()  # what this run must not touch is refused before any work; made (and probed) below

    if templates is None:
        templates = _retrieve(parsed, settings, clock) if "templates" in settings.sources else []
    given = candidates is not None
    use_contact = ("contact" in settings.sources and contact_route_fits(parsed, settings.z)
                   and (given or runs_cmcrystal_by_default(parsed, templates)))
    notes = scope_notes(parsed, settings, templates, given)
    chosen: list[Candidate] = ((candidates or []) if given else _propose(parsed, settings, clock)) \
        if use_contact else []
    candidates = chosen
    if use_contact and not candidates and not given:
        notes.append("contact route: no space group admits a Wyckoff assignment of "
                     f"{parsed.unit_formula}" + (f" with Z={settings.z}" if settings.z else ""))
    maps = _contact_maps(parsed, sorted({c.z for c in candidates}), clock, device, given=contact_maps)
    if candidates and (large := large_cell_note(parsed, sorted({c.z for c in candidates}))):
        notes.append(large)

    if not candidates and not templates:
        raise PredictionError(f"no structure to offer for '{formula}'"
                              + (f" with Z={settings.z}" if settings.z else "") + ": "
                              + "; ".join(notes or _nothing_offered(parsed, settings)))
    if folder is not None:  # only now: an input that offers nothing leaves no folder behind
        folder.prepare()

    reconstructions, resumed_recon, skipped = {}, 0, []
    if candidates:
        reconstructions, resumed_recon, skipped = _reconstruct(parsed.reduced_formula, candidates, maps, settings,
                                                               folder, clock, cancel, on_generation,
                                                               on_reconstruction)
        if len(skipped) == len(candidates) and not templates:
            raise PredictionError("; ".join(s["reason"] for s in skipped))
    cancelled = _is_set(cancel)
    selected, broken = {}, list(skipped)
    for key, results in reconstructions.items():
        selected[key], dropped = distinct_results(results, settings.relax_per_candidate)
        broken += [{"candidate": key, "assignment": r.assignment.label, "fitness": round(r.fitness, 4),
                    "reason": f"atoms closer than {MIN_ATOM_DISTANCE} Å"} for r in dropped]
    entries = _entries(candidates, selected, templates)
    relaxations: dict[tuple[str, int], RelaxResult] = {}
    twins: dict[tuple[str, int], tuple[str, int]] = {}
    resumed_relax = 0
    if settings.relax and not cancelled:
        twins = _same_before_relaxation(entries)
        relaxations, resumed_relax = _relax({k: e for k, e in entries.items() if k not in twins}, settings,
                                            folder, clock, cancel, maps, on_relaxed)
        for item, twin in twins.items():  # the same structure relaxes the same way: merged when ranked
            if twin in relaxations:
                relaxations[item] = relaxations[twin]
        cancelled = _is_set(cancel)

    clock.stage("ranking", 0, 1, "removing duplicates")
    ranked, pool, rejected = _rank(entries, relaxations, settings.relax, settings.near_tie, frozenset(twins))
    for entry in pool:
        if entry.z in maps:
            entry.relaxed_score = _relaxed_score(entry, maps[entry.z])
    if settings.relax and settings.ranking == "learned" and len(ranked) > 1:
        ranked = _learned_order(ranked, settings)
    if settings.relax and (settings.reranking_potential or settings.symmetry_prior > 0) and len(ranked) > 1 \
            and not _is_set(cancel):
        clock.stage("ranking", 0, 1, f"re-ranking with {POTENTIALS[settings.reranking_potential].label}"
                    if settings.reranking_potential else "re-ranking with the symmetry prior")
        ranked, said = _rerank_first(ranked, settings, device, parsed)  # a failure, a disagreement, the prior's choice
        if said:
            notes.append(said)
    if settings.relax and settings.stability_frame and ranked and not _is_set(cancel):
        clock.stage("ranking", 0, 1, "energy above the hull of the known phases")
        failure = _place_on_hull(ranked, settings, hull_caveat(parsed))
        if failure:
            notes.append(failure)
    rejected = broken + rejected
    if cancelled:  # the ranked ones are only what finished before the stop
        clock.stage("ranking", 1, 1, f"interrupted: {len(ranked)} structures from the finished part" if ranked
                    else "interrupted before any structure was finished")
    else:
        clock.stage("ranking", 1, 1, f"{len(ranked)} distinct structures"
                    + (f", {len(rejected)} rejected" if rejected else ""))
    result = PredictionResult(parsed.unit_formula, settings, candidates, maps, reconstructions, ranked,
                              time.perf_counter() - start, clock.durations, cancelled,
                              Path(out_dir) if out_dir is not None else None,
                              {"reconstructions": resumed_recon, "relaxations": resumed_relax}, rejected,
                              templates, notes, pool)
    if folder is not None and not cancelled:
        clock.stage("export", 0, len(ranked), "writing CIF, POSCAR and VASP inputs")
        export_prediction(result, folder)
        if ranked and (magnetic := ferromagnetic_start_note(parsed.elements, settings.magmom == "potential")):
            result.notes.append(magnetic)
        clock.stage("export", len(ranked), len(ranked), str(folder.path))
    result.seconds = time.perf_counter() - start
    clock.finish()
    return result

def _nothing_offered(parsed, settings: PredictionSettings) -> list[str]:
    """Why neither route offered a structure, where the scope notes say nothing (the reason was
    empty: ``no structure to offer for 'LiF' with Z=1: ``)."""
    groups = f" in space group {', '.join(map(str, settings.spacegroups))}" if settings.spacegroups else ""
    z = f" with Z={settings.z}" if settings.z else ""
    why = []
    if "templates" in settings.sources:
        why.append(f"no known structure of {parsed.unit_formula}'s stoichiometry{z}{groups} to substitute")
    if "contact" in settings.sources:
        why.append(f"CMCrystal: no candidate{z}{groups}")
    else:
        why.append("CMCrystal was not asked for (--sources)")
    return why


def compare_with_reference(result: PredictionResult, reference: Structure) -> list[ResultRecord]:
    """The ranked records of ``result``, each with whether it matches ``reference``
    (:func:`compare_records`)."""
    records = result.records()
    for record, (match, rmsd) in zip(records, compare_records(records, reference)):
        if record.structure is not None:
            record.match_reference, record.rmsd_reference = match, rmsd
    return records


def compare_records(records: list[ResultRecord], reference: Structure) -> list[tuple[bool | None, float | None]]:
    """(matches, fractional RMSD) of each record's structure against ``reference``: pymatgen's
    StructureMatcher at its default tolerances (:data:`core.crystal.matching.DEFAULT_TOLERANCES`: what a
    user checking by hand would get) and the paper's fractional RMSD (None where undefined); (None, None)
    for a record without a structure. Seconds for a few dozen: a caller with a window runs it in a
    worker thread (a reference opened after a run)."""
    out: list[tuple[bool | None, float | None]] = []
    for record in records:
        structure = record.structure
        if structure is None:  # every ranked entry has one; a record read from elsewhere may not
            out.append((None, None))
            continue
        match = reference_match(structure, reference)
        try:
            rmsd = float(fractional_rmsd_mae(structure, reference)[0])
        except Exception:  # noqa: BLE001 - undefined when the cells cannot be aligned
            rmsd = None
        out.append((bool(match.matched), rmsd))
    return out

def propose_inputs(formula: str, z: int | None = None, top_k: int = PredictionSettings.top_k,
                   model_path: str | None = None, device: str = PredictionSettings.device,
                   progress: Progress | None = None, cancel=None,
                   template_top_k: int = PredictionSettings.template_top_k,
                   template_scorer: str = PredictionSettings.template_scorer,
                   ) -> tuple[list[Candidate], dict[int, ContactPrediction], list[TemplateCandidate]]:
    """The inputs of a run without running it (what the GUI shows for editing):
    the space-group candidates, the predicted map of every Z among them, and the
    top template structures. Candidates and maps are empty when the composition
    is beyond the contact route's cell size (the templates still cover it).

    Raises
    ------
    FormulaError, PredictionError
        As :func:`predict_structures`.
    """
    clock = _Clock(progress, time.perf_counter())
    parsed = parse_formula(formula)
    check_scope(parsed, z)
    settings = PredictionSettings(top_k=top_k, z=z, template_top_k=template_top_k, template_scorer=template_scorer)
    templates = _retrieve(parsed, settings, clock)
    if not contact_route_fits(parsed, z):
        if not templates:
            raise PredictionError("; ".join(scope_notes(parsed, settings)) + "; and no template either")
        clock.finish()
        return [], {}, templates
    candidates = _propose(parsed, settings, clock)
    if model_path:  # a chosen contact model covers its own cell size only (a 12-atom model got a 16-atom Z)
        from core.contact_model.inference import load_model

        limit = load_model(model_path, device).max_atoms
        if z is not None and z * parsed.atoms_per_formula_unit > limit:
            raise PredictionError(f"the chosen contact model ({Path(model_path).name}) covers cells of up to {limit} "
                                  f"atoms; {parsed.unit_formula} with Z={z} has {z * parsed.atoms_per_formula_unit}")
        if z is None and any(c.n_atoms > limit for c in candidates):
            # automatic Z over the cells the model covers: the 12-atom candidate model's joint P(Z, group)
            # (one ranking, comparable probabilities), where the pooled models reach 20 atoms
            from core.candidates.propose import load_default_candidate_model, propose_candidates

            small = load_default_candidate_model()
            if small.max_atoms <= limit:
                candidates = propose_candidates(parsed, top_k=top_k, model=small)
        candidates = [c for c in candidates if c.n_atoms <= limit]
    if not candidates and not templates:
        raise PredictionError(f"no space group admits a Wyckoff assignment of '{formula}'"
                              + (f" with Z={z}" if z else "") + " within the model's cell size, and no template")
    maps = _contact_maps(parsed, sorted({c.z for c in candidates}), clock, device, model_path, cancel)
    clock.finish()
    return candidates, maps, templates


def _contact_maps(parsed: Formula, zs: list[int], clock: _Clock, device: str, model_path: str | None = None,
                  cancel=None, given: dict[int, ContactPrediction] | None = None) -> dict[int, ContactPrediction]:
    """The predicted map of each Z in ``zs`` (those in ``given`` kept as given, e.g. edited in the
    window): ``model_path``'s network, else the shipped one for the cell's size
    (:func:`core.contact_model.inference.model_for_cell`). Stops early when cancelled."""
    maps = dict(given or {})
    for k, z in enumerate(zs):
        if _is_set(cancel):
            break
        if z not in maps:
            clock.stage("contact maps", k, len(zs), f"Z = {z}")
            model = load_model(model_path, device) if model_path else \
                model_for_cell(z * parsed.atoms_per_formula_unit, device)
            maps[z] = predict_contact_map(parsed, z=z, model=model)
    if zs:
        clock.stage("contact maps", len(zs), len(zs), "")
    return maps

def warm_up(model_path: str | None = None, device: str = "auto") -> None:
    """Load the contact and candidate models, the Wyckoff tables and the template
    library once (a few seconds), so that the first prediction a user asks for is
    quick (an app calls this in the background at start-up)."""
    propose_inputs("NaCl", None, 1, model_path, device)

def loaded_resources() -> dict[str, bool]:
    """Which shipped resources this process holds in memory (what :func:`warm_up` loads):
    lets a caller check a process's state instead of timing a call."""
    return {"candidate model": load_default_candidate_model.cache_info().currsize > 0,
            "contact model": _cached_model.cache_info().currsize > 0,
            "template library": load_library.cache_info().currsize > 0}
