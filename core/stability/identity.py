"""Is a predicted structure a known phase? The test that lets a run's result stand in for the
known phase on the hull (:func:`core.stability.hull.place_polymorphs`).

Two structures are the same phase when

1. pymatgen's ``StructureMatcher`` matches them at the CSP tolerances
   (:data:`core.crystal.matching.CSP_TOLERANCES`: a relaxed prediction and a DFT structure
   differ in cell and positions by more than pymatgen's defaults allow), **and**
2. their bonds agree: with the prediction's sites mapped onto the known structure's by that
   match (``get_s2_like_s1``) and its volume scaled to the known one, no pair of atoms is
   bonded in one with a margin of :data:`BOND_MARGIN` inside the contact window (the paper's
   rule, :mod:`core.contact.contact_map`; the metallic rule for a cell of metals only) and
   outside the window widened by that margin in the other, and no atom has more such bonds
   counted over periodic images in one than the other has within the widened window; and
3. every atom has the same first shell in both, by neighbour element, within
   :data:`SHELL_FACTORS` times its shortest distance (relative, so density does not matter); and
4. the structure is not a higher-symmetry version of the known one: its space group, even at a
   tight tolerance (:data:`PARENT_SYMPREC`), is not a proper supergroup of the known structure's
   (as given, at the engine's :data:`core.crystal.symmetry.SPACEGROUP_SYMPREC`; before the
   reduction to a primitive cell, whose 0.25 Å can average a superstructure's distortion away).
   The known phase's distortion is part of the phase and of its energy: AgF2 relaxed as rutile
   (P4_2/mnm) has the bonds and shells of the CuF2-type known phase mp-7715 (P2_1/c, a distorted
   rutile) but lies 18 meV/atom above it by CHGNet, and was read as the known phase (E_hull 0,
   stable) in a run that did not find the distortion. Not recognised, it is placed from the known
   phase's stored energy instead (:func:`core.stability.hull.place_polymorphs`). A result of
   *lower* symmetry than the known structure is still recognised (a relaxation leaves small
   distortions), and so is one whose higher symmetry is only the engine tolerance's (a distortion
   a little smaller than the known phase's shows at :data:`PARENT_SYMPREC`). Where spglib fails
   on either structure the test is not made.

The second test is needed because the first alone is loose enough to pair different
phases: a KrF2 made of F2 molecules beside isolated Kr atoms matched the linear F-Kr-F
molecular crystal mp-558928 (rms 0.33), and a 7-coordinated Pnma BaI2 the 9-coordinated
cotunnite-type mp-23260 (rms 0.26), which moved the whole run's energies above the hull by
up to 680 meV/atom. The margin is needed because bonds near the window's edges cross them
under the small strains a relaxation leaves: comparing the maps exactly rejected 9-32 % of
known structures expanded by 1-3 % (CsScI3 lost 12 of its 36 bonds at +1 %).
"""

from __future__ import annotations

import numpy as np
from pymatgen.core import Structure
from pymatgen.optimization.neighbors import find_points_in_spheres

from core.contact.contact_map import contact_counts
from core.contact.contact_rule import DEFAULT_TOLERANCE, rule_for_cell
from core.crystal.matching import CSP_TOLERANCES, structure_matcher
from core.crystal.spacegroups import raises_symmetry

BOND_MARGIN = 0.15
"""Å: a bond within this of the contact window's edges may cross them under a relaxation's
strain; only bonds clearer than that count as a difference."""
SHELL_FACTORS = (1.15, 1.35)
"""An atom's first shell: neighbours within these multiples of its shortest distance (inner: surely
in it; outer: perhaps, after a relaxation's distortion). Relative, so a change of density does not
move a neighbour across."""


def aligned_to(known: Structure, structure: Structure) -> Structure | None:
    """``structure`` reduced to its primitive cell (StructureMatcher's 0.25 Å: a supercell is the
    same phase), with its sites in the order and cell of ``known`` (a primitive cell) by the match
    at the CSP tolerances and its volume scaled to ``known``'s; None when they do not match or the
    atoms do not correspond one to one."""
    tol = CSP_TOLERANCES
    matcher = structure_matcher(tol, primitive_cell=False)
    aligned = matcher.get_s2_like_s1(known, structure.get_primitive_structure())
    if aligned is None or len(aligned) != len(known):
        return None
    aligned = aligned.copy()
    aligned.scale_lattice(known.volume)
    return aligned




def _undistorted_parent(structure: Structure, known: Structure) -> bool:
    """Whether ``structure``'s space group at :data:`PARENT_SYMPREC` is a proper supergroup of
    ``known``'s at the engine's tolerance (False where spglib fails on either)."""
    from core.crystal.symmetry import PARENT_SYMPREC, space_group

    try:
        return raises_symmetry(space_group(known)[0], space_group(structure, PARENT_SYMPREC)[0])
    except Exception:  # noqa: BLE001 - spglib fails on a degenerate cell: no symmetry to compare
        return False


def _bonds(structure: Structure, tolerance: float):
    numbers = np.array([site.specie.Z for site in structure])
    counts = contact_counts(structure.lattice.matrix, structure.frac_coords, numbers, tolerance,
                            rule_for_cell("metallic", numbers))
    return counts.bonded.astype(bool), counts.coordination_numbers


SAME_PHASE, UNDISTORTED_PARENT = "same phase", "undistorted parent"
"""What :func:`phase_relation` finds a structure to be to a known one."""


def phase_relation(structure: Structure, known: Structure) -> str | None:
    """:data:`SAME_PHASE` when ``structure`` (e.g. a relaxed prediction) is the phase ``known`` (tests
    1-4 of the module docstring), :data:`UNDISTORTED_PARENT` when it is that phase but for its
    distortion (tests 1-3 pass, 4 fails: not the known phase, its energy is another, and a note can say
    what it is), else None; None too, never an exception, where a structure cannot be compared."""
    try:
        parent = _undistorted_parent(structure, known)
        if not _same_bonds_and_shells(structure, known.get_primitive_structure()):
            return None
    except Exception:  # noqa: BLE001 - pymatgen/spglib on a degenerate cell, a species outside the table:
        return None  # not recognised, the run goes on
    return UNDISTORTED_PARENT if parent else SAME_PHASE


def is_same_phase(structure: Structure, known: Structure) -> bool:
    """Whether ``structure`` is the phase ``known`` (:func:`phase_relation`)."""
    return phase_relation(structure, known) == SAME_PHASE


def is_undistorted_parent(structure: Structure, known: Structure) -> bool:
    """Whether ``structure`` is the phase ``known`` but for its distortion (:func:`phase_relation`)."""
    return phase_relation(structure, known) == UNDISTORTED_PARENT


def _same_bonds_and_shells(structure: Structure, known: Structure) -> bool:
    """Tests 1-3 of the module docstring, ``known`` a primitive cell."""
    aligned = aligned_to(known, structure)
    if aligned is None:
        return False
    strict = DEFAULT_TOLERANCE - BOND_MARGIN
    loose = DEFAULT_TOLERANCE + BOND_MARGIN
    (known_in, known_cn), (known_near, known_near_cn) = _bonds(known, strict), _bonds(known, loose)
    (ours_in, ours_cn), (ours_near, ours_near_cn) = _bonds(aligned, strict), _bonds(aligned, loose)
    if ((known_in & ~ours_near).any() or (ours_in & ~known_near).any()
            or (known_cn > ours_near_cn).any() or (ours_cn > known_near_cn).any()):
        return False
    # bonds outside the windows, or all stretched alike, escape the test above (rock salt scaled to
    # zinc blende's volume has no bond left in the narrow window): compare first shells as well
    return _same_shells(known, aligned)


def _shell_counts(structure: Structure, factor: float) -> np.ndarray:
    """(n atoms, 119): neighbours of each atom by atomic number within ``factor`` times that
    atom's shortest distance, counted over periodic images."""
    numbers = np.array([site.specie.Z for site in structure])
    cart = np.ascontiguousarray(structure.cart_coords, dtype=float)
    lattice = np.ascontiguousarray(structure.lattice.matrix, dtype=float)
    reach = 2.0 * max(structure.lattice.abc)  # every atom's first neighbours lie within it
    centre, neighbour, _, distance = find_points_in_spheres(
        cart, cart, min(reach, 12.0), np.array([1, 1, 1], dtype=np.int64), lattice, 1e-8)
    keep = distance > 1e-8
    centre, neighbour, distance = centre[keep], neighbour[keep], distance[keep]
    shortest = np.full(len(structure), np.inf)
    np.minimum.at(shortest, centre, distance)
    inside = distance <= factor * shortest[centre]
    counts = np.zeros((len(structure), 119), dtype=np.int64)
    np.add.at(counts, (centre[inside], numbers[neighbour[inside]]), 1)
    return counts


def _same_shells(known: Structure, aligned: Structure) -> bool:
    """Whether every atom has the same first shell in both (atoms in corresponding order): by
    neighbour element, no count within :data:`SHELL_FACTORS`' inner bound of the atom's shortest
    distance in one exceeds the count within the outer bound in the other (rock salt's six
    neighbours against zinc blende's four; KrF2's F-Kr against F-F)."""
    inner, outer = SHELL_FACTORS
    known_in, known_out = _shell_counts(known, inner), _shell_counts(known, outer)
    ours_in, ours_out = _shell_counts(aligned, inner), _shell_counts(aligned, outer)
    return not ((known_in > ours_out).any() or (ours_in > known_out).any())
