"""Symmetry: the tolerances, crystal systems, symbols, and every space-group question asked
of a structure or cell (spglib through one call, :func:`symmetry_dataset`). The one place
for each; no other module calls spglib's symmetry finder.

Two tolerances exist on purpose, for two jobs:

- :data:`SPACEGROUP_SYMPREC` (0.1 Å, with :data:`ANGLE_TOLERANCE` 5°): the
  space group of a structure as MP-20 and the CSP literature report it, and
  everything a result reports: data sets, candidates, templates, result
  tables, folder names and the symmetrised CIF's cell (so a folder named for a
  group holds a CIF of that group; symmetrising moves atoms by at most this much);
- :data:`CELL_SYMPREC` (0.01 Å): finding the primitive cell of a structure
  (the cell a contact map refers to), where a loose tolerance would merge
  atoms that differ.

The others are derived from these, each for one question (all here, so that a change of the
base tolerances carries to them): :data:`NEAR_TIE_SYMPREC`/:data:`NEAR_TIE_ANGLE` (is a
structure a distortion of a higher-symmetry one), :data:`PARENT_SYMPREC` (is a result the
undistorted parent of a known structure) and :data:`IDEAL_SYMPREC` (the operations of a cell
already made exact, written into a CIF).
"""

from __future__ import annotations

import warnings
from functools import cache, lru_cache
from typing import Any

import numpy as np

SPACEGROUP_SYMPREC = 0.1
"""Å; the MP-20 convention for space groups (with an angle tolerance of 5°)."""
ANGLE_TOLERANCE = 5.0
"""Degrees, with :data:`SPACEGROUP_SYMPREC`."""
CELL_SYMPREC = 0.01
"""Å; primitive cells (the cell a contact map refers to)."""
NEAR_TIE_SYMPREC = 3 * SPACEGROUP_SYMPREC
"""Å: the tolerance at which a lower-symmetry relaxed structure is symmetrised before it is compared
with a higher-symmetry one (the ranking's near-tie merge, :mod:`core.predict.ranking`)."""
NEAR_TIE_ANGLE = 2 * ANGLE_TOLERANCE
"""Degrees, with :data:`NEAR_TIE_SYMPREC`."""
PARENT_SYMPREC = SPACEGROUP_SYMPREC / 10
"""Å: a result counts as a higher-symmetry version of the known structure only when it is one even at
this tolerance (:mod:`core.stability.identity`): the distortion is missing, not merely below
:data:`SPACEGROUP_SYMPREC`."""
IDEAL_SYMPREC = 1e-3
"""Å: the tolerance the symmetrised CIF's operations are found at, in the cell already made exact at
:data:`SPACEGROUP_SYMPREC` (a cell symmetrised once has its symmetry to rounding)."""

CRYSTAL_SYSTEMS = (
    ("triclinic", 1, 2),
    ("monoclinic", 3, 15),
    ("orthorhombic", 16, 74),
    ("tetragonal", 75, 142),
    ("trigonal", 143, 167),
    ("hexagonal", 168, 194),
    ("cubic", 195, 230),
)
"""(name, first group, last group) of each crystal system."""


def crystal_system(spacegroup_number: int) -> str:
    """Crystal system of a space-group number (1-230); ``"unknown"`` otherwise."""
    for name, low, high in CRYSTAL_SYSTEMS:
        if low <= spacegroup_number <= high:
            return name
    return "unknown"


@lru_cache(maxsize=1)
def _standard_settings() -> dict[int, tuple[int, str]]:
    """Space-group number -> (Hall number of its standard setting, short symbol), from spglib."""
    import spglib

    out: dict[int, tuple[int, str]] = {}
    for hall in range(1, 531):  # spglib's Hall numbers; the first of each group is its standard setting
        data = spglib.get_spacegroup_type(hall)
        if data is not None:  # every Hall number 1-530 has a type; spglib's stubs allow None
            out.setdefault(int(data.number), (hall, str(data.international_short)))
    return out


def _standard_setting(spacegroup_number: int) -> tuple[int, str]:
    """(Hall number, short symbol) of a space group's standard setting; ValueError outside 1-230."""
    if not 1 <= int(spacegroup_number) <= 230:
        raise ValueError(f"space group number must be 1-230, got {spacegroup_number}")
    return _standard_settings()[int(spacegroup_number)]


@cache
def conventional_operations(spacegroup_number: int) -> int:
    """Symmetry operations of a space group's conventional cell in its standard setting
    (spglib's database): 192 for Fm-3m (48 per lattice point × 4), 1 for P1. Raises
    ValueError outside 1-230."""
    import spglib

    hall, _ = _standard_setting(spacegroup_number)
    operations = spglib.get_symmetry_from_database(hall)
    if operations is None:  # spglib's stubs allow None; every standard Hall number has operations
        raise ValueError(f"spglib has no operations for space group {spacegroup_number}")
    return len(operations["rotations"])


def spacegroup_from_text(text: str) -> int:
    """The international number of a space group as a user writes it (:func:`spacegroup_setting`).

    Raises
    ------
    ValueError
        Naming the text: neither a number from 1 to 230 nor a symbol pymatgen or spglib knows.
    """
    return spacegroup_setting(text)[0]


def spacegroup_setting(text: str) -> tuple[int, bool]:
    """A space group as a user writes it, as its international number: ``225``, ``Fm-3m``,
    ``P6_3/mmc``, ``P63/mmc``, ``P21/c`` (screw axes without the underscore), ``Fm3m`` (the old
    full symbol without the bar), ``fm-3m`` (lower case); read by pymatgen, or from spglib's table of
    the 530 settings: a symbol of another setting names its group (``P2_1/n``, ``P 1 21/n 1``,
    ``I2/a`` -> 14, 14, 15; ``Pbnm`` -> 62), whose structures the program builds in the standard
    setting. Returns (number, whether the text names the standard setting): a lattice given with a
    symbol of another setting is in that setting's axes, not the program's.

    Raises
    ------
    ValueError
        Naming the text: neither a number from 1 to 230 nor a symbol pymatgen knows.
    """
    import re

    from pymatgen.symmetry.groups import SpaceGroup

    written = text.strip()
    if written.isdigit():
        if 1 <= int(written) <= 230:
            return int(written), True
        raise ValueError(f"{written} is not a space-group number: they run from 1 to 230")
    capital = written[:1].upper() + written[1:]
    screw = re.sub(r"([2346])([1-5])", r"\1_\2", capital)  # P21/c -> P2_1/c, P4232 -> P4_232
    barred = re.sub(r"(?<![-_\d])3", "-3", capital)  # Fm3m -> Fm-3m (cubic groups with a bar)
    for candidate in dict.fromkeys((written, capital, screw, barred)):
        try:
            with warnings.catch_warnings(record=True) as said:
                warnings.simplefilter("always")  # pymatgen warns about non-standard settings (Pbnm)
                number = int(SpaceGroup(candidate).int_number)
            return number, not any("Full symbol not available" in str(w.message) for w in said)
        except (ValueError, KeyError):
            continue
    for candidate in dict.fromkeys((written, capital, screw)):
        compact = re.sub(r"\s+", "", candidate)
        if compact in _setting_symbols():
            return _setting_symbols()[compact]
        if compact in OLD_GLIDE_SYMBOLS:  # Cmca, as older papers and CIFs write it
            return OLD_GLIDE_SYMBOLS[compact], True
        if compact in OLD_GLIDE_SETTINGS:  # Bbcm: group 64 in another setting
            return OLD_GLIDE_SETTINGS[compact], False
    raise ValueError(f"{text!r} is neither a space-group number (1 to 230) nor a Hermann-Mauguin symbol such as "
                     "Fm-3m or P6_3/mmc")


OLD_GLIDE_SYMBOLS = {"Abm2": 39, "Aba2": 41, "Cmca": 64, "Cmma": 67, "Ccca": 68}
"""The five standard symbols the International Tables renamed in 2002 for the double glide plane e
(Aem2, Aea2, Cmce, Cmme, Ccce): older papers and CIFs write these."""
OLD_GLIDE_SETTINGS = {"Ccmb": 64, "Abma": 64, "Acam": 64, "Bbcm": 64, "Bmab": 64}
"""The other settings of group 64 in their pre-2002 spellings (Ccme, Aema, Aeam, Bbem, Bmeb now)."""


@cache
def _setting_symbols() -> dict[str, tuple[int, bool]]:
    """Hermann-Mauguin symbols of every setting in spglib's table (530 Hall numbers), spaces removed,
    with the monoclinic full symbols also without their 1s (``P12_1/n1`` and ``P2_1/n``) -> (group
    number, whether the symbol names the group's standard setting: its first Hall number); a
    symbol two groups would share is left out."""
    import spglib

    found: dict[str, set[int]] = {}
    standard: set[str] = set()
    first: dict[int, int] = {}
    for hall in range(1, 531):
        kind = spglib.get_spacegroup_type(hall)
        if kind is None:
            continue
        number = int(kind.number)
        first.setdefault(number, hall)
        symbols = {part.strip() for part in kind.international.split("=")} | {kind.international_full}
        tokens = kind.international_full.split()
        symbols.add(tokens[0] + "".join(t for t in tokens[1:] if t != "1"))
        for symbol in symbols:
            found.setdefault(symbol.replace(" ", ""), set()).add(number)
            if first[number] == hall:
                standard.add(symbol.replace(" ", ""))
    return {symbol: (next(iter(numbers)), symbol in standard) for symbol, numbers in found.items() if len(numbers) == 1}


def hm_symbol(spacegroup_number: int) -> str:
    """Short Hermann-Mauguin symbol as spglib, pymatgen and CIFs write it (``P4_2/mnm``,
    ``P2_1/c``, ``Fm-3m``): the one spelling the program shows, for candidates,
    templates and relaxed structures alike. Raises ValueError outside 1-230."""
    return _standard_setting(spacegroup_number)[1]


def symmetry_dataset(lattice, frac, numbers, symprec: float = SPACEGROUP_SYMPREC):
    """spglib's symmetry dataset of a cell (lattice rows in Å, fractional coordinates,
    atomic numbers) at ``symprec`` (Å) and :data:`ANGLE_TOLERANCE`; None where spglib
    finds none or fails on a degenerate cell."""
    import spglib

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cell: Any = (np.asarray(lattice), np.asarray(frac), np.asarray(numbers))  # spglib takes arrays
            return spglib.get_symmetry_dataset(cell, symprec=symprec, angle_tolerance=ANGLE_TOLERANCE)
    except Exception:  # noqa: BLE001 - newer spglib raises on degenerate input
        return None


def cell_space_group(lattice, frac, numbers, symprec: float = SPACEGROUP_SYMPREC) -> int:
    """Space-group number of a cell (1 where spglib finds no symmetry)."""
    data = symmetry_dataset(lattice, frac, numbers, symprec)
    return 1 if data is None else int(data.number)


def wyckoff_letters(lattice, frac, numbers, symprec: float = SPACEGROUP_SYMPREC) -> tuple[int, list[str]]:
    """Space group and per-atom Wyckoff letters of a cell (1 and ``a`` for every atom where
    spglib finds no symmetry)."""
    data = symmetry_dataset(lattice, frac, numbers, symprec)
    if data is None:
        return 1, ["a"] * len(numbers)
    return int(data.number), [str(w) for w in data.wyckoffs]


def symmetry_of(lattice, frac, numbers, symprec: float = SPACEGROUP_SYMPREC) -> tuple[int, np.ndarray]:
    """``(space group, conventional (a, b, c, α, β, γ))`` of a cell.

    The conventional cell is spglib's standardised one (ITA settings as pyxtal
    uses them); P1 with the cell as given when spglib finds no symmetry.
    """
    from pymatgen.core import Lattice

    data = symmetry_dataset(lattice, frac, numbers, symprec)
    if data is None:
        return 1, np.array(Lattice(lattice).parameters)
    return int(data.number), np.array(Lattice(data.std_lattice).parameters)


def placement_symprec(lattice, frac, numbers) -> float:
    """The tolerance (Å) at which the atoms of a primitive cell (found at :data:`CELL_SYMPREC`)
    can be placed on Wyckoff positions: :data:`SPACEGROUP_SYMPREC` (MP-20's reporting
    tolerance) unless that group's primitive cell holds fewer atoms than the cell (a slightly
    distorted superstructure, e.g. a 20-atom cell read as a 10-atom Fm-3m double perovskite at
    0.1 Å, or a 12-atom NaCl read as 4-atom P6_3/mmc), when no Wyckoff assignment of that group
    places the cell's atoms: then :data:`CELL_SYMPREC`, the tolerance the cell was found at."""
    import spglib

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cell: Any = (np.asarray(lattice), np.asarray(frac), np.asarray(numbers))  # spglib takes arrays
        try:
            primitive = spglib.find_primitive(cell, symprec=SPACEGROUP_SYMPREC, angle_tolerance=ANGLE_TOLERANCE)
        except Exception:  # noqa: BLE001 - newer spglib raises on degenerate input
            primitive = None
    return CELL_SYMPREC if primitive is not None and len(primitive[2]) < len(numbers) else SPACEGROUP_SYMPREC


def cell_symmetry(lattice, frac, numbers) -> tuple[int, np.ndarray]:
    """:func:`symmetry_of` a primitive cell at the tolerance its atoms can be placed at
    (:func:`placement_symprec`)."""
    return symmetry_of(lattice, frac, numbers, symprec=placement_symprec(lattice, frac, numbers))


def cell_wyckoff_letters(lattice, frac, numbers) -> tuple[int, list[str]]:
    """:func:`wyckoff_letters` of a primitive cell at the tolerance its atoms can be placed at
    (:func:`placement_symprec`): one letter per atom of *this* cell, so that the orbits'
    multiplicities add up to its atom count."""
    return wyckoff_letters(lattice, frac, numbers, symprec=placement_symprec(lattice, frac, numbers))


def space_group(structure, symprec: float = SPACEGROUP_SYMPREC) -> tuple[int, str]:
    """Space-group number and Hermann-Mauguin symbol of a pymatgen structure at ``symprec``
    (Å; MP-20's 0.1 by default) and :data:`ANGLE_TOLERANCE`. Raises where spglib fails
    on a degenerate cell (:func:`space_group_or_p1` does not)."""
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    analyzer = SpacegroupAnalyzer(structure, symprec=symprec, angle_tolerance=ANGLE_TOLERANCE)
    return analyzer.get_space_group_number(), analyzer.get_space_group_symbol()


def space_group_or_p1(structure, symprec: float = SPACEGROUP_SYMPREC) -> tuple[int, str]:
    """:func:`space_group`, or ``(1, "P1")`` where spglib fails on a degenerate cell."""
    try:
        return space_group(structure, symprec)
    except Exception:  # noqa: BLE001 - spglib fails on degenerate cells
        return 1, "P1"


def standard_cell(structure, symprec: float = SPACEGROUP_SYMPREC):
    """The symmetrised conventional cell of ``structure`` in the standard setting of the
    International Tables (spglib's refined cell, e.g. Pnma with a > c > b for an
    orthorhombic perovskite), at ``symprec`` (Å) and :data:`ANGLE_TOLERANCE`: the cell
    the symmetrised CIF is written in (pymatgen's ``CifWriter`` refines it the same way)
    and the one the result tables report. The cell as given when spglib finds no symmetry.

    (pymatgen's ``get_conventional_standard_structure`` sorts orthorhombic axes a < b < c
    instead, which disagreed with the CIF beside it for every Pnma and Imma result.)

    Of the origins the group allows, the one that puts the atoms on the earliest Wyckoff letters
    (:func:`preferred_origin`): spglib kept rutile's Ti on 2b (0, 0, 1/2), where the International
    Tables and every textbook put it on 2a.
    """
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    try:
        refined = SpacegroupAnalyzer(structure, symprec=symprec, angle_tolerance=ANGLE_TOLERANCE).get_refined_structure()
    except Exception:  # noqa: BLE001 - spglib fails on some degenerate cells
        return structure
    shift = preferred_origin(refined)
    if np.any(shift):
        refined = refined.copy()
        refined.translate_sites(list(range(len(refined))), shift, frac_coords=True, to_unit_cell=True)
    return refined


def preferred_origin(cell) -> np.ndarray:
    """The origin shift (fractional, of ``cell``: a standard conventional cell, exact) among the pure
    translations of the group's Euclidean normalizer (pyxtal's alternative Wyckoff sets) that gives its
    atoms the earliest Wyckoff letters, element by element in the contact-map element order, as
    STRUCTURE TIDY standardises (Gelato and Parthé, 1987; rutile: Ti 2a, O 4f); zero when the given
    origin is already that one, or where spglib or pyxtal cannot tell. Hand-written: spglib keeps
    an origin it finds valid, and neither pymatgen nor pyxtal chooses among them."""
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    from core.crystal.elements import element_sort_key

    try:
        data = SpacegroupAnalyzer(cell, symprec=IDEAL_SYMPREC, angle_tolerance=ANGLE_TOLERANCE).get_symmetry_dataset()
        alternatives = _origin_alternatives(int(data.number))
    except Exception:  # noqa: BLE001 - spglib or pyxtal fail on a degenerate cell: the origin as given
        return np.zeros(3)
    sites = sorted({(element_sort_key(cell[k].specie.symbol), data.wyckoffs[k]) for k in set(data.equivalent_atoms)})
    best = min(alternatives, key=lambda alt: [(element, alt[1].get(letter, 99)) for element, letter in sites])
    return np.asarray(best[0], dtype=float)


@cache
def _origin_alternatives(number: int) -> tuple[tuple[tuple[float, ...], dict[str, int]], ...]:
    """The pure translations of group ``number``'s alternative Wyckoff sets (pyxtal, from the
    Euclidean normalizer) with the rank (0 = a) each old letter takes after it; the identity first."""
    from pymatgen.core.operations import SymmOp
    from pyxtal.symmetry import Group

    table = Group(number).get_alternatives()
    order = table["Transformed WP"][0].split()  # the letters in order: a b c ... (A, B, ... past z)
    out = []
    for representative, letters in zip(table["Coset Representative"], table["Transformed WP"]):
        op = SymmOp.from_xyz_str(representative)
        if not np.allclose(op.rotation_matrix, np.eye(3)):
            continue  # a rotation would change the cell's axes, not only its origin
        out.append((tuple(float(v) for v in op.translation_vector),
                    {old: order.index(new) for old, new in zip(order, letters.split())}))
    return tuple(out)


def symmetrised_primitive(structure, symprec: float = SPACEGROUP_SYMPREC):
    """The primitive cell of ``structure`` symmetrised at ``symprec`` (Å) and :data:`ANGLE_TOLERANCE`,
    in the standard setting (spglib's), site properties (magnetic moments) kept: the structure of the
    symmetrised CIF and of the space group in the folder name, in the smallest cell, which the VASP
    inputs are written in. A relaxed cell a potential left 0.02 Å off rutile is P2_1/c at 0.01 Å: a
    POSCAR of it would have VASP relax a monoclinic crystal beside a P4_2/mnm CIF. The structure as
    given when spglib fails on it or the cell it gives has another composition."""
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    try:
        cell = SpacegroupAnalyzer(structure, symprec=symprec, angle_tolerance=ANGLE_TOLERANCE) \
            .get_primitive_standard_structure(keep_site_properties=True)
    except Exception:  # noqa: BLE001 - spglib fails on some degenerate cells
        return structure
    same = cell.composition.reduced_composition == structure.composition.reduced_composition
    return cell if same and len(cell) <= len(structure) else structure


def primitive_cell(structure, symprec: float = CELL_SYMPREC, keep_site_properties: bool = False):
    """The spglib primitive cell of ``structure`` (the cell contact maps refer to), found at
    ``symprec`` (Å); the input cell when spglib finds no symmetry or fails on it.
    ``keep_site_properties``: carry per-site values (e.g. magnetic moments) to the sites kept."""
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    try:
        primitive = SpacegroupAnalyzer(structure, symprec=symprec).find_primitive(keep_site_properties)
    except Exception:  # noqa: BLE001 - spglib gives up on some distorted cells
        primitive = None
    return primitive if primitive is not None and len(primitive) <= len(structure) else structure


def refined_in(structure, symprec: float, angle_tolerance: float = ANGLE_TOLERANCE):
    """(space-group number, symmetrised conventional cell) of ``structure`` at a tolerance of
    the caller's (Å, degrees), e.g. a looser one that asks whether a structure is a slight
    distortion of a higher-symmetry one; None where spglib fails on the cell."""
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    try:
        analyzer = SpacegroupAnalyzer(structure, symprec=symprec, angle_tolerance=angle_tolerance)
        return analyzer.get_space_group_number(), analyzer.get_refined_structure()
    except Exception:  # noqa: BLE001 - spglib fails on some degenerate cells
        return None


def cell_summary(structure) -> dict:
    """What a crystallographer reads first about a structure: the conventional cell of the
    symmetrised CIF (:func:`standard_cell`; ``a``, ``b``, ``c`` in Å; ``alpha``, ``beta``,
    ``gamma`` in degrees; ``volume`` in Å³), its occupied Wyckoff sites (``relaxed_wyckoff``,
    :func:`wyckoff_sites`), the ``volume_per_atom`` (Å³) and the ``density`` (g/cm³)."""
    cell = standard_cell(structure)
    a, b, c, alpha, beta, gamma = cell.lattice.parameters
    return {"a": round(a, 4), "b": round(b, 4), "c": round(c, 4), "alpha": round(alpha, 2), "beta": round(beta, 2),
            "gamma": round(gamma, 2), "volume": round(cell.volume, 3), "relaxed_wyckoff": wyckoff_sites(cell),
            "volume_per_atom": round(structure.volume / len(structure), 3),
            "density": round(float(structure.density), 4)}


def wyckoff_sites(cell) -> str:
    """The occupied Wyckoff sites of a symmetrised standard cell (:func:`standard_cell`), as the CIF
    written from it lists them: ``Ti 2a, O 4f``, in element order then multiplicity and letter.
    Found at :data:`IDEAL_SYMPREC` (the cell is already exact: its group is the one it was made
    in). "" where spglib fails on the cell."""
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    from core.crystal.elements import element_sort_key

    try:
        symmetrized = SpacegroupAnalyzer(cell, symprec=IDEAL_SYMPREC,
                                         angle_tolerance=ANGLE_TOLERANCE).get_symmetrized_structure()
    except Exception:  # noqa: BLE001 - spglib fails on some degenerate cells
        return ""
    sites = [(sites[0].specie.symbol, symbol) for sites, symbol in
             zip(symmetrized.equivalent_sites, symmetrized.wyckoff_symbols)]
    sites.sort(key=lambda s: (element_sort_key(s[0]), int(s[1][:-1]), s[1][-1]))
    return ", ".join(f"{element} {symbol}" for element, symbol in sites)
