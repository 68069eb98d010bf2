"""The split by reduced formula over MP-20's whole range (≤ 20 atoms, all compositions).

The shipped contact-map and candidate models were trained on the *paper scope*
(:class:`core.contact_model.DataSettings`: ≤ 12 atoms, no all-metal compounds,
lowest-energy polymorph, seed 0). The template library and the full-range
evaluations need a split that covers every composition up to 20 atoms without
changing the role of any formula the models saw or were tested on:

- a formula of the paper-scope split keeps its partition (train, validation, test);
- every other formula (13–20-atom cells, all-metal compounds) is split with the
  same fractions, by a seeded shuffle of its sorted list (seed ``split_seed + 1``);
- the paper's benchmark formulas are always test formulas.

Partitions hold *all* polymorphs of their formulas up to ``max_atoms``; filter
with ``lowest_energy_per_formula`` for the usual CSP protocol. This is the one
place that defines the full-range split: the template builder, the evaluations
and the leakage tests call :func:`full_range_split`.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import numpy as np
from pymatgen.core import Composition

from core.composition import MP20_MAX_ATOMS
from core.datasets import CrystalDataset, DatasetSplit, load_dataset

if TYPE_CHECKING:
    from core.contact_model.data import DataSettings

FULL_RANGE_MAX_ATOMS = MP20_MAX_ATOMS

PARTITIONS = ("train", "validation", "test")


def formula_roles(path: str | os.PathLike, dataset: CrystalDataset, base: DataSettings | None = None
                  ) -> dict[str, int]:
    """Partition (0 train, 1 validation, 2 test) of every reduced formula of ``dataset``
    (the structures of the data file ``path`` in the range to split)."""
    from core.contact_model.data import DataSettings, split_dataset  # imports torch: only when used

    base = base or DataSettings(path=str(path))
    paper = split_dataset(base)
    roles: dict[str, int] = {}
    for k, part in enumerate((paper.train, paper.validation, paper.test)):
        roles.update({str(f): k for f in np.unique(part.formulas)})
    forced = {Composition(f).reduced_formula for f in base.test_formulas}
    others = sorted(str(f) for f in np.unique(dataset.formulas) if str(f) not in roles)
    for f in others:
        if f in forced:
            roles[f] = 2
    free = np.array([f for f in others if f not in forced], dtype=object)
    free = free[np.random.default_rng(base.split_seed + 1).permutation(len(free))]
    n_train = int(round(base.fractions[0] * len(free)))
    n_val = int(round(base.fractions[1] * len(free)))
    roles.update({f: 0 for f in free[:n_train]})
    roles.update({f: 1 for f in free[n_train:n_train + n_val]})
    roles.update({f: 2 for f in free[n_train + n_val:]})
    return roles


def full_range_split(path: str | os.PathLike, max_atoms: int = FULL_RANGE_MAX_ATOMS,
                     base: DataSettings | None = None) -> DatasetSplit:
    """Train / validation / test partitions of every structure with at most
    ``max_atoms`` atoms (all polymorphs, all compositions) of the data file ``path``."""
    dataset = load_dataset(path).filter(max_atoms=max_atoms)
    roles = formula_roles(path, dataset, base)
    part = np.array([roles[str(f)] for f in dataset.formulas], dtype=np.int64)
    return DatasetSplit(*(dataset.subset(np.flatnonzero(part == k)) for k in range(3)))


def held_out_formulas(path: str | os.PathLike, split: str) -> CrystalDataset:
    """The lowest-energy polymorph of every formula of a held-out partition (``validation``
    or ``test``) of :func:`full_range_split`: what the evaluations sample from."""
    return getattr(full_range_split(path), split).filter(lowest_energy_per_formula=True)


def seeded_sample(rows: np.ndarray, n: int, seed: int, stream: int = 0) -> np.ndarray:
    """``n`` of ``rows`` (indices) drawn without replacement with ``seed``, in ascending
    order (all of them when ``n`` is larger): the one sampling rule of the evaluations.

    ``stream`` > 0 draws from a random stream of its own (``SeedSequence([seed,
    stream])``), for a further sample from a pool with an earlier sample removed:
    with the same stream numpy's draw would land next to the earlier picks."""
    rows = np.asarray(rows)
    rng = np.random.default_rng([seed, stream] if stream else seed)
    return np.sort(rng.choice(rows, size=min(n, len(rows)), replace=False))
