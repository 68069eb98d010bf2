"""Reading structure files (CIF, POSCAR/CONTCAR, VASP 4 POSCARs with the element names beside them)
and the checks every structure gets on reading: a finite, non-degenerate cell, known elements,
atoms not closer than :data:`MIN_ATOM_DISTANCE`, a CIF's declared formula, a POSCAR's counts. A
bad file gives one :class:`~core.errors.StructureFileError` naming the file and line.
"""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path

import numpy as np
from pymatgen.core import Structure
from pymatgen.io.vasp import Poscar

from core.crystal.composition import same_formula
from core.crystal.elements import element_table
from core.errors import StructureFileError, StructureWarning

MIN_CELL_VOLUME = 1.0
"""Å³: a cell of smaller volume is degenerate (a zero or coplanar lattice vector); the
densest solids have about 5 Å³ per atom."""


MIN_CELL_SHAPE = 1e-3
"""Smallest volume / (a b c) of a cell (1 for a rectangular cell): below it the three
lattice vectors are nearly coplanar (angles within a few hundredths of a degree of flat)."""


MIN_ATOM_DISTANCE = 0.5
"""Å: the one limit for atoms too close (the shortest bond, H-H, is 0.74 Å; closer atoms are
duplicates, a wrong coordinate or a collapsed relaxation). A file read with such atoms gives a
:class:`StructureWarning`, export refuses it unless asked, and such a structure is never sent to
the potential or ranked (:mod:`core.relax.relaxer`, :mod:`core.reconstruction.selection`)."""


MIN_CELL_LENGTH = MIN_ATOM_DISTANCE
"""Å: a shorter lattice vector (0 in a degenerate cell) puts every atom closer than
:data:`MIN_ATOM_DISTANCE` to its own periodic image: an error, not a warning."""


MAX_CELL_LENGTH = 1.0e4
"""Å: a longer lattice vector is not a crystal's cell (a unit or number-format mistake)."""


def read_structure(path: str | os.PathLike, warn: bool = True, notes: list[str] | None = None) -> Structure:
    """Read an ordered structure from a CIF, POSCAR/CONTCAR/``*.vasp`` or pymatgen JSON file.

    The cell is returned as stored in the file (use :func:`primitive_cell` for
    the primitive cell that contact maps refer to).

    Every structure file is checked here, once (:func:`check_structure`): a finite,
    non-degenerate lattice and known elements; atoms closer than
    :data:`MIN_ATOM_DISTANCE` give a :class:`~core.errors.StructureWarning` (not with
    ``warn=False``: the caller checks them itself). How the file was read, where that is not
    plain (a VASP 4 POSCAR's elements taken from its first line), is appended to ``notes`` when
    given, else warned whatever ``warn`` says (a caller that checks close atoms itself still
    tells the user how the file was read).

    Raises
    ------
    StructureFileError
        If the file is missing, unreadable, empty, has partial occupancies, a
        degenerate or non-finite lattice or an unknown element; the message names
        the file and the reason.
    """
    p = Path(path)
    if not p.exists():
        raise StructureFileError(f"{p}: no such file")
    if p.is_dir():
        raise StructureFileError(f"{p}: is a folder, expected a structure file")
    vasp4_species = None
    lines = _text_lines(p) if _is_poscar_name(p) else None  # None: not a POSCAR, or unreadable (said below)
    if lines is not None:
        _check_poscar_counts(p, lines)
        vasp4_species = _vasp4_species(p, lines)
    cif_tags = _check_one_structure(p) if _suffix(p) in (".cif", ".mcif") else None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            structure = _read_vasp4(lines, vasp4_species[0]) if lines and vasp4_species else Structure.from_file(p)
    except Exception as exc:  # pymatgen raises many types for bad files
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        problems = _cif_cell_problems(p) if _suffix(p) in (".cif", ".mcif") else []
        if problems:  # pymatgen's own words ("integer modulo by zero") say nothing about the file
            reason = "; ".join(problems)
        elif _suffix(p) == ".json":  # pymatgen's "'lattice'" for a run's summary.json or result.json
            reason = "a JSON structure file is pymatgen's Structure.as_dict(); this JSON is not one"
        elif "Unrecognized extension" in reason or "Unrecognized file extension" in reason:
            reason = ("not a structure file name: CIF (.cif), POSCAR/CONTCAR (or *.vasp) or pymatgen JSON (.json)"
                      + ("; a project (.acproj) opens with Open project" if _suffix(p) == ".acproj" else ""))
        elif "no structures" in reason and _suffix(p) in (".cif", ".mcif"):
            reason = "pymatgen built no structure from its atom sites: is a site listed twice, or an occupancy above 1?"
        raise StructureFileError(f"{p}: cannot read a structure ({reason})") from None
    if len(structure) == 0:
        raise StructureFileError(f"{p}: the file contains no atoms")
    if not structure.is_ordered:
        raise StructureFileError(
            f"{p}: has partially occupied sites; AlphaCrystal needs an ordered structure"
        )
    check_structure(structure, str(p), warn)
    read_as = []
    if vasp4_species:
        read_as.append(f"{p}: no element line (VASP 4 format); the elements were read from {vasp4_species[1]}: "
                       f"{' '.join(vasp4_species[0])}")
    if cif_tags and (declared := _declared_formula_problem(p, cif_tags, structure)):
        read_as.append(declared)
    for note in read_as:
        if notes is not None:
            notes.append(note)
        else:
            warnings.warn(StructureWarning(note), stacklevel=2)
    return structure


def _declared_formula_problem(path: Path, tags: dict, structure: Structure) -> str | None:
    """Words for a CIF whose atom sites do not make the formula it declares
    (``_chemical_formula_sum``), or None: a file that lost an atom line read as another compound
    (a wurtzite ZnS without its S line was exported to VASP as pure Zn without a word). A warning,
    not an error: experimental CIFs often declare hydrogen atoms that were not located."""
    from pymatgen.core import Composition

    declared_text = str(tags.get("_chemical_formula_sum", "")).strip().strip("'\"")
    if not declared_text or declared_text in ("?", "."):
        return None
    try:
        declared = Composition(declared_text)
    except Exception:  # noqa: BLE001 - a free-text formula pymatgen cannot parse: nothing to compare
        return None
    read = structure.composition.element_composition  # Na+ and Cl- of an ICSD file are Na and Cl
    if not declared.num_atoms or declared.element_composition.fractional_composition.almost_equals(
            read.fractional_composition, rtol=0.0, atol=1e-3):
        return None
    return (f"{path}: its atom sites make {read.formula.replace(' ', '')} ({read.reduced_formula}), but the file "
            f"declares {declared_text} (_chemical_formula_sum): an atom line missing, or atoms not located "
            "(hydrogen)? The atoms read are what is used")


def check_structure(structure: Structure, source: str, warn: bool = True) -> None:
    """Check a structure read from ``source`` (a file name, for the messages).

    Raises
    ------
    StructureFileError
        A non-finite number in the lattice or the coordinates, a lattice vector of
        length below :data:`MIN_CELL_LENGTH` (0: degenerate) or above
        :data:`MAX_CELL_LENGTH`, a cell volume below
        :data:`MIN_CELL_VOLUME` or a flat cell (:data:`MIN_CELL_SHAPE`), or an
        element that is not in the periodic table up to Lr (e.g. a dummy ``Xx``).

    Warns
    -----
    StructureWarning
        Atoms closer than :data:`MIN_ATOM_DISTANCE` (the closest pair is named;
        :func:`close_atoms`), unless ``warn`` is false (a caller in a worker thread asks
        :func:`close_atoms` itself: the ``warnings`` filters are not thread-safe).
    """
    matrix = np.asarray(structure.lattice.matrix, dtype=float)
    if not np.isfinite(matrix).all():
        raise StructureFileError(f"{source}: the lattice has a non-finite number (nan or inf): "
                                 f"{_rows(matrix)}")
    with np.errstate(all="ignore"):
        lengths = np.sqrt((matrix ** 2).sum(axis=1))
        volume = abs(float(np.linalg.det(matrix)))
    if not (lengths >= MIN_CELL_LENGTH).all():
        k = int(np.argmin(lengths))
        raise StructureFileError(f"{source}: the lattice vector {'abc'[k]} has length {lengths[k]:.4g} Å"
                                 + (" (a degenerate cell)" if lengths[k] == 0 else
                                    f", below {MIN_CELL_LENGTH:g} Å: every atom would touch its own image"))
    if not (lengths <= MAX_CELL_LENGTH).all():
        raise StructureFileError(f"{source}: a lattice vector of {lengths.max():.4g} Å is longer than "
                                 f"{MAX_CELL_LENGTH:g} Å: not a crystal's cell")
    if not volume >= MIN_CELL_VOLUME:
        raise StructureFileError(f"{source}: the cell volume is {volume:.4g} Å³, below {MIN_CELL_VOLUME:g} Å³: "
                                 "a degenerate cell (coplanar lattice vectors or a wrong scale)")
    if not volume >= MIN_CELL_SHAPE * float(np.prod(lengths)):
        raise StructureFileError(f"{source}: the lattice vectors are (nearly) coplanar (cell volume "
                                 f"{volume:.4g} Å³ for lengths {' '.join(f'{v:.4g}' for v in lengths)} Å): "
                                 "a degenerate cell")
    frac = np.asarray(structure.frac_coords, dtype=float)
    with np.errstate(all="ignore"):
        finite = np.isfinite(frac).all(axis=1) & np.isfinite(frac @ matrix).all(axis=1)
    if not finite.all():
        k = int(np.flatnonzero(~finite)[0])
        raise StructureFileError(f"{source}: atom {k + 1} has a coordinate that is not a finite number "
                                 f"(or too large): {' '.join(f'{v:g}' for v in frac[k])} (fractional)")
    table = element_table()
    for k, site in enumerate(structure):
        symbol = getattr(site.specie, "symbol", str(site.specie))
        if not table.is_element(symbol):
            raise StructureFileError(f"{source}: atom {k + 1} is '{symbol}', not a known element (H to Lr)")
    message = close_atoms(structure, source) if warn else None
    if message is not None:
        warnings.warn(StructureWarning(message), stacklevel=3)


def close_atoms(structure: Structure, source: str) -> str | None:
    """The closest pair of atoms nearer than :data:`MIN_ATOM_DISTANCE` (Å), in words naming
    ``source``; None when there is none."""
    centre, neighbour, _, distance = structure.get_neighbor_list(MIN_ATOM_DISTANCE)
    if not len(distance):
        return None
    k = int(np.argmin(distance))
    i, j = int(centre[k]), int(neighbour[k])
    pairs = len({tuple(sorted((int(a), int(b)))) for a, b in zip(centre, neighbour)})
    if i == j:
        where, cause = f"atom {i + 1} ({structure[i].specie}) and its own periodic image", \
            "a lattice vector too short?"
    else:
        where, cause = f"atoms {i + 1} ({structure[i].specie}) and {j + 1} ({structure[j].specie})", \
            "a duplicated atom or a wrong coordinate?"
    return (f"{source}: {where} are {distance[k]:.4f} Å apart, closer than {MIN_ATOM_DISTANCE} Å"
            + (f" ({pairs} such pairs)" if pairs > 1 else "") + f": {cause}")


def _rows(matrix) -> str:
    return "; ".join(" ".join(f"{v:g}" for v in row) for row in matrix)


def _is_poscar_name(path: Path) -> bool:
    """The names pymatgen reads as POSCAR (``*POSCAR*``, ``*CONTCAR*``, ``*.vasp``), in its order:
    a CIF or JSON name first (``NaCl_from_POSCAR.cif`` is a CIF)."""
    name = path.name.upper()
    if ".CIF" in name or ".MCIF" in name or name.endswith(".JSON"):
        return False
    return "POSCAR" in name or "CONTCAR" in name or name.endswith(".VASP")


def _looks_like_poscar(lines: list[str]) -> bool:
    """Whether text lines begin as a POSCAR does: a comment, a scale, three lattice vectors."""
    def numbers(line: str, n: int) -> bool:
        fields = line.split()
        try:
            return len(fields) >= n and all(np.isfinite(float(f)) for f in fields[:n])
        except ValueError:
            return False

    return len(lines) >= 6 and numbers(lines[1], 1) and all(numbers(line, 3) for line in lines[2:5])


COMPRESSED = (".gz", ".bz2", ".xz")
"""Compression suffixes read through (``POSCAR.gz``, ``NaCl.cif.bz2``), as pymatgen's readers do."""


def _suffix(path: Path) -> str:
    """The file's kind by its suffix, under a compression suffix (``NaCl.cif.gz`` -> ``.cif``)."""
    suffixes = [s.lower() for s in path.suffixes]
    while suffixes and suffixes[-1] in COMPRESSED:
        suffixes.pop()
    return suffixes[-1] if suffixes else ""


def _read_text(path: Path) -> str:
    """A text file's content, decompressed where its name says so (monty's ``zopen``, as pymatgen reads)."""
    from monty.io import zopen

    with zopen(path, mode="rt", encoding="utf-8", errors="replace") as handle:
        return handle.read()


def _text_lines(path: Path) -> list[str] | None:
    """The lines of a text file, read once for the checks below; None when it cannot be read."""
    try:
        return _read_text(path).splitlines()
    except (OSError, EOFError):
        return None


def _vasp4_species(path: Path, lines: list[str]) -> tuple[list[str], str] | None:
    """The elements of a POSCAR without an element line (VASP 4 format: the counts follow the
    lattice) and where they were read from: a POTCAR beside it (as VASP reads them), else its
    first line, where VASP 4 users name them; None for a VASP 5 file.

    pymatgen names such atoms H, He, Li, ... when it finds no readable POTCAR (a UserWarning only;
    ``POTCAR.spec``, which this program writes beside its inputs, is not one): a rock-salt file
    became H4He4 with VASP inputs for H and He, a silent reinterpretation, hence this check.

    Raises
    ------
    StructureFileError
        Neither names one element per count: the message says what to add.
    """
    if len(lines) < 6 or not lines[5].split():
        return None
    try:
        counts = [int(v) for v in lines[5].split()]
    except ValueError:
        return None  # an element line (VASP 5), or a format problem the reader reports
    table = element_table()

    def elements(symbols: list[str]) -> list[str] | None:
        return symbols if len(symbols) == len(counts) and all(map(table.is_element, symbols)) else None

    for potcar in sorted(path.parent.glob("POTCAR*")):
        named = elements(_potcar_elements(potcar))
        if named:
            return named, potcar.name
    named = elements(lines[0].split()[:len(counts)])
    if named:
        return named, "its first line"
    formula = r"(?:[A-Z][a-z]?\d*)+"
    words = lines[0].split()
    # the whole line ("Zn1 S1", as pymatgen and this program's vasp/POSCAR write it), else its first word
    # ("TiO2 1", "NaCl rock salt"): a formula as the title names the elements
    for title, shown in dict.fromkeys([("".join(words), " ".join(words)), *([(words[0], words[0])] if words else [])]):
        if not re.fullmatch(formula, title):
            continue
        named = elements(list(dict.fromkeys(re.findall(r"[A-Z][a-z]?", title))))
        # only when the counts make that formula (a "TiO2" title over O, Ti counts 4 2 would read Ti2O)
        if named and _same_formula(dict(zip(named, counts)), title):
            return named, f"the formula {shown} on its first line"
    raise StructureFileError(f"{path}, line 6: the atom counts '{lines[5].strip()}' follow the lattice with no "
                             "line of element symbols (VASP 4 format), and neither a POTCAR beside it nor the "
                             f"first line names {len(counts)} element{'s' if len(counts) != 1 else ''}: add the "
                             "element line (e.g. 'Na Cl') above the counts")


def _same_formula(amounts: dict[str, int], formula: str) -> bool:
    """Whether element counts make ``formula`` (:func:`~core.crystal.composition.same_formula`, the
    one test of "the same compound"); False for counts pymatgen cannot read."""
    from pymatgen.core import Composition

    try:
        counted_formula = Composition(amounts).formula
    except (ValueError, KeyError):
        return False
    return same_formula(counted_formula, formula)


def _potcar_elements(path: Path) -> list[str]:
    """The elements of a POTCAR (``Fe_pv`` -> ``Fe``), in order; [] when it is not one."""
    from pymatgen.io.vasp import Potcar

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return [symbol.split("_")[0] for symbol in Potcar.from_file(str(path)).symbols]
    except Exception:  # noqa: BLE001 - POTCAR.spec, a truncated file: not a POTCAR to read elements from
        return []


def _read_vasp4(lines: list[str], species: list[str]) -> Structure:
    """A VASP 4 POSCAR's ``lines`` read with ``species`` as its element line (:func:`_vasp4_species`)."""
    return Poscar.from_str("\n".join([*lines[:5], " ".join(species), *lines[5:]]) + "\n").structure


CIF_CELL_TAGS = ("_cell_length_a", "_cell_length_b", "_cell_length_c", "_cell_angle_alpha", "_cell_angle_beta",
                 "_cell_angle_gamma")


def _cif_cell_problems(path: Path) -> list[str]:
    """What is wrong with a CIF's cell and atom sites, in its own tags (``_cell_length_b 'abc' is
    not a number``, ``no _cell_length_c``, ``no atom sites``), for a file pymatgen could not read:
    its exceptions name its internals (``integer modulo by zero``). The tags are read by pymatgen's
    CIF tokenizer (values on the next line, several tags to a line); empty when it cannot tokenize
    the file or finds nothing wrong with these tags (pymatgen's own reason then stands)."""
    text = _read_text(path)
    try:
        blocks = list(_cif_blocks(text).values())
    except Exception as exc:  # noqa: BLE001 - not tokenizable: a broken loop, or read line by line below
        blocks = None
        broken_loop = any(sign in str(exc) for sign in ("not a multiple", "modulo by zero", "zip("))
    if blocks is None:  # only what a line says for sure: a cell value on its tag's line that is no number
        problems = []
        for line in text.splitlines():
            fields = line.split()
            if len(fields) > 1 and _cif_tag(fields[0]) in CIF_CELL_TAGS and not _is_cif_number(fields[1]):
                problems.append(f"{fields[0]} '{fields[1]}' is not a number")
        rows = _loop_row_problems(text) if broken_loop else []
        loop = rows or (["a loop_ has a row with too few or too many values, or no rows"] if broken_loop else [])
        return problems + loop
    if not blocks:
        if not text.strip():
            return ["the file is empty"]
        if _looks_like_poscar(text.splitlines()):
            return ["no data_ block: the text is a POSCAR (a scale and three lattice vectors); name the file "
                    "POSCAR, CONTCAR or *.vasp"]
        return ["no data_ block"]
    tags = next((b for b in blocks if any(k.startswith(("_cell_", "_atom_site")) for k in b)), blocks[0])
    problems = []
    for tag in CIF_CELL_TAGS:
        if tag not in tags:
            problems.append(f"no {tag}")
        elif (value := _cif_number(str(tags[tag]))) is None:
            problems.append(f"{tag} '{tags[tag]}' is not a number")
        elif value <= 0 or (tag.startswith("_cell_angle") and value >= 180):
            problems.append(f"{tag} {tags[tag]} is not a possible cell {'angle' if 'angle' in tag else 'length'}")
    if not _has_atom_sites(tags):
        problems.append("no atom sites (_atom_site_fract_x, _y, _z)")
    return problems


def _loop_row_problems(text: str) -> list[str]:
    """``line 31: 5 values for the 7 columns of this loop_ (_atom_site_type_symbol, ...)`` for each
    row of a loop written one row to a line whose values do not fill the loop's columns (an atom line
    cut short). A row spread over several lines, or a text field (``;``), stops the check of its
    loop: only what a line says for sure is reported."""
    import shlex

    problems: list[str] = []
    lines = text.splitlines()
    k = 0
    while k < len(lines):
        if lines[k].strip().lower() != "loop_":
            k += 1
            continue
        k += 1
        columns: list[str] = []
        while k < len(lines) and lines[k].strip().startswith("_"):
            columns.append(lines[k].split()[0])
            k += 1
        counts: list[tuple[int, int]] = []  # (line number, values on it)
        while k < len(lines) and lines[k].strip() and not lines[k].strip().startswith(("_", "loop_", "data_", "#")):
            if lines[k].startswith(";"):
                counts = []  # a text field: rows are not one to a line here
                break
            try:  # a comment after the values ("... 0.5  # sodium") is not one of them
                counts.append((k + 1, len(shlex.split(lines[k], comments=True, posix=True))))
            except ValueError:  # an unbalanced quote: not a row this check can read
                counts = []
                break
            k += 1
        if columns and counts and any(n == len(columns) for _, n in counts):  # rows are one to a line here
            problems += [f"line {line}: {n} values for the {len(columns)} columns of this loop_ "
                         f"({', '.join(columns[:3])}{', ...' if len(columns) > 3 else ''})"
                         for line, n in counts if n != len(columns)]
    return problems


def _check_one_structure(path: Path) -> dict | None:
    """A CIF must hold one structure: pymatgen reads the first of several data blocks and drops
    the others without a word (an export of a two-block file wrote the first alone). Returns the
    tags of the block with atom sites (None for a file the tokenizer cannot read: the reader says why).

    Raises
    ------
    StructureFileError
        Naming the blocks that hold atom sites.
    """
    try:
        blocks = _cif_blocks(_read_text(path))
    except Exception:  # noqa: BLE001 - a broken file: the reader below says why
        return None
    with_atoms = [name for name, tags in blocks.items() if _has_atom_sites(tags)]
    if len(with_atoms) > 1:
        raise StructureFileError(f"{path}: holds {len(with_atoms)} structures (data_{', data_'.join(with_atoms[:5])}"
                                 f"{', ...' if len(with_atoms) > 5 else ''}); give one structure per file")
    return blocks[with_atoms[0]] if with_atoms else None


def _cif_blocks(text: str) -> dict[str, dict]:
    """A CIF as pymatgen's tokenizer reads it (values on the next line, several tags to a line):
    {block name: {tag as CIF 1 spells it: value}}. Raises what the tokenizer raises."""
    from pymatgen.io.cif import CifFile

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        blocks = CifFile.from_str(text).data
    return {name: {_cif_tag(k): v for k, v in block.data.items()} for name, block in blocks.items()}


def _has_atom_sites(tags: dict) -> bool:
    return "_atom_site_fract_x" in tags or "_atom_site_cartn_x" in tags


def _cif_tag(name: str) -> str:
    """A tag as CIF 1 spells it: ``_cell.length_a`` (the mmCIF/CIF 2 form) is ``_cell_length_a``."""
    return name.lower().replace(".", "_")


def _cif_number(text: str) -> float | None:
    """The value of ``5.431`` or ``5.431(2)`` (a value with its uncertainty); None for no number."""
    try:
        return float(text.split("(")[0])
    except ValueError:
        return None


def _is_cif_number(text: str) -> bool:
    return _cif_number(text) is not None


def _check_poscar_counts(path: Path, lines: list[str]) -> None:
    """The atom counts of a POSCAR must match its coordinate lines.

    pymatgen reads a counts line ``1 0`` followed by two coordinate lines as one
    atom and fails with ``list index out of range`` on too few lines; both are a
    silent reinterpretation or a riddle for the user, so they are an error naming
    the line. (Checked here because no library reports it.)
    """
    if len(lines) < 8:
        raise StructureFileError(f"{path}: {len(lines)} line{'' if len(lines) == 1 else 's'}, too short for a POSCAR "
                                 "(a comment, the scale, three lattice vectors, the element counts, Direct or "
                                 "Cartesian, and a line per atom)")
    try:
        float(lines[1].split()[0])
    except (ValueError, IndexError):
        raise StructureFileError(f"{path}, line 2: the scale factor '{lines[1].strip()}' is not a number") from None
    for n in (2, 3, 4):  # the three lattice vectors
        if n < len(lines):
            values = lines[n].split()
            try:
                [float(v) for v in values[:3]]
            except ValueError:
                raise StructureFileError(f"{path}, line {n + 1}: lattice vector '{lines[n].strip()}' is not "
                                         "three numbers") from None
            if len(values) < 3:
                raise StructureFileError(f"{path}, line {n + 1}: lattice vector '{lines[n].strip()}' has "
                                         f"{len(values)} number{'s' if len(values) != 1 else ''}, not 3")
    k = 5  # comment, scale, three lattice lines
    if len(lines) <= k:
        return
    if not lines[k].split() or not lines[k].split()[0].lstrip("-").isdigit():
        k += 1  # VASP 5: element names, then counts
    if k >= len(lines):
        return
    try:
        counts = [int(v) for v in lines[k].split()]
    except ValueError:
        return  # not a counts line: the reader below reports the format problem
    if any(c < 1 for c in counts):
        raise StructureFileError(f"{path}, line {k + 1}: atom counts '{lines[k].strip()}' include "
                                 f"{min(counts)}; every species listed needs at least one atom")
    start = k + 1
    if start < len(lines) and lines[start].strip()[:1] in ("S", "s"):
        start += 1  # Selective dynamics
    start += 1  # Direct / Cartesian
    coordinates = 0
    for line in lines[start:]:
        if not line.strip():
            break  # velocities or predictor-corrector data may follow after a blank line
        coordinates += 1
    if coordinates != sum(counts):
        raise StructureFileError(f"{path}, line {k + 1}: the counts '{lines[k].strip()}' add up to "
                                 f"{sum(counts)} atoms but {coordinates} coordinate lines follow "
                                 f"(from line {start + 1})")
