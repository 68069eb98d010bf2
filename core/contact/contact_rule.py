"""Which atom pairs can be in contact, and at what distance: the one place of that policy.

Two rules share one shape, a bonding window per pair of elements:

``paper`` (default; AlphaCrystal's definition)
    Window ``r_i + r_j ± tol`` with Cordero covalent radii; a pair of two
    metals is never in contact, and counts as a short contact only when it
    clashes, ``d < METAL_CLASH_FACTOR * (r_i + r_j)`` (with the plain window 16 %
    of real Materials Project cells, CsCl among them, would have short contacts;
    no real cell has a metal pair closer than 0.62 (r_i + r_j)).

``metallic`` (an extension for intermetallics)
    In a cell made of metals only, a metal-metal pair is in contact within
    ``R_i + R_j ± tol`` with **metallic radii** ``R`` (pymatgen's
    ``Element.metallic_radius``, 12-coordinate metallic radii; where pymatgen has
    none, for Sn, Pb, Bi and the heaviest elements, Slater's empirical atomic
    radius ``Element.atomic_radius``), and short below that window. All-metal
    compounds then get a map the GA can fit (the paper's rule gives them an empty
    one). A cell with a non-metal follows the paper's rule under either name
    (:func:`rule_for_cell`): its cations are not metallically bonded (NaCl's
    Na-Na at 3.99 Å lies inside Na's 3.72 ± 0.4 Å metallic window). See
    docs/reconstruction.md for what it measured.

:func:`pair_windows` gives the windows of any pairs of atomic numbers; the
contact maps of :mod:`core.contact.contact_map` and the GA fitness of
:mod:`core.reconstruction.fitness` both take them from here.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from core.crystal.elements import element_table
from core.errors import AlphaCrystalError

DEFAULT_TOLERANCE = 0.4
"""Half-width of the bonding window around r_i + r_j, in Å (paper: 0.4 Å)."""

METAL_CLASH_FACTOR = 0.6
"""Paper rule: metal-metal pairs closer than this fraction of r_i + r_j count as short contacts."""

RULES = ("paper", "metallic")
"""Names of the contact rules; ``paper`` is the default everywhere."""

DEFAULT_RULE = "paper"


@dataclass(frozen=True)
class PairWindows:
    """Bonding windows of pairs of atoms (arrays broadcast from the two inputs).

    Attributes
    ----------
    ideal : ndarray of float
        Centre of the window, r_i + r_j in Å.
    low, high : ndarray of float
        A pair at distance ``low <= d <= high`` (Å) is in contact, when ``bondable``.
    short_below : ndarray of float
        A pair closer than this (Å) is a short contact.
    bondable : ndarray of bool
        False where the rule never puts the pair in contact (paper rule: two metals).
    """

    ideal: np.ndarray
    low: np.ndarray
    high: np.ndarray
    short_below: np.ndarray
    bondable: np.ndarray

    @property
    def reach(self) -> float:
        """The largest distance (Å) at which any of these pairs is in contact or short."""
        return float(np.max(np.where(self.bondable, self.high, self.short_below), initial=0.0))


def check_rule(rule: str) -> str:
    """``rule`` if it names a contact rule; a clear error otherwise."""
    if rule not in RULES:
        raise AlphaCrystalError(f"unknown contact rule {rule!r}: choose one of {', '.join(RULES)}")
    return rule


def rule_for_cell(rule: str, numbers: np.ndarray) -> str:
    """The rule that applies to a cell of atomic numbers ``numbers``: ``metallic`` only
    for a cell made of metals only, ``paper`` otherwise."""
    check_rule(rule)
    numbers = np.asarray(numbers, dtype=np.int64)
    if rule == "metallic" and len(numbers) and not element_table().is_metal[numbers].all():
        return "paper"
    return rule


@lru_cache(maxsize=1)
def metallic_radius() -> np.ndarray:
    """Metallic radius in Å per atomic number (pymatgen's table, Slater's atomic radius
    where it has none, the Cordero covalent radius for elements with neither)."""
    from pymatgen.core import Element

    table = element_table()
    radii = np.zeros(len(table.symbols), dtype=np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pymatgen warns for each element without data
        for z, symbol in enumerate(table.symbols):
            if not symbol:
                continue
            try:
                element = Element(symbol)
            except ValueError:
                continue
            value = element.metallic_radius or element.atomic_radius
            radii[z] = float(value) if value else table.covalent_radius[z]
    radii.setflags(write=False)
    return radii


def pair_windows(z_i: np.ndarray, z_j: np.ndarray, tolerance: float = DEFAULT_TOLERANCE,
                 rule: str = DEFAULT_RULE) -> PairWindows:
    """Windows of the pairs (``z_i``, ``z_j``) of atomic numbers (broadcast), in Å, by
    ``rule`` as named (callers pass :func:`rule_for_cell` of the whole cell)."""
    check_rule(rule)
    table = element_table()
    z_i, z_j = np.asarray(z_i, dtype=np.int64), np.asarray(z_j, dtype=np.int64)
    covalent = table.covalent_radius[z_i] + table.covalent_radius[z_j]
    metal_pair = table.is_metal[z_i] & table.is_metal[z_j]
    if rule == "metallic":
        metallic = metallic_radius()
        ideal = np.where(metal_pair, metallic[z_i] + metallic[z_j], covalent)
        low = np.clip(ideal - tolerance, 0, None)
        return PairWindows(ideal, low, ideal + tolerance, low, np.ones_like(metal_pair))
    low = np.clip(covalent - tolerance, 0, None)
    short_below = np.where(metal_pair, METAL_CLASH_FACTOR * covalent, low)
    return PairWindows(covalent, low, covalent + tolerance, short_below, ~metal_pair)
