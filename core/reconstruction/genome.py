"""Genome ↔ crystal: decoding free Wyckoff parameters into the atoms of the primitive cell.

A genome holds only the true free parameters: for each occupied orbit the
generic coordinates its representative depends on (x of (x, 0, 0); x and z of
(x, x, z) or (x, 2x, z), so coupled coordinates stay coupled), all fractional
and periodic in [0, 1); optionally followed by one strain gene per free lattice
length (a, b, c as the crystal system allows), in [-1, 1] for ±``max_strain``.

Decoding is a precomputed affine map per orbit: for every atom *k* of the orbit
in the primitive cell, ``f_k = (R_k v + t_k) @ inv(T)``, where ``v`` is the
generic (x, y, z) vector filled from the genes, (R_k, t_k) pyxtal's symmetry
operation and T the primitive basis of the centred lattice
(:func:`core.crystal.spacegroups.primitive_basis`). Orbit copies related by a centring
translation are dropped once, at set-up, so a centred group gives exactly the
primitive-cell atoms (Fm-3m NaCl: 2 atoms, not 8). No CIF text is involved.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from pymatgen.core import Lattice, Structure

from core.crystal.elements import element_sort_key
from core.crystal.spacegroups import constrain_lattice, primitive_basis
from core.crystal.symmetry import crystal_system
from core.crystal.wyckoff import pyxtal_group
from core.reconstruction.assignments import Assignment


@dataclass(frozen=True)
class OrbitMap:
    """Affine map from generic coordinates to the orbit's atoms in the primitive cell.

    ``positions = (rot @ v + trans)`` with ``rot`` (m, 3, 3), ``trans`` (m, 3) already
    in primitive fractional coordinates; ``free`` are the indices of v that vary.
    """

    element: str
    label: str
    rot: np.ndarray
    trans: np.ndarray
    free: tuple[int, ...]


@lru_cache(maxsize=4096)
def orbit_map(spacegroup: int, label: str, element: str = "") -> OrbitMap:
    """The :class:`OrbitMap` of Wyckoff orbit ``label`` (e.g. ``"4a"``) of a space group."""
    wp = pyxtal_group(spacegroup).get_wyckoff_position(label.lstrip("0123456789"))
    rot = np.array([op.affine_matrix[:3, :3] for op in wp.ops])
    trans = np.array([op.affine_matrix[:3, 3] for op in wp.ops])
    free = tuple(int(k) for k in np.flatnonzero(np.abs(rot).sum(axis=(0, 1)) > 0))
    inv_t = np.linalg.inv(primitive_basis(spacegroup))
    # Keep one atom per primitive-cell position: test with an irrational generic point.
    probe = np.array([0.1234567, 0.2718281, 0.3141592])
    frac = ((rot @ probe + trans) @ inv_t) % 1.0
    keep: list[int] = []
    for k, f in enumerate(frac):
        if not any(np.allclose(((f - frac[j] + 0.5) % 1.0) - 0.5, 0, atol=1e-6) for j in keep):
            keep.append(k)
    # R' = inv(T)^T R and t' = t inv(T) give primitive coordinates directly (row convention).
    rot_p = np.einsum("ji,kjl->kil", inv_t, rot[keep])
    trans_p = trans[keep] @ inv_t
    return OrbitMap(element, label, rot_p, trans_p, free)


def strain_groups(spacegroup: int) -> tuple[tuple[int, ...], ...]:
    """Lattice lengths (0 = a, 1 = b, 2 = c) that share one strain gene under the
    crystal system's constraints: cubic ``((0, 1, 2),)``; tetragonal, trigonal,
    hexagonal ``((0, 1), (2,))``; lower symmetry one gene per length."""
    system = crystal_system(spacegroup)
    if system == "cubic":
        return ((0, 1, 2),)
    if system in ("tetragonal", "trigonal", "hexagonal"):
        return ((0, 1), (2,))
    return ((0,), (1,), (2,))


def conventional_matrices(params: np.ndarray) -> np.ndarray:
    """Lattice vectors (rows, Å) of cells ``(a, b, c, α, β, γ)`` (shape (P, 6) -> (P, 3, 3)),
    vectorised, in pymatgen's ``Lattice.from_parameters`` orientation."""
    a, b, c = params[:, 0], params[:, 1], params[:, 2]
    al, be, ga = (np.radians(params[:, k]) for k in (3, 4, 5))
    val = np.clip((np.cos(al) * np.cos(be) - np.cos(ga)) / (np.sin(al) * np.sin(be)), -1.0, 1.0)
    gamma_star = np.arccos(val)
    zero = np.zeros_like(a)
    va = np.stack([a * np.sin(be), zero, a * np.cos(be)], axis=1)
    vb = np.stack([-b * np.sin(al) * np.cos(gamma_star), b * np.sin(al) * np.sin(gamma_star), b * np.cos(al)], axis=1)
    vc = np.stack([zero, zero, c], axis=1)
    return np.stack([va, vb, vc], axis=1)


class Decoder:
    """Decode populations of genomes of one Wyckoff assignment into primitive cells.

    Parameters
    ----------
    assignment : Assignment
    lattice : sequence of 6 floats
        Conventional cell (a, b, c in Å, α, β, γ in degrees), the centre of the
        strain range.
    max_strain : float
        Relative range of each free lattice length (0 disables the strain genes).

    Attributes
    ----------
    species : list of str
        Element of each decoded atom, grouped in the contact-map element order.
    n_genes, n_coordinate_genes : int
    """

    def __init__(self, assignment: Assignment, lattice, max_strain: float = 0.0) -> None:
        self.assignment = assignment
        self.spacegroup = assignment.spacegroup
        self.params = constrain_lattice(self.spacegroup, np.asarray(lattice, dtype=float))
        self.max_strain = float(max_strain)
        self.basis = primitive_basis(self.spacegroup)
        maps = [orbit_map(self.spacegroup, label, el)
                for el, labels in zip(assignment.species, assignment.orbits) for label in labels]
        # Atoms grouped by element in the contact-map order (stable within an element).
        maps.sort(key=lambda m: element_sort_key(m.element))
        self.maps = maps
        self.rot = np.concatenate([m.rot for m in maps])          # (n, 3, 3)
        self.trans = np.concatenate([m.trans for m in maps])      # (n, 3)
        self.species = [m.element for m in maps for _ in range(len(m.trans))]
        # gene g of orbit o fills generic coordinate free[g]: scatter matrix (n_coord_genes -> per atom v)
        self.n_coordinate_genes = sum(len(m.free) for m in maps)
        atom_orbit = np.concatenate([[o] * len(m.trans) for o, m in enumerate(maps)])
        gene_start = np.cumsum([0] + [len(m.free) for m in maps])
        self._scatter = np.zeros((len(self.species), 3, max(self.n_coordinate_genes, 1)))
        for atom, o in enumerate(atom_orbit):
            for g, axis in enumerate(maps[o].free):
                self._scatter[atom, axis, gene_start[o] + g] = 1.0
        self.strain_groups = strain_groups(self.spacegroup) if self.max_strain > 0 else ()
        self.n_genes = self.n_coordinate_genes + len(self.strain_groups)
        self.periodic = np.array([True] * self.n_coordinate_genes + [False] * len(self.strain_groups))

    @property
    def n_atoms(self) -> int:
        return len(self.species)

    def lattice_params(self, genes: np.ndarray) -> np.ndarray:
        """Conventional (a, b, c, α, β, γ) of each genome, shape (P, 6)."""
        genes = np.atleast_2d(genes)
        p = np.repeat(self.params[None, :], len(genes), axis=0)
        if self.strain_groups:
            strain = np.clip(genes[:, self.n_coordinate_genes:], -1, 1) * self.max_strain
            for k, lengths in enumerate(self.strain_groups):
                for axis in lengths:
                    p[:, axis] = self.params[axis] * (1 + strain[:, k])
        return p

    def lattice_matrices(self, genes: np.ndarray) -> np.ndarray:
        """Primitive lattice vectors as rows, Å, shape (P, 3, 3)."""
        params = self.lattice_params(genes)
        if not self.strain_groups:
            conv = Lattice.from_parameters(*self.params).matrix
            return np.repeat((self.basis @ conv)[None], len(params), axis=0)
        return self.basis[None] @ conventional_matrices(params)

    def frac_coords(self, genes: np.ndarray) -> np.ndarray:
        """Fractional coordinates in the primitive cell, shape (P, n, 3), in [0, 1)."""
        genes = np.atleast_2d(genes)
        v = np.einsum("nag,pg->pna", self._scatter, genes[:, : self.n_coordinate_genes]
                      if self.n_coordinate_genes else np.zeros((len(genes), 1)))
        pos = np.einsum("nij,pnj->pni", self.rot, v) + self.trans[None]
        return pos % 1.0

    def structure(self, genes: np.ndarray) -> Structure:
        """One genome as a pymatgen Structure (primitive cell)."""
        genes = np.asarray(genes, dtype=float).reshape(1, -1)
        return Structure(Lattice(self.lattice_matrices(genes)[0]), self.species, self.frac_coords(genes)[0])
