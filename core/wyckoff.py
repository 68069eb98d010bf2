"""Wyckoff feasibility: can a composition with Z formula units occupy a space group?

pyxtal knows the Wyckoff positions of every space group; this module wraps its
``Group.check_compatible`` and ``Group.list_wyckoff_combinations`` with the
cell bookkeeping the rest of the engine needs. Our atom counts are those of the
**primitive** cell (as in the contact map); pyxtal works in the conventional
cell, which holds :func:`core.spacegroups.centring_points` times as many atoms
(NaCl: 2 atoms primitive, Fm-3m conventional 8 = 4 + 4).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache, lru_cache

from core.spacegroups import centring_points

DEFAULT_MAX_COMBINATIONS = 5000
RETRY_MAX_COMBINATIONS = 500_000
"""pyxtal's search-grid cap for a second try when the default cap found nothing."""


@cache
def pyxtal_group(number: int):
    """pyxtal's ``Group`` of a space group, built once per process (about 10 ms each)."""
    from pyxtal.symmetry import Group

    return Group(int(number))


@cache
def wyckoff_multiplicities(number: int) -> dict[str, int]:
    """Multiplicity (conventional cell) of every Wyckoff letter of a group: 225 -> a 4, b 4, ..., l 192."""
    return {wp.letter: int(wp.multiplicity) for wp in pyxtal_group(number).Wyckoff_positions}


def conventional_counts(primitive_counts: tuple[int, ...] | list[int], number: int) -> list[int]:
    """Atoms of each species in the conventional cell of space group ``number``."""
    m = centring_points(number)
    return [int(n) * m for n in primitive_counts]


@lru_cache(maxsize=200_000)
def is_feasible(number: int, primitive_counts: tuple[int, ...]) -> bool:
    """Whether the species counts of a primitive cell fit Wyckoff orbits of the group.

    Parameters
    ----------
    number : int
        Space-group number (1-230).
    primitive_counts : tuple of int
        Atoms of each species in the primitive cell (e.g. ``(1, 1)`` for NaCl).
    """
    counts = conventional_counts(primitive_counts, number)
    if not counts or min(counts) <= 0:
        return False
    ok, _ = pyxtal_group(number).check_compatible(counts)
    return bool(ok)


@dataclass(frozen=True)
class WyckoffAssignment:
    """One way to place every species on Wyckoff orbits (conventional cell).

    Attributes
    ----------
    orbits : tuple of tuple of str
        Per species (in the order of the counts given), its orbits as
        multiplicity + letter, e.g. ``(("4a",), ("4b",))`` for NaCl in Fm-3m.
    has_freedom : bool
        Whether some orbit has a free coordinate.
    """

    orbits: tuple[tuple[str, ...], ...]
    has_freedom: bool


def wyckoff_assignments(number: int, primitive_counts: tuple[int, ...] | list[int],
                        max_combinations: int = DEFAULT_MAX_COMBINATIONS) -> list[WyckoffAssignment]:
    """Every Wyckoff assignment of the counts (at most ``max_combinations``, pyxtal's cap).

    Returns an empty list when the composition does not fit the group.
    """
    return list(_assignments(int(number), tuple(int(n) for n in primitive_counts), int(max_combinations)))


@lru_cache(maxsize=256)
def _assignments(number: int, counts: tuple[int, ...], max_combinations: int) -> tuple[WyckoffAssignment, ...]:
    """Cached: planning, escalation and the candidate counts ask for the same enumeration."""
    if not is_feasible(number, counts):
        return ()
    group = pyxtal_group(number)
    combos, freedom, _ = group.list_wyckoff_combinations(conventional_counts(counts, number), Nmax=max_combinations)
    if not combos and max_combinations < RETRY_MAX_COMBINATIONS:
        # pyxtal caps the size of its search grid, not the number of solutions: with many
        # orbits (P4/mmm, Cu7 in TlCu7S4) the cap can cut every solution of a feasible
        # composition. A larger grid finds them (1-3 s, only in that case).
        combos, freedom, _ = group.list_wyckoff_combinations(conventional_counts(counts, number),
                                                             Nmax=RETRY_MAX_COMBINATIONS)
    return tuple(WyckoffAssignment(tuple(tuple(str(w) for w in species) for species in combo), bool(free))
                 for combo, free in zip(combos, freedom))


def count_assignments(number: int, primitive_counts: tuple[int, ...] | list[int],
                      max_combinations: int = DEFAULT_MAX_COMBINATIONS) -> int:
    """Number of feasible Wyckoff assignments (capped by ``max_combinations``)."""
    return len(wyckoff_assignments(number, primitive_counts, max_combinations))
