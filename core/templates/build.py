"""Build the template library from an MP-20-style data file (see :mod:`core.templates.library`)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import numpy as np

from core.crystal.composition import MP20_MAX_ATOMS, oxidation_guess
from core.crystal.symmetry import CELL_SYMPREC, SPACEGROUP_SYMPREC, cell_wyckoff_letters
from core.data.datasets import SPLIT_FRACTIONS
from core.data.formula_split import full_range_split
from core.runtime.parallel import spawn_pool
from core.templates.library import NO_OXIDATION, TemplateLibrary
from core.templates.volume import fit_element_volumes

LICENCE = ("Materials Project data (Jain et al., APL Mater. 1, 011002 (2013)) via MP-20 "
           "(Xie et al., ICLR 2022), CC BY 4.0")




def _labels_chunk(items: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> list[tuple[int, list[str]]]:
    return [cell_wyckoff_letters(*item) for item in items]


def _oxidation_chunk(formulas: list[str]) -> list[dict[str, int] | None]:
    return [oxidation_guess(f) for f in formulas]


def _chunks(items: list, n: int) -> list[list]:
    size = max(1, len(items) // (n * 8) + 1)
    return [items[k:k + size] for k in range(0, len(items), size)]


def _mapped(func, items: list, workers: int) -> list:
    if workers <= 1:
        return func(items)

    with spawn_pool(workers) as pool:
        parts = pool.map(func, _chunks(items, workers))
        return [x for part in parts for x in part]


def build_library(data_path: str | os.PathLike, max_atoms: int = MP20_MAX_ATOMS, workers: int = 1,
                  log: Callable[[str], None] = print) -> TemplateLibrary:
    """The training partition of the full-range split of ``data_path`` as a library."""
    from pymatgen.core import Element

    start = time.perf_counter()
    split = full_range_split(data_path, max_atoms)
    train = split.train
    log(f"{len(train)} training structures ({len(np.unique(train.formulas))} formulas) of "
        f"{len(train) + len(split.validation) + len(split.test)} with <= {max_atoms} atoms")
    items = [train.atoms(k) for k in range(len(train))]
    labels = _mapped(_labels_chunk, items, workers)
    log(f"symmetry: {time.perf_counter() - start:.0f} s")
    formulas = sorted(set(str(f) for f in train.formulas))
    guesses = dict(zip(formulas, _mapped(_oxidation_chunk, formulas, workers)))
    log(f"oxidation states: {sum(g is not None for g in guesses.values())} of {len(formulas)} formulas "
        f"({time.perf_counter() - start:.0f} s)")
    oxidation = np.full(len(train.numbers), NO_OXIDATION, dtype=np.int64)
    for k in range(len(train)):
        guess = guesses[str(train.formulas[k])]
        if guess is not None:
            s = train.atom_slice(k)
            oxidation[s] = [guess[Element.from_Z(int(z)).symbol] for z in train.numbers[s]]
    volumes = np.abs(np.linalg.det(train.lattices))
    meta = {"source": str(data_path), "licence": LICENCE, "max_atoms": max_atoms,
            "split": "core.data.formula_split.full_range_split (paper-scope split, seed 0; other formulas "
                     f"seed 1; fractions {'/'.join(f'{f:g}' for f in SPLIT_FRACTIONS)}): training partition only",
            "symprec": SPACEGROUP_SYMPREC, "symprec_superstructures": CELL_SYMPREC, "n_templates": len(train),
            "n_formulas": len(formulas), "seconds": round(time.perf_counter() - start, 1)}
    return TemplateLibrary(
        material_ids=train.material_ids.astype(str), formulas=train.formulas.astype(str),
        lattices=train.lattices, offsets=train.offsets, numbers=train.numbers, frac_coords=np.mod(train.frac_coords, 1.0),
        wyckoffs=np.array([w for _, ws in labels for w in ws]), oxidation=oxidation,
        spacegroups=np.array([sg for sg, _ in labels]), energies=train.energies,
        element_volumes=fit_element_volumes(train.numbers, train.offsets, volumes), meta=meta)
