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
up to :data:`MAX_ATOMS` atoms). A composition outside a route's scope runs on the
other route, and ``PredictionResult.notes`` says why.

Progress arrives through a callback with the stage, counts and an ETA; a
cancel token stops the run after the current GA generation / relaxation, and
every finished step is kept for a resumed run in the same folder.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
from pymatgen.core import Structure

from core.candidates.propose import Candidate, propose_candidates
from core.contact_model.inference import (
    ContactPrediction,
    load_model,
    model_for_cell,
    predict_contact_map,
)
from core.crystal.composition import MP20_MAX_ATOMS, Formula, formula_unit_text, parse_formula
from core.crystal.symmetry import SPACEGROUP_SYMPREC, cell_summary, space_group_or_p1
from core.errors import AlphaCrystalError, FormulaError
from core.io.files import state_key
from core.predict.ranking import (
    LinearRanker,
    duplicates_before_relaxation,
    merge_near_ties,
    raises_symmetry,
    ranker_features,
)
from core.predict.run_folder import RunFolder, ranked_folder_name, write_structure_folder
from core.reconstruction.ga import GASettings
from core.reconstruction.job import ReconstructionResult, ReconstructionTarget
from core.reconstruction.loop import LoopSettings, reconstruct
from core.reconstruction.selection import distinct_results, same_reported_structure
from core.relax.potentials import DEFAULT_POTENTIAL, POTENTIALS, check_potential
from core.relax.relaxer import (
    MIN_DISTANCE,
    RelaxResult,
    RelaxSettings,
    shortest_distance,
)
from core.relax.rounds import PRERELAX_STEPS, REFINE_TOP, REFINE_WINDOW, relax_in_rounds
from core.runtime.device import DEFAULT_DEVICE, check_device_name, resolve_device
from core.runtime.progress import PipelineProgress
from core.stability.hull import (
    DEFAULT_EHULL_THRESHOLD_EV,
    DEFAULT_FRAME,
    FRAMES,
    STABILITY_COLUMNS,
    Stability,
    StabilityError,
    hull_judge,
)
from core.templates.retrieval import TemplateCandidate, retrieve_templates

MAGMOM_SOURCES = ("input-set", "potential")
"""Where the exported INCAR's MAGMOM comes from (:attr:`PredictionSettings.magmom`)."""

STAGES = ("candidates", "contact maps", "templates", "reconstruction", "relaxation", "ranking", "export")
SOURCES = ("contact", "templates")
MAX_ATOMS = MP20_MAX_ATOMS
"""Largest primitive cell a prediction covers (MP-20's range); the contact route stops at its models' size."""


RANKINGS = ("energy", "learned")
"""How relaxed structures are ordered (:attr:`PredictionSettings.ranking`)."""

SECOND_POTENTIAL = {"chgnet": "sevennet", "sevennet": "chgnet", "sevennet-l3i5": "chgnet"}
"""The potential that re-ranks the first structures by default, for each relaxing potential
(``second_potential="auto"``). Chosen on validation (docs/ranking.md: top-1 0.825 -> 0.925 on 40
formulas with SevenNet-0 re-ranking CHGNet's first 5); on the 100 test formulas the change was
neutral (0.82 -> 0.81)."""
LEARNED_TOP = 3
"""How many of the lowest-energy structures ``ranking="learned"`` re-orders (of 3 and all,
the better on validation: docs/ranking.md)."""
SECOND_TOP = 5
"""How many of the first structures the second potential re-ranks."""
SECOND_WEIGHT = 1.0
"""Weight of the second potential's energy against the first's in the re-ranking."""


class PredictionError(AlphaCrystalError):
    """The formula admits no candidate, or the run cannot proceed; the message says why."""


@dataclass(frozen=True)
class PredictionSettings:
    """Settings of one prediction.

    Attributes
    ----------
    top_k : int
        Space-group candidates tried.
    z : int or None
        Formula units in the primitive cell; None lets the candidate model pick
        the most probable feasible Z per space group.
    spacegroups : tuple of int or None
        Try exactly these space groups (e.g. a known one) instead of the top-k.
    n_assignments, restarts : int
        Wyckoff assignments per candidate (best prior first) and GA runs per assignment.
    escalate_to : int
        A candidate none of whose runs reaches fitness 1 goes on with the assignments
        ranked up to this (0: never; :mod:`core.reconstruction.loop`).
    population, generations, patience : int
        GA settings (paper: population 100, 1000 generations).
    stall : int or None
        Stop a GA run whose best fitness has not improved for this many generations.
    max_strain : float
        Lattice lengths may vary by ± this fraction around the predicted lattice.
    relax : bool
        Relax and rank with the potential; otherwise rank by fitness.
    relax_per_candidate : int
        Distinct reconstructions of each candidate that are relaxed.
    fmax, relax_steps : float, int
        Relaxation convergence (eV/Å) and step limit.
    prerelax_steps, refine_top : int
        Every structure is relaxed for ``prerelax_steps`` first; at most ``refine_top``
        of the unconverged ones, the lowest in energy, continue up to ``relax_steps``.
    refine_window : float or None
        eV/atom: of those, only the ones within this much of the lowest energy after the
        first round continue (None: the ``refine_top`` lowest whatever their energy).
    ranking : str
        ``energy`` (the potential's energy per atom) or ``learned`` (the shipped logistic
        ranker over energy gap, symmetry, route and map agreement: :mod:`core.predict.ranking`).
    second_potential : str or None
        A second potential (``sevennet``, ``sevennet-l3i5``, ``chgnet``) that re-ranks the
        ``second_top`` lowest distinct structures, evaluated at the first one's relaxed geometry
        (None: off; ``auto``, the default: SevenNet-0 after CHGNet, CHGNet after a SevenNet).
    second_top : int
    second_weight : float
        Weight of the second potential's energy (above its lowest) against the first's:
        0.5 the mean, 1 the second alone.
    near_tie : float
        eV/atom: a relaxed structure that is a distortion of a higher-symmetry one at most
        this much higher in energy is merged onto it (:mod:`core.predict.ranking`; 0: off, the
        default: no change of top-1 or top-5 on validation at 5-30 meV/atom).
    stability_frame : str or None
        Where the energies of the convex hull come from (:data:`core.stability.hull.FRAMES`; ``auto``,
        the default: the one chosen for the potential, :data:`core.stability.hull.FRAME_FOR_POTENTIAL`); each
        relaxed result gets its formation energy, energy above the hull of the known phases
        and decomposition (None: off).
    ehull_threshold : float
        eV/atom above the hull up to which a result is ``metastable`` (above: ``unstable``).
    jobs : int or None
        Worker processes (default: all cores).
    seed : int
    sources : tuple of str
        Routes pooled into one ranking: ``contact`` (CMCrystal on the predicted
        map) and/or ``templates`` (substituted known structures).
    template_top_k : int
        Distinct template structures relaxed.
    template_scorer : str
        Substitution score of the template retrieval (``mendeleev``, ``ionic``, ``auto``).
    potential : str
        Interatomic potential that relaxes and ranks (``chgnet``, ``sevennet``;
        :mod:`core.relax.potentials`).
    device : str
        Where the contact-map network and the potential run: ``auto`` (CUDA when
        present), ``cpu``, ``cuda`` or ``cuda:N`` (:mod:`core.runtime.device`).
    magmom : str
        INCAR ``MAGMOM`` of the exported VASP inputs: ``input-set`` (the Materials
        Project set's defaults per element) or ``potential`` (CHGNet's predicted
        moments of the relaxed structure; near zero for many magnetic ions).
    """

    top_k: int = 5
    z: int | None = None
    spacegroups: tuple[int, ...] | None = None
    n_assignments: int = 5
    restarts: int = 1
    escalate_to: int = 0
    population: int = 100
    generations: int = 1000
    patience: int = 50
    stall: int | None = 200
    max_strain: float = 0.1
    relax: bool = True
    relax_per_candidate: int = 2
    fmax: float = 0.1
    relax_steps: int = 300
    prerelax_steps: int = PRERELAX_STEPS
    refine_top: int = REFINE_TOP
    refine_window: float | None = REFINE_WINDOW
    near_tie: float = 0.0
    ranking: str = "energy"
    second_potential: str | None = "auto"
    second_top: int = SECOND_TOP
    second_weight: float = SECOND_WEIGHT
    stability_frame: str | None = DEFAULT_FRAME
    ehull_threshold: float = DEFAULT_EHULL_THRESHOLD_EV
    jobs: int | None = None
    seed: int = 0
    sources: tuple[str, ...] = SOURCES
    template_top_k: int = 5
    template_scorer: str = "mendeleev"
    potential: str = DEFAULT_POTENTIAL
    device: str = DEFAULT_DEVICE
    magmom: str = "input-set"

    def __post_init__(self) -> None:
        object.__setattr__(self, "sources", tuple(self.sources))  # JSON gives a list
        check_potential(self.potential)
        if self.ranking not in RANKINGS:
            raise PredictionError(f"unknown ranking {self.ranking!r}: choose from {', '.join(RANKINGS)}")
        if self.second_potential not in (None, "auto"):
            check_potential(self.second_potential)
            if self.second_potential == self.potential:
                raise PredictionError(f"the second potential is the first one ({self.second_potential}): "
                                      "choose the other one or none")
        if self.stability_frame is not None and self.stability_frame not in (*FRAMES, DEFAULT_FRAME):
            raise PredictionError(f"unknown stability frame {self.stability_frame!r}: choose from "
                                  f"{', '.join((DEFAULT_FRAME, *FRAMES))}")
        if not self.ehull_threshold >= 0:
            raise PredictionError(f"the E_hull threshold must be >= 0 eV/atom, not {self.ehull_threshold}")
        check_device_name(self.device)
        if self.magmom not in MAGMOM_SOURCES:
            raise PredictionError(f"unknown MAGMOM source {self.magmom!r}: choose from {', '.join(MAGMOM_SOURCES)}")
        if self.magmom == "potential" and (self.potential != "chgnet" or not self.relax):
            raise PredictionError("MAGMOM from the potential needs CHGNet relaxation (--potential chgnet, no "
                                  "--no-relax): SevenNet-0 predicts no magnetic moments")
        unknown = [s for s in self.sources if s not in SOURCES]
        if unknown or not self.sources:
            raise PredictionError(f"unknown source(s) {', '.join(unknown) or '(none given)'}: "
                                  f"choose from {', '.join(SOURCES)}")

    @classmethod
    def fast(cls, **changes) -> PredictionSettings:
        """A quick look: 3 assignments, population 60, 300 generations, 1 relaxation per
        candidate and 3 templates with a looser force criterion, the best 2 relaxed further,
        no second potential."""
        base = cls(n_assignments=3, population=60, generations=300, patience=30, stall=100,
                   relax_per_candidate=1, fmax=0.2, relax_steps=150, prerelax_steps=40, refine_top=2,
                   template_top_k=3, second_potential=None)
        return replace(base, **changes)

    @property
    def reranking_potential(self) -> str | None:
        """The potential that re-ranks the first structures (``second_potential`` with ``auto``
        resolved for the relaxing potential), or None."""
        if self.second_potential == "auto":
            return SECOND_POTENTIAL[self.potential]
        return self.second_potential

    def ga(self) -> GASettings:
        return GASettings(population=self.population, generations=self.generations, patience=self.patience,
                          stall=self.stall)

    def loop(self) -> LoopSettings:
        """The reconstruction loop's settings (:mod:`core.reconstruction.loop`)."""
        return LoopSettings(self.n_assignments, self.restarts, self.ga(), self.seed, self.max_strain,
                            self.escalate_to, self.jobs)

    def relax_settings(self) -> RelaxSettings:
        return RelaxSettings(fmax=self.fmax, steps=self.relax_steps, potential=self.potential,
                             device=resolve_device(self.device))

    def to_dict(self) -> dict:
        return asdict(self)




@dataclass
class RankedStructure:
    """One predicted structure after relaxation (or before, without relaxation) and ranking.

    Exactly one route made it: CMCrystal (``candidate`` and ``reconstruction``
    set) or a template substitution (``template`` set).
    """

    rank: int
    source: str
    """``CMCrystal sg225`` or ``template mp-22862``."""
    initial: Structure
    """The structure before relaxation: the GA's reconstruction or the substituted template."""
    relaxation: RelaxResult | None
    candidate: Candidate | None = None
    reconstruction: ReconstructionResult | None = None
    template: TemplateCandidate | None = None
    duplicates: int = 0
    found_also_by: list[str] = field(default_factory=list)
    """Sources of the duplicates merged into this entry (the same structure found again)."""
    duplicate_of: RankedStructure | None = None
    """The ranked entry this one was merged into (None when it is ranked itself)."""
    near_tie: tuple[RankedStructure, float] | None = None
    """(lower-symmetry structure, its energy below this one in eV/atom) when this entry took
    the place of a near-tie it distorts (:func:`core.predict.ranking.merge_near_ties`)."""
    second_energy: float | None = None
    """The second potential's energy at the relaxed geometry, eV/atom (None when not re-ranked)."""
    rank_reason: str = ""
    """Why the entry ranks where it does, in words (summary ``rank_reason``, the GUI's tooltip)."""
    stability: Stability | None = None
    """Formation energy, energy above the hull of the known phases and decomposition
    (:mod:`core.stability.hull`; None without relaxation or reference phases)."""
    folder: Path | None = None
    relaxed_score: tuple[float, float, float] | None = None
    """(fitness, Dice, valid-bond fraction) of the relaxed structure against the predicted map of its Z."""
    _crystallography: tuple[int, dict] | None = field(default=None, repr=False, compare=False)

    @property
    def route(self) -> str:
        """``contact`` or ``templates``."""
        return "templates" if self.template is not None else "contact"

    @property
    def structure(self) -> Structure:
        """The relaxed structure when relaxation succeeded, else the initial one."""
        if self.relaxation is not None and self.relaxation.ok:
            return self.relaxation.structure
        return self.initial

    @property
    def energy_per_atom(self) -> float:
        """Energy of the run's potential, eV/atom (nan without a successful relaxation)."""
        return self.relaxation.energy_per_atom if self.relaxation is not None else float("nan")

    @property
    def spacegroup(self) -> int:
        """Space group the route started from (the candidate's or the template's)."""
        return self.template.spacegroup if self.template is not None else self.candidate.spacegroup

    @property
    def z(self) -> int:
        return self.template.z if self.template is not None else self.candidate.z

    def crystallography(self) -> dict:
        """``relaxed_spacegroup``, ``relaxed_symbol`` and :func:`core.crystal.symmetry.cell_summary` of
        :attr:`structure`, computed once per structure (rows, folder names and exports share it)."""
        structure = self.structure
        if self._crystallography is None or self._crystallography[0] != id(structure):
            sg, symbol = space_group_or_p1(structure)
            self._crystallography = (id(structure), {"relaxed_spacegroup": sg, "relaxed_symbol": symbol,
                                                     **cell_summary(structure)})
        return self._crystallography[1]

    def row(self) -> dict:
        """The summary row (plain values; route-specific columns are None for the other route)."""
        r, c, x, tpl = self.reconstruction, self.candidate, self.relaxation, self.template
        start = tpl or c
        seconds = (r.seconds if r is not None else 0.0) + (x.seconds if x is not None else 0.0)
        return {
            "rank": self.rank,
            "folder": self.folder.name if self.folder else "",
            "formula": formula_unit_text(self.structure.composition),
            "source": self.source,
            "spacegroup": start.spacegroup, "symbol": start.symbol, "z": start.z, "n_atoms": start.n_atoms,
            "sg_probability": None if c is None else round(c.probability, 4),
            "assignment": tpl.wyckoff if tpl is not None else r.assignment.label,
            "template_formula": None if tpl is None else tpl.template_formula,
            "template_score": None if tpl is None else round(tpl.score, 4),
            "dice": None if r is None else round(r.dice, 4),
            "valid_fraction": None if r is None else round(r.valid_fraction, 4),
            "fitness": None if r is None else round(r.fitness, 4),
            "energy_per_atom": None if x is None or not x.ok else round(x.energy_per_atom, 5),
            "relaxed_dice": None if self.relaxed_score is None else round(self.relaxed_score[1], 4),
            "relaxed_fitness": None if self.relaxed_score is None else round(self.relaxed_score[0], 4),
            **self.crystallography(),
            "converged": None if x is None else x.converged,
            "relax_steps": None if x is None else x.steps,
            "relax_error": None if x is None else x.error,
            "second_energy_per_atom": None if self.second_energy is None else round(self.second_energy, 5),
            "rank_reason": self.rank_reason,
            **(self.stability.row() if self.stability is not None else dict.fromkeys(STABILITY_COLUMNS)),
            "duplicates": self.duplicates,
            "found_also_by": "; ".join(self.found_also_by),
            "from_relaxation_only": bool(r is not None and r.fitness == 0.0),
            "reconstruction_s": None if r is None else round(r.seconds, 2),
            "relaxation_s": None if x is None else round(x.seconds, 2),
            "wall_s": round(seconds, 2),
        }


@dataclass
class PredictionResult:
    """Everything a prediction produced.

    ``pool`` holds every sound structure of both routes in ranking order before
    duplicates across routes were merged (what each route alone would have
    ranked); ``ranked`` is the pooled, de-duplicated list. ``notes`` says what the
    run could not do (a route out of scope) in words for the user.
    """

    formula: str
    settings: PredictionSettings
    candidates: list[Candidate]
    contact_maps: dict[int, ContactPrediction]
    reconstructions: dict[str, list[ReconstructionResult]]
    ranked: list[RankedStructure]
    seconds: float
    stage_seconds: dict[str, float] = field(default_factory=dict)
    cancelled: bool = False
    out_dir: Path | None = None
    resumed: dict[str, int] = field(default_factory=dict)
    rejected: list[dict] = field(default_factory=list)
    templates: list[TemplateCandidate] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    pool: list[RankedStructure] = field(default_factory=list)

    def rows(self) -> list[dict]:
        return [r.row() for r in self.ranked]


Progress = Callable[[PipelineProgress], None]


def candidate_key(candidate: Candidate) -> str:
    """A readable id of a candidate: ``sg136-z2``."""
    return f"sg{candidate.spacegroup}-z{candidate.z}"


def parse_candidate_key(key: str) -> tuple[int, int] | None:
    """(space group, Z) of a candidate key (``sg136-z2`` -> (136, 2)); None for other text."""
    import re

    found = re.fullmatch(r"sg(\d+)-z(\d+)", key)
    return (int(found[1]), int(found[2])) if found and 1 <= int(found[1]) <= 230 else None


def candidate_label(key: str) -> str:
    """A candidate key (``sg136-z2``, :func:`candidate_key`) in words: ``P4_2/mnm (136), Z = 2``;
    any other text is returned as it is."""
    from core.crystal.symmetry import hm_symbol

    parsed = parse_candidate_key(key)
    return key if parsed is None else f"{hm_symbol(parsed[0])} ({parsed[0]}), Z = {parsed[1]}"


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
        Bad formula, unknown element, or a cell of more than :data:`MAX_ATOMS` atoms.
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
    device = resolve_device(settings.device)  # no CUDA where CUDA was asked: an error before any work
    folder = RunFolder(out_dir, parsed.unit_formula, overwrite) if out_dir is not None else None
    if folder is not None:
        folder.prepare()

    if templates is None:
        templates = _retrieve(parsed, settings, clock) if "templates" in settings.sources else []
    given = candidates is not None
    use_contact = ("contact" in settings.sources and contact_route_fits(parsed, settings.z)
                   and (given or runs_cmcrystal_by_default(parsed, templates)))
    notes = scope_notes(parsed, settings, templates, given)
    candidates = (candidates if given else _propose(parsed, settings, clock)) if use_contact else []
    if use_contact and not candidates and not given:
        notes.append("contact route: no space group admits a Wyckoff assignment of "
                     f"{parsed.unit_formula}" + (f" with Z={settings.z}" if settings.z else ""))
    maps = dict(contact_maps or {})
    zs = sorted({c.z for c in candidates})
    for k, z in enumerate(zs):
        if z not in maps:
            clock.stage("contact maps", k, len(zs), f"Z = {z}")
            maps[z] = predict_contact_map(parsed, z=z, model=model_for_cell(z * parsed.atoms_per_formula_unit,
                                                                             device))
    if zs:
        clock.stage("contact maps", len(zs), len(zs), "")

    if not candidates and not templates:
        raise PredictionError(f"no structure to offer for '{formula}'"
                              + (f" with Z={settings.z}" if settings.z else "") + ": " + "; ".join(notes))

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
                    "reason": f"atoms closer than {MIN_DISTANCE} Å"} for r in dropped]
    entries = _entries(candidates, selected, templates)
    relaxations: dict[tuple[str, int], RelaxResult] = {}
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
    ranked, pool, rejected = _rank(entries, relaxations, settings.relax, settings.near_tie)
    for entry in pool:
        if entry.z in maps:
            entry.relaxed_score = _relaxed_score(entry, maps[entry.z])
    if settings.relax and settings.ranking == "learned" and len(ranked) > 1:
        ranked = _learned_order(ranked, settings)
    if settings.relax and settings.reranking_potential and len(ranked) > 1 and not _is_set(cancel):
        clock.stage("ranking", 0, 1, f"re-ranking with {POTENTIALS[settings.reranking_potential].label}")
        ranked, failure = _second_opinion(ranked, settings, device)
        if failure:
            notes.append(failure)
    if settings.relax and settings.stability_frame and ranked and not _is_set(cancel):
        clock.stage("ranking", 0, 1, "energy above the hull of the known phases")
        failure = _place_on_hull(ranked, settings)
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
        clock.stage("export", len(ranked), len(ranked), str(folder.path))
    result.seconds = time.perf_counter() - start
    clock.finish()
    return result


def compare_with_reference(result: PredictionResult, reference: Structure) -> list[dict]:
    """Per ranked structure: does it match ``reference`` (pymatgen's StructureMatcher at its
    default tolerances, :data:`core.crystal.matching.DEFAULT_TOLERANCES`: what a user checking by hand
    would get) and the paper's fractional RMSD (None where undefined)."""
    from core.crystal.matching import DEFAULT_TOLERANCES, fractional_rmsd_mae, structure_match

    out = []
    for entry in result.ranked:
        match = structure_match(entry.structure, reference, DEFAULT_TOLERANCES)
        try:
            rmsd = float(fractional_rmsd_mae(entry.structure, reference)[0])
        except Exception:  # noqa: BLE001 - undefined when the cells cannot be aligned
            rmsd = None
        out.append({"match_reference": bool(match.matched), "rmsd_reference": rmsd})
    return out


def propose_inputs(formula: str, z: int | None = None, top_k: int = 5, model_path: str | None = None,
                   device: str = "auto", progress: Progress | None = None, cancel=None, template_top_k: int = 5
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
    settings = PredictionSettings(top_k=top_k, z=z, template_top_k=template_top_k)
    templates = _retrieve(parsed, settings, clock)
    if not contact_route_fits(parsed, z):
        if not templates:
            raise PredictionError("; ".join(scope_notes(parsed, settings)) + "; and no template either")
        clock.finish()
        return [], {}, templates
    candidates = _propose(parsed, settings, clock)
    if not candidates and not templates:
        raise PredictionError(f"no space group admits a Wyckoff assignment of '{formula}'"
                              + (f" with Z={z}" if z else "") + " within the model's cell size, and no template")
    zs = sorted({c.z for c in candidates})
    maps = {}
    for k, zz in enumerate(zs):
        if _is_set(cancel):
            break
        clock.stage("contact maps", k, len(zs), f"Z = {zz}")
        model = load_model(model_path, device) if model_path else \
            model_for_cell(zz * parsed.atoms_per_formula_unit, device)
        maps[zz] = predict_contact_map(parsed, z=zz, model=model)
    clock.finish()
    return candidates, maps, templates


def warm_up(model_path: str | None = None, device: str = "auto", progress: Progress | None = None,
            cancel=None) -> None:
    """Load the contact and candidate models, the Wyckoff tables and the template
    library once (a few seconds), so that the first prediction a user asks for is
    quick (an app calls this in the background at start-up)."""
    propose_inputs("NaCl", None, 1, model_path, device)


def loaded_resources(progress=None, cancel=None) -> dict[str, bool]:
    """Which shipped resources this process holds in memory (what :func:`warm_up` loads):
    lets a caller check a process's state instead of timing a call."""
    from core.candidates.propose import load_default_candidate_model
    from core.contact_model.inference import _cached_model
    from core.templates.library import load_library

    return {"candidate model": load_default_candidate_model.cache_info().currsize > 0,
            "contact model": _cached_model.cache_info().currsize > 0,
            "template library": load_library.cache_info().currsize > 0}


# ---------------------------------------------------------------- scope
def check_scope(parsed: Formula, z: int | None) -> None:
    """Raise :class:`FormulaError` when no cell of ``parsed`` (with ``z``) fits :data:`MAX_ATOMS` atoms."""
    per_unit = parsed.atoms_per_formula_unit
    if per_unit > MAX_ATOMS:
        raise FormulaError(f"'{parsed.text}' has {per_unit} atoms per formula unit; predictions cover cells of "
                           f"up to {MAX_ATOMS} atoms (MP-20's range)")
    if z is not None and (z < 1 or z * per_unit > MAX_ATOMS):
        raise FormulaError(f"'{parsed.text}' with Z={z} has {z * per_unit} atoms; predictions cover cells of "
                           f"up to {MAX_ATOMS} atoms (MP-20's range)")


def z_from_formula(parsed: Formula, z: int | None) -> tuple[int | None, str | None]:
    """The Z to run and, when the typed formula says more than its reduced form, the one
    line that tells the user how it was read (never a silent reinterpretation).

    ``Ag2F4`` means Z = 2 (as the contact-map command reads it) unless ``z`` is given;
    a typed multiple whose cell the contact route cannot take (``Na8Cl8``: 16 atoms;
    ``C60H120``: 180) is reduced, and Z is chosen automatically.
    """
    typed = parsed.typed_z
    if typed <= 1:
        return z, None
    unit = parsed.unit_formula
    if z is not None:
        return z, f"{parsed.text} is {typed} × {unit}; running Z = {z} as given by --z"
    atoms = typed * parsed.atoms_per_formula_unit
    if contact_route_fits(parsed, typed):
        return typed, f"{parsed.text} read as {unit} with Z = {typed} ({atoms} atoms per cell), as typed"
    limit = MAX_ATOMS if atoms > MAX_ATOMS else contact_model_max_atoms()
    why = (f"beyond the {MAX_ATOMS}-atom limit" if atoms > MAX_ATOMS else
           f"beyond the contact route's {limit} atoms (--z {typed} runs that cell on templates)")
    return None, f"{parsed.text} is {typed} × {unit} ({atoms} atoms), {why}: predicting {unit} with Z chosen " \
                 "automatically"


def contact_model_max_atoms() -> int:
    """Largest cell (atoms) the shipped candidate and contact-map models handle (20 with the
    20-atom models shipped; 12 without)."""
    from core.candidates.propose import (
        load_default_candidate_model,
        load_large_cell_candidate_model,
    )
    from core.contact_model.inference import shipped_max_atoms

    large = load_large_cell_candidate_model()
    candidates = max(load_default_candidate_model().max_atoms, large.max_atoms if large else 0)
    return min(candidates, shipped_max_atoms())


def shipped_contact_route_atoms() -> int:
    """:func:`contact_model_max_atoms` without loading a model (file checks only: for the
    GUI thread): 20 when the 20-atom models are shipped, else the default 12."""
    from core.candidates.propose import LARGE_CELL_MODEL_NAME
    from core.contact_model.inference import LARGE_CELL_MODEL_PATH
    from core.crystal.composition import DEFAULT_MAX_ATOMS
    from resources import RESOURCE_DIR

    shipped = LARGE_CELL_MODEL_PATH.is_file() and (RESOURCE_DIR / LARGE_CELL_MODEL_NAME).is_file()
    return MAX_ATOMS if shipped else DEFAULT_MAX_ATOMS


def automatic_z_max_atoms() -> int:
    """Largest cell the contact route proposes when Z is automatic: 20 atoms with the
    20-atom models shipped (both candidate models pooled,
    :func:`core.candidates.propose.automatic_z_models`), else the default models' 12."""
    return contact_model_max_atoms()


def contact_route_fits(parsed: Formula, z: int | None) -> bool:
    """Whether some cell of ``parsed`` (with ``z`` when given) fits the contact route's models."""
    limit = contact_model_max_atoms()
    return (z or 1) * parsed.atoms_per_formula_unit <= limit


def is_all_metal(parsed: Formula) -> bool:
    """Whether every element of the formula is a metal (the element table the contact rule uses)."""
    from core.crystal.elements import atomic_numbers, element_table

    return bool(element_table().is_metal[atomic_numbers(list(parsed.counts))].all())


ALL_METAL_NOTE = ("{formula} is all-metal and {n} known structures of its stoichiometry serve as templates: "
                  "CMCrystal is skipped (an all-metal contact map is empty by definition; on held-out "
                  "intermetallics the templates alone ranked better than pooled with it, docs/prediction.md); "
                  "--sources contact runs it")


def runs_cmcrystal_by_default(parsed: Formula, templates: list[TemplateCandidate]) -> bool:
    """Whether CMCrystal runs by default beside these templates: always, except for an
    all-metal composition that has templates.

    Measured on 20 held-out all-metal formulas of the validation split (at most 12
    atoms, true Z; ``benchmarks/intermetallic_routes.py``): templates alone top-1
    0.85 / top-5 1.00, pooled with CMCrystal 0.75 / 1.00 (its empty-map structures
    were lower in CHGNet energy and pushed correct templates down), CMCrystal alone
    0.55 / 0.55. Without a template CMCrystal is the only route and runs.
    """
    return not (templates and is_all_metal(parsed))


def cell_size_note(parsed: Formula, settings: PredictionSettings) -> str | None:
    """One line when the training data's common Z for ``parsed``'s stoichiometry is out of
    reach (``LiFePO4``: 80 % of the known ABCD4 cells have Z = 2, 14 atoms, and Z = 2 is
    the largest cell MP-20 holds, so the real cell may be larger than this program's
    limit; without the 20-atom models, Z = 2 is also beyond automatic Z's 12 atoms). None when nothing needs saying or the user
    chose Z (``settings.z``)."""
    from core.templates.library import load_library
    from core.templates.z_census import z_census

    if settings.z is not None:
        return None
    census = z_census(parsed, load_library(), MAX_ATOMS)
    common = census.common
    if not common:
        return None
    apfu = census.atoms_per_formula_unit
    contact_limit, cap = automatic_z_max_atoms(), census.largest_z_in_data
    beyond = [z for z in common if z * apfu > contact_limit]
    contact_part = ("contact" in settings.sources and beyond and contact_route_fits(parsed, None)
                    and contact_limit // apfu >= 1)  # a 13-20-atom unit runs on the 20-atom models already
    shown = beyond if contact_part else [cap] if cap in common else []
    if not shown:
        return None
    share = ", ".join(f"{census.share(z):.0%} have Z = {z} ({z * apfu} atoms)" for z in shown)
    parts = []
    if contact_part:
        templates = "; templates cover larger cells" if "templates" in settings.sources else ""
        larger = contact_model_max_atoms()
        given = (f"; --z {beyond[0]} runs it with the {larger}-atom models" if beyond[0] * apfu <= larger else "")
        parts.append(f"beyond the {contact_limit}-atom limit of automatic Z "
                     f"(CMCrystal runs Z \u2264 {contact_limit // apfu}{given}{templates})")
    if cap in common:
        parts.append(f"Z = {cap} is the largest cell MP-20 holds (\u2264 {MAX_ATOMS} atoms), so the true cell "
                     f"may be larger than this program's {MAX_ATOMS}-atom limit")
    return (f"{parsed.unit_formula}: of the {census.total} {census.anonymous_formula} structures in the "
            f"training data, {share}: " + "; ".join(parts))


def scope_notes(parsed: Formula, settings: PredictionSettings, templates: list[TemplateCandidate] | None = None,
                candidates_given: bool = False) -> list[str]:
    """What the user should know about the routes for this composition, in words
    (``templates``: those retrieved; ``candidates_given``: CMCrystal candidates chosen by the caller)."""
    notes = [note] if (note := cell_size_note(parsed, settings)) else []
    if "contact" not in settings.sources:
        return notes
    if not contact_route_fits(parsed, settings.z):
        limit = contact_model_max_atoms()
        atoms = (settings.z or 1) * parsed.atoms_per_formula_unit
        notes.append(f"contact route skipped: its models cover cells of up to {limit} atoms and "
                     f"{parsed.unit_formula}" + (f" with Z={settings.z}" if settings.z else "")
                     + f" has {atoms}; the structures come from templates")
    elif is_all_metal(parsed) and not candidates_given and not runs_cmcrystal_by_default(parsed, templates or []):
        notes.append(ALL_METAL_NOTE.format(formula=parsed.unit_formula, n=len(templates or [])))
    elif is_all_metal(parsed):
        notes.append(f"{parsed.unit_formula} is all-metal: its contact map is empty by definition (metal pairs "
                     "are never in contact), so CMCrystal places its atoms by the space-group and Wyckoff "
                     "priors alone")
    return notes


# ---------------------------------------------------------------- stages
def _propose(parsed, settings: PredictionSettings, clock=None) -> list[Candidate]:
    if clock is not None:
        clock.stage("candidates", 0, 1, f"proposing space groups for {parsed.unit_formula}")
    if settings.spacegroups:
        # every feasible group, to find the user's: no assignment counts (up to 230 enumerations)
        pool = propose_candidates(parsed, top_k=230, z=settings.z, count_wyckoff=False)
        by_sg = {c.spacegroup: c for c in pool}
        missing = [sg for sg in settings.spacegroups if sg not in by_sg]
        if missing:
            raise PredictionError(f"space group(s) {', '.join(map(str, missing))} admit no Wyckoff assignment "
                                  f"of '{parsed.text}'" + (f" with Z={settings.z}" if settings.z else ""))
        out = [by_sg[sg] for sg in settings.spacegroups]
    else:
        out = propose_candidates(parsed, top_k=settings.top_k, z=settings.z)
    if clock is not None:
        clock.stage("candidates", 1, 1, f"{len(out)} candidates")
    return out


def _retrieve(parsed: Formula, settings: PredictionSettings, clock) -> list[TemplateCandidate]:
    clock.stage("templates", 0, 1, f"searching known structures of {parsed.unit_formula}'s stoichiometry")
    found = retrieve_templates(parsed, z=settings.z, top_k=settings.template_top_k, scorer=settings.template_scorer,
                               spacegroups=settings.spacegroups, max_atoms=MAX_ATOMS)
    clock.stage("templates", 1, 1, f"{len(found)} templates"
                + (": " + ", ".join(f"{c.template_formula} {c.symbol}" for c in found[:3]) if found else ""))
    return found


def _entries(candidates: list[Candidate], selected: dict[str, list[ReconstructionResult]],
             templates: list[TemplateCandidate]) -> dict[tuple[str, int], RankedStructure]:
    """One unranked entry per structure to relax: (candidate key, k) or (template key, 0)."""
    by_name = {candidate_key(c): c for c in candidates}
    out: dict[tuple[str, int], RankedStructure] = {}
    for name, results in selected.items():
        cand = by_name[name]
        for k, r in enumerate(results):
            out[(name, k)] = RankedStructure(0, f"CMCrystal sg{cand.spacegroup}", r.structure, None,
                                             candidate=cand, reconstruction=r)
    for tpl in templates:
        out[(tpl.key, 0)] = RankedStructure(0, tpl.source, tpl.structure, None, template=tpl)
    return out


def _target(candidate: Candidate, prediction: ContactPrediction) -> ReconstructionTarget:
    from core.reconstruction.assignments import Assignment

    forced = (Assignment.from_dict(candidate.assignment),) if candidate.assignment else ()
    return ReconstructionTarget(species=tuple(prediction.species), contact_map=np.asarray(prediction.contact),
                                spacegroup=candidate.spacegroup, lattice=tuple(candidate.lattice),
                                name=candidate_key(candidate), assignments=forced)


def _reconstruction_key(formula: str, candidate: Candidate, prediction: ContactPrediction,
                        settings: PredictionSettings) -> str:
    return state_key(formula, candidate.spacegroup, candidate.z, candidate.lattice, list(prediction.species),
                     np.asarray(prediction.contact).tolist(), settings.n_assignments, settings.restarts,
                     settings.ga().to_dict(), settings.max_strain, settings.seed,
                     *([settings.escalate_to] if settings.escalate_to else []),  # older run folders still resume
                     *([candidate.assignment["label"]] if candidate.assignment else []))


def _reconstruct(formula, candidates, maps, settings, folder, clock, cancel, on_generation, on_reconstruction):
    """The reconstruction loop over all candidates on one pool (:func:`core.reconstruction.loop.reconstruct`);
    finished candidates are stored at once, stored ones are resumed."""
    results: dict[str, list[ReconstructionResult]] = {}
    keys, targets, skipped = {}, {}, []
    resumed = 0
    # planning enumerates Wyckoff assignments: its own message, and its time counted in this stage
    clock.stage("reconstruction", 0, 1, f"enumerating Wyckoff assignments of {len(candidates)} candidates")
    for cand in candidates:
        name = candidate_key(cand)
        keys[name] = _reconstruction_key(formula, cand, maps[cand.z], settings)
        stored = folder.load("reconstruction", keys[name]) if folder else None
        if stored is not None:
            results[name] = [result_from_dict(d) for d in stored["results"]]
            resumed += 1
        else:
            targets[name] = _target(cand, maps[cand.z])
    counter = {"done": 0, "total": 0}

    def planned(total: int) -> None:
        counter["total"] = total
        clock.stage("reconstruction", counter["done"], total, f"{total} GA runs over {len(targets)} candidates"
                    + (f" ({resumed} resumed)" if resumed else ""))

    def finished(name: str, result: ReconstructionResult) -> None:
        counter["done"] += 1
        clock.stage("reconstruction", counter["done"], counter["total"],
                    f"{name}: fitness {result.fitness:.3f} [{result.assignment.label}]")
        if on_reconstruction:
            on_reconstruction(name, result)

    def target_done(name: str, done: list[ReconstructionResult]) -> None:
        if folder is not None and not any(r.cancelled for r in done):
            folder.save("reconstruction", keys[name], {"candidate": name, "results": [result_to_dict(r) for r in done]})

    if targets:
        outcome = reconstruct(targets, settings.loop(), progress=on_generation, cancel=cancel, on_planned=planned,
                              on_result=finished, on_target_done=target_done)
        results.update(outcome.results)
        skipped = [{"candidate": name, "assignment": "", "fitness": None, "reason": reason}
                   for name, reason in outcome.skipped.items()]
    return {name: res for name, res in results.items() if res}, resumed, skipped


def _same_before_relaxation(entries: dict[tuple[str, int], RankedStructure]) -> dict:
    """Entries whose structure is another's before relaxation (a template and a CMCrystal run
    often give the same one): item -> the item relaxed in its place (templates kept first)."""
    items = list(entries)
    twins = duplicates_before_relaxation([entries[i].initial for i in items],
                                         [entries[i].template is not None for i in items])
    return {items[k]: items[j] for k, j in twins.items()}


def _relax(entries: dict[tuple[str, int], RankedStructure], settings, folder, clock, cancel,
           maps: dict[int, ContactPrediction] | None = None, on_relaxed=None):
    """Relaxations of the structures of both routes (:func:`core.relax.rounds.relax_in_rounds`:
    one shared budget, stored in the run folder as they finish); ``on_relaxed`` as in
    :func:`predict_structures`."""
    full = settings.relax_settings()
    label = POTENTIALS[full.potential].label

    def progress(done: int, total: int, message: str) -> None:
        clock.stage("relaxation", done, total, message.replace("relaxations", f"{label} relaxations", 1))

    def relaxed(item: tuple[str, int], result: RelaxResult) -> None:
        entry = entries[item]
        if not result.ok or shortest_distance(entry.initial) < MIN_DISTANCE:  # the ranking rejects these
            return
        entry = replace(entry, relaxation=result, found_also_by=[], _crystallography=None)
        if maps and entry.z in maps:
            entry.relaxed_score = _relaxed_score(entry, maps[entry.z])
        on_relaxed(item, entry)

    return relax_in_rounds({item: e.initial for item, e in entries.items()}, full, settings.prerelax_steps,
                           settings.refine_top, settings.jobs, cancel=cancel, store=folder, progress=progress,
                           on_result=relaxed if on_relaxed is not None else None,
                           refine_window=settings.refine_window)


def _relaxed_score(entry: RankedStructure, prediction: ContactPrediction) -> tuple[float, float, float] | None:
    """How well the relaxed structure keeps the bonds of the map (None without relaxation).

    Relaxation moves atoms freely: a GA structure of low fitness can relax into one
    with exactly the map's bonds, and a perfect one can lose some."""
    from core.reconstruction.fitness import score_structure

    if entry.relaxation is None or not entry.relaxation.ok:
        return None
    try:
        ev = score_structure(entry.relaxation.structure, list(prediction.species), np.asarray(prediction.contact))
    except AlphaCrystalError:
        return None
    return float(ev.fitness[0]), float(ev.dice[0]), float(ev.valid_fraction[0])


def _rank(entries: dict[tuple[str, int], RankedStructure], relaxations: dict[tuple[str, int], RelaxResult],
          relaxed: bool, near_tie: float = 0.0
          ) -> tuple[list[RankedStructure], list[RankedStructure], list[dict]]:
    """Drop broken structures, order the rest, merge duplicates across both routes
    (keeping the better one) and, relaxed, near-ties onto the higher symmetry
    (``near_tie`` eV/atom, :func:`core.predict.ranking.merge_near_ties`). Returns (ranked, pool in
    order before merging, rejected); each ranked entry says why in ``rank_reason``.

    Order: by energy per atom; without relaxation the routes have no common
    scale, so their own orders (CMCrystal: fitness, then space-group probability;
    templates: substitution score) are interleaved, template first."""
    from pymatgen.analysis.structure_matcher import StructureMatcher

    sound, rejected = [], []
    for item, e in entries.items():
        relaxation = relaxations.get(item)
        if relaxed and relaxation is None:  # not relaxed (run cancelled)
            continue
        reason = None
        if relaxation is not None and not relaxation.ok:
            reason = f"relaxation failed: {relaxation.error}"
        elif shortest_distance(e.initial) < MIN_DISTANCE:
            reason = f"atoms closer than {MIN_DISTANCE} Å"
        if reason:
            r = e.reconstruction
            rejected.append({"candidate": item[0], "source": e.source,
                             "assignment": r.assignment.label if r is not None else e.template.wyckoff,
                             "fitness": None if r is None else round(r.fitness, 4), "reason": reason})
            continue
        e.relaxation = relaxation
        sound.append(e)
    sound = _ordered(sound, relaxed)
    matcher, cells = StructureMatcher(), {}
    kept: list[RankedStructure] = []
    for e in sound:
        twin = next((k for k in kept if same_reported_structure(matcher, e.structure, k.structure, cells)), None)
        if twin is not None and relaxed and _higher_symmetry_twin(e, twin, near_tie):
            _represent(e, twin, kept, sound)
        elif twin is not None:
            e.duplicate_of = twin
            twin.duplicates += 1
            if e.source not in twin.found_also_by and e.source != twin.source:
                twin.found_also_by.append(e.source)
        else:
            kept.append(e)
    if relaxed and near_tie > 0 and len(kept) > 1:
        kept = _merge_near_ties(kept, near_tie)
    for rank, e in enumerate(kept, 1):
        e.rank = rank
    _explain(kept, relaxed, near_tie)
    return kept, sound, rejected


def _higher_symmetry_twin(e: RankedStructure, twin: RankedStructure, window: float) -> bool:
    """Whether ``e``, the same structure as the lower-energy ``twin``, should represent it:
    its space group is a proper supergroup of the twin's and it is at most ``window`` eV/atom higher."""
    if window <= 0 or e.energy_per_atom - twin.energy_per_atom > window:
        return False
    mine, theirs = (x.crystallography()["relaxed_spacegroup"] for x in (e, twin))
    return raises_symmetry(theirs, mine)


def _represent(e: RankedStructure, twin: RankedStructure, kept: list[RankedStructure],
               sound: list[RankedStructure]) -> None:
    """``e`` takes the place of its lower-symmetry ``twin`` in ``kept``; the twin and the
    duplicates merged into it so far are merged into ``e``."""
    kept[kept.index(twin)] = e
    for other in sound:
        if other.duplicate_of is twin:
            other.duplicate_of = e
    e.duplicates, twin.duplicates = twin.duplicates + 1, 0
    e.found_also_by = [s for s in [*twin.found_also_by, twin.source] if s != e.source]
    twin.found_also_by = []
    twin.duplicate_of = e
    e.near_tie = (twin, e.energy_per_atom - twin.energy_per_atom)


def _learned_order(ranked: list[RankedStructure], settings: PredictionSettings) -> list[RankedStructure]:
    """The first :data:`LEARNED_TOP` of ``ranked`` re-ordered by the shipped learned ranker's
    score (highest first)."""
    rows = [{"energy_per_atom": e.energy_per_atom, "relaxed_spacegroup": e.crystallography()["relaxed_spacegroup"],
             "route": e.route, "template_score": e.template.score if e.template is not None else None,
             "sg_probability": e.candidate.probability if e.candidate is not None else None,
             "dice": e.reconstruction.dice if e.reconstruction is not None else None,
             "relaxed_dice": None if e.relaxed_score is None else e.relaxed_score[1],
             "volume_per_atom": e.structure.volume / len(e.structure),
             "initial_volume_per_atom": e.initial.volume / len(e.initial),
             "times_found": e.duplicates + 1, "converged": e.relaxation.converged} for e in ranked]
    scores = LinearRanker.load().score(ranker_features(rows))
    head = min(LEARNED_TOP, len(ranked))
    order = sorted(range(head), key=lambda k: -scores[k]) + list(range(head, len(ranked)))
    out = _renumbered([ranked[k] for k in order], settings.near_tie)
    for k, e in zip(order[:head], out):
        e.rank_reason += (f"; the first {head} ordered by the learned ranker's score, this one "
                          f"{scores[k]:.2f}")
    return out


def _second_opinion(ranked: list[RankedStructure], settings: PredictionSettings, device: str
                    ) -> tuple[list[RankedStructure], str | None]:
    """The ``second_top`` first of ``ranked`` re-ordered by the second potential's energy at the
    first one's relaxed geometry, weighted ``second_weight`` against the first's (each taken
    above its lowest among them); ranks and reasons renewed."""
    from core.relax.relaxer import cached_relaxer

    head = ranked[:settings.second_top]
    relaxer = cached_relaxer(RelaxSettings(potential=settings.reranking_potential, device=device))
    for e in head:
        try:
            e.second_energy = relaxer.energy_per_atom(e.structure)
        except Exception as exc:  # noqa: BLE001 - a failure of the second potential leaves the first one's order
            failure = (f"re-ranking by {POTENTIALS[settings.reranking_potential].label} failed "
                       f"({type(exc).__name__}: {exc}); the results are ranked by "
                       f"{POTENTIALS[settings.potential].label} alone")
            for f in head:  # the rows say it too (the window shows rows, not the run's notes)
                f.second_energy = None
                f.rank_reason += f"; {failure}"
            return ranked, failure
    w = settings.second_weight
    low1, low2 = min(e.energy_per_atom for e in head), min(e.second_energy for e in head)
    order = sorted(head, key=lambda e: (1 - w) * (e.energy_per_atom - low1) + w * (e.second_energy - low2))
    out = _renumbered(order + ranked[len(head):], settings.near_tie)
    first, second = POTENTIALS[settings.potential].label, POTENTIALS[settings.reranking_potential].label
    how = (f"{second}'s energy at the {first} geometry" if w >= 1 else
           f"{1 - w:g} × {first} + {w:g} × {second} energies")
    for e in head:
        e.rank_reason += (f"; the first {len(head)} ordered by {how}: {first} "
                          f"{1000 * (e.energy_per_atom - low1):.1f}, {second} {1000 * (e.second_energy - low2):.1f}"
                          f" meV/atom above their lowest")
    return out, None


def _place_on_hull(ranked: list[RankedStructure], settings: PredictionSettings) -> str | None:
    """Give every relaxed entry its place on the hull of the known phases (:mod:`core.stability.hull`)
    in the frame of ``settings``; returns a note when it cannot be done (no reference phases
    for the potential, an element without a reference energy)."""
    try:
        judge = hull_judge(settings.potential, settings.stability_frame, settings.ehull_threshold)
        for e in ranked:
            if e.relaxation is not None and e.relaxation.ok:
                e.stability = judge.assess(e.structure.composition, e.energy_per_atom)
    except StabilityError as exc:
        for e in ranked:
            e.stability = None
        return f"no energy above the hull: {exc}"
    return None


def _renumbered(ordered: list[RankedStructure], near_tie: float) -> list[RankedStructure]:
    """``ordered`` (relaxed, re-ordered) with ranks 1..n and their reasons written again."""
    for rank, e in enumerate(ordered, 1):
        e.rank = rank
    _explain(ordered, True, near_tie)
    return ordered


def _merge_near_ties(kept: list[RankedStructure], window: float) -> list[RankedStructure]:
    """``kept`` (distinct, by energy) with near-ties merged onto the higher symmetry."""
    order, ties = merge_near_ties([e.structure for e in kept], [e.energy_per_atom for e in kept],
                                  [e.crystallography()["relaxed_spacegroup"] for e in kept], window)
    for tie in ties:
        lower, higher = kept[tie.lower], kept[tie.higher]
        lower.duplicate_of = higher
        higher.near_tie = (lower, tie.gap)
    return [kept[i] for i in order]


def _explain(ranked: list[RankedStructure], relaxed: bool, near_tie: float) -> None:
    """Fill ``rank_reason`` of every ranked entry."""
    if not ranked:
        return
    if not relaxed:
        for e in ranked:
            how = (f"template substitution score {e.template.score:.3f}" if e.template is not None else
                   f"GA fitness {e.reconstruction.fitness:.3f}, space-group probability "
                   f"{e.candidate.probability:.3f}")
            e.rank_reason = (f"not relaxed: each route in its own order ({how}), the two routes interleaved, "
                             "template first")
        return
    lowest = min(e.energy_per_atom for e in ranked)
    for e in ranked:
        gap = 1000 * (e.energy_per_atom - lowest)
        if len(ranked) == 1:
            text = "the only distinct structure"
        elif e.rank == 1 and gap < 0.05:
            text = f"lowest energy of the {len(ranked)} distinct structures"
        else:
            text = f"{gap:.1f} meV/atom above the lowest"
        if e.near_tie is not None:
            lower, below = e.near_tie
            symbol = lower.crystallography()["relaxed_symbol"]
            own = e.crystallography()["relaxed_symbol"]
            text = (f"{own} in place of its {symbol} distortion ({lower.source}, {1000 * below:.1f} meV/atom "
                    f"lower): near-ties within {1000 * near_tie:.0f} meV/atom are merged onto the higher "
                    f"symmetry; " + text)
        if e.duplicates:
            text += f"; found {e.duplicates + 1} times"
        e.rank_reason = text


def discarded_lines(result: PredictionResult) -> list[str]:
    """One line per structure of a run that is not in its ranked list, saying why:
    merged as a duplicate of a ranked one (after relaxation, when relaxed), or
    rejected (atoms too close, relaxation failed, no Wyckoff assignment)."""
    lines = []
    for e in result.pool:
        if e.duplicate_of is None:
            continue
        r = e.reconstruction
        what = f"{e.source} [{r.assignment.label}] fitness {r.fitness:.3f}" if r is not None else \
            f"{e.source} ({e.template.template_formula} {e.template.symbol})"
        energy = f", {e.energy_per_atom:.4f} eV/atom" if math.isfinite(e.energy_per_atom) else ""
        when = " after relaxation" if result.settings.relax else ""
        twin = e.duplicate_of
        if twin.rank == 0 and twin.duplicate_of is not None:  # a twin that was itself merged as a near-tie
            lines.append(f"{what}{energy}: the same structure as {twin.source}'s, a distortion merged onto "
                         f"#{twin.duplicate_of.rank}")
        elif twin.near_tie is not None and twin.near_tie[0] is e:
            lines.append(f"{what}{energy}: a {e.crystallography()['relaxed_symbol']} distortion of #{twin.rank} "
                         f"({twin.crystallography()['relaxed_symbol']}), {1000 * twin.near_tie[1]:.1f} meV/atom "
                         "lower: merged onto the higher symmetry")
        else:
            lines.append(f"{what}{energy}: the same structure as #{twin.rank}{when}")
    for r in result.rejected:
        fitness = f" fitness {r['fitness']:.3f}" if r.get("fitness") is not None else ""
        what = r.get("source") or f"CMCrystal {r.get('candidate', '')}"
        lines.append(f"{what} [{r.get('assignment', '')}]{fitness}: {r['reason']}")
    return lines


def _ordered(entries: list[RankedStructure], relaxed: bool) -> list[RankedStructure]:
    if relaxed:
        def by_energy(e: RankedStructure):
            energy = e.energy_per_atom
            prior = -e.reconstruction.fitness if e.reconstruction is not None else -1.0
            return (0 if math.isfinite(energy) else 1, energy if math.isfinite(energy) else 0.0, prior)
        return sorted(entries, key=by_energy)
    contact = sorted((e for e in entries if e.template is None),
                     key=lambda e: (-round(e.reconstruction.fitness, 9), -e.candidate.probability,
                                    e.reconstruction.bond_strain))
    templates = sorted((e for e in entries if e.template is not None), key=lambda e: -e.template.score)
    out = []
    for k in range(max(len(contact), len(templates))):
        out += [e[k] for e in (templates, contact) if k < len(e)]
    return out


def export_prediction(result: PredictionResult, folder: RunFolder) -> None:
    """Write the ranked folders and the summaries of ``result`` into ``folder``."""
    entries = []
    for e in result.ranked:
        name = ranked_folder_name(e.rank, result.formula, e.crystallography()["relaxed_symbol"])
        e.folder = folder.path / name
        entries.append((name, _structure_writer(e, result.formula, result.settings.magmom)))
    meta = {"formula": result.formula, "settings": result.settings.to_dict(), "seconds": round(result.seconds, 2),
            "stage_seconds": {k: round(v, 2) for k, v in result.stage_seconds.items()},
            "resumed": result.resumed,
            "rejected": result.rejected,
            "discarded": discarded_lines(result),
            "candidates": [c.to_dict() for c in result.candidates],
            "contact_maps": {str(z): p.to_dict() for z, p in result.contact_maps.items()},
            "templates": [c.to_dict(with_structure=False) for c in result.templates],
            "notes": result.notes,
            "symprec": SPACEGROUP_SYMPREC,
            "symprec_note": "Å, with an angle tolerance of 5°: space groups of the table, folder names and "
                            "symmetrised CIFs",
            "from_relaxation_only": "true where the GA structure had fitness 0 (no bond of the map): the result "
                                    "comes from the relaxation, not from the contact map",
            "device": resolve_device(result.settings.device),
            "magmom": "INCAR MAGMOM: " + ("CHGNet's predicted moments of the relaxed structure"
                                          if result.settings.magmom == "potential" else
                                          "the Materials Project input set's defaults per element"),
            "energy": f"{POTENTIALS[result.settings.potential].label} total energy per atom (eV/atom)"
            if result.settings.relax else None}
    folder.publish(entries, result.rows(), meta)
    result.notes.extend(folder.notes)


def _structure_writer(entry: RankedStructure, formula: str, magmom: str = "input-set"):
    x = entry.relaxation
    magmoms = x.magmoms if magmom == "potential" and x is not None and x.ok else None
    return lambda path: write_structure_folder(path, entry.structure, formula, entry.rank, entry.row(),
                                               entry.initial, initial_name(entry.route), magmoms)


def export_rows(rows: list[dict], folder: str | Path, formula: str, progress=None,
                cancel=None) -> tuple[list[Path], list[str]]:
    """Write result rows (``RankedStructure.row()`` plus ``structure`` and ``reconstructed``
    as ``Structure.as_dict()``, as the desktop app keeps them) into ``folder``, one
    ranked subfolder each, with the same writer and names as a prediction's output folder
    (the formula written as the unit formula, :func:`core.crystal.composition.formula_unit_text`).

    Returns the folders written and notes on what was kept of the user's: a file the user
    edited in an earlier export is never replaced (:meth:`core.predict.run_folder.RunFolder.write_in_place`).
    """
    try:
        formula = parse_formula(formula).unit_formula
    except FormulaError:  # a name that is not a formula: kept as it is
        pass
    entries = []
    for k, row in enumerate(rows, 1):
        rank = int(row.get("rank", k))
        name = ranked_folder_name(rank, formula, row.get("relaxed_symbol") or row.get("symbol", "P1"))
        initial = Structure.from_dict(row["reconstructed"]) if row.get("reconstructed") else None
        route = "templates" if str(row.get("source", "")).startswith("template") else "contact"
        entries.append((name, functools.partial(write_structure_folder, structure=Structure.from_dict(row["structure"]),
                                                formula=formula, rank=rank, row=row, reconstructed=initial,
                                                initial_name=initial_name(route))))
    target = RunFolder(folder)
    out = []
    for entry in entries:
        if _is_set(cancel):
            break
        out += target.write_in_place([entry])
    return out, target.notes


def initial_name(route: str) -> str:
    """File name of a result's structure before relaxation: ``reconstructed.cif`` or ``template.cif``."""
    return "template.cif" if route == "templates" else "reconstructed.cif"


# ---------------------------------------------------------------- helpers

def _is_set(cancel) -> bool:
    return cancel is not None and cancel.is_set()


def result_to_dict(r: ReconstructionResult) -> dict:
    return {**r.to_dict(), "structure": r.structure.as_dict(), "assignment": r.assignment.to_dict(),
            "assignment_rank": r.assignment_rank, "history": []}


def result_from_dict(d: dict) -> ReconstructionResult:
    from core.reconstruction.assignments import Assignment

    a = d["assignment"]
    assignment = Assignment(a["spacegroup"], tuple(a["species"]), tuple(tuple(o) for o in a["orbits"]), a["dof"])
    return ReconstructionResult(
        job_id=d["job_id"], structure=Structure.from_dict(d["structure"]), fitness=d["fitness"], dice=d["dice"],
        valid_fraction=d["valid_fraction"], n_valid_bonds=d["n_valid_bonds"], n_short_contacts=d["n_short_contacts"],
        assignment=assignment, lattice=tuple(d["lattice"]), generations=d["generations"],
        evaluations=d["evaluations"], seconds=d["seconds"], cancelled=d["cancelled"],
        bond_strain=d.get("bond_strain", 0.0), assignment_rank=d.get("assignment_rank", 0))


class _Clock:
    """Stage timing and progress events with a per-stage ETA."""

    def __init__(self, callback: Progress | None, start: float) -> None:
        self.callback = callback
        self.start = start
        self.current: str | None = None
        self.stage_start = start
        self.durations: dict[str, float] = {}

    def stage(self, name: str, done: int, total: int, message: str) -> None:
        now = time.perf_counter()
        if name != self.current:
            self._close(now)
            self.current, self.stage_start = name, now
        eta = None
        if 0 < done < total:
            eta = (now - self.stage_start) / done * (total - done)
        elif done >= total:
            eta = 0.0
        if self.callback:
            self.callback(PipelineProgress(name, done, total, message, now - self.start, eta))

    def _close(self, now: float) -> None:
        if self.current is not None:
            self.durations[self.current] = self.durations.get(self.current, 0.0) + now - self.stage_start

    def finish(self) -> None:
        self._close(time.perf_counter())
        self.current = None
        if self.callback:
            self.callback(PipelineProgress("done", 1, 1, "", time.perf_counter() - self.start, 0.0))
