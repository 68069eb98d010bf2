"""The one check of a contact map or a probability map read from a file (a project, a
reconstruction target, a stored prediction): what every reader of such a matrix refuses.

A contact map is an n × n matrix over the atoms of a cell, 1 where two atoms are bonded:
0/1 entries, symmetric, zero diagonal. Its probabilities are the same shape, finite and in
[0, 1]. Each reader checked part of this on its own (a project took a 3 × 3 map for two atoms
and failed later, half opened; a -1 raised ``OverflowError``): now they all call these.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from core.errors import AlphaCrystalError


def _rows(rows: object, n: int, where: str, name: str, numbers: str) -> np.ndarray:
    """``rows`` as an n × n float matrix of plain numbers, or an error naming ``where`` and ``name``."""
    if isinstance(rows, np.ndarray):
        rows = rows.tolist()
    if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
        raise AlphaCrystalError(f"{where}: {name} must be a list of rows (a square matrix)")
    lengths = sorted({len(r) for r in rows})
    if len(lengths) > 1:
        short = next(k for k, r in enumerate(rows) if len(r) != len(rows[0]))
        raise AlphaCrystalError(f"{where}: {name} rows differ in length ({', '.join(map(str, lengths))} "
                                f"entries; row {short + 1} has {len(rows[short])}, row 1 has {len(rows[0])})")
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for r in rows for v in r):
        raise AlphaCrystalError(f"{where}: {name} must hold {numbers} (not text or true/false)")
    matrix = np.asarray(rows, dtype=float).reshape(len(rows), lengths[0] if lengths else 0)
    if matrix.shape != (n, n):
        raise AlphaCrystalError(f"{where}: {name} is {matrix.shape[0]}x{matrix.shape[1]}, expected {n}x{n} "
                                f"for {n} atoms")
    return matrix


def checked_contact_matrix(rows: object, n: int, where: str, name: str = "contact_map") -> np.ndarray:
    """A contact map read from a file, as uint8, n × n.

    Parameters
    ----------
    rows : list of lists (or ndarray)
        The map as stored.
    n : int
        Atoms of the cell the map belongs to.
    where, name : str
        The file (or part of it) and the field, for the error message.

    Raises
    ------
    AlphaCrystalError
        Not n × n, not 0/1 (a -1, 2 or 0.5), not symmetric, or 1 on the diagonal, naming
        ``where``, ``name`` and the first offending row.
    """
    matrix = _rows(rows, n, where, name, "numbers 0 and 1")
    bad = ~np.isin(matrix, (0, 1))
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise AlphaCrystalError(f"{where}: {name} must hold 0 and 1 only (row {i + 1} has {matrix[i, j]:g})")
    if not np.array_equal(matrix, matrix.T):
        i = int(np.argwhere(matrix != matrix.T)[0][0])
        raise AlphaCrystalError(f"{where}: {name} must be symmetric (row {i + 1} differs from column {i + 1})")
    if np.diag(matrix).any():  # ignored without a word it let a run report fitness 1
        rows_text = ", ".join(str(k + 1) for k in np.flatnonzero(np.diag(matrix))[:5])
        raise AlphaCrystalError(f"{where}: {name} has 1 on its diagonal (row {rows_text}): a contact map pairs "
                                "different atoms of the cell, its diagonal is 0")
    return matrix.astype(np.uint8)


def checked_probabilities(rows: object, n: int, where: str, name: str = "probabilities") -> np.ndarray:
    """Contact probabilities read from a file, as float32, n × n, finite and in [0, 1].

    Raises
    ------
    AlphaCrystalError
        Not n × n, or a value outside [0, 1] (NaN included), naming the first row.
    """
    matrix = _rows(rows, n, where, name, "numbers from 0 to 1")
    bad = ~((matrix >= 0) & (matrix <= 1))
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise AlphaCrystalError(f"{where}: {name} must lie in [0, 1] (row {i + 1} has {matrix[i, j]:g})")
    return matrix.astype(np.float32)


def checked_threshold(value: object, where: str, name: str = "threshold") -> float:
    """A map's decision threshold read from a file: a number in [0, 1] (a probability)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= float(value) <= 1:
        raise AlphaCrystalError(f"{where}: {name} must be a probability in [0, 1], got {value!r}")
    return float(value)


def check_species_of_formula(species: Sequence[str], formula: str, z: int | None, where: str,
                             advice: str = "") -> None:
    """Refuse ``species`` that are not the atoms of ``formula`` with ``z`` formula units (None: as
    many as the formula is written with, ``Ag2F4`` 2): one compound's map stored under another's
    formula, or a target's species and formula that disagree; ``advice`` ends the message."""
    from core.crystal.composition import parse_formula

    parsed = parse_formula(formula)
    z = parsed.typed_z if z is None else z
    expected = parsed.atom_elements(z)
    if sorted(species) != sorted(expected):
        raise AlphaCrystalError(f"{where}: species {' '.join(species)} are not the atoms of formula {formula} with "
                                f"Z = {z} ({' '.join(expected)})" + (f": {advice}" if advice else ""))
