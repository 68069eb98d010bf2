"""The splits by reduced formula: the paper scope's (:class:`DataSettings`, :func:`split_dataset`)
and the one over MP-20's whole range (≤ 20 atoms, all compositions).

The shipped contact-map and candidate models were trained on the *paper scope*
(:class:`DataSettings`: ≤ 12 atoms, no all-metal compounds,
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
from dataclasses import asdict, dataclass, field

import numpy as np
from pymatgen.core import Composition

from core.crystal.composition import MP20_MAX_ATOMS, PAPER_MAX_ATOMS
from core.data.datasets import (
    SPLIT_FRACTIONS,
    CrystalDataset,
    DatasetSplit,
    load_dataset,
    split_by_formula,
)

PARTITIONS = ("train", "validation", "test")


PAPER_BENCHMARK_FORMULAS: tuple[str, ...] = (
    "AgF2", "MgP4", "RuF4", "IrAs2", "GeF2", "PdS2", "DyClS", "PtSiSe", "TaON",
    "Cr3O5", "PbO", "CoP2", "IrN2", "VCl5", "CoAsS", "V2OF7", "VOF", "FeAsSe", "MnCuP",
)
"""Targets of the AlphaCrystal paper (Tables 1 and 2); always kept out of training."""


@dataclass(frozen=True)
class DataSettings:
    """How a training set is drawn from a data file (recorded in the model)."""

    path: str
    max_atoms: int = PAPER_MAX_ATOMS
    exclude_all_metal: bool = True
    lowest_energy_per_formula: bool = True
    split_seed: int = 0
    fractions: tuple[float, float, float] = SPLIT_FRACTIONS
    test_formulas: tuple[str, ...] = field(default=PAPER_BENCHMARK_FORMULAS)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> DataSettings:
        values = dict(data)
        values["fractions"] = tuple(values.get("fractions", SPLIT_FRACTIONS))
        values["test_formulas"] = tuple(values.get("test_formulas", ()))
        return cls(**values)



def split_dataset(settings: DataSettings) -> DatasetSplit:
    """Load and filter the data file of ``settings`` and split it by reduced formula:
    the one split every shipped model is trained and evaluated on.

    Up to :data:`PAPER_MAX_ATOMS` atoms the split of the paper-scope models; above, the
    full-range split, in which every paper-scope formula keeps its partition (a model
    trained at 20 atoms never trains on a formula the 12-atom models were tested on)."""
    if settings.max_atoms <= PAPER_MAX_ATOMS:
        dataset = load_dataset(settings.path).filter(
            settings.max_atoms, settings.exclude_all_metal, settings.lowest_energy_per_formula
        )
        return split_by_formula(dataset, settings.fractions, settings.split_seed, settings.test_formulas)
    base = DataSettings(path=settings.path, split_seed=settings.split_seed, fractions=settings.fractions,
                        test_formulas=settings.test_formulas)
    full = full_range_split(settings.path, settings.max_atoms, base)
    return DatasetSplit(*(part.filter(settings.max_atoms, settings.exclude_all_metal,
                                      settings.lowest_energy_per_formula)
                          for part in (full.train, full.validation, full.test)))


def formula_roles(path: str | os.PathLike, dataset: CrystalDataset, base: DataSettings | None = None
                  ) -> dict[str, int]:
    """Partition (0 train, 1 validation, 2 test) of every reduced formula of ``dataset``
    (the structures of the data file ``path`` in the range to split)."""
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


def full_range_split(path: str | os.PathLike, max_atoms: int = MP20_MAX_ATOMS,
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
