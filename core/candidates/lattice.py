"""Lattice parameters ↔ the targets the lattice network learns.

Targets per structure: ``[ln(V/atom), ln(b/a), ln(c/a), α, β, γ]`` (V in Å³,
angles in degrees) of the conventional standard cell. Only the parameters the
crystal system leaves free enter the loss (:func:`free_mask`); decoding fixes the
others, so every predicted lattice obeys its system's constraints exactly.
"""

from __future__ import annotations

import numpy as np

from core.crystal.spacegroups import (
    SYSTEM_NAMES,
    cell_volume,
    centring_points,
    constrain_lattice,
    system_index,
)

# Free targets per crystal system: [lnV, ln b/a, ln c/a, alpha, beta, gamma].
_FREE = {
    "triclinic": (1, 1, 1, 1, 1, 1),
    "monoclinic": (1, 1, 1, 0, 1, 0),
    "orthorhombic": (1, 1, 1, 0, 0, 0),
    "tetragonal": (1, 0, 1, 0, 0, 0),
    "trigonal": (1, 0, 1, 0, 0, 0),
    "hexagonal": (1, 0, 1, 0, 0, 0),
    "cubic": (1, 0, 0, 0, 0, 0),
}
_FREE_BY_SYSTEM = np.array([_FREE[name] for name in SYSTEM_NAMES], dtype=bool)


def free_mask(spacegroups: np.ndarray) -> np.ndarray:
    """(N, 6) booleans: which targets each space group's crystal system leaves free."""
    return _FREE_BY_SYSTEM[[system_index(int(n)) for n in spacegroups]]


def encode(params: np.ndarray, nsites: np.ndarray, spacegroups: np.ndarray) -> np.ndarray:
    """Targets of conventional cells ``params`` (N, 6) holding ``nsites`` primitive atoms."""
    params = np.asarray(params, dtype=float)
    points = np.array([centring_points(int(n)) for n in spacegroups])
    v_atom = cell_volume(params) / (np.asarray(nsites) * points)
    return np.column_stack([np.log(v_atom), np.log(params[:, 1] / params[:, 0]),
                            np.log(params[:, 2] / params[:, 0]), params[:, 3:6]])


def decode(targets: np.ndarray, nsites: np.ndarray, spacegroups: np.ndarray) -> np.ndarray:
    """Conventional ``(a, b, c, α, β, γ)`` (N, 6) from targets, obeying each system's constraints."""
    t = np.array(targets, dtype=float)
    out = np.zeros_like(t)
    for k, (row, n, sg) in enumerate(zip(t, np.asarray(nsites), np.asarray(spacegroups))):
        free = free_mask(np.array([sg]))[0]
        ratio_b = np.exp(row[1]) if free[1] else 1.0
        ratio_c = np.exp(row[2]) if free[2] else 1.0
        shape = constrain_lattice(int(sg), np.array([1.0, ratio_b, ratio_c, *np.clip(row[3:6], 30.0, 150.0)]))
        volume = np.exp(row[0]) * n * centring_points(int(sg))
        a = np.cbrt(volume / cell_volume(shape))
        out[k] = constrain_lattice(int(sg), np.array([a, a * shape[1], a * shape[2], *shape[3:6]]))
    return out
