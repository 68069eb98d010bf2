"""Chemical formulas: parsing, formula units Z, and per-atom element lists.

All atom counts refer to the **primitive cell**, the cell in which contact maps
are defined: ``Z`` is the number of reduced formula units in that cell.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from math import gcd

from pymatgen.core import Composition, Element

from core.crystal.elements import element_sort_key, element_table
from core.errors import FormulaError

PAPER_MAX_ATOMS = 12
"""The paper's scope: the map size L (atoms in the primitive cell) of the paper and of the
shipped 12-atom models, and the cells split as those models were (larger ranges extend that
split: :func:`core.data.formula_split.full_range_split`). The one name of this limit."""
MP20_MAX_ATOMS = 20
"""Largest primitive cell of MP-20: the range predictions, templates and the full-range split
cover (the contact route stops at its models' size). The one name of this limit."""

_ALLOWED = re.compile(r"^[A-Za-z0-9().\[\]\s]+$")
_SYMBOL = re.compile(r"[A-Z][a-z]*")
_ADDUCT_DOTS = "·•∙⋅"
"""Characters written for the dot of a hydrate or adduct (CuSO4·5H2O)."""
_LONE_DOT = re.compile(r"(?<![0-9])\.|\.(?![0-9])")
"""A '.' that is not a decimal point (``NaCl.H2O``)."""
_EXPONENT = re.compile(r"[0-9.][eE][0-9+-]")
"""An amount in scientific notation (``C1e2``), which pymatgen would read as a number."""


@dataclass(frozen=True)
class Formula:
    """A parsed chemical formula with integer atom counts.

    Attributes
    ----------
    text : str
        The formula as the user typed it (whitespace stripped).
    counts : dict[str, int]
        Atoms of each element in the formula as typed (``Ag2F4`` -> Ag 2, F 4).
    """

    text: str
    counts: dict[str, int]

    @property
    def reduced_counts(self) -> dict[str, int]:
        """Atoms per reduced formula unit (``Ag2F4`` -> Ag 1, F 2)."""
        divisor = self.typed_z
        return {el: n // divisor for el, n in self.counts.items()}

    @property
    def typed_z(self) -> int:
        """Formula units implied by the typed text (``Ag2F4`` -> 2, ``AgF2`` -> 1)."""
        return formula_units(self.counts)

    @property
    def reduced_formula(self) -> str:
        """pymatgen's reduced formula, e.g. ``AgF2``; used to split data sets."""
        return Composition(self.reduced_counts).reduced_formula

    @property
    def unit_formula(self) -> str:
        """The reduced formula unit as the program writes it wherever it shows a formula with
        a Z (:func:`formula_unit_text`): ``H`` for hydrogen (pymatgen writes ``H2``),
        ``NaO`` for ``Na2O2``, ``H8SN2O4`` for ``(NH4)2SO4``; ``AgF2`` as pymatgen does."""
        return formula_unit_text(self.reduced_counts)

    @property
    def atoms_per_formula_unit(self) -> int:
        return sum(self.reduced_counts.values())

    @property
    def elements(self) -> tuple[str, ...]:
        """Distinct elements in the fixed contact-map element order."""
        return tuple(sorted(self.counts, key=element_sort_key))

    def z_values(self, max_atoms: int = PAPER_MAX_ATOMS) -> list[int]:
        """Numbers of formula units Z whose primitive cell has at most ``max_atoms`` atoms.

        Raises
        ------
        FormulaError
            If even one formula unit has more than ``max_atoms`` atoms.
        """
        if max_atoms < 1:
            raise FormulaError(f"max_atoms must be positive, got {max_atoms}")
        per_unit = self.atoms_per_formula_unit
        if per_unit > max_atoms:
            raise FormulaError(
                f"formula '{self.text}' has {per_unit} atoms per formula unit, "
                f"more than the {max_atoms} atoms a map of size L={max_atoms} can hold"
            )
        return list(range(1, max_atoms // per_unit + 1))

    def atom_elements(self, z: int, max_atoms: int | None = None) -> list[str]:
        """One element symbol per atom of a primitive cell with ``z`` formula units.

        Atoms are grouped by element in the fixed contact-map element order
        (:func:`core.crystal.elements.element_sort_key`), so the list lines up with the
        rows of a canonical contact map (``AgF2``, z=2 -> Ag Ag F F F F).

        Raises
        ------
        FormulaError
            If ``z`` is not a positive integer or the cell exceeds ``max_atoms``.
        """
        if not isinstance(z, int) or isinstance(z, bool) or z < 1:
            raise FormulaError(f"Z must be a positive integer, got {z!r}")
        n_atoms = z * self.atoms_per_formula_unit
        if max_atoms is not None and n_atoms > max_atoms:
            raise FormulaError(
                f"'{self.text}' with Z={z} has {n_atoms} atoms, more than max_atoms={max_atoms}"
            )
        reduced = self.reduced_counts
        return [el for el in self.elements for _ in range(reduced[el] * z)]


def formula_units(counts: Mapping[str, float] | Composition) -> int:
    """Z: the reduced formula units in ``counts`` (a cell's atoms or a typed formula's), the
    greatest common divisor of the amounts (``Ag2F4`` -> 2; ``H2`` -> 2, where pymatgen's reduced
    factor counts the molecule ``H2`` as one unit)."""
    divisor = 0
    for n in Composition(counts).values():
        divisor = gcd(divisor, int(round(n)))
    return divisor


def formula_unit_text(counts: Mapping[str, float] | Composition) -> str:
    """The reduced formula unit of ``counts`` (a cell's atoms or a formula's), written so that
    ``Z`` × this unit is the cell: pymatgen's reduced formula where it is that unit, else
    the elements in pymatgen's order with the unit's counts. pymatgen's reduced formula
    writes molecular units (``H2``, ``O2``, ``Na2O2``) and polyanion brackets
    (``H8S(NO2)2``), which miscount the atoms of a Z and put brackets in folder names.
    """
    composition = Composition(counts)
    amounts = {str(el): int(round(n)) for el, n in composition.items()}
    units = max(formula_units(amounts), 1)
    unit_counts = {el: n // units for el, n in amounts.items()}
    unit = Composition(unit_counts)
    written = unit.reduced_formula
    if "(" not in written and Composition(written).almost_equals(unit):
        return written
    order = [m[0] for part in unit.formula.split() if (m := _SYMBOL.match(part))]  # pymatgen's element order
    return "".join(el + ("" if unit_counts[el] == 1 else str(unit_counts[el])) for el in order)


def is_formula(text: str) -> bool:
    """Whether ``text`` reads as a chemical formula (:func:`parse_formula` accepts it)."""
    try:
        parse_formula(text)
    except FormulaError:
        return False
    return True


ISOTOPES = {"D": "deuterium", "T": "tritium"}
"""Isotope symbols a chemist writes in a formula (D2O), refused with the element to write."""


def parse_formula(text: str) -> Formula:
    """Parse a chemical formula such as ``AgF2``, ``Ag2F4``, ``Ca3(PO4)2``, ``LiFePO4``.

    Parsing is done by pymatgen; this function adds the checks a structure
    predictor needs: known elements only (Z ≤ 103, no dummy species or isotope
    labels such as ``D``), integer and positive amounts.

    Raises
    ------
    FormulaError
        For empty or malformed text, unknown elements or non-integer amounts;
        the message names the formula and the problem.
    """
    if not isinstance(text, str):
        raise FormulaError(f"a formula must be text, got {type(text).__name__}")
    stripped = "".join(text.split())
    if not stripped:
        raise FormulaError("the formula is empty")
    _check_spaced_parts(text)
    if not _ALLOWED.match(stripped):
        bad = sorted({c for c in stripped if not _ALLOWED.match(c)})
        raise FormulaError(f"formula '{stripped}' contains invalid characters: {' '.join(bad)}"
                           + ("; write a hydrate or adduct as one formula, e.g. CuSO4(H2O)5 for CuSO4·5H2O"
                              if set(bad) & set(_ADDUCT_DOTS) else ""))
    if stripped.count("(") != stripped.count(")") or stripped.count("[") != stripped.count("]"):
        raise FormulaError(f"formula '{stripped}': its brackets do not pair up")
    if _LONE_DOT.search(stripped):  # NaCl.H2O: an adduct dot, which pymatgen reports as a float error
        raise FormulaError(f"formula '{stripped}': a '.' outside a number; write an adduct or hydrate as one "
                           f"formula ('{_adduct(stripped)}')")
    if stripped[0].islower() or (stripped.isalpha() and stripped.lower() == stripped):
        guesses = _capitalised(stripped)
        raise FormulaError(f"formula '{stripped}': element symbols start with a capital letter"
                           + (f"; did you mean {' or '.join(repr(g) for g in guesses)}?" if guesses else ""))
    if not _SYMBOL.search(stripped):
        raise FormulaError(f"formula '{stripped}' has no element symbol")
    if _EXPONENT.search(stripped):  # pymatgen reads "C1e2" as 100 carbon atoms: never silently
        raise FormulaError(f"formula '{stripped}': write amounts as whole numbers, not in scientific notation")
    table = element_table()
    for symbol in _SYMBOL.findall(stripped):
        if not table.is_element(symbol) and Element.is_valid_symbol(symbol) and Element(symbol).Z > table.max_z:
            raise FormulaError(f"formula '{stripped}': {symbol} (Z = {Element(symbol).Z}) is beyond the elements "
                               f"this program handles (H to {table.symbols[-1]}, Z <= {table.max_z})")
        if not table.is_element(symbol):
            guesses = [g for g in _capitalised(stripped.lower()) if g != stripped]  # NaCL, Nacl -> NaCl
            if symbol in ISOTOPES and not guesses:  # elements are predicted, not isotopes: say what to write
                raise FormulaError(f"unknown element '{symbol}' in formula '{stripped}': {symbol} "
                                   f"({ISOTOPES[symbol]}) is an isotope of hydrogen; write H (structures are "
                                   "predicted for elements, not isotopes)")
            raise FormulaError(f"unknown element '{symbol}' in formula '{stripped}'"
                               + (f"; did you mean {' or '.join(repr(g) for g in guesses)}?" if guesses else "")
                               + (f" ({symbol}, {ISOTOPES[symbol]}, is an isotope of hydrogen: write H)"
                                  if symbol in ISOTOPES else ""))
    try:
        composition = Composition(stripped)
    except Exception as exc:  # pymatgen raises ValueError, KeyError, IndexError...
        raise FormulaError(f"cannot parse formula '{stripped}': {exc}") from None
    counts: dict[str, int] = {}
    for element, amount in composition.items():
        symbol = getattr(element, "symbol", str(element))
        if not math.isfinite(amount):
            raise FormulaError(f"formula '{stripped}': {symbol} has amount {amount:g}")
        rounded = round(amount)
        if abs(amount - rounded) > 1e-6 or rounded < 1:
            raise FormulaError(
                f"formula '{stripped}': {symbol} has amount {amount:g}; "
                "only whole numbers of atoms are supported (no partial occupancy)"
                + ("; a hydrate or adduct is written as one formula, e.g. CuSO4(H2O)5 for CuSO4·5H2O"
                   if "." in stripped else "")
            )
        counts[symbol] = counts.get(symbol, 0) + int(rounded)
    if not counts:
        raise FormulaError(f"formula '{stripped}' contains no atoms")
    dropped = [symbol for symbol in dict.fromkeys(_SYMBOL.findall(stripped)) if symbol not in counts]
    if dropped:  # pymatgen silently drops an element with amount 0 ("Na0Cl" -> Cl)
        raise FormulaError(f"formula '{stripped}': {', '.join(dropped)} has amount 0; "
                           "remove it or give at least one atom")
    return Formula(stripped, counts)


def atom_elements(formula: str | Formula, z: int, max_atoms: int | None = None) -> list[str]:
    """Convenience wrapper: per-atom element list of ``formula`` with ``z`` formula units."""
    parsed = formula if isinstance(formula, Formula) else parse_formula(formula)
    return parsed.atom_elements(z, max_atoms)


def z_values(formula: str | Formula, max_atoms: int = PAPER_MAX_ATOMS) -> list[int]:
    """Convenience wrapper: the Z values of ``formula`` that fit in ``max_atoms`` atoms."""
    parsed = formula if isinstance(formula, Formula) else parse_formula(formula)
    return parsed.z_values(max_atoms)


def oxidation_guess(formula: str) -> dict[str, int] | None:
    """Most probable integer oxidation state of each element (pymatgen's
    ``oxi_state_guesses``, averages rounded), or None when there is no guess."""
    from pymatgen.core import Composition

    try:
        guesses = Composition(formula).oxi_state_guesses(max_sites=-1)
    except Exception:  # noqa: BLE001 - pymatgen fails on exotic compositions
        return None
    if not guesses:
        return None
    return {el: int(round(v)) for el, v in guesses[0].items()}


def same_formula(a: str, b: str) -> bool:
    """Whether two formulas name the same compound (reduced compositions equal:
    ``H`` and ``H2``, ``Ag2F4`` and ``AgF2`` are the same; ``Fe11O12`` and ``Fe11O13`` are not:
    pymatgen's ``almost_equals`` allows 10 % by default, which made them one compound)."""
    from pymatgen.core import Composition

    try:
        return Composition(a).reduced_composition.almost_equals(Composition(b).reduced_composition,
                                                                rtol=0.0, atol=1e-6)
    except Exception:  # noqa: BLE001 - an unparsable name is another compound
        return a == b


def _check_spaced_parts(text: str) -> None:
    """Spaces between the parts of a formula are allowed (``Fe2 O3`` as pymatgen writes it,
    ``NH4 NO3`` as a chemist does), but not where joining the parts would change the compound
    silently: a part that starts with a number (``ZnO 2``: Z is given apart, joining made ZnO2;
    ``CuSO4 5H2O``: joining made CuSO45H2O) or two complete formulas of the same elements
    (``Fe2O3 Fe3O4``: joining made Fe5O7).

    Raises
    ------
    FormulaError
        Naming the formula and the part.
    """
    parts = text.split()
    if len(parts) < 2:
        return
    formula = text.strip()
    for part in parts[1:]:
        if part[0].isdigit():
            if part.replace(".", "").isdigit():
                raise FormulaError(f"formula '{formula}': the number {part} stands alone; write the formula "
                                   "without it and give the formula units as Z (--z, or the Z box; a screen list "
                                   "takes them after the formula)")
            count = part[:len(part) - len(part.lstrip("0123456789"))]
            raise FormulaError(f"formula '{formula}': the part '{part}' starts with a number; write a hydrate or "
                               f"adduct as one formula, e.g. {''.join(parts[:parts.index(part)])}"
                               f"({part[len(count):]}){count}")
    seen: dict[frozenset[str], str] = {}
    for part in parts:
        elements = frozenset(_SYMBOL.findall(part))
        if len(elements) >= 2 and elements in seen:
            raise FormulaError(f"formula '{formula}' looks like several formulas ('{seen[elements]}' and '{part}', "
                               "of the same elements): give one formula")
        seen.setdefault(elements, part)


def _adduct(text: str) -> str:
    """``NaCl.2H2O`` -> ``NaCl(H2O)2``: the parts after a lone '.' as groups, their counts after them."""
    parts = _LONE_DOT.split(text)
    out = parts[0]
    for part in parts[1:]:
        count = part[:len(part) - len(part.lstrip("0123456789"))]
        rest = part[len(count):]
        out += f"({rest}){count}" if count and rest else part
    return out


def _capitalised(text: str) -> list[str]:
    """``nacl`` -> [``NaCl``]; ``co2`` -> [``Co2``, ``CO2``]: the formulas a user may have meant by
    text typed in lower case, every way its letters split into element symbols (at most three)."""
    table = element_table()

    def splits(rest: str) -> list[str]:
        if not rest:
            return [""]
        digits = len(rest) - len(rest.lstrip("0123456789()[]"))
        if digits:
            return [rest[:digits] + tail for tail in splits(rest[digits:])]
        out = []
        for n in (2, 1):
            symbol = rest[:n].capitalize()
            if len(rest) >= n and rest[:n].isalpha() and table.is_element(symbol):
                out += [symbol + tail for tail in splits(rest[n:])]
        return out

    return splits(text.lower())[:3]
