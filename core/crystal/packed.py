"""Structures packed in flat arrays: the layout the data set (:class:`core.data.datasets.CrystalDataset`)
and the template library (:class:`core.templates.library.TemplateLibrary`) share.

N structures of M atoms in all are held as ``lattices`` (N, 3, 3; rows are the lattice vectors,
Å), ``offsets`` (N + 1,), ``numbers`` (M,; atomic numbers) and ``frac_coords`` (M, 3): the atoms
of structure k are ``offsets[k]:offsets[k + 1]``. Tens of thousands of pymatgen ``Structure``
objects would take minutes to load and gigabytes of memory; the arrays load in a second, and a
``Structure`` is made only for the few that are needed.
"""

from __future__ import annotations

import numpy as np
from pymatgen.core import Lattice, Structure


class PackedStructures:
    """Access to structures in the packed layout; mixed into dataclasses that hold the arrays
    (``material_ids``, ``lattices``, ``offsets``, ``numbers``, ``frac_coords``)."""

    material_ids: np.ndarray
    lattices: np.ndarray
    offsets: np.ndarray
    numbers: np.ndarray
    frac_coords: np.ndarray

    def __len__(self) -> int:
        return len(self.material_ids)

    @property
    def nsites(self) -> np.ndarray:
        """Atoms per structure, shape (N,)."""
        return np.diff(self.offsets)

    def atom_slice(self, k: int) -> slice:
        """The atoms of structure k in the per-atom arrays."""
        return slice(int(self.offsets[k]), int(self.offsets[k + 1]))

    def atoms(self, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(lattice (3, 3) Å, fractional coords (n, 3), atomic numbers (n,))`` of structure k."""
        s = self.atom_slice(k)
        return self.lattices[k], self.frac_coords[s], self.numbers[s]

    def structure(self, k: int) -> Structure:
        """Structure k as a pymatgen ``Structure`` (its stored cell)."""
        lattice, frac, numbers = self.atoms(k)
        return Structure(Lattice(lattice), numbers.tolist(), frac)
