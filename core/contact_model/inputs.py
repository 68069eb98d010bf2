"""Per-atom network inputs for a composition: normalised element features plus position encodings.

For a cell of n atoms listed in canonical element order, each atom gets
the 11 standardised element features (:class:`core.crystal.elements.FeatureScaler`)
and 4 encodings that let the network tell same-element atoms apart and know
the cell size: the element's fraction of the cell, the atom's rank within its
element block ((k + 0.5) / count), its relative position i / (n - 1), and n / L.
"""

from __future__ import annotations

import numpy as np

from core.crystal.elements import N_FEATURES, FeatureScaler, raw_features

N_ENCODINGS = 4
N_INPUTS = N_FEATURES + N_ENCODINGS


def atom_inputs(numbers: np.ndarray, scaler: FeatureScaler, max_atoms: int) -> np.ndarray:
    """Inputs of shape (batch, n, N_INPUTS) for atomic numbers of shape (batch, n).

    All rows of ``numbers`` describe cells with the same n atoms (no padding),
    atoms grouped by element in canonical order.
    """
    numbers = np.atleast_2d(np.asarray(numbers, dtype=np.int64))
    batch, n = numbers.shape
    features = scaler.transform(raw_features(numbers))  # (B, n, 11)
    same = numbers[:, :, None] == numbers[:, None, :]  # (B, n, n)
    count = same.sum(axis=2)  # atoms of this atom's element
    rank = np.tril(same, k=-1).sum(axis=2)  # earlier atoms of the same element
    position = np.broadcast_to(np.arange(n) / max(n - 1, 1), (batch, n))
    encodings = np.stack(
        [count / n, (rank + 0.5) / count, position, np.full((batch, n), n / max_atoms)], axis=2
    )
    return np.concatenate([features, encodings.astype(np.float32)], axis=2).astype(np.float32)
