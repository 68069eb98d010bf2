"""Training tables for the candidate predictors: composition, Z, space group, lattice.

Each structure of a :class:`core.data.datasets.CrystalDataset` becomes one row with
its reduced composition, the number of formula units Z in its primitive cell,
its space group and the lattice parameters of its conventional standard cell
(spglib at symprec 0.1 Å and 5°, the MP-20 convention; ITA settings: monoclinic
unique axis b, rhombohedral groups in hexagonal axes). The split is the one of
the contact-map model (:class:`core.data.formula_split.DataSettings`), by
reduced formula, so the held-out test formulas are the same for every model.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, fields

import numpy as np

from core.candidates.features import reduce_counts
from core.crystal.elements import element_table
from core.crystal.spacegroups import cell_volume, centring_points
from core.crystal.symmetry import ANGLE_TOLERANCE, SPACEGROUP_SYMPREC, symmetry_of
from core.data.datasets import CrystalDataset, cache_dir
from core.data.formula_split import DataSettings, split_dataset
from core.io.files import atomic_write

TABLE_VERSION = "1"
__all__ = ["ANGLE_TOLERANCE", "SPACEGROUP_SYMPREC", "CandidateData", "CandidateTable", "candidate_table",
           "load_candidate_data", "symmetry_row"]


@dataclass
class CandidateTable:
    """Rows of (composition, Z, space group, conventional lattice).

    Attributes
    ----------
    formulas : ndarray of str (N,)
        Reduced formulas.
    counts : ndarray (N, max_z + 1)
        Atoms per element of one reduced formula unit.
    z : ndarray of int (N,)
        Formula units in the primitive cell.
    nsites : ndarray of int (N,)
        Atoms in the primitive cell.
    spacegroup : ndarray of int (N,)
        Space-group number (spglib, symprec 0.1 Å).
    lattice : ndarray (N, 6)
        Conventional standard cell a, b, c (Å), α, β, γ (degrees).
    """

    material_ids: np.ndarray
    formulas: np.ndarray
    counts: np.ndarray
    z: np.ndarray
    nsites: np.ndarray
    spacegroup: np.ndarray
    lattice: np.ndarray

    def __len__(self) -> int:
        return len(self.formulas)

    def subset(self, idx: np.ndarray) -> CandidateTable:
        return CandidateTable(**{f.name: getattr(self, f.name)[idx] for f in fields(self)})

    @property
    def volume_per_atom(self) -> np.ndarray:
        """Å³ per atom (setting independent)."""
        points = np.array([centring_points(int(n)) for n in self.spacegroup])
        return cell_volume(self.lattice) / (self.nsites * points)


def symmetry_row(lattice: np.ndarray, frac: np.ndarray, numbers: np.ndarray) -> tuple[int, np.ndarray]:
    """``(space group, conventional (a, b, c, α, β, γ))`` of one structure via spglib."""
    return symmetry_of(lattice, frac, numbers, symprec=SPACEGROUP_SYMPREC)


def candidate_table(dataset: CrystalDataset, use_cache: bool = True) -> CandidateTable:
    """Symmetry-analyse every structure of ``dataset`` (cached on disk by content)."""
    key = hashlib.sha256(f"{TABLE_VERSION}|{dataset.content_hash()}".encode()).hexdigest()[:24]
    path = cache_dir() / f"candidates-{key}.npz"
    if use_cache and path.exists():
        with np.load(path, allow_pickle=False) as data:
            return CandidateTable(**{f.name: data[f.name] for f in fields(CandidateTable)})
    max_z = element_table().max_z
    n = len(dataset)
    counts = np.zeros((n, max_z + 1))
    sg = np.zeros(n, dtype=np.int64)
    lat = np.zeros((n, 6))
    for k in range(n):
        lattice, frac, numbers = dataset.atoms(k)
        np.add.at(counts[k], numbers, 1)
        sg[k], lat[k] = symmetry_row(lattice, frac, numbers)
    reduced = reduce_counts(counts)
    nsites = dataset.nsites.astype(np.int64)
    table = CandidateTable(
        material_ids=dataset.material_ids, formulas=dataset.formulas, counts=reduced,
        z=(nsites // reduced.sum(axis=1).astype(np.int64)), nsites=nsites, spacegroup=sg, lattice=lat)
    if use_cache:
        atomic_write(path, lambda fh: np.savez(fh, **{f.name: getattr(table, f.name) for f in fields(table)}))
    return table


@dataclass
class CandidateData:
    train: CandidateTable
    validation: CandidateTable
    test: CandidateTable


def load_candidate_data(settings: DataSettings) -> CandidateData:
    """Filter and split exactly as the contact-map model does, then symmetry-analyse."""
    split = split_dataset(settings)
    return CandidateData(*(candidate_table(part) for part in (split.train, split.validation, split.test)))
