"""Ranking relaxed structures of one formula: near-ties, symmetry, and why each ranks where it does.

The potential's energy orders the distinct relaxed structures. These refinements
were measured on validation pools (``benchmarks/ranking_variants.py``,
docs/ranking.md); the staged relaxation and the removal of duplicates before it are
``predict``'s defaults, the near-tie merge and the learned ranker are options:

* **Near-ties merged onto the higher symmetry.** A machine-learned potential often
  puts a slightly distorted copy of a structure (a subgroup, e.g. a tetragonal
  I4/mmm variant of a cubic Fm-3m double perovskite) a few meV/atom below the
  undistorted one. Within :data:`NEAR_TIE_EV` per atom, a structure whose space group
  is a proper subgroup of a higher-symmetry one, and which becomes that structure
  when symmetrised at the looser :data:`NEAR_TIE_SYMPREC`, collapses onto it: the
  higher-symmetry structure takes its place in the list (a DFT relaxation from it
  can still lower the symmetry; the converse is not true).
* **Staged relaxation** (:func:`core.relax.rounds.continued_within_window`): after a short first round,
  only structures within a window of the lowest energy get the full budget.
* **Duplicates before relaxation** (:func:`duplicates_before_relaxation`): the same
  structure from two routes is relaxed once.
* **A learned ranker** (:class:`LinearRanker` over :data:`RANKER_FEATURES`).

The second potential's re-ranking, the default that changed top-1 most on validation,
lives with the pipeline's ranking (``core.predict.ordering._rerank_first``).

Every function here works on plain sequences (structures, energies, space groups),
so the pipeline and the benchmarks share it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from pymatgen.core import Structure

from core.crystal.matching import DEFAULT_TOLERANCES, same_structure, structure_matcher
from core.crystal.spacegroups import point_group_order, raises_symmetry
from core.crystal.symmetry import NEAR_TIE_ANGLE, NEAR_TIE_SYMPREC, refined_in

NEAR_TIE_EV = 0.010
"""eV/atom: a typical window for merging a lower-symmetry structure onto a higher-symmetry
one it distorts (``predict --near-tie``). Off by default: on the validation pools no window
of 5-30 meV/atom changed a top-1 or top-5 match (docs/ranking.md)."""



def distorts(lower: Structure, higher: Structure, higher_group: int,
             symprec: float = NEAR_TIE_SYMPREC) -> bool:
    """Whether ``lower`` is a distortion of ``higher``: symmetrised at ``symprec`` Å it has
    ``higher``'s space group and is the same structure (StructureMatcher, default tolerances)."""
    refined = refined_in(lower, symprec, NEAR_TIE_ANGLE)
    if refined is None or refined[0] != higher_group:  # spglib fails on degenerate cells: not a distortion
        return False
    return bool(structure_matcher().fit(refined[1], higher, symmetric=True))


@dataclass(frozen=True)
class NearTie:
    """A lower-energy structure merged onto a higher-symmetry one it distorts.

    ``lower`` and ``higher`` are indices into the list given to :func:`merge_near_ties`;
    ``gap`` is E(higher) - E(lower) in eV/atom (≥ 0)."""

    lower: int
    higher: int
    gap: float


def merge_near_ties(structures: Sequence[Structure], energies: Sequence[float], spacegroups: Sequence[int],
                    window: float = NEAR_TIE_EV, symprec: float = NEAR_TIE_SYMPREC
                    ) -> tuple[list[int], list[NearTie]]:
    """Order distinct relaxed structures, merging near-ties onto the higher symmetry.

    Parameters
    ----------
    structures, energies, spacegroups
        Distinct relaxed structures in ascending energy (eV/atom), with their space groups.
    window : float
        eV/atom; a structure is merged only onto one at most this much higher in energy.
    symprec : float
        Å; tolerance of the symmetrisation test (:func:`distorts`).

    Returns
    -------
    (order, ties): indices in the new order (a merged structure is left out and its
    higher-symmetry partner takes its place), and one :class:`NearTie` per merge.
    """
    n = len(structures)
    placed: set[int] = set()
    order: list[int] = []
    ties: list[NearTie] = []
    for i in range(n):
        if i in placed:
            continue
        partner = None
        for j in range(i + 1, n):
            gap = energies[j] - energies[i]
            if gap > window:
                break
            if j in placed or not raises_symmetry(spacegroups[i], spacegroups[j]):
                continue
            if partner is not None and point_group_order(spacegroups[j]) <= point_group_order(spacegroups[partner]):
                continue
            if distorts(structures[i], structures[j], spacegroups[j], symprec):
                partner = j
        placed.add(i)
        if partner is None:
            order.append(i)
        else:
            placed.add(partner)
            order.append(partner)
            ties.append(NearTie(i, partner, float(energies[partner] - energies[i])))
    return order, ties


def duplicates_before_relaxation(structures: Sequence[Structure], preferred: Sequence[bool] | None = None
                                 ) -> dict[int, int]:
    """Structures that are the same before relaxation (StructureMatcher, default tolerances,
    tested both ways), so that only one of each is relaxed.

    ``preferred`` marks the structures kept first when two are the same (a template
    before a GA structure: a known structure's geometry). Returns duplicate index ->
    index of the one kept."""
    matcher = structure_matcher()
    preferred = list(preferred) if preferred is not None else [False] * len(structures)
    order = sorted(range(len(structures)), key=lambda k: (not preferred[k], k))
    kept: list[int] = []
    twins: dict[int, int] = {}
    for k in order:
        twin = next((j for j in kept if _same_size(structures[k], structures[j])
                     and same_structure(matcher, structures[k], structures[j])), None)
        if twin is None:
            kept.append(k)
        else:
            twins[k] = twin
    return twins


def _same_size(a: Structure, b: Structure, ltol: float = DEFAULT_TOLERANCES.ltol) -> bool:
    """A cheap necessary condition of StructureMatcher's default match: volumes per atom
    within its length tolerance (cubed); most pairs fail here at no cost."""
    va, vb = a.volume / len(a), b.volume / len(b)
    return max(va, vb) / min(va, vb) <= (1 + ltol) ** 3


RANKER_FILE = "ranker_linear.json"
"""The shipped learned ranker's coefficients (card: resources/ranker_linear.md)."""

RANKER_FEATURES = (
    "energy_gap_mev",        # energy above the lowest distinct structure, meV/atom
    "energy_order",          # 0 for the lowest, 1 for the next, ...
    "log2_symmetry",         # log2 of the relaxed structure's point-group order
    "symmetry_gain",         # log2 order minus the highest log2 order among the structures within 20 meV/atom
    "from_template",         # 1 for a template substitution, 0 for CMCrystal
    "template_score",        # the template's substitution score (0 for CMCrystal)
    "sg_probability",        # the candidate model's space-group probability (0 for a template)
    "dice",                  # Dice of the GA structure against the predicted map (0 for a template)
    "relaxed_dice",          # Dice of the relaxed structure against the predicted map (0 without a map)
    "volume_change",         # |ln(V relaxed / V before relaxation)| per atom
    "times_found",           # ln(number of runs that ended in this structure)
    "converged",             # 1 when the relaxation met the force criterion
)
"""Features of one distinct relaxed structure seen by the learned ranker; none needs the
true structure (they are what the pipeline knows when it ranks)."""


def ranker_features(rows: Sequence[dict]) -> np.ndarray:
    """The :data:`RANKER_FEATURES` matrix (one row per distinct relaxed structure).

    Each dict holds ``energy_per_atom`` (eV/atom), ``relaxed_spacegroup``, ``route``
    (``templates`` or ``contact``), ``template_score``, ``sg_probability``, ``dice``,
    ``relaxed_dice`` (None where they do not apply), ``volume_per_atom`` and
    ``initial_volume_per_atom`` (Å³), ``times_found`` and ``converged``."""
    if not rows:
        return np.zeros((0, len(RANKER_FEATURES)))
    energies = np.array([r["energy_per_atom"] for r in rows], dtype=float)
    gap = 1000 * (energies - energies.min())
    order = np.argsort(np.argsort(energies, kind="stable"), kind="stable")
    sym = np.log2([point_group_order(int(r["relaxed_spacegroup"])) for r in rows])
    near = gap <= 20.0
    out = np.column_stack([
        gap, order, sym, sym - sym[near].max(),
        [float(r["route"] == "templates") for r in rows],
        [r.get("template_score") or 0.0 for r in rows],
        [r.get("sg_probability") or 0.0 for r in rows],
        [r.get("dice") or 0.0 for r in rows],
        [r.get("relaxed_dice") or 0.0 for r in rows],
        [abs(np.log(r["volume_per_atom"] / r["initial_volume_per_atom"])) for r in rows],
        [np.log(max(1, r.get("times_found", 1))) for r in rows],
        [float(bool(r.get("converged"))) for r in rows],
    ])
    return out.astype(float)


@dataclass(frozen=True)
class LinearRanker:
    """A logistic model of "this relaxed structure is the known one" over :data:`RANKER_FEATURES`,
    trained on validation pools only (``benchmarks/ranking_variants.py --train``); its
    coefficients are a small JSON file (no pickled estimator to trust)."""

    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float

    def score(self, x: np.ndarray) -> np.ndarray:
        """Probability-like score of each row of ``x`` (higher ranks first)."""
        z = (np.asarray(x, dtype=float) - np.asarray(self.mean)) / np.asarray(self.scale)
        return 1.0 / (1.0 + np.exp(-(z @ np.asarray(self.coef) + self.intercept)))

    @classmethod
    def fit(cls, x: np.ndarray, y: np.ndarray, c: float = 1.0) -> LinearRanker:
        """Fit on feature rows ``x`` and 0/1 labels ``y`` (scikit-learn, L2, balanced classes)."""
        from sklearn.linear_model import LogisticRegression

        mean, scale = x.mean(axis=0), x.std(axis=0)
        scale[scale == 0] = 1.0
        model = LogisticRegression(C=c, class_weight="balanced", max_iter=1000).fit((x - mean) / scale, y)
        return cls(RANKER_FEATURES, tuple(mean), tuple(scale), tuple(model.coef_[0]), float(model.intercept_[0]))

    def to_dict(self) -> dict:
        return {"features": list(self.features), "mean": list(self.mean), "scale": list(self.scale),
                "coef": list(self.coef), "intercept": self.intercept}

    @classmethod
    def load(cls, path=None) -> LinearRanker:
        """The shipped ranker (:data:`RANKER_FILE` in ``resources/``) or the one at ``path``."""
        import json

        from resources import resource_path

        return cls.from_dict(json.loads((resource_path(RANKER_FILE) if path is None else path).read_text()))

    @classmethod
    def from_dict(cls, data: dict) -> LinearRanker:
        if tuple(data["features"]) != RANKER_FEATURES:
            raise ValueError("the ranker was trained on other features than this version computes")
        return cls(tuple(data["features"]), tuple(data["mean"]), tuple(data["scale"]), tuple(data["coef"]),
                   float(data["intercept"]))
