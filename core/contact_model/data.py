"""The contact-map training data: filters, the split by reduced formula, featurised tensors.

The settings that define the data (:class:`DataSettings`) are stored inside
every trained model, so evaluation can rebuild exactly the same held-out split.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from core.datasets import DatasetSplit, load_dataset, split_by_formula
from core.featurize import FeaturizedDataset, featurize_dataset

PAPER_BENCHMARK_FORMULAS: tuple[str, ...] = (
    "AgF2", "MgP4", "RuF4", "IrAs2", "GeF2", "PdS2", "DyClS", "PtSiSe", "TaON",
    "Cr3O5", "PbO", "CoP2", "IrN2", "VCl5", "CoAsS", "V2OF7", "VOF", "FeAsSe", "MnCuP",
)
"""Targets of the AlphaCrystal paper (Tables 1 and 2); always kept out of training."""


@dataclass(frozen=True)
class DataSettings:
    """How a training set is drawn from a data file (recorded in the model)."""

    path: str
    max_atoms: int = 12
    exclude_all_metal: bool = True
    lowest_energy_per_formula: bool = True
    split_seed: int = 0
    fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)
    test_formulas: tuple[str, ...] = field(default=PAPER_BENCHMARK_FORMULAS)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> DataSettings:
        values = dict(data)
        values["fractions"] = tuple(values.get("fractions", (0.8, 0.1, 0.1)))
        values["test_formulas"] = tuple(values.get("test_formulas", ()))
        return cls(**values)


@dataclass
class ContactData:
    """Featurised train / validation / test partitions."""

    train: FeaturizedDataset
    validation: FeaturizedDataset
    test: FeaturizedDataset


PAPER_MAX_ATOMS = 12
"""Cells up to this size are split as the paper-scope models were (:func:`split_by_formula`);
larger ranges extend that split (:func:`core.formula_split.full_range_split`)."""


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
    from core.formula_split import full_range_split

    base = DataSettings(path=settings.path, split_seed=settings.split_seed, fractions=settings.fractions,
                        test_formulas=settings.test_formulas)
    full = full_range_split(settings.path, settings.max_atoms, base)
    return DatasetSplit(*(part.filter(settings.max_atoms, settings.exclude_all_metal,
                                      settings.lowest_energy_per_formula)
                          for part in (full.train, full.validation, full.test)))


def load_contact_data(settings: DataSettings) -> ContactData:
    """Load, filter, split by reduced formula and featurise (cached on disk)."""
    split = split_dataset(settings)
    return ContactData(
        *(featurize_dataset(part, settings.max_atoms) for part in (split.train, split.validation, split.test))
    )


def groups_by_size(data: FeaturizedDataset) -> dict[int, np.ndarray]:
    """Indices of the structures of each atom count (mini-batches never mix sizes)."""
    sizes = data.n_atoms
    return {int(n): np.flatnonzero(sizes == n) for n in np.unique(sizes)}
