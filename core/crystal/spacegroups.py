"""Facts about the 230 space groups used by the predictors and the reconstruction.

Conventions (the International Tables standard settings, as spglib and pyxtal
use them): conventional cells; monoclinic groups with unique axis b (β free);
rhombohedral groups (R3, R-3, R32, R3m, R3c, R-3m, R-3c) in the hexagonal
setting (a = b, γ = 120°, three lattice points per cell).

Lattice parameters are ``(a, b, c, α, β, γ)`` in Å and degrees.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from core.crystal.symmetry import (
    CRYSTAL_SYSTEMS,
    conventional_operations,
    crystal_system,
    hm_symbol,
)

N_SPACEGROUPS = 230
SYSTEM_NAMES: tuple[str, ...] = tuple(name for name, _, _ in CRYSTAL_SYSTEMS)

# Lattice points per conventional cell for each centring letter of the
# Hermann-Mauguin symbol (R: hexagonal setting of a rhombohedral lattice).
_CENTRING_POINTS = {"P": 1, "A": 2, "B": 2, "C": 2, "I": 2, "R": 3, "F": 4}


@cache

def centring_points(number: int) -> int:
    """Lattice points per conventional cell: conventional atoms = this × primitive atoms."""
    return _CENTRING_POINTS[hm_symbol(number)[0]]


def system_index(number: int) -> int:
    """Index of the crystal system of a space group in :data:`SYSTEM_NAMES`."""
    _check(number)
    return SYSTEM_NAMES.index(crystal_system(number))


def system_of_all() -> np.ndarray:
    """Crystal-system index of space groups 1..230 (array of 230 ints)."""
    return np.array([system_index(n) for n in range(1, N_SPACEGROUPS + 1)], dtype=np.int64)


def constrain_lattice(number: int, params: np.ndarray) -> np.ndarray:
    """Impose the metric constraints of the space group's crystal system.

    ``params`` is ``(a, b, c, α, β, γ)`` (Å, degrees), or an array of them
    (shape (..., 6)). Tied lengths take their geometric mean, fixed angles their
    value (cubic a = b = c; tetragonal a = b; trigonal and hexagonal a = b and
    γ = 120°; orthorhombic, tetragonal, cubic all angles 90°; monoclinic α = γ = 90°).
    """
    p = np.array(params, dtype=float)
    system = crystal_system(number)
    a, b, c = p[..., 0], p[..., 1], p[..., 2]
    if system == "cubic":
        m = np.cbrt(a * b * c)
        p[..., 0] = p[..., 1] = p[..., 2] = m
    elif system in ("tetragonal", "trigonal", "hexagonal"):
        m = np.sqrt(a * b)
        p[..., 0] = p[..., 1] = m
    if system in ("cubic", "tetragonal", "orthorhombic"):
        p[..., 3:6] = 90.0
    elif system in ("trigonal", "hexagonal"):
        p[..., 3:5] = 90.0
        p[..., 5] = 120.0
    elif system == "monoclinic":
        p[..., 3] = 90.0
        p[..., 5] = 90.0
    return p


def cell_volume(params: np.ndarray) -> np.ndarray:
    """Volume in Å³ of cells given as ``(a, b, c, α, β, γ)`` (shape (..., 6))."""
    p = np.asarray(params, dtype=float)
    ca, cb, cg = (np.cos(np.radians(p[..., k])) for k in (3, 4, 5))
    factor = 1 - ca**2 - cb**2 - cg**2 + 2 * ca * cb * cg
    return p[..., 0] * p[..., 1] * p[..., 2] * np.sqrt(np.clip(factor, 1e-12, None))


def satisfies_constraints(number: int, params: np.ndarray, tol_length: float = 1e-6,
                          tol_angle: float = 1e-6) -> bool:
    """Whether ``params`` already obey :func:`constrain_lattice` for ``number``."""
    p = np.asarray(params, dtype=float)
    q = constrain_lattice(number, p)
    return bool(np.all(np.abs(p[:3] - q[:3]) <= tol_length * np.maximum(1.0, np.abs(p[:3])))
                and np.all(np.abs(p[3:] - q[3:]) <= tol_angle))


def _check(number: int) -> None:
    if not 1 <= int(number) <= N_SPACEGROUPS:
        raise ValueError(f"space group number must be 1-230, got {number}")


# Rows: primitive basis vectors in units of the conventional ones (fractional).
# Any basis of the centred lattice serves; these are the ITA/spglib choices.
_PRIMITIVE_BASIS = {
    "P": ((1, 0, 0), (0, 1, 0), (0, 0, 1)),
    "A": ((1, 0, 0), (0, 0.5, 0.5), (0, -0.5, 0.5)),
    "B": ((0.5, 0, 0.5), (0, 1, 0), (-0.5, 0, 0.5)),
    "C": ((0.5, 0.5, 0), (-0.5, 0.5, 0), (0, 0, 1)),
    "I": ((-0.5, 0.5, 0.5), (0.5, -0.5, 0.5), (0.5, 0.5, -0.5)),
    "F": ((0, 0.5, 0.5), (0.5, 0, 0.5), (0.5, 0.5, 0)),
    "R": ((2 / 3, 1 / 3, 1 / 3), (-1 / 3, 1 / 3, 1 / 3), (-1 / 3, -2 / 3, 1 / 3)),
}


def primitive_basis(number: int) -> np.ndarray:
    """3×3 matrix ``T`` whose rows are primitive lattice vectors in conventional
    fractional units: ``A_prim = T @ A_conv`` (lattice rows) and fractional
    coordinates convert as ``f_prim = f_conv @ inv(T)``."""
    return np.array(_PRIMITIVE_BASIS[hm_symbol(number)[0]], dtype=float)


@cache
def point_group_order(spacegroup: int) -> int:
    """Symmetry operations per primitive cell of a space group (its point group's order):
    1 for P1, 48 for Fm-3m."""
    return conventional_operations(spacegroup) // centring_points(spacegroup)


@cache
def is_proper_subgroup(sub: int, group: int) -> bool:
    """Whether space group ``sub`` is a proper subgroup of ``group`` (a chain of maximal
    subgroups in the International Tables, through pymatgen's tables)."""
    if sub == group:
        return False
    from pymatgen.symmetry.groups import SpaceGroup

    return bool(SpaceGroup.from_int_number(sub).is_subgroup(SpaceGroup.from_int_number(group)))


def raises_symmetry(lower: int, higher: int) -> bool:
    """Whether space group ``higher`` is a proper supergroup of ``lower`` with more operations
    per primitive cell: the one test of "the higher-symmetry version" of a structure."""
    return is_proper_subgroup(lower, higher) and point_group_order(higher) > point_group_order(lower)
