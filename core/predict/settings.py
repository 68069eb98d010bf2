"""What a prediction is asked to do: :class:`PredictionSettings` (every option of ``predict`` and the
window's run panel, checked on creation) and the constants of its routes and ranking.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from core.errors import AlphaCrystalError
from core.reconstruction.ga import MAX_POPULATION, MIN_POPULATION, GASettings
from core.reconstruction.loop import LoopSettings
from core.relax.potentials import (
    DEFAULT_POTENTIAL,
    POTENTIALS,
    check_potential,
    check_potential_elements,
)
from core.relax.relaxer import (
    RelaxSettings,
)
from core.relax.rounds import PRERELAX_STEPS, REFINE_TOP, REFINE_WINDOW
from core.runtime.device import DEFAULT_DEVICE, check_device_name, resolve_device
from core.runtime.parallel import MAX_PROCESSES
from core.stability.hull import (
    DEFAULT_EHULL_THRESHOLD_EV,
    DEFAULT_FRAME,
    FRAMES,
)

MAGMOM_SOURCES = ("input-set", "potential")
"""Where the exported INCAR's MAGMOM comes from (:attr:`PredictionSettings.magmom`)."""

STAGES = ("candidates", "contact maps", "templates", "reconstruction", "relaxation", "ranking", "export")

SOURCES = ("contact", "templates")

RANKINGS = ("energy", "learned")
"""How relaxed structures are ordered (:attr:`PredictionSettings.ranking`)."""

SECOND_POTENTIAL = {"chgnet": "sevennet", "sevennet": "chgnet", "sevennet-l3i5": "chgnet", "sevennet-mf-0": "chgnet"}
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

SYMMETRY_PRIOR = 0.010
"""eV/atom (a temperature kT): the first :data:`SECOND_TOP` structures are ordered by their energy
above the lowest minus kT ln P(relaxed space group | composition, Z), P from the candidate model
(:func:`core.candidates.propose.spacegroup_prior`). Chosen on 100 validation formulas of at most 12
atoms (docs/ranking.md, "A symmetry prior"): top-1 0.78 -> 0.86 after SevenNet-0's re-ranking
(kT 2, 5, 10, 20 meV/atom: 0.83, 0.82, 0.86, 0.85), top-5 unchanged."""

PRIOR_FLOOR = 1.0e-4
"""Probability taken for a relaxed (space group, Z) the candidate model gives no weight."""

SHORT_GA_MAX_ATOMS = 12
"""Cells of at most this many atoms get :data:`SHORT_GA_BUDGET`, larger ones :data:`LONG_GA_BUDGET`."""

SHORT_GA_BUDGET = (20, 100)
"""(patience, stall) of a GA run on a cell of at most :data:`SHORT_GA_MAX_ATOMS` atoms. Chosen on
validation (docs/ranking.md, "The GA budget"): on 40 formulas of at most 12 atoms it changed no rank
and halved the GA's generations (4,116 -> 2,188 per formula)."""

LONG_GA_BUDGET = (50, 200)
"""(patience, stall) of a GA run on a larger cell: on 20 validation formulas of 13-20 atoms the short
budget lost one match from the top 5, so these keep the longer one."""

class PredictionError(AlphaCrystalError):
    """The formula admits no candidate, or the run cannot proceed; the message says why."""

MAX_COUNT = 1_000_000
"""Ceiling of whole-number settings without a bound of their own (a typo, not a setting)."""
MAX_GA_RUNS = 1000
"""Most Wyckoff assignments, restarts or escalated assignments per candidate (each run takes
tens of seconds)."""
COUNT_RANGES: dict[str, tuple[int, int]] = {
    "population": (MIN_POPULATION, MAX_POPULATION),
    "generations": (1, MAX_COUNT),
    "n_assignments": (1, MAX_GA_RUNS),
    "restarts": (1, MAX_GA_RUNS),
    "escalate_to": (0, MAX_GA_RUNS),
    "jobs": (1, MAX_PROCESSES),
}
"""The allowed range (inclusive) of each whole-number GA and process setting: the one home of
these limits, checked by :class:`PredictionSettings` and read by the CLI's options and the
desktop app's spin boxes (so a project's setting is shown as it runs)."""

OPTION_NAMES = {"n_assignments": "assignments", "max_strain": "strain", "escalate_to": "escalate",
                "template_top_k": "templates-top-k", "spacegroups": "spacegroup", "relax": "no-relax"}
"""The command-line option of a setting where its name differs (others: the name, ``-`` for ``_``)."""
MEV_SETTINGS = ("ehull_threshold", "symmetry_prior", "near_tie", "refine_window")
"""Settings held in eV/atom that the command line and the messages give in meV/atom."""


def cli_scale(name: str) -> float:
    """Command-line units per unit of setting ``name``: 1000 for the :data:`MEV_SETTINGS` (meV/atom on
    the command line, eV/atom in the settings), else 1. The one conversion of the options' values."""
    return 1000.0 if name in MEV_SETTINGS else 1.0


def setting_option(name: str) -> str:
    """``--ehull-threshold``: the command-line option of setting ``name``."""
    return "--" + OPTION_NAMES.get(name, name).replace("_", "-")


def setting_value(name: str, value) -> str:
    """A setting's value as the command line gives it: meV/atom for :data:`MEV_SETTINGS` (``50``
    where the setting holds 0.05), ``on``/``off`` for a flag, lists comma-separated."""
    if value is None:
        return "none"
    if name == "relax":
        return "off" if value else "on"  # --no-relax
    if isinstance(value, bool):
        return "on" if value else "off"
    if name in MEV_SETTINGS and isinstance(value, (int, float)):
        return f"{cli_scale(name) * value:g} meV/atom"
    if isinstance(value, (list, tuple)):
        return ",".join(map(str, value))
    return str(value)


MAX_STRAIN = 0.5
"""Largest lattice-length freedom: lengths vary by ``1 ± strain`` (at 1 a length may reach 0)."""

OTHER_RANGES: dict[str, tuple[float, float]] = {
    "top_k": (1, 230),
    "relax_per_candidate": (1, MAX_COUNT),
    "relax_steps": (1, MAX_COUNT),
    "prerelax_steps": (1, MAX_COUNT),
    "refine_top": (0, MAX_COUNT),
    "second_top": (1, MAX_COUNT),
    "template_top_k": (1, MAX_COUNT),
    "patience": (0, MAX_COUNT),
    "stall": (1, MAX_COUNT),
    "max_strain": (0.0, MAX_STRAIN),
    "second_weight": (0.0, 1.0),
    "symmetry_prior": (0.0, 1.0),
    "near_tie": (0.0, 1.0),
    "ehull_threshold": (0.0, 10.0),
    "refine_window": (0.0, 10.0),
}
"""The allowed range (inclusive; energies in eV/atom) of the other numeric settings, checked by
:class:`PredictionSettings`: a project file or a script is held to the limits the CLI's options
give (a strain of 2 or a negative step count used to pass there). None, where a setting allows
it, is not checked. ``fmax`` (eV/Å) must be above 0."""


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
    population, generations : int
        GA settings (paper: population 100, 1000 generations).
    patience, stall : int or None
        Generations a GA run goes on after reaching fitness 1, and generations without
        improvement after which it stops. None (the default): by the cell's size,
        :data:`SHORT_GA_BUDGET` up to :data:`SHORT_GA_MAX_ATOMS` atoms, :data:`LONG_GA_BUDGET`
        above (:meth:`ga`).
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
    symmetry_prior : float
        eV/atom: the first ``second_top`` structures are ordered by energy minus this times
        ln P(relaxed space group | composition, Z) under the candidate model (0: off;
        :data:`SYMMETRY_PRIOR`).
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
        Worker processes (None: one per core this process may use, :func:`core.runtime.parallel.resolve_workers`).
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

    # the GA's and the relaxation's defaults are their own settings' (one home: reconstruct, predict and
    # the window start from the same values)
    top_k: int = 5
    z: int | None = None
    spacegroups: tuple[int, ...] | None = None
    n_assignments: int = LoopSettings.n_assignments
    restarts: int = LoopSettings.restarts
    escalate_to: int = LoopSettings.escalate_to
    population: int = GASettings.population
    generations: int = GASettings.generations
    patience: int | None = None
    stall: int | None = None
    max_strain: float = 0.1
    relax: bool = True
    relax_per_candidate: int = 2
    fmax: float = RelaxSettings.fmax
    relax_steps: int = RelaxSettings.steps
    prerelax_steps: int = PRERELAX_STEPS
    refine_top: int = REFINE_TOP
    refine_window: float | None = REFINE_WINDOW
    near_tie: float = 0.0
    ranking: str = "energy"
    second_potential: str | None = "auto"
    second_top: int = SECOND_TOP
    second_weight: float = SECOND_WEIGHT
    symmetry_prior: float = SYMMETRY_PRIOR
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
        for name, (low, high) in {**COUNT_RANGES, **OTHER_RANGES}.items():
            value = getattr(self, name)
            if value is not None and not low <= value <= high:  # NaN fails too
                raise PredictionError(f"{name.replace('_', ' ')} {value} is out of range: give {low} to {high}")
        if not self.fmax > 0:
            raise PredictionError(f"the force criterion (fmax) must be above 0 eV/Å, not {self.fmax}")
        check_potential(self.potential)
        if self.ranking not in RANKINGS:
            raise PredictionError(f"unknown ranking {self.ranking!r}: choose from {', '.join(RANKINGS)}")
        if self.second_potential not in (None, "auto"):
            check_potential(self.second_potential)
            if self.second_potential == self.potential:
                others = [name for name in POTENTIALS if name != self.potential]
                raise PredictionError(f"the second potential is the first one ({self.second_potential}): "
                                      f"choose another ({', '.join(others)}) or none")
        if self.stability_frame is not None and self.stability_frame not in (*FRAMES, DEFAULT_FRAME):
            raise PredictionError(f"unknown stability frame {self.stability_frame!r}: choose from "
                                  f"{', '.join((DEFAULT_FRAME, *FRAMES))}")
        check_device_name(self.device)
        if self.magmom not in MAGMOM_SOURCES:
            raise PredictionError(f"unknown MAGMOM source {self.magmom!r}: choose from {', '.join(MAGMOM_SOURCES)}")
        if self.magmom == "potential" and (self.potential != "chgnet" or not self.relax):
            why = ("--no-relax relaxes nothing" if not self.relax else
                   f"{POTENTIALS[self.potential].label} predicts no magnetic moments")
            raise PredictionError("MAGMOM from the potential needs CHGNet relaxation (--potential chgnet, no "
                                  f"--no-relax): {why}")
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

    def ga(self, n_atoms: int | None = None) -> GASettings:
        """GA settings of a run on a cell of ``n_atoms`` atoms (None: unknown, the long budget):
        ``patience`` and ``stall`` as given, or by the cell's size where they are None."""
        short = n_atoms is not None and n_atoms <= SHORT_GA_MAX_ATOMS
        patience, stall = SHORT_GA_BUDGET if short else LONG_GA_BUDGET
        return GASettings(population=self.population, generations=self.generations,
                          patience=patience if self.patience is None else self.patience,
                          stall=stall if self.stall is None else self.stall)

    def loop(self) -> LoopSettings:
        """The reconstruction loop's settings (:mod:`core.reconstruction.loop`); each target of the
        prediction carries its own GA settings (:meth:`ga` of its cell's size)."""
        return LoopSettings(self.n_assignments, self.restarts, self.ga(), self.seed, self.max_strain,
                            self.escalate_to, self.jobs)

    def check_elements(self, symbols) -> None:
        """Refuse, before any work, a relaxation or re-ranking by a potential not trained on one of
        ``symbols`` (:func:`core.relax.potentials.check_potential_elements`)."""
        if self.relax:
            for name in (self.potential, self.reranking_potential):
                if name is not None:
                    check_potential_elements(name, symbols)

    def relax_settings(self) -> RelaxSettings:
        return RelaxSettings(fmax=self.fmax, steps=self.relax_steps, potential=self.potential,
                             device=resolve_device(self.device))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> PredictionSettings:
        """Settings from :meth:`to_dict` output (a project file): unknown keys (an older or newer
        version's) are ignored, missing ones keep their defaults, lists become tuples.

        Raises
        ------
        PredictionError
            A value out of range or an unknown choice (:meth:`__post_init__`)."""
        known = {f.name for f in fields(cls)}
        values: dict[str, Any] = {k: (tuple(v) if isinstance(v, list) else v) for k, v in data.items() if k in known}
        return cls(**values)

    @classmethod
    def usable_from_dict(cls, data: dict) -> tuple[PredictionSettings, dict[str, str]]:
        """(settings, refused: key -> why): :meth:`from_dict`, or, where that fails, every value
        refused on its own dropped (its default used) and the others kept: a project with one value
        beyond today's ranges keeps its potential, sources and counts. Values refused only together
        (a combination) give the defaults (key ``*``)."""
        try:
            return cls.from_dict(data), {}
        except (AlphaCrystalError, TypeError, ValueError):
            pass
        kept, refused = {}, {}
        for key, value in data.items():
            try:
                cls.from_dict({key: value})
            except (AlphaCrystalError, TypeError, ValueError) as exc:
                refused[key] = f"{key} {value!r} ({exc})"
            else:
                kept[key] = value
        for key in list(refused):  # refused beside the defaults, fine beside the kept values (a second
            try:                   # potential checked against the default first one)
                cls.from_dict({**kept, key: data[key]})
            except (AlphaCrystalError, TypeError, ValueError):
                continue
            kept[key] = data[key]
            del refused[key]
        try:
            return cls.from_dict(kept), refused
        except (AlphaCrystalError, TypeError, ValueError) as exc:
            return cls(), {"*": f"the settings together ({exc}): the defaults are used"}
