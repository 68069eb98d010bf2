"""Contact-map metrics: Dice, positional and matched over same-element permutations.

Dice (paper eq. 3) is computed over the off-diagonal entries of the two maps.
Because the order of atoms of one element is arbitrary when a map is predicted
from a composition, :func:`matched_dice` also reports the best Dice over
permutations of same-element atoms (rows and columns permuted together).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from math import factorial, prod

import numpy as np
from scipy.optimize import linear_sum_assignment

EXACT_MATCH_LIMIT = 40320
"""Largest number of same-element permutations :func:`matched_dice` enumerates exhaustively."""


def dice(predicted: np.ndarray, target: np.ndarray) -> float:
    """Positional Dice of two 0/1 maps of the same shape: 2|A∩B| / (|A| + |B|).

    The diagonal is ignored. Two empty maps agree perfectly (Dice 1.0).
    """
    a = _off_diagonal(predicted)
    b = _off_diagonal(target)
    if a.shape != b.shape:
        raise ValueError(f"maps have different shapes: {a.shape} vs {b.shape}")
    total = int(a.sum()) + int(b.sum())
    return 1.0 if total == 0 else 2.0 * int((a & b).sum()) / total


def _off_diagonal(matrix: np.ndarray) -> np.ndarray:
    out = (np.asarray(matrix) > 0.5).astype(np.uint8)
    if out.ndim != 2 or out.shape[0] != out.shape[1]:
        raise ValueError(f"a contact map must be square, got shape {out.shape}")
    np.fill_diagonal(out, 0)
    return out


def _blocks(species: Sequence[str]) -> list[np.ndarray]:
    labels: dict[str, list[int]] = {}
    for i, el in enumerate(species):
        labels.setdefault(el, []).append(i)
    return [np.array(v, dtype=np.int64) for v in labels.values() if len(v) > 1]


def best_matching_permutation(
    predicted: np.ndarray,
    target: np.ndarray,
    species: Sequence[str],
    exact_limit: int = EXACT_MATCH_LIMIT,
) -> tuple[np.ndarray, float]:
    """Permutation of same-element atoms of ``predicted`` that maximises Dice with ``target``.

    Returns ``(perm, dice)`` where ``predicted[np.ix_(perm, perm)]`` is the
    re-ordered prediction. The search is exhaustive when there are at most
    ``exact_limit`` permutations; otherwise it is a local search (iterated
    Hungarian assignment on row overlaps, started from the identity and from a
    degree-sorted order), which gives a lower bound of the true optimum that is
    never below the positional Dice.
    """
    a = _off_diagonal(predicted)
    t = _off_diagonal(target)
    n = len(species)
    if a.shape != (n, n) or t.shape != (n, n):
        raise ValueError(f"maps of shape {a.shape} and {t.shape} do not match {n} species")
    blocks = _blocks(species)
    total = int(a.sum()) + int(t.sum())
    identity = np.arange(n)
    if total == 0 or not blocks:
        return identity, dice(a, t)
    if prod(factorial(len(b)) for b in blocks) <= exact_limit:
        perms = _all_block_permutations(n, blocks)
        overlap = (a[perms[:, :, None], perms[:, None, :]] & t).sum(axis=(1, 2))
        best = int(np.argmax(overlap))
        return perms[best], 2.0 * int(overlap[best]) / total
    return _local_search(a, t, blocks, total)


def matched_dice(
    predicted: np.ndarray,
    target: np.ndarray,
    species: Sequence[str],
    exact_limit: int = EXACT_MATCH_LIMIT,
) -> float:
    """Dice invariant to permuting same-element atoms (see :func:`best_matching_permutation`)."""
    return best_matching_permutation(predicted, target, species, exact_limit)[1]


def _all_block_permutations(n: int, blocks: list[np.ndarray]) -> np.ndarray:
    perms = np.arange(n)[None, :]
    for block in blocks:
        options = np.array(list(itertools.permutations(block)), dtype=np.int64)
        expanded = np.repeat(perms, len(options), axis=0)
        expanded[:, block] = np.tile(options, (len(perms), 1))
        perms = expanded
    return perms


def _local_search(
    a: np.ndarray, t: np.ndarray, blocks: list[np.ndarray], total: int
) -> tuple[np.ndarray, float]:
    n = len(a)
    degree_sorted = np.arange(n)
    for block in blocks:
        degree_sorted[block[np.argsort(t[block].sum(1), kind="stable")]] = block[
            np.argsort(a[block].sum(1), kind="stable")
        ]
    best_perm, best_overlap = np.arange(n), int((a & t).sum())
    for perm in (np.arange(n), degree_sorted):
        perm = perm.copy()
        for _ in range(50):
            changed = False
            for block in blocks:
                # score[i, p]: overlap of target row i with predicted row p (columns already mapped)
                score = t[block].astype(np.int64) @ a[np.ix_(block, perm)].T.astype(np.int64)
                rows, cols = linear_sum_assignment(score, maximize=True)
                new = block[cols[np.argsort(rows)]]  # perm[block[i]] = predicted atom for row i
                if not np.array_equal(new, perm[block]):
                    perm[block] = new
                    changed = True
            if not changed:
                break
        overlap = int((a[np.ix_(perm, perm)] & t).sum())
        if overlap > best_overlap:
            best_perm, best_overlap = perm, overlap
    return best_perm, 2.0 * best_overlap / total
