"""Network-ready tensors of a data set: per-atom features and contact maps, cached on disk.

Each structure becomes ``L`` rows (zero-padded, with a mask) in canonical atom
order (:mod:`core.contact.contact_map`): raw element features, atomic numbers, the
contact map and the short-contact map. Features are stored **raw**; fit a
:class:`core.crystal.elements.FeatureScaler` on the training partition to normalise.
"""

from __future__ import annotations

import hashlib
import sys
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from core.contact.contact_map import DEFAULT_TOLERANCE, contact_map_from_arrays
from core.crystal.composition import PAPER_MAX_ATOMS
from core.crystal.elements import N_FEATURES, raw_features
from core.data.datasets import CACHE_VERSION, CrystalDataset, cache_dir
from core.io.files import atomic_write
from resources import resource_path


@dataclass
class FeaturizedDataset:
    """Padded tensors for ``N`` structures of at most ``L`` atoms.

    Attributes
    ----------
    material_ids, formulas : ndarray of str, shape (N,)
    numbers : ndarray of int16, shape (N, L)
        Atomic numbers in canonical order, 0 for padding.
    mask : ndarray of bool, shape (N, L)
        True for real atoms.
    features : ndarray of float32, shape (N, L, 11)
        Raw element features (0 for padding).
    contact : ndarray of uint8, shape (N, L, L)
        Contact maps (canonical order, zero-padded).
    short : ndarray of uint8, shape (N, L, L)
        Short-contact maps.
    spacegroups : ndarray of int16, shape (N,)
    """

    material_ids: np.ndarray
    formulas: np.ndarray
    numbers: np.ndarray
    mask: np.ndarray
    features: np.ndarray
    contact: np.ndarray
    short: np.ndarray
    spacegroups: np.ndarray

    def __len__(self) -> int:
        return len(self.material_ids)

    @property
    def max_atoms(self) -> int:
        return self.numbers.shape[1]

    @property
    def n_atoms(self) -> np.ndarray:
        return self.mask.sum(axis=1)

    def subset(self, indices: np.ndarray) -> FeaturizedDataset:
        """The structures at ``indices`` (in that order)."""
        idx = np.asarray(indices, dtype=np.int64)
        return FeaturizedDataset(**{f.name: getattr(self, f.name)[idx] for f in fields(self)})

    def save(self, path: Path) -> None:
        atomic_write(path, lambda fh: np.savez_compressed(fh, **{f.name: getattr(self, f.name) for f in fields(self)}))

    @classmethod
    def load(cls, path: Path) -> FeaturizedDataset:
        with np.load(path, allow_pickle=False) as data:
            return cls(**{f.name: data[f.name] for f in fields(cls)})


def featurize_dataset(
    dataset: CrystalDataset,
    max_atoms: int = PAPER_MAX_ATOMS,
    tolerance: float = DEFAULT_TOLERANCE,
    use_cache: bool = True,
) -> FeaturizedDataset:
    """Tensors for every structure of ``dataset`` (all must have ≤ ``max_atoms`` atoms).

    Results are cached on disk, keyed by the data set's content hash, the
    settings, the element table and :data:`core.data.datasets.CACHE_VERSION`.

    Raises
    ------
    ValueError
        If a structure has more than ``max_atoms`` atoms (filter first).
    """
    too_big = np.flatnonzero(dataset.nsites > max_atoms)
    if len(too_big):
        k = int(too_big[0])
        raise ValueError(
            f"{len(too_big)} structures have more than {max_atoms} atoms "
            f"(first: {dataset.material_ids[k]}, {dataset.nsites[k]} atoms); filter with max_atoms"
        )
    table_hash = hashlib.sha256(resource_path("element_features.csv").read_bytes()).hexdigest()[:12]
    key = hashlib.sha256(
        f"{CACHE_VERSION}|{dataset.content_hash()}|{max_atoms}|{tolerance}|{table_hash}".encode()
    ).hexdigest()[:24]
    cached = cache_dir() / f"features-{key}.npz"
    if use_cache and cached.exists():
        try:
            return FeaturizedDataset.load(cached)
        except (OSError, ValueError, KeyError):
            cached.unlink(missing_ok=True)
    result = _compute(dataset, max_atoms, tolerance)
    if use_cache:
        try:
            result.save(cached)
        except OSError as exc:
            print(f"warning: cannot write cache {cached}: {exc}", file=sys.stderr)
    return result


def _compute(dataset: CrystalDataset, max_atoms: int, tolerance: float) -> FeaturizedDataset:
    n = len(dataset)
    numbers = np.zeros((n, max_atoms), dtype=np.int16)
    contact = np.zeros((n, max_atoms, max_atoms), dtype=np.uint8)
    short = np.zeros_like(contact)
    for k in range(n):
        lattice, frac, z = dataset.atoms(k)
        cmap = contact_map_from_arrays(lattice, frac, z, tolerance)
        m = cmap.n_atoms
        numbers[k, :m] = z[cmap.order]
        contact[k, :m, :m] = cmap.matrix
        short[k, :m, :m] = cmap.short
    mask = numbers > 0
    features = np.where(mask[..., None], raw_features(numbers), 0.0).astype(np.float32)
    assert features.shape[-1] == N_FEATURES
    return FeaturizedDataset(
        material_ids=dataset.material_ids.copy(),
        formulas=dataset.formulas.copy(),
        numbers=numbers,
        mask=mask,
        features=features,
        contact=contact,
        short=short,
        spacegroups=dataset.spacegroups.copy(),
    )
