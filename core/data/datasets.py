"""Crystal data sets: MP-20-style CSV(.gz) files and folders of CIFs, filters, splits, cache.

A :class:`CrystalDataset` stores its structures packed in numpy arrays (one
lattice per structure, atoms concatenated), so filtering and splitting are
index operations and the whole set caches to one ``.npz`` file.

Cell convention: rows of a CSV are used as stored (the shipped
``mp/structures.csv.gz`` holds primitive cells); CIFs of a folder are reduced to
their primitive cell on load. Atom counts (``nsites``) are primitive-cell counts.

The on-disk cache lives in ``$ALPHACRYSTAL_CACHE`` (default
``~/.cache/alphacrystal``) and is keyed by a hash of the input file contents,
the load settings and :data:`CACHE_VERSION`, so edits to the data invalidate it.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import os
import sys
import warnings
from collections import Counter
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
from pymatgen.core import Composition, Structure

from core.crystal.composition import PAPER_MAX_ATOMS
from core.crystal.elements import element_table
from core.crystal.packed import PackedStructures
from core.crystal.symmetry import CRYSTAL_SYSTEMS, cell_space_group, crystal_system, primitive_cell
from core.errors import DatasetError, StructureFileError
from core.io.cif_p1 import read_p1_cif
from core.io.files import atomic_write
from core.io.read import read_structure

CACHE_VERSION = "1"

def cache_dir() -> Path:
    """Folder of the on-disk cache (``$ALPHACRYSTAL_CACHE`` or ``~/.cache/alphacrystal``)."""
    env = os.environ.get("ALPHACRYSTAL_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "alphacrystal"


@dataclass
class CrystalDataset(PackedStructures):
    """Structures packed in arrays (:mod:`core.crystal.packed`; ``nsites``, ``atoms(k)`` and
    ``structure(k)`` come from there).

    Attributes
    ----------
    material_ids, formulas : ndarray of str, shape (N,)
        Identifier and pymatgen reduced formula of each structure.
    lattices : ndarray, shape (N, 3, 3)
        Lattice vectors as rows, Å.
    offsets : ndarray of int, shape (N + 1,)
        Atoms of structure k are ``offsets[k]:offsets[k + 1]``.
    numbers : ndarray of int, shape (M,)
        Atomic numbers of all atoms.
    frac_coords : ndarray, shape (M, 3)
        Fractional coordinates of all atoms.
    spacegroups : ndarray of int, shape (N,)
        Space-group number at symprec 0.1 Å (0 when unknown).
    energies : ndarray, shape (N,)
        Formation energy per atom in eV (NaN when unknown).
    source : str
        Where the data came from (a path).
    """

    material_ids: np.ndarray
    formulas: np.ndarray
    lattices: np.ndarray
    offsets: np.ndarray
    numbers: np.ndarray
    frac_coords: np.ndarray
    spacegroups: np.ndarray
    energies: np.ndarray
    source: str = ""

    def subset(self, indices: np.ndarray | list[int]) -> CrystalDataset:
        """A new data set with the structures at ``indices`` (in that order)."""
        idx = np.asarray(indices, dtype=np.int64)
        counts = self.nsites[idx]
        offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        atom_idx = (
            np.concatenate([np.arange(self.offsets[k], self.offsets[k + 1]) for k in idx])
            if len(idx)
            else np.zeros(0, dtype=np.int64)
        )
        return CrystalDataset(
            material_ids=self.material_ids[idx],
            formulas=self.formulas[idx],
            lattices=self.lattices[idx],
            offsets=offsets,
            numbers=self.numbers[atom_idx],
            frac_coords=self.frac_coords[atom_idx],
            spacegroups=self.spacegroups[idx],
            energies=self.energies[idx],
            source=self.source,
        )

    def all_metal(self) -> np.ndarray:
        """Boolean mask of structures made of metals only (pymatgen's ``is_metal``)."""
        metal = element_table().is_metal[self.numbers]
        return np.logical_and.reduceat(metal, self.offsets[:-1]) if len(self) else np.zeros(0, bool)

    def filter(
        self,
        max_atoms: int | None = None,
        exclude_all_metal: bool = False,
        lowest_energy_per_formula: bool = False,
        min_atoms: int | None = None,
    ) -> CrystalDataset:
        """Structures with ``min_atoms``-``max_atoms`` atoms (either bound optional), optionally without all-metal
        compounds (as in the paper) and keeping only the lowest-formation-energy
        polymorph of each reduced formula (rows without an energy are kept only
        when their formula has no row with one)."""
        keep = np.ones(len(self), dtype=bool)
        if max_atoms is not None:
            keep &= self.nsites <= max_atoms
        if min_atoms is not None:
            keep &= self.nsites >= min_atoms
        if exclude_all_metal:
            keep &= ~self.all_metal()
        idx = np.flatnonzero(keep)
        if lowest_energy_per_formula:
            energy = np.where(np.isnan(self.energies[idx]), np.inf, self.energies[idx])
            order = np.lexsort((idx, energy, self.formulas[idx]))
            _, first = np.unique(self.formulas[idx][order], return_index=True)
            idx = np.sort(idx[order][first])
        return self.subset(idx)

    def content_hash(self) -> str:
        """Hash of every array: identical data sets give identical hashes."""
        digest = hashlib.sha256()
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, np.ndarray):
                digest.update(np.ascontiguousarray(value).tobytes())
                digest.update(str(value.dtype).encode())
        return digest.hexdigest()[:20]

    def stats(self) -> dict:
        """Counts by atom number, number of elements, element, space group and crystal system."""
        nsites = self.nsites
        elements_per = [
            np.unique(self.numbers[self.atom_slice(k)]) for k in range(len(self))
        ]
        symbols = element_table().symbols
        element_counts = Counter(symbols[z] for zs in elements_per for z in zs)
        sg_counts = Counter(int(sg) for sg in self.spacegroups)
        systems = Counter(crystal_system(int(sg)) for sg in self.spacegroups)
        return {
            "source": self.source,
            "n_structures": len(self),
            "n_reduced_formulas": int(len(np.unique(self.formulas))),
            "n_atoms": int(nsites.sum()),
            "atoms_per_structure": {int(k): int(v) for k, v in sorted(Counter(nsites.tolist()).items())},
            "n_le_12_atoms": int((nsites <= PAPER_MAX_ATOMS).sum()),
            "elements_per_structure": {
                int(k): int(v) for k, v in sorted(Counter(len(z) for z in elements_per).items())
            },
            "all_metal": int(self.all_metal().sum()),
            "with_energy": int(np.isfinite(self.energies).sum()),
            "n_elements": len(element_counts),
            "element_counts": dict(element_counts.most_common()),
            "n_spacegroups": len([sg for sg in sg_counts if sg > 0]),
            "spacegroup_counts": {int(k): int(v) for k, v in sg_counts.most_common()},
            "crystal_system_counts": {k: systems.get(k, 0) for k, _, _ in CRYSTAL_SYSTEMS}
            | ({"unknown": systems["unknown"]} if systems.get("unknown") else {}),
        }

    def save(self, path: Path) -> None:
        """Write the arrays to an ``.npz`` file atomically."""
        atomic_write(path, lambda fh: np.savez(
            fh, **{f.name: getattr(self, f.name) for f in fields(self) if f.name != "source"},
            source=np.array(self.source)))

    @classmethod
    def load(cls, path: Path) -> CrystalDataset:
        with np.load(path, allow_pickle=False) as data:
            values = {f.name: data[f.name] for f in fields(cls)}
        values["source"] = str(values["source"])
        return cls(**values)


@dataclass
class DatasetSplit:
    """Train / validation / test partitions that share no reduced formula."""

    train: CrystalDataset
    validation: CrystalDataset
    test: CrystalDataset

    def summary(self) -> dict[str, dict[str, int]]:
        return {
            name: {"structures": len(part), "formulas": int(len(np.unique(part.formulas)))}
            for name, part in (("train", self.train), ("validation", self.validation), ("test", self.test))
        }


SPLIT_FRACTIONS: tuple[float, float, float] = (0.8, 0.1, 0.1)
"""Fractions of formulas in train, validation and test: every split of the project."""


def split_by_formula(
    dataset: CrystalDataset,
    fractions: tuple[float, float, float] = SPLIT_FRACTIONS,
    seed: int = 0,
    test_formulas: list[str] | tuple[str, ...] = (),
) -> DatasetSplit:
    """Split by reduced formula so that no formula occurs in two partitions.

    The sorted list of distinct formulas is shuffled with ``seed`` and cut by
    ``fractions`` (of formulas). Formulas in ``test_formulas`` (e.g. benchmark
    targets, given as any formula that reduces to them) always go to the test set.
    """
    if len(fractions) != 3 or min(fractions) < 0 or abs(sum(fractions) - 1.0) > 1e-6:
        raise ValueError(f"fractions must be three non-negative numbers summing to 1, got {fractions}")
    forced = {Composition(f).reduced_formula for f in test_formulas}
    formulas = np.unique(dataset.formulas)
    free = np.array([f for f in formulas if f not in forced], dtype=formulas.dtype)
    rng = np.random.default_rng(seed)
    free = free[rng.permutation(len(free))]
    n_train = int(round(fractions[0] * len(free)))
    n_val = int(round(fractions[1] * len(free)))
    part_of = {f: 0 for f in free[:n_train]}
    part_of.update({f: 1 for f in free[n_train : n_train + n_val]})
    part = np.array([part_of.get(f, 2) for f in dataset.formulas], dtype=np.int64)
    return DatasetSplit(*(dataset.subset(np.flatnonzero(part == k)) for k in range(3)))


def load_dataset(path: str | os.PathLike, use_cache: bool = True) -> CrystalDataset:
    """Load an MP-20-style CSV(.gz) (column ``cif``) or a folder of ``*.cif`` files.

    CSV columns used: ``cif`` (required), ``material_id``, ``reduced_formula``,
    ``spacegroup_number``, ``formation_energy_per_atom`` (optional; computed or
    left unknown when absent). Parsed arrays are cached on disk (see module doc).

    Raises
    ------
    DatasetError
        If the path is missing, a required column is absent, a row's CIF cannot
        be parsed (the message names the file, line and material id), or no
        structure was found.
    """
    p = Path(path)
    if not p.exists():
        raise DatasetError(f"{p}: no such file or folder")
    key = hashlib.sha256(f"{CACHE_VERSION}|{_content_digest(p)}".encode()).hexdigest()[:24]
    cached = cache_dir() / f"dataset-{key}.npz"
    if use_cache and cached.exists():
        try:
            dataset = CrystalDataset.load(cached)
            dataset.source = str(p)
            return dataset
        except (OSError, ValueError, KeyError):
            cached.unlink(missing_ok=True)  # corrupt cache: rebuild
    if p.is_file() and (p.suffix.lower() in (".cif", ".mcif", ".vasp", ".json") or p.name.upper() in ("POSCAR", "CONTCAR")):
        raise DatasetError(f"{p}: one structure file, not a data set: give a folder of CIFs (or an MP-20-style "
                           "CSV with a 'cif' column)")
    dataset = _load_folder(p) if p.is_dir() else _load_csv(p)
    if len(dataset) == 0:
        raise DatasetError(f"{p}: contains no structures")
    if use_cache:
        try:
            dataset.save(cached)
        except OSError as exc:
            print(f"warning: cannot write cache {cached}: {exc}", file=sys.stderr)
    return dataset


def _content_digest(path: Path) -> str:
    digest = hashlib.sha256()
    files = sorted(f for f in path.glob("*.cif") if f.is_file()) if path.is_dir() else [path]  # a folder named x.cif: not one
    for f in files:
        digest.update(f.name.encode())
        with open(f, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


class _Builder:
    """Accumulates structures and packs them into a :class:`CrystalDataset`."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.formulas: list[str] = []
        self.lattices: list[np.ndarray] = []
        self.numbers: list[np.ndarray] = []
        self.coords: list[np.ndarray] = []
        self.spacegroups: list[int] = []
        self.energies: list[float] = []

    def add(self, material_id: str, lattice: np.ndarray, numbers: np.ndarray, frac: np.ndarray,
            formula: str | None, spacegroup: int | None, energy: float | None) -> None:
        if formula is None:
            formula = Composition(Counter(element_table().symbols[z] for z in numbers)).reduced_formula
        if spacegroup is None:
            spacegroup = cell_space_group(lattice, frac, numbers)
        self.ids.append(material_id)
        self.formulas.append(formula)
        self.lattices.append(np.asarray(lattice, dtype=np.float64))
        self.numbers.append(np.asarray(numbers, dtype=np.int16))
        self.coords.append(np.asarray(frac, dtype=np.float64) % 1.0)
        self.spacegroups.append(int(spacegroup))
        self.energies.append(np.nan if energy is None else float(energy))

    def build(self, source: str) -> CrystalDataset:
        counts = [len(n) for n in self.numbers]
        return CrystalDataset(
            material_ids=np.array(self.ids, dtype=str),
            formulas=np.array(self.formulas, dtype=str),
            lattices=np.array(self.lattices, dtype=np.float64).reshape(-1, 3, 3),
            offsets=np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
            numbers=np.concatenate(self.numbers) if counts else np.zeros(0, np.int16),
            frac_coords=np.concatenate(self.coords) if counts else np.zeros((0, 3)),
            spacegroups=np.array(self.spacegroups, dtype=np.int16),
            energies=np.array(self.energies, dtype=np.float64),
            source=source,
        )



def _optional_float(value: str | None, where: str = "", column: str = "") -> float | None:
    """A number, or None for an empty cell; anything else is an error naming the row and column
    (a formation energy 'abc' was counted as missing without a word)."""
    if value is None or value.strip() == "":
        return None
    try:
        return float(value)
    except ValueError:
        raise DatasetError(f"{where}: {column} '{value.strip()}' is not a number") from None


def _load_csv(path: Path) -> CrystalDataset:
    csv.field_size_limit(1 << 30)
    opener = gzip.open if path.suffix == ".gz" else open
    builder = _Builder()
    table = element_table()
    try:
        with opener(path, "rt", newline="", encoding="utf-8") as fh:  # type: ignore[operator]
            reader = csv.DictReader(fh)
            if reader.fieldnames is None or "cif" not in reader.fieldnames:
                raise DatasetError(f"{path}: expected a CSV with a 'cif' column, found {reader.fieldnames}")
            for k, row in enumerate(reader):
                material_id = row.get("material_id") or f"row-{k + 1}"
                where = f"{path}: line {reader.line_num} ({material_id})"
                parsed = read_p1_cif(row["cif"])
                if parsed is None:
                    parsed = _parse_cif_with_pymatgen(row["cif"], where)
                lattice, symbols, frac = parsed
                try:
                    numbers = np.array([table.z_of(s) for s in symbols], dtype=np.int16)
                except KeyError as exc:
                    raise DatasetError(f"{where}: unsupported element {exc}") from None
                sg = _optional_float(row.get("spacegroup_number"), where, "spacegroup_number")
                builder.add(
                    material_id, lattice, numbers, frac,
                    row.get("reduced_formula") or None,
                    int(sg) if sg is not None else None,
                    _optional_float(row.get("formation_energy_per_atom"), where, "formation_energy_per_atom"),
                )
    except (OSError, EOFError, UnicodeDecodeError, csv.Error, gzip.BadGzipFile) as exc:
        raise DatasetError(f"{path}: cannot read the CSV ({exc})") from None
    return builder.build(str(path))


def _parse_cif_with_pymatgen(text: str, where: str) -> tuple[np.ndarray, list[str], np.ndarray]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            structure = Structure.from_str(text, fmt="cif")
    except Exception as exc:
        raise DatasetError(f"{where}: cannot parse the CIF ({exc})") from None
    if not structure.is_ordered:
        raise DatasetError(f"{where}: the CIF has partially occupied sites")
    return structure.lattice.matrix, [s.specie.symbol for s in structure], structure.frac_coords


def _load_folder(path: Path) -> CrystalDataset:
    files = sorted(f for f in path.glob("*.cif") if f.is_file())  # a folder named x.cif is not a CIF
    if not files:
        raise DatasetError(f"{path}: the folder has no *.cif files")
    builder = _Builder()
    table = element_table()
    for f in files:
        try:
            structure = primitive_cell(read_structure(f))
            numbers = np.array([table.z_of(s.specie.symbol) for s in structure], dtype=np.int16)
        except StructureFileError as exc:
            raise DatasetError(str(exc)) from None
        except KeyError as exc:
            raise DatasetError(f"{f}: unsupported element {exc}") from None
        builder.add(f.stem, structure.lattice.matrix, numbers, structure.frac_coords, None, None, None)
    return builder.build(str(path))


def stats_text(stats: dict, top: int = 15) -> str:
    """Human-readable rendering of :meth:`CrystalDataset.stats`."""
    out = io.StringIO()
    w = out.write
    w(f"source: {stats['source']}\n")
    w(f"structures: {stats['n_structures']}   reduced formulas: {stats['n_reduced_formulas']}   "
      f"atoms: {stats['n_atoms']}   with <= 12 atoms: {stats['n_le_12_atoms']}   "
      f"all-metal: {stats['all_metal']}   with formation energy: {stats['with_energy']}\n")
    w("\natoms per structure (primitive cell):\n")
    for k, v in stats["atoms_per_structure"].items():
        w(f"  {k:>4}  {v:>7}\n")
    w("\nelements per structure:\n")
    for k, v in stats["elements_per_structure"].items():
        w(f"  {k:>4}  {v:>7}\n")
    w(f"\nelements: {stats['n_elements']} (top {top}, structures containing each)\n")
    for k, v in list(stats["element_counts"].items())[:top]:
        w(f"  {k:>4}  {v:>7}\n")
    w(f"\nspace groups: {stats['n_spacegroups']} (top {top})\n")
    for k, v in list(stats["spacegroup_counts"].items())[:top]:
        w(f"  {k:>4}  {v:>7}\n")
    w("\ncrystal systems:\n")
    for k, v in stats["crystal_system_counts"].items():
        w(f"  {k:>12}  {v:>7}\n")
    return out.getvalue()


def stats_json(stats: dict) -> str:
    return json.dumps(stats, indent=2)
