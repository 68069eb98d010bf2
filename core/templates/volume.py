"""Cell volumes of substituted templates.

A template's cell is rescaled isotropically to the volume the query composition
is expected to have. The model: one volume per atom for every element,
``V ≈ Σ_atoms v(element)``, fitted by least squares on the library (the training
partition), as in Biltz's volume increments. A substituted template keeps what
its structure type says about packing by scaling its own volume with the ratio
of the model's volumes: ``V_query = V_template × Σ v(query) / Σ v(template)``.
docs/templates.md compares this with the model alone and with radius scaling.
"""

from __future__ import annotations

import numpy as np


def fit_element_volumes(numbers: np.ndarray, offsets: np.ndarray, volumes: np.ndarray) -> np.ndarray:
    """Å³ per atom of each element (index = atomic number, NaN where absent).

    Least squares on the volume per atom of every structure (atoms of structure
    k are ``numbers[offsets[k]:offsets[k+1]]``, cell volumes in Å³), so large
    and small cells weigh alike.
    """
    n = len(volumes)
    counts = np.zeros((n, 119))
    rows = np.repeat(np.arange(n), np.diff(offsets))
    np.add.at(counts, (rows, numbers), 1.0)
    sizes = counts.sum(axis=1, keepdims=True)
    present = counts.sum(axis=0) > 0
    solution, *_ = np.linalg.lstsq(counts[:, present] / sizes, volumes / sizes[:, 0], rcond=None)
    out = np.full(119, np.nan)
    out[present] = np.maximum(solution, 1.0)  # a few rare elements fit to tiny or negative volumes
    return out


def model_volume(element_volumes: np.ndarray, numbers: np.ndarray) -> float:
    """Σ v(element) over the atoms ``numbers``, Å³ (NaN if an element has no volume)."""
    return float(np.sum(element_volumes[np.asarray(numbers)]))


def substituted_volume(template_volume: float, template_numbers: np.ndarray, query_numbers: np.ndarray,
                       element_volumes: np.ndarray) -> float:
    """Volume of the substituted template, Å³: the template's volume times the ratio of
    the model volumes (the template's own volume when the model lacks an element)."""
    ratio = model_volume(element_volumes, query_numbers) / model_volume(element_volumes, template_numbers)
    return float(template_volume * ratio) if np.isfinite(ratio) and ratio > 0 else float(template_volume)
