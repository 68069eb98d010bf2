"""What a screen runs: the formulas of a text file, a CSV file or a compact pattern.

Three forms of ``alphacrystal screen INPUT``:

* a **text file**: one formula per line, optionally followed by Z and space-group
  numbers (``LiCoO2  3  166``; ``-`` for an automatic Z); ``#`` starts a comment;
* a **CSV file** (``.csv``) with a ``formula`` column and optional ``z``,
  ``spacegroup`` and ``reference`` (a CIF or POSCAR of the known structure, for a
  match column; relative to the CSV file) columns;
* a **pattern** (an INPUT that is not a file, with braces): ``{Li,Na,K}{Co,Ni}O2``
  expands to the product of the alternatives (6 formulas), in order.

Every input is read whole before any work starts: bad lines are collected with
their line numbers (:class:`ScreenInput`'s ``problems``); ``alphacrystal screen``
then refuses to start unless told to skip them (``--skip-bad-lines``). A formula
listed twice runs once (the first line wins; :class:`ScreenInput`'s ``notes``).
"""

from __future__ import annotations

import csv
import itertools
import re
from dataclasses import dataclass, field
from pathlib import Path

from core.crystal.composition import is_formula, parse_formula
from core.errors import AlphaCrystalError, FormulaError
from core.io.outputs import STATE_DIR
from core.predict.run_folder import safe_name
from core.predict.scope import check_scope

MAX_PATTERN_FORMULAS = 10_000
"""A pattern that expands to more formulas is refused (a typo, most likely)."""


class ScreenInputError(AlphaCrystalError):
    """The screen's input cannot be read at all (missing file, no ``formula`` column, empty)."""


@dataclass(frozen=True)
class ScreenItem:
    """One formula of a screen.

    Attributes
    ----------
    formula : str
        As written (``Ag2F4`` keeps its Z meaning, as in ``predict``).
    z : int or None
    spacegroups : tuple of int
        Space groups to try instead of the predicted ones (empty: predicted).
    reference : str or None
        Path of the known structure to compare with.
    line : int
        Line of the input (1 for a pattern).
    """

    formula: str
    z: int | None = None
    spacegroups: tuple[int, ...] = ()
    reference: str | None = None
    line: int = 1

    @property
    def name(self) -> str:
        """The formula's folder name in the screen's output: its text made file-safe by the rule of
        every run folder (:func:`~core.predict.run_folder.safe_name`: ``Ca3(PO4)2`` -> ``Ca3-PO4-2``,
        as ``predict`` names its folder)."""
        return safe_name(self.formula)

    def folder(self, out: Path) -> Path:
        """The formula's run folder in the screen folder ``out``: :attr:`name`, or the folder a screen
        before 2026-12-05 named it (brackets kept, other characters ``_``) when only that one holds a
        run, so that re-running such a screen resumes it."""
        folder = Path(out) / self.name
        earlier = Path(out) / re.sub(r"[^A-Za-z0-9().+-]", "_", self.formula)
        return earlier if earlier != folder and not folder.exists() and (earlier / STATE_DIR).is_dir() else folder


@dataclass
class ScreenInput:
    """The items of a screen and the problems found while reading it."""

    items: list[ScreenItem] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    """One line each: ``line 7: 'Xx2O': unknown element 'Xx'``."""
    notes: list[str] = field(default_factory=list)
    """Lines read but not run, one each: a formula already listed."""
    source: str = ""


def read_screen_input(text_or_path: str) -> ScreenInput:
    """Read INPUT: a ``.csv`` file, a text file, or a pattern (module docstring).

    Raises
    ------
    ScreenInputError
        When nothing can be read (missing file that is not a pattern, no ``formula``
        column, an empty input, a pattern beyond :data:`MAX_PATTERN_FORMULAS`).
    """
    path = Path(text_or_path)
    if path.is_file():
        out = _read_csv(path) if path.suffix.lower() == ".csv" else _read_text(path)
    elif path.is_dir() and not is_formula(text_or_path):  # a folder named AgF2 is not the formula AgF2's input
        raise ScreenInputError(f"{text_or_path}: is a folder; give a text file (a formula per line), a CSV file "
                               "with a formula column, or a pattern such as {Li,Na}{Co,Ni}O2")
    elif "{" in text_or_path:
        out = _expand_pattern(text_or_path)
    else:  # one formula is the simplest pattern
        try:
            parse_formula(text_or_path)
        except FormulaError as exc:
            meant_as_formula = not any(c in text_or_path for c in "/\\.")  # not formulas.txt or a path
            why = f" ({exc})" if meant_as_formula else ""
            raise ScreenInputError(f"{text_or_path}: no such file, and not a formula{why} or a pattern such as "
                                   "{Li,Na}{Co,Ni}O2") from None
        out = _expand_pattern(text_or_path)
    if not out.items and not out.problems:
        raise ScreenInputError(f"{text_or_path}: no formula in it")
    return _unique(out)


def _read_text(path: Path) -> ScreenInput:
    out = ScreenInput(source=str(path))
    for number, raw in enumerate(_lines(path), 1):
        fields = raw.split("#", 1)[0].split()
        if not fields:
            continue
        try:
            z = _z(fields[1], "'-'") if len(fields) > 1 else None
            groups = tuple(_spacegroup(f) for f in fields[2:])
            out.items.append(_item(fields[0], z, groups, None, number))
        except AlphaCrystalError as exc:
            out.problems.append(f"{path.name} line {number}: {exc}")
    return out


def _read_csv(path: Path) -> ScreenInput:
    out = ScreenInput(source=str(path))
    rows = list(csv.reader(_lines(path)))
    if not rows:
        raise ScreenInputError(f"{path}: empty file")
    header = [h.strip().lower() for h in rows[0]]
    if "formula" not in header:
        raise ScreenInputError(f"{path} line 1: no 'formula' column (columns: {', '.join(header) or 'none'})")
    column = {name: header.index(name) for name in ("formula", "z", "spacegroup", "reference") if name in header}
    for number, row in enumerate(rows[1:], 2):
        if not any(cell.strip() for cell in row) or row[0].lstrip().startswith("#"):
            continue
        cell = {name: (row[k].strip() if k < len(row) else "") for name, k in column.items()}
        try:
            z = _z(cell["z"], "an empty cell") if cell.get("z") else None
            groups = tuple(_spacegroup(g) for g in re.split(r"[ ;]+", cell.get("spacegroup", "")) if g)
            reference = cell.get("reference") or None
            if reference is not None:
                ref_path = (path.parent / reference) if not Path(reference).is_absolute() else Path(reference)
                if not ref_path.is_file():
                    raise AlphaCrystalError(f"reference {reference!r}: no such file")
                parse_formula(cell["formula"])  # a bad formula is said as such, not as a reference mismatch
                _check_reference(ref_path, cell["formula"])
                reference = str(ref_path.resolve())
            out.items.append(_item(cell["formula"], z, groups, reference, number))
        except AlphaCrystalError as exc:
            out.problems.append(f"{path.name} line {number}: {exc}")
    return out


def _expand_pattern(pattern: str) -> ScreenInput:
    """``{Li,Na}{Co,Ni}O2`` -> LiCoO2, LiNiO2, NaCoO2, NaNiO2."""
    out = ScreenInput(source=pattern)
    group = re.compile(r"\{[^{}]*\}")
    parts = [p for chunk in re.split(r"(\{[^{}]*\})", pattern) for p in [chunk] if p]
    if any(("{" in p or "}" in p) and not group.fullmatch(p) for p in parts):
        raise ScreenInputError(f"{pattern!r}: braces must pair up, without nesting, e.g. {{Li,Na}}{{Co,Ni}}O2")
    choices = [[c.strip() for c in p[1:-1].split(",")] if group.fullmatch(p) else [p] for p in parts]
    if any(not c for options in choices for c in options):
        raise ScreenInputError(f"{pattern!r}: an empty alternative inside braces")
    total = 1
    for options in choices:
        total *= len(options)
    if total > MAX_PATTERN_FORMULAS:
        raise ScreenInputError(f"{pattern!r} expands to {total:,} formulas; at most {MAX_PATTERN_FORMULAS:,}")
    for combination in itertools.product(*choices):
        formula = "".join(combination)
        try:
            out.items.append(_item(formula, None, (), None, 1))
        except AlphaCrystalError as exc:
            out.problems.append(f"pattern: {exc}")
    return out


def _check_reference(path: Path, formula: str) -> None:
    """A reference must be a readable structure of the row's compound: read with the rest of the
    input, before any work (an unreadable one was said only after its formula ran; another
    compound's gave 'match False' as if compared)."""
    from core.crystal.composition import same_formula
    from core.io.read import read_structure

    structure = read_structure(path)  # StructureFileError names the file and the problem
    if not same_formula(structure.composition.reduced_formula, formula):
        raise AlphaCrystalError(f"reference {path.name} is {structure.composition.reduced_formula}, not {formula}")


def _item(formula: str, z: int | None, groups: tuple[int, ...], reference: str | None, line: int) -> ScreenItem:
    parsed = parse_formula(formula)  # FormulaError names the formula
    check_scope(parsed, z)
    return ScreenItem(formula.strip(), z, groups, reference, line)


def _z(text: str, automatic: str) -> int | None:
    """Z of an input line; ``automatic``: how this input's format asks for automatic Z, for the message
    (a CSV's z = 0 was told to write '-', the text format's way)."""
    if text in ("-", "auto"):
        return None
    if not text.isdigit() or int(text) < 1:
        raise AlphaCrystalError(f"Z must be a positive whole number or {automatic} for automatic Z, not {text!r}")
    return int(text)


def _spacegroup(text: str) -> int:
    """A space group of a list line: a number or a symbol (:func:`spacegroup_from_text`)."""
    from core.crystal.symmetry import spacegroup_from_text

    try:
        return spacegroup_from_text(text)
    except ValueError as exc:
        raise AlphaCrystalError(str(exc)) from None


def _lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8-sig").splitlines()
    except UnicodeDecodeError as exc:
        raise ScreenInputError(f"{path}: not a text file ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise ScreenInputError(f"{path}: {exc.strerror}") from None


def _unique(found: ScreenInput) -> ScreenInput:
    """Keep the first item of each folder name; later ones become notes."""
    seen: dict[str, int] = {}
    items = []
    for item in found.items:
        if item.name in seen:
            where = "pattern" if "{" in found.source else f"{Path(found.source).name} line {item.line}"
            found.notes.append(f"{where}: {item.formula} is already on line {seen[item.name]} (run once)")
            continue
        seen[item.name] = item.line
        items.append(item)
    found.items = items
    return found
