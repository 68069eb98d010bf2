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
