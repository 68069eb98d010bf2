"""The contact-map training data: the split of :mod:`core.data.formula_split`, featurised.

The settings that define the data (:class:`core.data.formula_split.DataSettings`) are
stored inside every trained model, so evaluation can rebuild exactly the same held-out split.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.data.featurize import FeaturizedDataset, featurize_dataset
from core.data.formula_split import DataSettings, split_dataset


@dataclass
class ContactData:
    """Featurised train / validation / test partitions."""

    train: FeaturizedDataset
    validation: FeaturizedDataset
    test: FeaturizedDataset


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
