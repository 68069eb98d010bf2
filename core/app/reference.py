"""A known structure opened for comparison (the window's *Open structure*): read, reduced to its
primitive cell, its true contact map and space group, with the reader's warnings in words.

Reading a CIF and computing its map take from tens of milliseconds to seconds, so the window
calls :func:`read_reference` in a worker thread and hands the result to
:meth:`core.app.session.Session.set_reference` on the GUI thread.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pymatgen.core import Structure

from core.contact.contact_map import ContactMap, compute_contact_map
from core.crystal.composition import formula_unit_text
from core.crystal.symmetry import primitive_cell, space_group_or_p1
from core.io.read import close_atoms, read_structure


@dataclass
class ReferenceStructure:
    """A reference structure as read (see the module docstring)."""

    name: str
    """The file's name."""
    cell: Structure
    """Its primitive cell."""
    contact_map: ContactMap
    spacegroup: int
    symbol: str
    warnings: list[str] = field(default_factory=list)
    """What the reader warned about (atoms closer than a named limit, ...), in words."""
    atoms_read: int | None = None
    """Atoms in the file's cell, where more than in :attr:`cell` (a supercell read as its primitive cell)."""

    def describe(self) -> str:
        """``rutile.cif: TiO2, P4_2/mnm (136), 6 atoms, 12 bonds over periodic images (6 atom pairs in
        contact in the map), 0 short contacts``: the map editor counts the pairs (SrTiO3's 18 bonds
        and 6 pairs read as a contradiction when both said "bonds")."""
        pairs = int(self.contact_map.matrix.sum()) // 2
        reduced = (f" (the primitive cell of the {self.atoms_read} atoms in the file)"
                   if self.atoms_read and self.atoms_read > len(self.cell) else "")
        return (f"{self.name}: {formula_unit_text(self.cell.composition)}, {self.symbol} ({self.spacegroup}), "
                f"{len(self.cell)} atoms{reduced}, {self.contact_map.n_valid_bonds} bonds over periodic images "
                f"({pairs} atom pair{'' if pairs == 1 else 's'} in contact in the map), "
                f"{self.contact_map.n_short_contacts} short contacts")


def read_reference(path: str | os.PathLike) -> ReferenceStructure:
    """Read a structure file (CIF, POSCAR) as a reference.

    Raises
    ------
    AlphaCrystalError
        A file that cannot be read as a structure, naming the file and the problem.
    """
    # read in a worker thread: the reader's warning is asked for, not caught (the warnings
    # filters are process-wide and not thread-safe)
    notes: list[str] = []
    structure = read_structure(path, warn=False, notes=notes)
    close = close_atoms(structure, str(path))
    cell = primitive_cell(structure)
    number, symbol = space_group_or_p1(cell)
    return ReferenceStructure(Path(path).name, cell, compute_contact_map(cell), number, symbol,
                              notes + ([close] if close is not None else []),
                              atoms_read=len(structure) if len(structure) > len(cell) else None)


@dataclass(frozen=True, eq=False)
class ReferenceOverlay:
    """A reference structure's true map and distances, as overlaid on the maps of the same atoms."""

    contact_map: ContactMap | None = None
    distances: np.ndarray | None = None
    """Shortest interatomic distances (Å) in the map's row order (:func:`reference_distances`)."""

    @classmethod
    def of(cls, structure, cmap: ContactMap | None) -> ReferenceOverlay:
        """The overlay of a reference ``structure`` (primitive cell) and its map (None: no reference)."""
        return cls(cmap, reference_distances(structure, cmap))

    def apply(self, doc) -> None:
        """Overlay on ``doc`` (a ``ContactMapDocument``) when it has the same atoms, else clear its overlay."""
        same = self.contact_map is not None and list(self.contact_map.species) == list(doc.species)
        doc.set_reference(self.contact_map.matrix if same and self.contact_map is not None else None,
                          self.distances)


def reference_distances(structure, cmap: ContactMap | None) -> np.ndarray | None:
    """Shortest distances (Å, periodic images counted) between the atoms of ``structure``
    in the order of its contact map's rows, or None when they cannot be paired up."""
    if structure is None or cmap is None or len(structure) != len(cmap.species):
        return None
    order = np.asarray(cmap.order)
    return np.asarray(structure.distance_matrix)[np.ix_(order, order)]
