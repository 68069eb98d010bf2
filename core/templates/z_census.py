"""How many formula units (Z) the known cells of a stoichiometry hold: the training data's census.

A stoichiometry is a formula's anonymous reduced pattern (LiFePO4 and NaMnPO4 are
both ABCD4). Counting the template library's structures (the training partition,
cells of at most 20 atoms) by Z tells which cell sizes are common for it: 80 % of
the 329 ABCD4 structures have Z = 2 (14 atoms). The pipeline uses this to say when
the common cells are beyond a model's atom limit, or when they crowd the largest
cell the data holds (a sign that real cells are often larger still).

The census counts structures (polymorphs included), not formulas.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

from core.crystal.composition import Formula
from core.templates.library import TemplateLibrary
from core.templates.retrieval import pattern_index

COMMON_SHARE = 0.25
"""A Z is *common* for a stoichiometry when at least this share of its known structures have it."""

MIN_STRUCTURES = 5
"""Below this many known structures a stoichiometry has no common Z (too few to say)."""


@dataclass(frozen=True)
class ZCensus:
    """Known structures of one stoichiometry counted by Z.

    Attributes
    ----------
    anonymous_formula : str
        pymatgen's anonymous formula of the stoichiometry, e.g. ``ABCD4``.
    atoms_per_formula_unit : int
    counts : dict[int, int]
        Z -> number of known structures with that Z.
    data_max_atoms : int
        Largest cell (atoms) the census's data holds (20 for MP-20).
    """

    anonymous_formula: str
    atoms_per_formula_unit: int
    counts: dict[int, int]
    data_max_atoms: int

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def share(self, z: int) -> float:
        """Fraction of the known structures with this Z (0 when none are known)."""
        return self.counts.get(z, 0) / self.total if self.total else 0.0

    @property
    def common(self) -> list[int]:
        """Z values held by at least :data:`COMMON_SHARE` of the known structures (ascending);
        empty below :data:`MIN_STRUCTURES` structures."""
        if self.total < MIN_STRUCTURES:
            return []
        return sorted(z for z in self.counts if self.share(z) >= COMMON_SHARE)

    @property
    def largest_z_in_data(self) -> int:
        """The largest Z whose cell fits the data's atom cap."""
        return self.data_max_atoms // self.atoms_per_formula_unit

    @property
    def crowds_the_cap(self) -> bool:
        """Whether the largest Z the data's cap allows is common and at least 2: then some compounds
        of this stoichiometry likely have cells larger than the data holds. A cap of Z = 1 says
        nothing (every known cell of 11-20 atoms per formula unit is Z = 1: nothing larger fits)."""
        cap = self.largest_z_in_data
        return cap >= 2 and cap in self.common


@lru_cache(maxsize=4)
def _census_table(library: TemplateLibrary) -> dict[tuple[int, ...], Counter]:
    """Reduced pattern (sorted counts of one formula unit) -> Counter of Z over the library."""
    table: dict[tuple[int, ...], Counter] = {}
    for cell_pattern, members in pattern_index(library).groups.items():
        z = math.gcd(*cell_pattern)
        reduced = tuple(sorted(c // z for c in cell_pattern))
        table.setdefault(reduced, Counter())[z] += len(members)
    return table


def z_census(parsed: Formula, library: TemplateLibrary, data_max_atoms: int) -> ZCensus:
    """The census of ``parsed``'s stoichiometry in ``library`` (whose cells have at most
    ``data_max_atoms`` atoms)."""
    from pymatgen.core import Composition

    reduced = Composition(parsed.reduced_formula)
    pattern = tuple(sorted(int(n) for n in reduced.values()))
    counts = _census_table(library).get(pattern, Counter())
    return ZCensus(anonymous_formula=reduced.anonymized_formula, atoms_per_formula_unit=sum(pattern),
                   counts=dict(sorted(counts.items())), data_max_atoms=data_max_atoms)
