"""Wyckoff feasibility and enumeration: how can a composition with Z formula units occupy a space group?

pyxtal knows the Wyckoff positions of every space group and whether a set of
counts fits them (``Group.check_compatible``). The assignments themselves are
enumerated here (:func:`enumerate_combinations`), not with pyxtal's
``list_wyckoff_combinations``: that one caps the size of its search *grid*, so with
many orbits (P4/mmm, Pmmm) it can return no solution for a feasible composition
(TlCu7S4) and costs seconds for a 10-atom quaternary; it also treats orbits such
as (-x, x, 0) as fixed. This search is bounded by the number of *solutions*,
prunes with a table of reachable atom counts, and never returns nothing for a
feasible composition. Our atom counts are those of the **primitive** cell (as in
the contact map); Wyckoff orbits live in the conventional cell, which holds
:func:`core.crystal.spacegroups.centring_points` times as many atoms (NaCl: 2 atoms
primitive, Fm-3m conventional 8 = 4 + 4).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import cache, lru_cache

from core.crystal.spacegroups import centring_points

DEFAULT_MAX_COMBINATIONS = 5000
"""Most assignments enumerated per (space group, counts): the first ones in the search
order (fewest orbits first, common letters first) are kept; the ranking sorts them."""

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
    table = orbit_table(number)
    free = {label for label, _, is_free in table if is_free}
    combos = enumerate_combinations(number, conventional_counts(counts, number), max_combinations)
    return tuple(WyckoffAssignment(combo, any(label in free for orbits in combo for label in orbits))
                 for combo in combos)


@lru_cache(maxsize=1)
def wyckoff_prior() -> dict:
    """``resources/wyckoff_prior.json`` (letter counts per space group and the occupations
    seen in training, :mod:`core.reconstruction.assignments`); empty without the file."""
    from resources import resource_path

    try:
        return json.loads(resource_path("wyckoff_prior.json").read_text())
    except FileNotFoundError:  # a checkout without the file: no letter is preferred
        return {}


@cache
def letter_costs(number: int) -> dict[str, float]:
    """-ln P(Wyckoff letter | space group) over the training structures, Laplace-smoothed."""
    counts = {str(k): int(v) for k, v in wyckoff_prior().get("counts", {}).get(str(number), {}).items()}
    letters = [wp.letter for wp in pyxtal_group(number).Wyckoff_positions]
    total = sum(counts.values()) + len(letters)
    return {letter: -math.log((counts.get(letter, 0) + 1) / total) for letter in letters}


@cache
def orbit_table(number: int) -> tuple[tuple[str, int, bool], ...]:
    """(label, multiplicity, has a free coordinate) of every Wyckoff orbit of a group, in the
    enumeration's search order: the letters most common in training first, then free orbits
    before fixed points and larger multiplicities first."""
    cost = letter_costs(number)
    rows = [(f"{wp.multiplicity}{wp.letter}", int(wp.multiplicity), int(wp.get_dof()) > 0)
            for wp in pyxtal_group(number).Wyckoff_positions]
    return tuple(sorted(rows, key=lambda r: (round(cost[r[0].lstrip("0123456789")], 9), not r[2], -r[1], r[0])))


class _Budget(Exception):
    """The search visited its node budget (the solutions found so far are kept)."""


def enumerate_combinations(number: int, counts: list[int] | tuple[int, ...], max_solutions: int,
                           max_nodes: int = 200_000) -> list[tuple[tuple[str, ...], ...]]:
    """Ways to write each species' conventional-cell count as a sum of orbit multiplicities,
    an orbit without free coordinates holding at most one species once (a point is one atom);
    the likeliest first, at most ``max_solutions``.

    Each species' own options (multisets of orbits) are listed first, cheapest first by the
    sum of their letters' costs (:func:`letter_costs`; fewer and commoner orbits first); their
    product is then walked best-first (a heap over index tuples), skipping combinations that
    put two species on one fixed orbit. A bound on solutions, not on a search grid, keeps the
    likeliest ones of large problems (20 atoms in Pmmm). Should the walk find nothing within
    ``max_nodes`` steps, an exhaustive depth-first search (:func:`_depth_first`) answers, so a
    feasible composition never gets an empty list. Hand-written: pyxtal bounds its grid, not
    its solutions (module docstring).

    Returns
    -------
    list of tuple of tuple of str
        Per solution, per species, its orbit labels (e.g. ``(("4a",), ("4b",))``).
    """
    table = orbit_table(number)
    counts = [int(n) for n in counts]
    if not counts or min(counts) <= 0:
        return []
    reach = _reachable(table, max(counts))
    cost = [letter_costs(number)[label.lstrip("0123456789")] for label, _, _ in table]
    options = []
    for n in counts:
        found = _species_options(table, reach, n, SPECIES_OPTIONS_CAP, cost)
        if not found:
            return []
        options.append(found)
    solutions = _best_first(table, options, cost, max_solutions, max_nodes)
    if not solutions:
        solutions = _depth_first(table, reach, counts, max_solutions, 10 * max_nodes)
    return [tuple(tuple(table[k][0] for k in orbits) for orbits in combo) for combo in solutions]


SPECIES_OPTIONS_CAP = 20_000
"""Most orbit multisets listed for one species (in search order) before the product walk."""


def _species_options(table, reach, n: int, cap: int, cost: list[float] | None = None) -> list[tuple[int, ...]]:
    """Multisets of orbit indices (non-decreasing) whose multiplicities sum to ``n``, fixed
    orbits once; the ``cap`` cheapest by summed letter cost (ties: fewer orbits), cheapest first.

    Best-first over partial multisets (a heap keyed by the cost so far; costs are >= 0, so
    complete multisets come out in cost order): a cap applied to a depth-first listing
    dropped the cheapest options of large counts in groups with many orbits (Pmmm's
    general position for 8 atoms)."""
    import heapq

    cost = cost or [0.0] * len(table)
    out: list[tuple[int, ...]] = []
    heap: list[tuple[float, int, int, int, tuple[int, ...]]] = [(0.0, 0, n, 0, ())]
    while heap and len(out) < cap:
        spent, size, remaining, start, chosen = heapq.heappop(heap)
        if remaining == 0:
            out.append(chosen)
            continue
        for k in range(start, len(table)):
            _, m, free = table[k]
            if m > remaining or not reach[k if free else k + 1][remaining - m]:
                continue
            heapq.heappush(heap, (spent + cost[k], size + 1, remaining - m, k if free else k + 1, chosen + (k,)))
    return out


def _best_first(table, options: list[list[tuple[int, ...]]], cost: list[float], max_solutions: int,
                max_steps: int) -> list[tuple[tuple[int, ...], ...]]:
    """Combinations of one option per species in increasing total cost, without a fixed orbit twice."""
    import heapq

    option_cost = [[sum(cost[k] for k in o) for o in species] for species in options]

    def total(index: tuple[int, ...]) -> float:
        return sum(option_cost[i][j] for i, j in enumerate(index))

    start = (0,) * len(options)
    heap, seen, steps = [(total(start), start)], {start}, 0
    out: list[tuple[tuple[int, ...], ...]] = []
    while heap and len(out) < max_solutions and steps < max_steps:
        steps += 1
        _, index = heapq.heappop(heap)
        combo = tuple(options[i][j] for i, j in enumerate(index))
        fixed = [k for orbits in combo for k in orbits if not table[k][2]]
        if len(fixed) == len(set(fixed)):
            out.append(combo)
        for i in range(len(index)):
            if index[i] + 1 < len(options[i]):
                nxt = index[:i] + (index[i] + 1,) + index[i + 1:]
                if nxt not in seen:
                    seen.add(nxt)
                    heapq.heappush(heap, (total(nxt), nxt))
    return out


def _depth_first(table, reach, counts: list[int], max_solutions: int,
                 max_nodes: int) -> list[tuple[tuple[int, ...], ...]]:
    """Exhaustive search over species, then orbits (stops at ``max_solutions`` or ``max_nodes``):
    the fallback that finds a solution wherever fixed-orbit clashes defeat the product walk."""
    used = [False] * len(table)
    chosen: list[list[int]] = []
    solutions: list[tuple[tuple[int, ...], ...]] = []
    nodes = [0]

    def species(i: int) -> bool:
        if i == len(counts):
            solutions.append(tuple(tuple(orbits) for orbits in chosen))
            return len(solutions) >= max_solutions
        chosen.append([])
        stop = fill(i, 0, counts[i])
        chosen.pop()
        return stop

    def fill(i: int, start: int, remaining: int) -> bool:
        if remaining == 0:
            return species(i + 1)
        nodes[0] += 1
        if nodes[0] > max_nodes:
            raise _Budget
        for k in range(start, len(table)):
            _, m, free = table[k]
            if m > remaining or used[k] or not reach[k if free else k + 1][remaining - m]:
                continue
            chosen[-1].append(k)
            used[k] = not free
            stop = fill(i, k if free else k + 1, remaining - m)
            used[k] = False
            chosen[-1].pop()
            if stop:
                return True
        return False

    try:
        species(0)
    except _Budget:
        pass
    return solutions


def _reachable(table: tuple[tuple[str, int, bool], ...], top: int) -> list[list[bool]]:
    """``reach[k][r]``: whether r atoms can be placed on orbits ``table[k:]`` (free orbits any
    number of times, fixed ones at most once), for r = 0..top."""
    reach = [[False] * (top + 1) for _ in range(len(table) + 1)]
    reach[len(table)][0] = True
    for k in range(len(table) - 1, -1, -1):
        _, m, free = table[k]
        row, after = reach[k], reach[k + 1]
        for r in range(top + 1):
            row[r] = after[r] or (r >= m and (row[r - m] if free else after[r - m]))
    return reach


def count_assignments(number: int, primitive_counts: tuple[int, ...] | list[int],
                      max_combinations: int = DEFAULT_MAX_COMBINATIONS) -> int:
    """Number of feasible Wyckoff assignments (capped by ``max_combinations``)."""
    return len(wyckoff_assignments(number, primitive_counts, max_combinations))
