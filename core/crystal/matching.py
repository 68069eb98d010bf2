"""Do two crystal structures match? pymatgen's StructureMatcher at named tolerances, and
the AlphaCrystal paper's RMSD and MAE over fractional coordinates (eq. 4, 5).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from pymatgen.analysis.structure_matcher import StructureMatcher
from pymatgen.core import Structure
from scipy.optimize import linear_sum_assignment


@dataclass(frozen=True)
class MatchTolerances:
    """StructureMatcher tolerances: site (stol), angle in degrees, fractional length (ltol)."""

    stol: float
    angle_tol: float
    ltol: float


DEFAULT_TOLERANCES = MatchTolerances(stol=0.3, angle_tol=5.0, ltol=0.2)
"""pymatgen's StructureMatcher defaults: the desktop app's "match ref." column."""

CSP_TOLERANCES = MatchTolerances(stol=0.5, angle_tol=10.0, ltol=0.3)
"""Tolerances of the CSP literature (CDVAE, DiffCSP match rate)."""

PAPER_TOLERANCES = MatchTolerances(stol=0.6, angle_tol=20.0, ltol=0.6)
"""The loose tolerances of the AlphaCrystal paper."""


@dataclass(frozen=True)
class MatchResult:
    """Whether two structures match, and the normalised RMS displacement when they do."""

    matched: bool
    rms: float | None


def structure_matcher(tolerances: MatchTolerances = DEFAULT_TOLERANCES, **options) -> StructureMatcher:
    """The engine's StructureMatcher at named ``tolerances`` (default :data:`DEFAULT_TOLERANCES`,
    the one test of "the same structure": duplicates, distinct results, known phases found
    again); ``options`` go to pymatgen as they are (e.g. ``primitive_cell=False``)."""
    return StructureMatcher(ltol=tolerances.ltol, stol=tolerances.stol, angle_tol=tolerances.angle_tol, **options)


def structure_match(
    predicted: Structure, reference: Structure, tolerances: MatchTolerances = CSP_TOLERANCES
) -> MatchResult:
    """The match rate's test of the CSP literature (CDVAE, DiffCSP): a match when pymatgen's
    ``StructureMatcher.get_rms_dist`` finds one at ``tolerances``, i.e. when the normalised RMS
    displacement is below ``stol`` (single sites may be further). For the benchmarks' match rates,
    comparable with the literature's; whether two structures are *the same* is :func:`same_structure`.

    ``rms`` is pymatgen's RMS displacement normalised by (V/n)^(1/3).
    """
    matcher = structure_matcher(tolerances)
    result = matcher.get_rms_dist(predicted, reference)
    if result is None:
        return MatchResult(False, None)
    return MatchResult(True, float(result[0]))


def same_structure(matcher: StructureMatcher, a: Structure, b: Structure) -> bool:
    """Whether ``a`` and ``b`` are the same structure for ``matcher``: ``fit`` both ways, every paired
    site within ``stol`` (``fit(a, b)`` alone can differ from ``fit(b, a)``: duplicate removal would
    then depend on the order); False where pymatgen fails on a degenerate cell. The one test of "the
    same structure": duplicates, distinct results, a reference matched (:func:`reference_match`)."""
    try:
        return bool(matcher.fit(a, b, symmetric=True))
    except Exception:  # noqa: BLE001 - pymatgen can fail on degenerate cells; treat as different
        return False


def reference_match(structure: Structure, reference: Structure, tolerances: MatchTolerances = DEFAULT_TOLERANCES,
                    **options) -> MatchResult:
    """Whether ``structure`` is the ``reference`` structure (:func:`same_structure` at ``tolerances``,
    default pymatgen's own), with the normalised RMS displacement where it is. What "matches the
    reference" means wherever the program says so; :func:`structure_match`'s RMS test is looser (a
    Pnma ZnO with 11 % more volume per atom "matched" a P4_2/mnm one at rms 0.29 there, and ``fit``
    says they differ). ``options`` go to the matcher (e.g. ``primitive_cell=False``)."""
    matcher = structure_matcher(tolerances, **options)
    if not same_structure(matcher, structure, reference):
        return MatchResult(False, None)
    result = matcher.get_rms_dist(structure, reference)
    return MatchResult(True, None if result is None else float(result[0]))


def fractional_rmsd_mae(predicted: Structure, reference: Structure) -> tuple[float, float]:
    """The paper's RMSD and MAE (eq. 4, 5) over fractional coordinates.

    Atoms are paired element by element with the Hungarian algorithm on the
    periodic fractional distance (differences wrapped to [-0.5, 0.5)), and the
    result is minimised over the 6 permutations of the predicted structure's
    axes, since a contact map does not fix the axis order.

    Returns
    -------
    (rmsd, mae) : tuple of float
        ``sqrt(mean |Δ|²)`` and ``mean (|Δx| + |Δy| + |Δz|)`` in fractional units,
        both at the axis permutation with the smallest RMSD.

    Raises
    ------
    ValueError
        If the two structures do not have the same number of atoms of each element.
    """
    if predicted.composition != reference.composition:
        raise ValueError(
            "RMSD/MAE need the same atoms in both cells: "
            f"{predicted.composition.formula} vs {reference.composition.formula}"
        )
    pred_species = np.array([s.specie.symbol for s in predicted])
    ref_species = np.array([s.specie.symbol for s in reference])
    ref_frac = reference.frac_coords
    best: tuple[float, float] | None = None
    for axes in itertools.permutations(range(3)):
        pred_frac = predicted.frac_coords[:, list(axes)]
        deltas = []
        for el in np.unique(ref_species):
            p = pred_frac[pred_species == el]
            r = ref_frac[ref_species == el]
            diff = p[:, None, :] - r[None, :, :]
            diff -= np.round(diff)
            cost = (diff**2).sum(axis=2)
            rows, cols = linear_sum_assignment(cost)
            deltas.append(diff[rows, cols])
        delta = np.concatenate(deltas)
        rmsd = float(np.sqrt((delta**2).sum(axis=1).mean()))
        mae = float(np.abs(delta).sum(axis=1).mean())
        if best is None or rmsd < best[0]:
            best = (rmsd, mae)
    assert best is not None
    return best
