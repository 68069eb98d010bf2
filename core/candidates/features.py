"""Composition descriptors for the space-group and lattice predictors.

The information matminer's Magpie preset carries, computed here from the shipped
element table (no matminer dependency, no network):

* for each of the 11 element features (:data:`core.crystal.elements.FEATURE_NAMES`):
  the atom-fraction-weighted mean, mean absolute deviation, minimum, maximum
  and range over the elements of the compound (55 values);
* stoichiometry: number of elements, Lp norms of the atom fractions
  (p = 2, 3, 5, 7, 10), largest and smallest fraction, atoms per reduced
  formula unit (and its log), fraction of metal atoms;
* the atom fraction of every element (ElementFraction; one column per Z).

All values depend only on the reduced composition, so every Z of a formula gets
the same vector. Standardisation statistics are fitted on training rows.
"""

from __future__ import annotations

from math import gcd

import numpy as np

from core.crystal.composition import Formula
from core.crystal.elements import FEATURE_NAMES, atomic_numbers, element_table

_STATS = ("mean", "mad", "min", "max", "range")
_NORMS = (2, 3, 5, 7, 10)


def feature_names() -> list[str]:
    """Column names of :func:`composition_features`."""
    table = element_table()
    names = [f"{stat}_{f}" for f in FEATURE_NAMES for stat in _STATS]
    names += ["n_elements"] + [f"norm_{p}" for p in _NORMS]
    names += ["max_fraction", "min_fraction", "atoms_per_fu", "log_atoms_per_fu", "metal_fraction"]
    names += [f"frac_{s}" for s in table.symbols[1:]]
    return names


def count_matrix(compositions: list[dict[int, int]]) -> np.ndarray:
    """Atoms per element (columns = atomic number 0..max_z) of each composition."""
    table = element_table()
    counts = np.zeros((len(compositions), table.max_z + 1), dtype=np.float64)
    for k, comp in enumerate(compositions):
        for z, n in comp.items():
            counts[k, z] = n
    return counts


def formula_counts(formula: Formula) -> dict[int, int]:
    """``{atomic number: atoms per reduced formula unit}`` of a parsed formula."""
    reduced = formula.reduced_counts
    zs = atomic_numbers(list(reduced))
    return {int(z): int(reduced[el]) for z, el in zip(zs, reduced)}


def reduce_counts(counts: np.ndarray) -> np.ndarray:
    """Divide each row of an integer count matrix by the gcd of its entries."""
    out = np.array(counts, dtype=np.float64)
    for k, row in enumerate(counts.astype(np.int64)):
        g = 0
        for n in row[row > 0]:
            g = gcd(g, int(n))
        if g > 1:
            out[k] = row / g
    return out


def composition_features(counts: np.ndarray) -> np.ndarray:
    """Descriptors of compositions given as count matrices (rows from :func:`count_matrix`).

    Returns float32 array of shape (N, len(feature_names())).
    """
    table = element_table()
    counts = reduce_counts(np.asarray(counts, dtype=np.float64))
    n_atoms = counts.sum(axis=1, keepdims=True)
    if np.any(n_atoms <= 0):
        raise ValueError("every composition needs at least one atom")
    frac = counts / n_atoms
    present = counts > 0
    props = table.features  # (max_z + 1, 11)

    mean = frac @ props
    dev = np.abs(props[None, :, :] - mean[:, None, :])  # (N, Z, 11)
    mad = np.einsum("nz,nzf->nf", frac, dev)
    big = np.where(present[:, :, None], props[None, :, :], np.inf)
    small = np.where(present[:, :, None], props[None, :, :], -np.inf)
    fmin = big.min(axis=1)
    fmax = small.max(axis=1)
    stats = np.stack([mean, mad, fmin, fmax, fmax - fmin], axis=2).reshape(len(counts), -1)

    n_el = present.sum(axis=1, keepdims=True).astype(np.float64)
    norms = np.stack([(frac**p).sum(axis=1) ** (1.0 / p) for p in _NORMS], axis=1)
    fr_present = np.where(present, frac, np.inf)
    stoich = np.concatenate([
        n_el, norms, frac.max(axis=1, keepdims=True), fr_present.min(axis=1, keepdims=True),
        n_atoms, np.log(n_atoms), frac @ table.is_metal.astype(np.float64)[:, None],
    ], axis=1)
    return np.concatenate([stats, stoich, frac[:, 1:]], axis=1).astype(np.float32)
