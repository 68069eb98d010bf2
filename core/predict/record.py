"""One ranked result as everything outside the engine holds it: :class:`ResultRecord`.

A prediction's :class:`core.predict.results.RankedStructure` carries the engine's objects (the
candidate, the GA run, the relaxation); the record is what is left of it for the user: the values
of one line of ``summary.csv``/``summary.json`` (and of the result folder's ``result.json``), the
structure after and before relaxation, and, in the window, the comparison with an open reference
structure. The summaries, the exported folders, the desktop app's session and projects, and the
screen's table all read and write this one type (``to_row``/``from_row`` for the plain columns,
``to_dict``/``from_dict`` with the structures), so a column has one name and one meaning
everywhere.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pymatgen.core import Structure

from core.errors import AlphaCrystalError


class ResultRecordError(AlphaCrystalError):
    """A stored result (``result.json``, a summary line, a project's result) that cannot be read."""


@dataclass
class ResultRecord:
    """One ranked result (see the module docstring). Units: energies eV/atom unless the name
    says meV; lengths Å; angles degrees; volumes Å³; density g/cm³; times s.

    The fields up to :attr:`wall_s` are the summary columns, in their order; a value that does
    not apply to the result's route (a template has no GA fitness) is None.
    """

    rank: int
    folder: str = ""
    """Name of the result's folder in the run folder ("" before export)."""
    formula: str = ""
    """The cell's formula unit (:func:`core.crystal.composition.formula_unit_text`)."""
    source: str = ""
    """``CMCrystal sg225`` or ``template mp-22862``."""
    spacegroup: int | None = None
    """Space group the route started from (the candidate's or the template's)."""
    symbol: str = ""
    start_z: int | None = None
    """Z of the candidate or template the route started from (the candidate key's Z)."""
    z: int | None = None
    """Z of the result's primitive cell (its ``POSCAR``): the start's, or less when relaxation
    raised the symmetry and the cell halved."""
    n_atoms: int | None = None
    """Atoms in the result's primitive cell (its ``POSCAR``)."""
    sg_probability: float | None = None
    """The space-group predictor's probability of the candidate (CMCrystal only)."""
    assignment: str = ""
    """Wyckoff assignment the structure started from, e.g. ``Na 4a, Cl 4b``."""
    template_formula: str | None = None
    template_score: float | None = None
    dice: float | None = None
    """Dice of the GA structure's contact map against the input map."""
    valid_fraction: float | None = None
    fitness: float | None = None
    """GA fitness: Dice × valid-bond fraction."""
    energy_per_atom: float | None = None
    """The run's potential's energy of the relaxed structure, eV/atom (None: not relaxed)."""
    relaxed_dice: float | None = None
    relaxed_fitness: float | None = None
    relaxed_spacegroup: int | None = None
    relaxed_symbol: str | None = None
    a: float | None = None
    b: float | None = None
    c: float | None = None
    alpha: float | None = None
    beta: float | None = None
    gamma: float | None = None
    volume: float | None = None
    """Volume of the conventional cell of the symmetrised CIF, Å³."""
    relaxed_wyckoff: str = ""
    """The result's occupied Wyckoff sites in that cell, as its CIF lists them (``Ti 2a, O 4f``);
    :attr:`assignment` is where the route started."""
    volume_per_atom: float | None = None
    density: float | None = None
    converged: bool | None = None
    relax_steps: int | None = None
    relax_error: str | None = None
    second_energy_per_atom: float | None = None
    """The second potential's energy at the relaxed geometry, eV/atom."""
    rank_reason: str = ""
    """Why the result ranks where it does, in words."""
    rank_score_meV: float | None = None
    """meV/atom: what the first results were ordered by (energy above their lowest, by the
    re-ranking potential, plus the symmetry prior's term), from the lowest of them; blank for
    results ordered by energy alone (``rank_reason`` says how)."""
    formation_energy_per_atom: float | None = None
    e_above_hull_meV: float | None = None
    """Energy above the hull of the known phases, meV/atom."""
    decomposition: str | None = None
    stability: str | None = None
    """``stable``, ``metastable`` or ``unstable``."""
    hull_frame: str | None = None
    """``potential:frame`` of the hull (:mod:`core.stability.hull`)."""
    hull_note: str | None = None
    """How the run's own structures entered E_hull (the known phase found again, measured from
    the run's lowest structure), or that the formula has no known phase among the references."""
    hull_warning: str | None = None
    """The part of the note that puts E_hull in doubt (far below the known hull), or empty."""
    duplicates: int = 0
    found_also_by: str = ""
    from_relaxation_only: bool = False
    """The GA structure had fitness 0: the result comes from the relaxation, not from the map."""
    reconstruction_s: float | None = None
    relaxation_s: float | None = None
    wall_s: float = 0.0

    match_reference: bool | None = None
    """Same structure as the reference open in the window (StructureMatcher, default tolerances);
    None: none compared. A column only where a reference was compared."""
    rmsd_reference: float | None = None
    """The paper's fractional RMSD against that reference (None where undefined)."""
    structure: Structure | None = field(default=None, repr=False, compare=False)
    """The relaxed structure (the structure before relaxation, for a run without relaxation)."""
    initial: Structure | None = field(default=None, repr=False, compare=False)
    """The structure before relaxation: the GA's reconstruction or the substituted template."""
    provisional: bool = False
    """A running run's structure relaxed so far, ranked by energy so far (never exported or saved)."""
    key: str = ""
    """The provisional result's id in its run (``sg225-z1/0``, ``mp-22862/0``)."""

    REFERENCE_COLUMNS: ClassVar[tuple[str, ...]] = ("match_reference", "rmsd_reference")
    NOT_COLUMNS: ClassVar[tuple[str, ...]] = ("structure", "initial", "provisional", "key")

    # ------------------------------------------------------------------ columns
    @classmethod
    def columns(cls) -> tuple[str, ...]:
        """The summary columns, in order (without the reference comparison)."""
        skip = set(cls.REFERENCE_COLUMNS) | set(cls.NOT_COLUMNS)
        return tuple(f.name for f in dataclasses.fields(cls) if f.name not in skip)

    @property
    def route(self) -> str:
        """``contact`` or ``templates``."""
        return "templates" if self.source.startswith("template") else "contact"

    @property
    def shown_symbol(self) -> str:
        """The relaxed structure's space-group symbol, else the starting one."""
        return self.relaxed_symbol or self.symbol or "P1"

    def to_row(self) -> dict[str, Any]:
        """The plain values of a summary line (JSON types; the reference comparison only when made)."""
        row = {name: getattr(self, name) for name in self.columns()}
        if self.match_reference is not None or self.rmsd_reference is not None:
            row |= {name: getattr(self, name) for name in self.REFERENCE_COLUMNS}
        return row

    def to_dict(self) -> dict[str, Any]:
        """:meth:`to_row` plus ``structure`` and ``reconstructed`` (``Structure.as_dict``): a
        project's stored result."""
        return self.to_row() | {"structure": None if self.structure is None else self.structure.as_dict(),
                                "reconstructed": None if self.initial is None else self.initial.as_dict()}

    @classmethod
    def from_row(cls, row: dict, structure: Structure | None = None, initial: Structure | None = None,
                 where: str = "result") -> ResultRecord:
        """A record from a summary line, ``result.json`` or a project's result (values as JSON or as
        the strings of a CSV file; unknown keys are ignored; missing ones, null, empty cells and
        ``None`` written as text take their defaults).

        Raises
        ------
        ResultRecordError
            ``rank`` missing, or a value of the wrong kind, naming ``where`` and the column.
        """
        if not isinstance(row, dict):
            raise ResultRecordError(f"{where}: not a table of values")
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            if f.name in cls.NOT_COLUMNS or f.name not in row:
                continue
            if row[f.name] in (None, "", "None") and f.default is not dataclasses.MISSING:
                continue  # a missing value (null, an empty CSV cell, a None written as text): the default
            try:
                values[f.name] = _parsed(row[f.name], str(f.type))
            except (TypeError, ValueError):
                kind = str(f.type).replace(" | None", "")
                raise ResultRecordError(f"{where}: column {f.name!r} has the value {row[f.name]!r}, "
                                        f"not {_KIND_WORDS.get(kind, kind)}") from None
        if "rank" not in values or values["rank"] is None:
            raise ResultRecordError(f"{where}: no rank")
        return cls(**values, structure=structure, initial=initial)

    @classmethod
    def from_dict(cls, data: dict, where: str = "result") -> ResultRecord:
        """The inverse of :meth:`to_dict` (a project's result; ``reconstructed`` may be absent)."""
        if not isinstance(data, dict):
            raise ResultRecordError(f"{where}: not a table of values")
        try:
            structure = Structure.from_dict(data["structure"]) if data.get("structure") else None
            initial = Structure.from_dict(data["reconstructed"]) if data.get("reconstructed") else None
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ResultRecordError(f"{where}: its structure cannot be read ({type(exc).__name__}: {exc})") from None
        return cls.from_row(data, structure, initial, where)


_PARSERS = {"int": int, "float": float, "str": str}
_KIND_WORDS = {"int": "a whole number", "float": "a number", "bool": "true or false", "str": "text"}


def energies_above_lowest(records: list[ResultRecord]) -> list[float | None]:
    """Each result's energy per atom above the lowest among ``records``, meV/atom (None for a
    result without an energy): the ΔE of the tables, the plot and the CLI, computed one way."""
    energies = [r.energy_per_atom for r in records if r.energy_per_atom is not None]
    lowest = min(energies) if energies else None
    return [None if r.energy_per_atom is None or lowest is None else 1000.0 * (r.energy_per_atom - lowest)
            for r in records]


def _parsed(value: Any, annotation: str) -> Any:
    """``value`` as the field's type (annotations are strings here: ``from __future__``);
    empty CSV cells and None give None for optional fields."""
    optional = annotation.endswith("| None")
    kind = annotation.split("|")[0].strip()
    if value is None or (optional and value == ""):
        if optional:
            return None
        raise ValueError("missing")
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if str(value).strip().lower() in ("true", "1"):
            return True
        if str(value).strip().lower() in ("false", "0"):
            return False
        raise ValueError("not a truth value")
    if kind == "int":
        number = float(value)
        if not number.is_integer():
            raise ValueError("not a whole number")
        return int(number)
    if kind == "float":
        number = float(value)
        return number if math.isfinite(number) or optional else float("nan")
    return _PARSERS[kind](value)
