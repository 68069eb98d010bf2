"""A fast reader for the P1 CIFs that pymatgen's ``CifWriter`` produces.

Hand-written because pymatgen's ``CifParser`` takes about 2 ms per CIF, so the
43,000 CIFs of the MP-20-style data set would take 90 s to parse; this reader
takes tens of microseconds. It accepts only the narrow layout it understands
(cell parameters, a single ``x, y, z`` symmetry operation, an ``_atom_site``
loop with type symbols, fractional coordinates and full occupancy) and returns
``None`` for anything else, so callers fall back to pymatgen. Tests check it
against ``CifParser`` on real data.
"""

from __future__ import annotations

import re

import numpy as np
from pymatgen.core import Lattice

_CELL_KEYS = (
    "_cell_length_a",
    "_cell_length_b",
    "_cell_length_c",
    "_cell_angle_alpha",
    "_cell_angle_beta",
    "_cell_angle_gamma",
)
_NUMBER = re.compile(r"^([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)(?:\([0-9]+\))?$")


def _number(token: str) -> float | None:
    match = _NUMBER.match(token)
    return float(match.group(1)) if match else None


def read_p1_cif(text: str) -> tuple[np.ndarray, list[str], np.ndarray] | None:
    """Parse a P1 CIF into ``(lattice (3, 3) Å, symbols, fractional coords (n, 3))``.

    The lattice matrix is pymatgen's ``Lattice.from_parameters`` convention.
    Returns ``None`` when the text is not a simple single-block P1 CIF.
    """
    if text.count("data_") != 1:
        return None
    cell: dict[str, float] = {}
    lines = text.splitlines()
    i = 0
    atoms: tuple[list[str], np.ndarray] | None = None
    while i < len(lines):
        line = lines[i].strip()
        if line.startswith("_cell_") and line.split()[0] in _CELL_KEYS:
            parts = line.split()
            value = _number(parts[1]) if len(parts) == 2 else None
            if value is None:
                return None
            cell[parts[0]] = value
        elif line == "loop_":
            header: list[str] = []
            i += 1
            while i < len(lines) and lines[i].strip().startswith("_"):
                header.append(lines[i].strip())
                i += 1
            body: list[list[str]] = []
            while i < len(lines) and lines[i].strip() and not lines[i].strip().startswith(("_", "loop_", "data_")):
                body.append(_tokens(lines[i]))
                i += 1
            if any(h.startswith("_symmetry_equiv_pos_as_xyz") or h.startswith("_space_group_symop_operation_xyz") for h in header):
                ops = [row[-1].replace(" ", "").lower() for row in body]
                if ops != ["x,y,z"]:
                    return None
            elif any(h.startswith("_atom_site_fract") for h in header):
                atoms = _atom_loop(header, body)
                if atoms is None:
                    return None
            continue
        i += 1
    if atoms is None or len(cell) != 6:
        return None
    lattice = Lattice.from_parameters(*(cell[k] for k in _CELL_KEYS)).matrix
    return lattice, atoms[0], atoms[1]


def _tokens(line: str) -> list[str]:
    tokens = []
    for match in re.finditer(r"'([^']*)'|\"([^\"]*)\"|(\S+)", line):
        tokens.append(next(g for g in match.groups() if g is not None))
    return tokens


def _atom_loop(header: list[str], body: list[list[str]]) -> tuple[list[str], np.ndarray] | None:
    try:
        col_type = header.index("_atom_site_type_symbol")
        cols = [header.index(f"_atom_site_fract_{a}") for a in "xyz"]
    except ValueError:
        return None
    col_occ = header.index("_atom_site_occupancy") if "_atom_site_occupancy" in header else None
    symbols: list[str] = []
    coords = np.empty((len(body), 3))
    for k, row in enumerate(body):
        if len(row) != len(header):
            return None
        symbol = row[col_type]
        if not symbol.isalpha():  # oxidation-state labels such as Fe2+ need pymatgen
            return None
        if col_occ is not None and _number(row[col_occ]) != 1.0:
            return None
        values = [_number(row[c]) for c in cols]
        if any(v is None for v in values):
            return None
        symbols.append(symbol)
        coords[k] = values
    if not symbols:
        return None
    return symbols, coords
