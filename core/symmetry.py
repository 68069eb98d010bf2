"""Symmetry tolerances and crystal systems: the one place for each.

Two tolerances exist on purpose, for two jobs:

- :data:`SPACEGROUP_SYMPREC` (0.1 Å, with :data:`ANGLE_TOLERANCE` 5°): the
  space group of a structure as MP-20 and the CSP literature report it, and
  everything a result reports: data sets, candidates, templates, result
  tables, folder names and the symmetrised CIF (so a folder named for a group
  holds a CIF of that group; symmetrising moves atoms by at most this much);
- :data:`CELL_SYMPREC` (0.01 Å): finding the primitive cell of a structure
  (the cell a contact map refers to), where a loose tolerance would merge
  atoms that differ.
"""

from __future__ import annotations

from functools import lru_cache

SPACEGROUP_SYMPREC = 0.1
"""Å; the MP-20 convention for space groups (with an angle tolerance of 5°)."""
ANGLE_TOLERANCE = 5.0
"""Degrees, with :data:`SPACEGROUP_SYMPREC`."""
CELL_SYMPREC = 0.01
"""Å; primitive cells and symmetrised CIFs."""

CRYSTAL_SYSTEMS = (
    ("triclinic", 1, 2),
    ("monoclinic", 3, 15),
    ("orthorhombic", 16, 74),
    ("tetragonal", 75, 142),
    ("trigonal", 143, 167),
    ("hexagonal", 168, 194),
    ("cubic", 195, 230),
)
"""(name, first group, last group) of each crystal system."""


def crystal_system(spacegroup_number: int) -> str:
    """Crystal system of a space-group number (1-230); ``"unknown"`` otherwise."""
    for name, low, high in CRYSTAL_SYSTEMS:
        if low <= spacegroup_number <= high:
            return name
    return "unknown"


@lru_cache(maxsize=1)
def _short_symbols() -> dict[int, str]:
    import spglib

    out: dict[int, str] = {}
    for hall in range(1, 531):  # spglib's Hall numbers; the first of each group is its standard setting
        data = spglib.get_spacegroup_type(hall)
        out.setdefault(int(data.number), str(data.international_short))
    return out


def hm_symbol(spacegroup_number: int) -> str:
    """Short Hermann-Mauguin symbol as spglib, pymatgen and CIFs write it (``P4_2/mnm``,
    ``P2_1/c``, ``Fm-3m``): the one spelling the program shows, for candidates,
    templates and relaxed structures alike."""
    return _short_symbols()[int(spacegroup_number)]


def standard_cell(structure, symprec: float = SPACEGROUP_SYMPREC):
    """The symmetrised conventional cell of ``structure`` in the standard setting of the
    International Tables (spglib's refined cell, e.g. Pnma with a > c > b for an
    orthorhombic perovskite), at ``symprec`` (Å) and :data:`ANGLE_TOLERANCE`: the cell
    the symmetrised CIF is written in (pymatgen's ``CifWriter`` refines it the same way)
    and the one the result tables report. The cell as given when spglib finds no symmetry.

    (pymatgen's ``get_conventional_standard_structure`` sorts orthorhombic axes a < b < c
    instead, which disagreed with the CIF beside it for every Pnma and Imma result.)
    """
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    try:
        return SpacegroupAnalyzer(structure, symprec=symprec, angle_tolerance=ANGLE_TOLERANCE).get_refined_structure()
    except Exception:  # noqa: BLE001 - spglib fails on some degenerate cells
        return structure


def cell_summary(structure) -> dict:
    """What a crystallographer reads first about a structure: the conventional cell of the
    symmetrised CIF (:func:`standard_cell`; ``a``, ``b``, ``c`` in Å; ``alpha``, ``beta``,
    ``gamma`` in degrees; ``volume`` in Å³), the ``volume_per_atom`` (Å³) and the
    ``density`` (g/cm³)."""
    cell = standard_cell(structure)
    a, b, c, alpha, beta, gamma = cell.lattice.parameters
    return {"a": round(a, 4), "b": round(b, 4), "c": round(c, 4), "alpha": round(alpha, 2), "beta": round(beta, 2),
            "gamma": round(gamma, 2), "volume": round(cell.volume, 3),
            "volume_per_atom": round(structure.volume / len(structure), 3),
            "density": round(float(structure.density), 4)}
