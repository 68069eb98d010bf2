"""Typical bond lengths per element pair, measured in real crystals.

The contact-map definition accepts a bond anywhere in r_i + r_j ± 0.4 Å (Cordero
covalent radii), but real bonds do not sit at the centre of that window:
ionic bonds are shorter than the sum of covalent radii (Ti-O: median 2.00 Å in
Materials Project oxides against r_Ti + r_O = 2.26 Å), bonds to alkali metals
longer. ``resources/bond_lengths.json`` holds the median length of contact-map
bonds per element pair in the training partition (built by
``scripts/build_bond_lengths.py``); pairs seen fewer than 10 times fall back
to r_i + r_j.
"""

from __future__ import annotations

import json
from functools import lru_cache

import numpy as np

from core.elements import atomic_numbers, element_table


@lru_cache(maxsize=1)
def _table() -> dict[tuple[int, int], float]:
    from resources import resource_path

    data = json.loads(resource_path("bond_lengths.json").read_text())
    return {tuple(int(z) for z in key.split("-")): float(v["median"]) for key, v in data["pairs"].items()}


def typical_bond_lengths(species: list[str] | tuple[str, ...]) -> np.ndarray:
    """(n, n) typical bond length in Å for each pair of the given atoms (symmetric;
    r_i + r_j where the pair was too rare in the training data to measure)."""
    z = atomic_numbers(list(species))
    radii = element_table().covalent_radius[z]
    out = (radii[:, None] + radii[None, :]).astype(np.float64)
    table = _table()
    for i, zi in enumerate(z.tolist()):
        for j, zj in enumerate(z.tolist()):
            out[i, j] = table.get((min(zi, zj), max(zi, zj)), out[i, j])
    return out
