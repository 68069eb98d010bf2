"""Contact maps of crystal structures (AlphaCrystal's definition) and their canonical order.

Definition (paper, "Contact map generation"): atoms *i* and *j* of the
**primitive cell** are in contact when some periodic image of *j* lies at a
distance ``d`` with ``r_i + r_j - tol <= d <= r_i + r_j + tol`` (``r``: Cordero
covalent radius in Å, ``tol`` = 0.4 Å by default). Pairs of two metals are
never in contact. The map is symmetric with a zero diagonal. All periodic
images within the cutoff are searched, not only the minimum image, so small
cells with several images in range are handled.

Short contacts (``d < r_i + r_j - tol``, self-images included) are reported
separately; the reconstruction fitness penalises them. For metal-metal pairs,
which the map ignores, a contact is short only when it is a clash (see
:mod:`core.contact.contact_rule`, where the windows of both rules live: the paper's,
the default, and ``metallic``, which puts metal-metal pairs in contact within a
metallic-radius window).

Canonical atom order
--------------------
The rows of a map follow a deterministic order computed from the structure,
so the same crystal always gives the same matrix whatever its CIF site order,
origin or setting:

1. atoms are grouped by element in the fixed element order
   (Pettifor's Mendeleev number, :func:`core.crystal.elements.element_sort_key`);
2. within an element, by coordination number counted over periodic images
   (ascending);
3. then by the number of distinct neighbours in the cell and the sorted list of
   the neighbours' classes (first round: the neighbour elements), refined
   iteratively (colour refinement / Weisfeiler-Lehman) until no class splits;
4. remaining ties are atoms the contact graph cannot tell apart (typically
   symmetry-equivalent atoms); they are broken by individualisation-refinement,
   keeping the tie-break that gives the lexicographically largest matrix. At most
   :data:`MAX_CANONICAL_LEAVES` tie-breaks are explored; beyond that (only for
   highly symmetric graphs) the best one found is kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from pymatgen.core import Structure
from pymatgen.optimization.neighbors import find_points_in_spheres

from core.contact.contact_rule import (  # noqa: F401
    DEFAULT_RULE,
    DEFAULT_TOLERANCE,
    METAL_CLASH_FACTOR,
    check_rule,
    pair_windows,
    rule_for_cell,
)
from core.crystal.elements import element_rank, element_table
from core.errors import AlphaCrystalError

MAX_CANONICAL_LEAVES = 256
"""Upper bound on tie-breaks explored when canonicalising the atom order."""

MAX_TOLERANCE = 1.0
"""Å: the widest bond window half-width a user may ask for (the paper's is 0.4): a wider
window reaches second neighbours and its lower edge goes below zero for light atoms."""
DEFAULT_THRESHOLD = 0.5
"""The probability above which a predicted pair counts as a contact where nothing better is known
(a shipped model carries its own threshold, tuned on validation: :attr:`ContactModel.threshold`)."""


@dataclass(frozen=True)
class ContactCounts:
    """Contacts of a cell, before any reordering.

    Attributes
    ----------
    bonded : ndarray of uint8, shape (n, n)
        1 where atoms i, j have an image inside the bonding window (metal pairs 0).
    short : ndarray of uint8, shape (n, n)
        1 where an image of j is closer than ``r_i + r_j - tol`` (metal pairs: a
        clash, see :data:`METAL_CLASH_FACTOR`; diagonal: self-images).
    n_valid_bonds : int
        Number of bonds (i, j, image) inside the window, each counted once.
    n_short_contacts : int
        Number of contacts (i, j, image) shorter than the window, each counted once.
    coordination_numbers : ndarray of int, shape (n,)
        Bonds of each atom counted over periodic images (NaCl: 6 for both atoms).
    """

    bonded: np.ndarray
    short: np.ndarray
    n_valid_bonds: int
    n_short_contacts: int
    coordination_numbers: np.ndarray


@dataclass(frozen=True)
class ContactMap:
    """The contact map of a primitive cell, rows in canonical atom order.

    Attributes
    ----------
    species : tuple of str
        Element symbol of each row.
    matrix : ndarray of uint8, shape (n, n)
        The 0/1 contact map: symmetric, zero diagonal, metal-metal pairs 0.
    short : ndarray of uint8, shape (n, n)
        1 where a pair has an image closer than the bonding window.
    n_valid_bonds, n_short_contacts : int
        Bonds inside the window and contacts shorter than it, counted per
        (i, j, periodic image), each once.
    order : ndarray of int
        ``order[k]`` is the index, in the input structure, of the atom in row k.
    coordination_numbers : ndarray of int, shape (n,)
        Bonds per atom counted over periodic images (a true coordination
        number: NaCl gives 6 although its 2-atom map has one 1 per row).
    tolerance : float
        Window half-width in Å used to build the map.
    rule : str
        The contact rule (:mod:`core.contact.contact_rule`): ``paper`` or ``metallic``.
    """

    species: tuple[str, ...]
    matrix: np.ndarray
    short: np.ndarray
    n_valid_bonds: int
    n_short_contacts: int
    order: np.ndarray
    coordination_numbers: np.ndarray
    tolerance: float = DEFAULT_TOLERANCE
    rule: str = DEFAULT_RULE
    labels: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        seen: dict[str, int] = {}
        labels = []
        for el in self.species:
            seen[el] = seen.get(el, 0) + 1
            labels.append(f"{el}{seen[el]}")
        object.__setattr__(self, "labels", tuple(labels))

    @property
    def n_atoms(self) -> int:
        return len(self.species)

    @property
    def degree(self) -> np.ndarray:
        """Number of distinct atoms of the cell each atom is in contact with (row sums)."""
        return self.matrix.sum(axis=1).astype(int)

    @property
    def valid_bond_fraction(self) -> float:
        """Paper eq. 2: valid / (valid + short); 1.0 when the cell has no contacts at all."""
        total = self.n_valid_bonds + self.n_short_contacts
        return 1.0 if total == 0 else self.n_valid_bonds / total

    def padded(self, size: int) -> np.ndarray:
        """The map zero-padded to ``size`` × ``size`` (the network's L)."""
        if size < self.n_atoms:
            raise ValueError(f"cannot pad a {self.n_atoms}-atom map to size {size}")
        out = np.zeros((size, size), dtype=np.uint8)
        out[: self.n_atoms, : self.n_atoms] = self.matrix
        return out

    def to_dict(self) -> dict:
        """JSON-serialisable form (``from_dict`` restores it)."""
        return {
            "species": list(self.species),
            "labels": list(self.labels),
            "matrix": self.matrix.tolist(),
            "short": self.short.tolist(),
            "n_valid_bonds": self.n_valid_bonds,
            "n_short_contacts": self.n_short_contacts,
            "valid_bond_fraction": self.valid_bond_fraction,
            "degree": self.degree.tolist(),
            "coordination_numbers": self.coordination_numbers.tolist(),
            "order": self.order.tolist(),
            "tolerance": self.tolerance,
            "rule": self.rule,
        }

    @classmethod
    def from_dict(cls, data: dict) -> ContactMap:
        return cls(
            species=tuple(data["species"]),
            matrix=np.asarray(data["matrix"], dtype=np.uint8),
            short=np.asarray(data["short"], dtype=np.uint8),
            n_valid_bonds=int(data["n_valid_bonds"]),
            n_short_contacts=int(data["n_short_contacts"]),
            order=np.asarray(data["order"], dtype=np.int64),
            coordination_numbers=np.asarray(data["coordination_numbers"], dtype=np.int64),
            tolerance=float(data.get("tolerance", DEFAULT_TOLERANCE)),
            rule=check_rule(str(data.get("rule", DEFAULT_RULE))),
        )


def contact_counts(
    lattice: np.ndarray,
    frac_coords: np.ndarray,
    numbers: np.ndarray,
    tolerance: float = DEFAULT_TOLERANCE,
    rule: str = DEFAULT_RULE,
) -> ContactCounts:
    """Bonded and short contacts of a periodic cell given as arrays.

    Parameters
    ----------
    lattice : ndarray, shape (3, 3)
        Lattice vectors as rows, Å.
    frac_coords : ndarray, shape (n, 3)
        Fractional coordinates.
    numbers : ndarray of int, shape (n,)
        Atomic numbers.
    tolerance : float
        Window half-width in Å.
    rule : str
        Contact rule (:mod:`core.contact.contact_rule`).
    """
    numbers = np.asarray(numbers, dtype=np.int64)
    n = len(numbers)
    bonded = np.zeros((n, n), dtype=np.uint8)
    short = np.zeros((n, n), dtype=np.uint8)
    if n == 0:
        return ContactCounts(bonded, short, 0, 0, np.zeros(0, dtype=np.int64))
    lattice = np.ascontiguousarray(lattice, dtype=np.float64)
    cart = np.ascontiguousarray(np.asarray(frac_coords, dtype=np.float64) @ lattice)
    rule = rule_for_cell(rule, numbers)
    kinds = np.unique(numbers)
    cutoff = pair_windows(kinds[:, None], kinds[None, :], tolerance, rule).reach + 1e-6
    centre, neighbour, images, dist = find_points_in_spheres(
        cart, cart, r=cutoff, pbc=np.ones(3, dtype=np.int64), lattice=lattice, tol=1e-8
    )
    centre = centre.astype(np.int64)
    neighbour = neighbour.astype(np.int64)
    is_self = (centre == neighbour) & ~np.any(images, axis=1)
    centre, neighbour, dist = centre[~is_self], neighbour[~is_self], dist[~is_self]
    window = pair_windows(numbers[centre], numbers[neighbour], tolerance, rule)
    is_short = dist < window.short_below
    is_valid = window.bondable & (dist >= window.low) & (dist <= window.high)
    bonded[centre[is_valid], neighbour[is_valid]] = 1
    np.fill_diagonal(bonded, 0)
    short[centre[is_short], neighbour[is_short]] = 1
    # each (i, j, image) appears twice in the neighbour list: as i->j and j->i
    return ContactCounts(
        bonded,
        short,
        int(is_valid.sum()) // 2,
        int(is_short.sum()) // 2,
        np.bincount(centre[is_valid], minlength=n).astype(np.int64),
    )


def _refine(adjacency: list[np.ndarray], colours: np.ndarray) -> np.ndarray:
    """Colour refinement: split classes by (colour, degree, sorted neighbour colours).

    Returns colours as consecutive integers whose order refines the input order.
    """
    n_classes = len(np.unique(colours))
    while True:
        signatures = [
            (int(colours[i]), len(nbrs), tuple(sorted(colours[nbrs].tolist())))
            for i, nbrs in enumerate(adjacency)
        ]
        ranking = {sig: k for k, sig in enumerate(sorted(set(signatures)))}
        new = np.array([ranking[s] for s in signatures], dtype=np.int64)
        n_new = len(ranking)
        colours = new
        if n_new == n_classes:
            return colours
        n_classes = n_new


def canonical_order(
    matrix: np.ndarray, numbers: np.ndarray, coordination_numbers: np.ndarray | None = None
) -> np.ndarray:
    """Permutation putting atoms in canonical order (see the module docstring).

    Parameters
    ----------
    matrix : ndarray, shape (n, n)
        0/1 contact map in any atom order.
    numbers : ndarray of int, shape (n,)
        Atomic numbers of the atoms.
    coordination_numbers : ndarray of int, shape (n,), optional
        Bonds per atom over periodic images (a map predicted from a composition
        has none; the map's own degrees are then used).

    Returns
    -------
    ndarray of int
        ``order`` such that ``matrix[np.ix_(order, order)]`` is canonical.
    """
    matrix = np.asarray(matrix, dtype=np.uint8)
    n = len(numbers)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    adjacency = [np.flatnonzero(matrix[i]) for i in range(n)]
    ranks = element_rank(np.asarray(numbers, dtype=np.int64))
    if coordination_numbers is not None:
        ranks = ranks * 10_000 + np.asarray(coordination_numbers, dtype=np.int64)
    start = np.unique(ranks, return_inverse=True)[1].astype(np.int64)
    best = _BestLeaf()

    def search(colours: np.ndarray) -> None:
        if best.leaves >= MAX_CANONICAL_LEAVES:
            return
        colours = _refine(adjacency, colours)
        counts = np.bincount(colours)
        if counts.max() == 1:
            order = np.argsort(colours, kind="stable")
            key = np.packbits(matrix[np.ix_(order, order)]).tobytes()
            best.leaves += 1
            if best.key is None or key > best.key:
                best.key, best.order = key, order
            return
        cell = int(np.flatnonzero(counts > 1)[0])
        members = np.flatnonzero(colours == cell)
        tried: list[int] = []
        for v in members:
            # twins (same neighbours apart from each other) give the same matrix
            if any(_are_twins(matrix, u, int(v)) for u in tried):
                continue
            tried.append(int(v))
            split = colours * 2
            split[members] += 1
            split[v] -= 1  # v comes first within its old class
            search(split)

    search(start)
    return np.asarray(best.order, dtype=np.int64)


@dataclass
class _BestLeaf:
    """The search's best leaf so far: the largest packed matrix, its order, leaves visited."""

    key: bytes | None = None
    order: np.ndarray | None = None
    leaves: int = 0


def _are_twins(matrix: np.ndarray, u: int, v: int) -> bool:
    mask = np.ones(len(matrix), dtype=bool)
    mask[[u, v]] = False
    return bool(np.array_equal(matrix[u, mask], matrix[v, mask]))


def contact_map_from_arrays(
    lattice: np.ndarray,
    frac_coords: np.ndarray,
    numbers: np.ndarray,
    tolerance: float = DEFAULT_TOLERANCE,
    canonical: bool = True,
    rule: str = DEFAULT_RULE,
) -> ContactMap:
    """Contact map of a primitive cell given as arrays (see :func:`contact_counts`)."""
    numbers = np.asarray(numbers, dtype=np.int64)
    rule = rule_for_cell(rule, numbers)  # the rule applied is the one recorded (metallic: all-metal cells only)
    counts = contact_counts(lattice, frac_coords, numbers, tolerance, rule)
    if canonical:
        order = canonical_order(counts.bonded, numbers, counts.coordination_numbers)
    else:
        order = np.arange(len(numbers))
    symbols = element_table().symbols
    grid = np.ix_(order, order)
    return ContactMap(
        species=tuple(symbols[z] for z in numbers[order]),
        matrix=counts.bonded[grid],
        short=counts.short[grid],
        n_valid_bonds=counts.n_valid_bonds,
        n_short_contacts=counts.n_short_contacts,
        order=order,
        coordination_numbers=counts.coordination_numbers[order],
        tolerance=tolerance,
        rule=rule,
    )


def compute_contact_map(
    structure: Structure, tolerance: float = DEFAULT_TOLERANCE, canonical: bool = True,
    rule: str = DEFAULT_RULE,
) -> ContactMap:
    """Contact map of a structure **as given**; pass a primitive cell (see ``core.crystal.symmetry.primitive_cell``).

    Parameters
    ----------
    structure : pymatgen.core.Structure
        An ordered structure (no partial occupancies).
    tolerance : float
        Window half-width in Å (paper: 0.4).
    canonical : bool
        Reorder rows canonically (default); ``False`` keeps the site order.
    rule : str
        Contact rule (:mod:`core.contact.contact_rule`): ``paper`` (default) or ``metallic``.

    Raises
    ------
    AlphaCrystalError
        For disordered structures or elements outside the shipped table.
    """
    if not structure.is_ordered:
        raise AlphaCrystalError(
            f"structure {structure.composition.reduced_formula} has partially occupied sites; "
            "contact maps need an ordered structure"
        )
    table = element_table()
    try:
        numbers = np.array([table.z_of(site.specie.symbol) for site in structure], dtype=np.int64)
    except (KeyError, AttributeError) as exc:
        raise AlphaCrystalError(f"unsupported species in structure: {exc}") from None
    return contact_map_from_arrays(
        structure.lattice.matrix, structure.frac_coords, numbers, tolerance, canonical, rule
    )
