"""The template library: known structures of the training formulas, packed for retrieval.

Every structure (all polymorphs, all compositions, all-metal ones included) of
the *training* partition of :func:`core.data.formula_split.full_range_split` with at
most 20 atoms: lattice, species, fractional coordinates, space group and
Wyckoff letters (spglib at :data:`~core.crystal.symmetry.SPACEGROUP_SYMPREC`), material id, formation
energy, and a guessed oxidation state per atom (pymatgen's
``Composition.oxi_state_guesses``; none for most intermetallics). Held-out
formulas never enter it, so no evaluated formula can retrieve itself.

Stored as one compressed ``.npz`` (coordinates quantised to 1/65536 of a cell
edge, about 1e-4 Å) plus a JSON header; :meth:`TemplateLibrary.load` checks
every array and raises :class:`TemplateLibraryError` naming the file and the
problem. Re-create the shipped file with
``python scripts/build_templates.py --data ../shared/data/mp/structures.csv.gz``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, fields
from functools import cached_property, lru_cache
from pathlib import Path

import numpy as np
from pymatgen.core import Structure

from core.crystal.composition import oxidation_guess
from core.crystal.packed import PackedStructures
from core.crystal.spacegroups import centring_points
from core.crystal.symmetry import cell_wyckoff_letters
from core.crystal.wyckoff import wyckoff_multiplicities
from core.errors import AlphaCrystalError
from core.io.files import atomic_write
from core.templates.volume import fit_element_volumes

DEFAULT_LIBRARY_NAME = "template_library.npz"
FORMAT_VERSION = 1
"""Å: tolerance of the stored space groups and Wyckoff letters (the one engine-wide tolerance, 0.1 Å as MP-20),
except for a cell that is a slightly distorted superstructure at it, labelled at the tolerance it was found at
(:func:`core.crystal.symmetry.cell_wyckoff_letters`: mp-1120767, a 12-atom NaCl, is P-62m with Z = 6, not
P6_3/mmc, whose cell holds 4 atoms), so that the orbits add up to the cell's atoms."""

NO_OXIDATION = -128
"""Stored in ``oxidation`` when no oxidation states could be guessed for a structure."""
_FRAC_SCALE = 65536


class TemplateLibraryError(AlphaCrystalError):
    """A template library file is missing, corrupt or of another format; the message names it."""


@dataclass(eq=False)  # compared and hashed by identity: caches key on the loaded library
class TemplateLibrary(PackedStructures):
    """Known structures packed in arrays (:mod:`core.crystal.packed`: atoms of template k are
    ``offsets[k]:offsets[k+1]``; ``nsites``, ``atom_slice(k)`` and ``structure(k)`` come from there).

    Attributes
    ----------
    material_ids, formulas : ndarray of str, shape (N,)
        Materials Project id and reduced formula.
    lattices : ndarray of float, shape (N, 3, 3)
        Lattice vectors as rows, Å.
    offsets : ndarray of int, shape (N + 1,)
    numbers : ndarray of int, shape (M,)
        Atomic numbers.
    frac_coords : ndarray of float, shape (M, 3)
        Fractional coordinates in [0, 1).
    wyckoffs : ndarray of str, shape (M,)
        Wyckoff letter of every atom (``"?"`` when spglib found none).
    oxidation : ndarray of int, shape (M,)
        Guessed oxidation state of every atom; :data:`NO_OXIDATION` when none.
    spacegroups : ndarray of int, shape (N,)
    energies : ndarray of float, shape (N,)
        Formation energy per atom, eV (NaN when unknown).
    element_volumes : ndarray of float, shape (119,)
        Å³ per atom of each element, the volume model fitted on the library
        (:mod:`core.templates.volume`); NaN where an element never occurs.
    meta : dict
        Source, licence, split and build settings.
    """

    material_ids: np.ndarray
    formulas: np.ndarray
    lattices: np.ndarray
    offsets: np.ndarray
    numbers: np.ndarray
    frac_coords: np.ndarray
    wyckoffs: np.ndarray
    oxidation: np.ndarray
    spacegroups: np.ndarray
    energies: np.ndarray
    element_volumes: np.ndarray
    meta: dict

    def find(self, material_id: str) -> int | None:
        """The index of the template with this Materials Project id, or None."""
        return self._index_of_id.get(material_id)

    @cached_property
    def _index_of_id(self) -> dict[str, int]:
        return {str(m): k for k, m in enumerate(self.material_ids)}

    def wyckoff_label(self, k: int) -> str:
        """The Wyckoff occupation of template k, e.g. ``O 3c, Sr 1a, Ti 1b``."""
        s = self.atom_slice(k)
        return wyckoff_label(int(self.spacegroups[k]), self.numbers[s], self.wyckoffs[s])

    @cached_property
    def formula_set(self) -> frozenset[str]:
        """Reduced formulas in the library (the training formulas it was built from)."""
        return frozenset(str(f) for f in self.formulas)

    @classmethod
    def from_structures(cls, structures: list[Structure], material_ids: list[str],
                        energies: list[float] | None = None, meta: dict | None = None,
                        element_volumes: np.ndarray | None = None) -> TemplateLibrary:
        """A library of the given structures (as stored; symmetry and oxidation states computed
        here; the volume model fitted on them unless ``element_volumes`` (Å³ per atom by atomic
        number) is given). For tests and small custom libraries."""

        numbers = [np.array([site.specie.Z for site in s]) for s in structures]
        labels = [cell_wyckoff_letters(s.lattice.matrix, s.frac_coords, z) for s, z in zip(structures, numbers)]
        oxidation = []
        for s in structures:
            guess = oxidation_guess(s.composition.reduced_formula)
            oxidation += [NO_OXIDATION if guess is None else guess[site.specie.symbol] for site in s]
        offsets = np.concatenate([[0], np.cumsum([len(s) for s in structures])]).astype(np.int64)
        all_numbers = np.concatenate(numbers)
        return cls(
            material_ids=np.array(material_ids), formulas=np.array([s.composition.reduced_formula for s in structures]),
            lattices=np.array([s.lattice.matrix for s in structures]), offsets=offsets, numbers=all_numbers,
            frac_coords=np.mod(np.concatenate([s.frac_coords for s in structures]), 1.0),
            wyckoffs=np.array([w for _, ws in labels for w in ws]), oxidation=np.array(oxidation),
            spacegroups=np.array([sg for sg, _ in labels]),
            energies=np.array(energies if energies is not None else [np.nan] * len(structures), dtype=float),
            element_volumes=(np.asarray(element_volumes, dtype=float) if element_volumes is not None else
                             fit_element_volumes(all_numbers, offsets, np.array([s.volume for s in structures]))),
            meta=meta or {"source": "built in code"})

    # ------------------------------------------------------------------ file
    def save(self, path: str | os.PathLike) -> Path:
        """Write the library as a compressed ``.npz`` atomically."""
        frac = np.mod(self.frac_coords, 1.0)
        quantised = np.minimum(np.round(frac * _FRAC_SCALE), _FRAC_SCALE - 1).astype(np.uint16)
        return atomic_write(path, lambda fh: np.savez_compressed(
                fh,
                header=np.array(json.dumps({"format": FORMAT_VERSION, **self.meta})),
                material_ids=self.material_ids.astype("S"), formulas=self.formulas.astype("S"),
                lattices=self.lattices.astype(np.float32), offsets=self.offsets.astype(np.int32),
                numbers=self.numbers.astype(np.uint8), frac_coords=quantised,
                wyckoffs=self.wyckoffs.astype("S1"), oxidation=self.oxidation.astype(np.int8),
                spacegroups=self.spacegroups.astype(np.uint8), energies=self.energies.astype(np.float32),
                element_volumes=self.element_volumes.astype(np.float32)))

    @classmethod
    def load(cls, path: str | os.PathLike) -> TemplateLibrary:
        """Read and check a library file.

        Raises
        ------
        TemplateLibraryError
            Missing or unreadable file, another format version, a missing array,
            or arrays that disagree with each other.
        """
        path = Path(path)
        if not path.exists():
            raise TemplateLibraryError(f"{path}: no such template library (re-create it with "
                                       "python scripts/build_templates.py --data ../shared/data/mp/structures.csv.gz)")
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {name: data[name] for name in data.files}
        except Exception as exc:  # noqa: BLE001 - zip/npy errors of every kind mean a corrupt file
            raise TemplateLibraryError(f"{path}: not a readable template library ({type(exc).__name__}: {exc})") from exc
        try:
            meta = json.loads(str(arrays.pop("header")))
        except (KeyError, ValueError) as exc:
            raise TemplateLibraryError(f"{path}: template library without a valid header") from exc
        if meta.get("format") != FORMAT_VERSION:
            raise TemplateLibraryError(f"{path}: template library format {meta.get('format')!r}, "
                                       f"this version reads {FORMAT_VERSION}")
        names = [f.name for f in fields(cls) if f.name != "meta"]
        missing = [n for n in names if n not in arrays]
        if missing:
            raise TemplateLibraryError(f"{path}: template library lacks {', '.join(missing)}")
        library = cls(
            material_ids=arrays["material_ids"].astype(str), formulas=arrays["formulas"].astype(str),
            lattices=arrays["lattices"].astype(float), offsets=arrays["offsets"].astype(np.int64),
            numbers=arrays["numbers"].astype(np.int64),
            frac_coords=arrays["frac_coords"].astype(float) / _FRAC_SCALE,
            wyckoffs=arrays["wyckoffs"].astype(str), oxidation=arrays["oxidation"].astype(np.int64),
            spacegroups=arrays["spacegroups"].astype(np.int64), energies=arrays["energies"].astype(float),
            element_volumes=arrays["element_volumes"].astype(float), meta=meta)
        problem = library.problem()
        if problem:
            raise TemplateLibraryError(f"{path}: corrupt template library: {problem}")
        return library

    def problem(self) -> str | None:
        """What is inconsistent in the arrays, or None."""
        n, m = len(self.material_ids), len(self.numbers)
        if n == 0:
            return "no templates"
        if self.offsets.shape != (n + 1,) or self.offsets[0] != 0 or self.offsets[-1] != m:
            return f"offsets do not cover the {m} atoms of {n} templates"
        if np.any(np.diff(self.offsets) < 1):
            return "a template without atoms"
        for name, shape in (("formulas", (n,)), ("lattices", (n, 3, 3)), ("spacegroups", (n,)),
                            ("energies", (n,)), ("frac_coords", (m, 3)), ("wyckoffs", (m,)),
                            ("oxidation", (m,)), ("element_volumes", (119,))):
            if getattr(self, name).shape != shape:
                return f"{name} has shape {getattr(self, name).shape}, expected {shape}"
        if self.numbers.min() < 1 or self.numbers.max() > 118:
            return "atomic numbers outside 1..118"
        if self.spacegroups.min() < 1 or self.spacegroups.max() > 230:
            return "space-group numbers outside 1..230"
        if not np.all(np.isfinite(self.lattices)) or np.any(np.abs(np.linalg.det(self.lattices)) < 1e-3):
            return "a degenerate or non-finite lattice"
        return None


def wyckoff_label(spacegroup: int, numbers, letters) -> str:
    """Wyckoff occupation in conventional-cell notation, e.g. ``O 3c, Sr 1a, Ti 1b`` or
    ``Cl 4b, Na 4a`` for rock salt; two orbits on one letter are listed twice (``O 4e, 4e``).

    ``numbers`` and ``letters`` are per atom of a primitive cell; an orbit of
    multiplicity m holds m / (lattice points per conventional cell) of its atoms."""
    from pymatgen.core import Element

    points = centring_points(spacegroup)
    multiplicity = wyckoff_multiplicities(spacegroup)
    counts: dict[tuple[str, str], int] = {}
    for z, w in zip(numbers, letters):
        key = (Element.from_Z(int(z)).symbol, str(w))
        counts[key] = counts.get(key, 0) + 1
    parts: dict[str, list[str]] = {}
    for (el, w), n in sorted(counts.items()):
        m = multiplicity.get(w)
        orbits = max(1, round(n * points / m)) if m else 1
        parts.setdefault(el, []).extend([f"{m}{w}" if m else w] * orbits)
    return ", ".join(f"{el} {', '.join(sites)}" for el, sites in parts.items())


@lru_cache(maxsize=2)
def load_library(path: str | None = None) -> TemplateLibrary:
    """The shipped library (``resources/template_library.npz``) or the file ``path``, loaded once."""
    if path is None:
        from resources import RESOURCE_DIR

        path = str(RESOURCE_DIR / DEFAULT_LIBRARY_NAME)
    return TemplateLibrary.load(path)
