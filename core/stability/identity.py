"""Is a predicted structure a known phase? The test that lets a run's result stand in for the
known phase on the hull (:func:`core.stability.hull.place_polymorphs`).

Two structures are the same phase when

1. pymatgen's ``StructureMatcher`` matches them at the CSP tolerances
   (:data:`core.crystal.matching.CSP_TOLERANCES`: a relaxed prediction and a DFT structure
   differ in cell and positions by more than pymatgen's defaults allow), **and**
2. their bonds are the same: the contact maps of their primitive cells in canonical order
   (:mod:`core.contact.contact_map`; the metallic rule for a cell of metals only, where the
   paper's rule has no bonds) are identical.

The second test is needed because the first alone is loose enough to pair different
phases: a KrF2 made of F2 molecules beside isolated Kr atoms matched the linear F-Kr-F
molecular crystal mp-558928 (rms 0.33), and a 7-coordinated Pnma BaI2 the 9-coordinated
cotunnite-type mp-23260 (rms 0.26), which moved the whole run's energies above the hull by
up to 680 meV/atom.
"""

from __future__ import annotations

import numpy as np
from pymatgen.core import Structure

from core.contact.contact_map import ContactMap, compute_contact_map
from core.contact.contact_rule import rule_for_cell
from core.contact.metrics import matched_dice
from core.crystal.matching import structure_match
from core.io.structures import primitive_cell


def bond_map(structure: Structure) -> ContactMap:
    """The contact map (canonical order) of the primitive cell of ``structure``, by the paper's
    rule, or the metallic one for a cell of metals only."""
    cell = primitive_cell(structure)
    numbers = np.array([site.specie.Z for site in cell])
    return compute_contact_map(cell, rule=rule_for_cell("metallic", numbers))


def is_same_phase(structure: Structure, known: Structure, known_map: ContactMap | None = None) -> bool:
    """Whether ``structure`` (e.g. a relaxed prediction) is the phase ``known`` (see the module
    docstring); ``known_map`` is :func:`bond_map` of ``known`` when the caller has it."""
    if not structure_match(structure, known).matched:
        return False
    try:
        ours = bond_map(structure)
        theirs = bond_map(known) if known_map is None else known_map
    except Exception:  # noqa: BLE001 - a species outside the element table: no bond test, no identity
        return False
    if ours.species != theirs.species:
        return False
    if np.array_equal(ours.matrix, theirs.matrix):
        return True
    # the canonical order breaks ties only up to a cap (highly symmetric cells): equal bonds in
    # another order are found by permuting same-element atoms
    return matched_dice(ours.matrix, theirs.matrix, ours.species) == 1.0
