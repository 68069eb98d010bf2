"""``propose_candidates``: a formula → ranked (space group, Z, lattice) candidates."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from functools import lru_cache

import numpy as np

from core.candidates.features import count_matrix, formula_counts
from core.candidates.model import CandidateModel
from core.candidates.ranking import pooled_joint, rank_spacegroups
from core.contact_model.inference import LARGE_CELL_MODEL_PATH
from core.crystal.composition import Formula, parse_formula
from core.crystal.spacegroups import centring_points, constrain_lattice
from core.crystal.symmetry import crystal_system, hm_symbol
from core.crystal.wyckoff import count_assignments, is_feasible
from core.errors import AlphaCrystalError, FormulaError
from core.reconstruction.assignments import Assignment, assignment_of_structure

DEFAULT_MODEL_NAME = "candidate_model_default.pt"
LARGE_CELL_MODEL_NAME = "candidate_model_l20.pt"
"""Trained on cells of up to 20 atoms: used where the default (12-atom) model cannot reach."""


TIED_LENGTHS = {"cubic": (0, 1, 2), "tetragonal": (0, 1), "hexagonal": (0, 1), "trigonal": (0, 1)}
"""Conventional-cell lengths (indices into a, b, c) equal by the crystal system."""

EDITABLE_LENGTH_RANGE = (1.0, 100.0)
"""Å: a lattice length typed by hand outside this is refused. Below 1 Å no two atoms fit (they
must be at least 0.5 Å apart); the cells of at most 20 atoms in the data are a few to about 30 Å."""

LATTICE_NAMES = ("a", "b", "c", "α", "β", "γ")
"""The six lattice parameters by index, as messages name them."""


class CandidateEditError(FormulaError):
    """A hand edit of a candidate that cannot be applied (the message says why)."""


@dataclass(frozen=True)
class Candidate:
    """One proposed (space group, Z, lattice) for a composition.

    Attributes
    ----------
    spacegroup, symbol, crystal_system
        International number, short Hermann-Mauguin symbol, crystal system.
    probability : float
        Model probability of the space group (summed over feasible Z,
        renormalised over feasible groups).
    z : int
        Most probable number of formula units in the primitive cell for this group.
    n_atoms : int
        Atoms in the primitive cell (``z`` × atoms per formula unit); the
        conventional cell holds ``n_atoms * centring_points``.
    lattice : tuple of float
        Conventional standard cell ``(a, b, c, α, β, γ)`` in Å and degrees
        (rhombohedral groups in hexagonal axes, monoclinic unique axis b).
    n_wyckoff_assignments : int or None
        Feasible Wyckoff assignments of the composition (capped at pyxtal's
        enumeration limit); ``None`` when not counted.
    z_probabilities : dict[int, float]
        Probability of each feasible Z for this group.
    assignment : dict or None
        The one Wyckoff assignment (``Assignment.to_dict()``) CMCrystal runs for this
        candidate: a re-run from a known structure (:func:`rerun_candidate`); None for
        the prior's top assignments.
    """

    spacegroup: int
    symbol: str
    crystal_system: str
    probability: float
    z: int
    n_atoms: int
    centring_points: int
    lattice: tuple[float, ...]
    n_wyckoff_assignments: int | None
    z_probabilities: dict[int, float] = field(default_factory=dict)
    assignment: dict | None = None

    def to_dict(self) -> dict:
        """JSON-ready; ``assignment`` only when set (files stay readable by earlier versions)."""
        data = asdict(self)
        if data["assignment"] is None:
            del data["assignment"]
        return data

    def with_spacegroup(self, spacegroup: int, formula: str | Formula) -> Candidate:
        """This candidate moved to another space group (same Z; lattice constrained to the
        new group's crystal system; probability 0: chosen by hand).

        Raises
        ------
        CandidateEditError
            Not a group number, or no Wyckoff assignment of ``formula`` × Z in it.
        """
        if not 1 <= int(spacegroup) <= 230:
            raise CandidateEditError(f"space group {spacegroup} does not exist (1-230)")
        per_unit = formula_counts(parse_formula(formula) if isinstance(formula, str) else formula)
        counts = tuple(per_unit[k] * self.z for k in sorted(per_unit))
        if not is_feasible(spacegroup, counts):
            raise CandidateEditError(f"space group {spacegroup} has no Wyckoff assignment for this composition "
                                     f"and Z={self.z}")
        lattice = tuple(float(v) for v in constrain_lattice(spacegroup, np.asarray(self.lattice, dtype=float)))
        return replace(self, spacegroup=spacegroup, symbol=hm_symbol(spacegroup),
                       crystal_system=crystal_system(spacegroup), lattice=lattice,
                       centring_points=centring_points(spacegroup), probability=0.0, n_wyckoff_assignments=None,
                       assignment=None)

    def added_by_hand(self) -> Candidate:
        """A copy to edit into another candidate (probability 0: not the model's; the
        prior's assignments, not a re-run's one)."""
        return replace(self, probability=0.0, assignment=None)

    def with_lattice_value(self, index: int, value: float) -> Candidate:
        """This candidate with lattice parameter ``index`` (0-5: a, b, c in Å, α, β, γ in
        degrees) set to ``value``; lengths tied by the crystal system follow (a = b = c
        in cubic, a = b in tetragonal, hexagonal and trigonal), then the group's
        constraints are applied.

        Raises
        ------
        CandidateEditError
            A length outside :data:`EDITABLE_LENGTH_RANGE`, an angle outside (0°, 180°), or a
            value the space group fixes (α = 80° in a tetragonal cell): the message says which.
        """
        if not 0 <= index < 6:
            raise CandidateEditError(f"lattice parameter index {index} (0-5)")
        name = LATTICE_NAMES[index]
        low, high = EDITABLE_LENGTH_RANGE
        if index < 3 and not low <= value <= high:
            raise CandidateEditError(f"{name} = {value:g} Å is out of range ({low:g}-{high:g} Å)")
        if index >= 3 and not 0 < value < 180:
            raise CandidateEditError(f"{name} = {value:g}° is out of range (0-180°)")
        lattice = list(self.lattice)
        lattice[index] = float(value)
        tied = TIED_LENGTHS.get(self.crystal_system, ())
        if index in tied:
            for k in tied:
                lattice[k] = float(value)
        constrained = tuple(float(v) for v in constrain_lattice(self.spacegroup, np.asarray(lattice, dtype=float)))
        if abs(constrained[index] - value) > 1e-6:
            unit = "Å" if index < 3 else "°"
            raise CandidateEditError(f"{name} is fixed at {constrained[index]:g}{unit} in a {self.crystal_system} "
                                     f"cell ({self.symbol}): change the space group first")
        return replace(self, lattice=constrained)

    @classmethod
    def from_dict(cls, data: dict) -> Candidate:
        """Inverse of :meth:`to_dict` (JSON turns tuples into lists and int keys into strings)."""
        values = dict(data)
        values["lattice"] = tuple(float(v) for v in values["lattice"])
        values["z_probabilities"] = {int(k): float(v) for k, v in values.get("z_probabilities", {}).items()}
        return cls(**values)


def rerun_start(structure, formula: str | Formula) -> tuple[Assignment, tuple[float, ...], int]:
    """(Wyckoff assignment, conventional lattice, Z) a re-run of CMCrystal from ``structure`` starts
    from (spglib at the reporting tolerance), without the candidate model: the check a window's menu
    makes before it offers a re-run (:func:`rerun_candidate` adds the model's probability).

    Raises
    ------
    FormulaError, AlphaCrystalError
        As :func:`rerun_candidate`.
    """
    from core.io.read import close_atoms

    parsed = parse_formula(formula) if isinstance(formula, str) else formula
    per_unit = parsed.reduced_counts
    crowded = close_atoms(structure, "the structure")
    if crowded:
        raise AlphaCrystalError(f"{crowded}; two atoms on one site give no Wyckoff assignment for CMCrystal "
                                "to start from")
    assignment, lattice = assignment_of_structure(structure)
    primitive_atoms = assignment.primitive_counts
    first = next(iter(per_unit))
    z = primitive_atoms.get(first, 0) // per_unit[first]
    if set(primitive_atoms) != set(per_unit) or any(primitive_atoms[el] != z * n for el, n in per_unit.items()):
        raise FormulaError(f"the structure ({structure.composition.reduced_formula}) is not of the formula "
                           f"{parsed.reduced_formula}")
    return assignment, lattice, z


def rerun_candidate(structure, formula: str | Formula) -> Candidate:
    """A candidate to run CMCrystal again from a structure (a result, a template, a file):
    its space group, Z, conventional lattice and Wyckoff assignment (read by spglib at
    the reporting tolerance), with the candidate model's probability of that group and Z
    for the composition (:func:`spacegroup_prior`; 0 where the model gives it none).

    Raises
    ------
    FormulaError
        When the structure is not of ``formula`` (another composition).
    AlphaCrystalError
        When two atoms sit on one site (closer than
        :data:`core.io.read.MIN_ATOM_DISTANCE`, :func:`core.io.read.close_atoms`), or no
        Wyckoff assignment can be read.
    """
    parsed = parse_formula(formula) if isinstance(formula, str) else formula
    assignment, lattice, z = rerun_start(structure, parsed)
    primitive_atoms = assignment.primitive_counts
    number = assignment.spacegroup
    try:
        probability = spacegroup_prior(parsed, z).get((number, z), 0.0)
    except FormulaError:  # a cell beyond the candidate models' reach: no probability to give
        probability = 0.0
    return Candidate(number, hm_symbol(number), crystal_system(number), probability, z,
                     sum(primitive_atoms.values()), centring_points(number), lattice, 1,
                     assignment=assignment.to_dict())


@lru_cache(maxsize=2)
def load_default_candidate_model() -> CandidateModel:
    """The shipped model (``resources/candidate_model_default.pt``), loaded once."""
    from resources import resource_path

    return CandidateModel.load(resource_path(DEFAULT_MODEL_NAME))


@lru_cache(maxsize=1)
def load_large_cell_candidate_model() -> CandidateModel | None:
    """The shipped 20-atom model (``resources/candidate_model_l20.pt``), or None without it."""
    from resources import RESOURCE_DIR

    path = RESOURCE_DIR / LARGE_CELL_MODEL_NAME
    return CandidateModel.load(path) if path.is_file() else None


def candidate_model_for(parsed: Formula, z: int | None = None) -> CandidateModel:
    """The model for a formula (and a given Z): the default 12-atom model whenever it can
    answer (its held-out figures at 12 atoms are the better ones: docs/candidates.md), the
    20-atom model for a given Z whose cell has 13-20 atoms, or a formula unit of 13-20."""
    small = load_default_candidate_model()
    cell = (z or 1) * parsed.atoms_per_formula_unit
    large = load_large_cell_candidate_model() if cell > small.max_atoms else None
    return large if large is not None and cell <= large.max_atoms else small


def automatic_z_models(parsed: Formula) -> tuple[CandidateModel, CandidateModel] | None:
    """(12-atom, 20-atom) models whose joint distribution :func:`pooled_joint` pools when Z
    is automatic, so that every Z with a cell of up to 20 atoms can be proposed; None
    without the 20-atom model or for a formula unit beyond the 12-atom model.

    Measured (``python benchmarks/z_choice.py``, docs/candidates.md): on held-out
    validation formulas the pooled ranking has the space group with the true Z in its
    top 5 for 82.5 % of the 13-20-atom cells (12-atom model: 29.7 %) and 87.6 % of the
    smaller ones (89.4 %); over all 85.5 % against 64.6 %.
    """
    small, large = load_default_candidate_model(), load_large_cell_candidate_model()
    if large is None or not LARGE_CELL_MODEL_PATH.is_file() or parsed.atoms_per_formula_unit > small.max_atoms:
        return None  # a 13-20-atom cell needs the 20-atom contact-map model too
    return small, large


def _joint_probabilities(parsed: Formula, z: int | None, model: CandidateModel | None = None
                         ) -> tuple[np.ndarray, tuple[CandidateModel, ...]]:
    """P(Z, space group), shape (Z_max, 230), of a composition and the model(s) it came from:
    the pooled 12- and 20-atom models when Z is automatic (:func:`automatic_z_models`), else
    ``model`` or the one for the cell (:func:`candidate_model_for`).

    Raises
    ------
    FormulaError
        A formula unit, or the cell of the given Z, larger than the model's cell."""
    counts = count_matrix([formula_counts(parsed)])
    pair = automatic_z_models(parsed) if model is None and z is None else None
    if pair is not None:
        small, large = pair
        return pooled_joint(small.joint_probabilities(counts)[0], large.joint_probabilities(counts)[0],
                            parsed.atoms_per_formula_unit, small.max_atoms), pair
    model = model or candidate_model_for(parsed, z)
    parsed.z_values(model.max_atoms)  # raises FormulaError if one unit is too big
    if z is not None and (z < 1 or z * parsed.atoms_per_formula_unit > model.max_atoms):
        raise FormulaError(f"'{parsed.text}' with Z={z} has {z * parsed.atoms_per_formula_unit} atoms; "
                           f"the model handles 1..{model.max_atoms}")
    return model.joint_probabilities(counts)[0], (model,)


def spacegroup_prior(formula: str | Formula, z: int | None = None) -> dict[tuple[int, int], float]:
    """The candidate model's probability of each feasible (space group, Z) of a composition:
    a prior on the symmetry of its structure, from the composition alone.

    With ``z`` given, the groups with that Z (their probabilities sum to 1, as the candidates'
    of ``propose_candidates(formula, z=z)``); with Z automatic, the joint over every Z whose
    cell the models reach. Pairs the model gives no weight among those it scans are absent
    (take them as improbable, not impossible).

    Raises
    ------
    FormulaError
        As :func:`propose_candidates`.
    """
    parsed = parse_formula(formula) if isinstance(formula, str) else formula
    per_fu = formula_counts(parsed)
    joint, _ = _joint_probabilities(parsed, z)
    ranked = rank_spacegroups(joint, tuple(per_fu[k] for k in sorted(per_fu)), top_k=230, z=z)
    return {(r.spacegroup, zz): p for r in ranked for zz, p in r.z_probabilities.items()}


def propose_candidates(formula: str | Formula, top_k: int = 10, z: int | None = None,
                       model: CandidateModel | None = None, count_wyckoff: bool = True) -> list[Candidate]:
    """Ranked space-group candidates with Z and a predicted lattice for each.

    Parameters
    ----------
    formula : str or Formula
        E.g. ``"AgF2"``; the typed multiple (``Ag2F4``) does not fix Z, pass ``z``.
    top_k : int
        Number of space groups returned (fewer if fewer are feasible).
    z : int, optional
        Formula units in the primitive cell; by default the most probable feasible Z
        per group, over cells of up to 20 atoms (:func:`automatic_z_models`).
    model : CandidateModel, optional
        Defaults to the shipped models: both pooled when Z is automatic, else the one
        for the cell (:func:`candidate_model_for`).
    count_wyckoff : bool
        Count the feasible Wyckoff assignments of each candidate (slower for
        low-symmetry groups with many atoms).

    Raises
    ------
    FormulaError
        Malformed formula, unknown element, or a formula unit larger than the model's cell.
    """
    parsed = parse_formula(formula) if isinstance(formula, str) else formula
    per_fu = formula_counts(parsed)
    counts = count_matrix([per_fu])
    species = tuple(per_fu[k] for k in sorted(per_fu))
    joint, models = _joint_probabilities(parsed, z, model)
    ranked = rank_spacegroups(joint, species, top_k=top_k, z=z)
    if not ranked:
        return []
    zs = np.array([r.best_z for r in ranked])
    # each candidate's lattice from the model of its cell size
    if len(models) == 2:
        small, large = models
        owners = [large if zz * parsed.atoms_per_formula_unit > small.max_atoms else small for zz in zs]
    else:
        owners = [models[0]] * len(ranked)
    lattices = np.zeros((len(ranked), 6))
    for owner in {id(m): m for m in owners}.values():
        rows = np.array([k for k, m in enumerate(owners) if m is owner])
        lattices[rows] = owner.predict_lattice(np.repeat(counts, len(rows), axis=0),
                                               np.array([ranked[k].spacegroup for k in rows]), zs[rows])
    out = []
    for r, zz, lat in zip(ranked, zs, lattices):
        n_wyck = count_assignments(r.spacegroup, tuple(n * int(zz) for n in species)) if count_wyckoff else None
        out.append(Candidate(
            spacegroup=r.spacegroup, symbol=hm_symbol(r.spacegroup),
            crystal_system=crystal_system(r.spacegroup), probability=r.probability, z=int(zz),
            n_atoms=int(zz) * parsed.atoms_per_formula_unit, centring_points=centring_points(r.spacegroup),
            lattice=tuple(round(float(v), 4) for v in lat), n_wyckoff_assignments=n_wyck,
            z_probabilities=dict(sorted(r.z_probabilities.items()))))
    return out
