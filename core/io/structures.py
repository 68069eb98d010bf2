"""Structure files through pymatgen: read CIF/POSCAR, write CIF/POSCAR/VASP inputs.

Every write goes to a temporary file (or folder) next to the target and is then
renamed over it (:mod:`core.io.files`), so a crash or a kill never leaves a
half-written file behind.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import warnings
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from pymatgen.core import SETTINGS, Structure
from pymatgen.io.cif import CifWriter
from pymatgen.io.vasp import Poscar
from pymatgen.io.vasp.sets import MPMetalRelaxSet, MPRelaxSet

from core.crystal.composition import same_formula
from core.crystal.elements import all_metal, element_table
from core.crystal.symmetry import (
    ANGLE_TOLERANCE,
    IDEAL_SYMPREC,
    SPACEGROUP_SYMPREC,
    symmetrised_primitive,
)
from core.errors import ExportError, StructureFileError, StructureWarning, VaspRemarkWarning
from core.io.files import UMASK, atomic_write_text
from core.io.outputs import _retire_keeping_other_files, check_file_stem, check_output_folder

EXPORT_FORMATS = ("cif", "cif-symmetrized", "poscar", "vasp")

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

_POTCAR_README = """\
POTCAR was not written: pymatgen's pseudopotential directory is not configured.

POTCAR.spec lists the PAW datasets of the Materials Project relax set (MPRelaxSet)
in the order of the species in POSCAR. To let AlphaCrystal Studio write POTCAR
itself, point pymatgen at your licensed VASP pseudopotentials once:

    pmg config -p /path/to/your/VASP/potentials /path/to/pymatgen_psp
    pmg config --add PMG_VASP_PSP_DIR /path/to/pymatgen_psp

or concatenate the POTCARs by hand in the order of POTCAR.spec:

    cat $VASP_PP/PAW_PBE/<symbol>/POTCAR ... > POTCAR
"""


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
    cif_tags = _check_one_structure(p) if p.suffix.lower() in (".cif", ".mcif") else None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            structure = _read_vasp4(lines, vasp4_species[0]) if lines and vasp4_species else Structure.from_file(p)
    except Exception as exc:  # pymatgen raises many types for bad files
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        problems = _cif_cell_problems(p) if p.suffix.lower() in (".cif", ".mcif") else []
        if problems:  # pymatgen's own words ("integer modulo by zero") say nothing about the file
            reason = "; ".join(problems)
        elif p.suffix.lower() == ".json":  # pymatgen's "'lattice'" for a run's summary.json or result.json
            reason = "a JSON structure file is pymatgen's Structure.as_dict(); this JSON is not one"
        elif "Unrecognized extension" in reason or "Unrecognized file extension" in reason:
            reason = ("not a structure file name: CIF (.cif), POSCAR/CONTCAR (or *.vasp) or pymatgen JSON (.json)"
                      + ("; a project (.acproj) opens with Open project" if p.suffix.lower() == ".acproj" else ""))
        elif "no structures" in reason and p.suffix.lower() in (".cif", ".mcif"):
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


def _text_lines(path: Path) -> list[str] | None:
    """The lines of a text file, read once for the checks below; None when it cannot be read."""
    try:
        return path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
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
    title = lines[0].split()[0] if lines[0].split() else ""
    if re.fullmatch(r"(?:[A-Z][a-z]?\d*)+", title):  # a formula as the title ("NaCl", "Fe2O3"): its elements
        named = elements(list(dict.fromkeys(re.findall(r"[A-Z][a-z]?", title))))
        # only when the counts make that formula (a "TiO2" title over O, Ti counts 4 2 would read Ti2O)
        if named and _same_formula(dict(zip(named, counts)), title):
            return named, f"the formula {title} on its first line"
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
    text = path.read_text(encoding="utf-8", errors="replace")
    try:
        blocks = list(_cif_blocks(text).values())
    except Exception as exc:  # noqa: BLE001 - not tokenizable: a broken loop, or read line by line below
        blocks = None
        broken_loop = "not a multiple" in str(exc) or "modulo by zero" in str(exc)
    if blocks is None:  # only what a line says for sure: a cell value on its tag's line that is no number
        problems = []
        for line in text.splitlines():
            fields = line.split()
            if len(fields) > 1 and _cif_tag(fields[0]) in CIF_CELL_TAGS and not _is_cif_number(fields[1]):
                problems.append(f"{fields[0]} '{fields[1]}' is not a number")
        loop = ["a loop_ has a row with too few or too many values, or no rows"] if broken_loop else []
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
        blocks = _cif_blocks(path.read_text(encoding="utf-8", errors="replace"))
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


def cif_text(structure: Structure, symmetrize: bool = False, symprec: float = SPACEGROUP_SYMPREC) -> str:
    """CIF text: P1 with every site (default) or symmetrised with Wyckoff sites
    (P1 when spglib cannot determine the symmetry, or when the symmetrised text would not
    read back as the structure: :func:`_symmetrised_cif`).

    Sites are relabelled ``Ti1, Ti2, O1, ...`` first, because labels inherited
    from a symmetrised input repeat (``Ti0, Ti0``), which the CIF spec forbids.
    """
    if symmetrize:
        text, ideal = _symmetrised_cif(structure, symprec)
        if text is not None:
            return text
        structure = ideal  # the cell made exact, in P1: it reads back as itself, as the POSCAR beside it
    return str(CifWriter(_labelled(structure)))




def _labelled(structure: Structure) -> Structure:
    """A copy with the sites labelled ``Ti1, Ti2, O1, ...`` (CIF labels must be unique)."""
    labelled = structure.copy()
    counts: dict[str, int] = {}
    for site in labelled:
        symbol = site.specie.symbol
        counts[symbol] = counts.get(symbol, 0) + 1
        site.label = f"{symbol}{counts[symbol]}"
    return labelled


def _symmetrised_cif(structure: Structure, symprec: float) -> tuple[str | None, Structure]:
    """(CIF text, cell): the CIF of ``structure`` symmetrised at ``symprec`` (Å), in the standard
    conventional cell (:func:`core.crystal.symmetry.standard_cell`, the cell the result tables report),
    checked by reading it back, and that cell; (None, the cell) when spglib fails (the cell is then
    ``structure``) or the text does not read back as ``structure``.

    pymatgen's ``CifWriter(symprec=...)`` on a cell only nearly symmetric wrote operations of
    another group with the noise in their shifts (a LiMgN result 0.02 Å off C2/c, labelled Cc,
    had ``-x+305/306, -y+1/306, -z``): the file read back as 48 atoms, pairs 0.002 Å apart,
    for a cell of 36. So the cell is made exact first, and the operations found in it at
    :data:`IDEAL_SYMPREC`; the read-back check stays, as the last word on what is written."""
    from pymatgen.io.cif import CifParser

    from core.crystal.matching import DEFAULT_TOLERANCES, structure_match
    from core.crystal.symmetry import standard_cell

    ideal = structure
    try:
        ideal = standard_cell(structure, symprec)
        if ideal is structure:  # spglib found no symmetry
            return None, structure
        text = str(CifWriter(_labelled(ideal), symprec=min(IDEAL_SYMPREC, symprec), angle_tolerance=ANGLE_TOLERANCE))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            back = CifParser.from_str(text).parse_structures(primitive=False)[0]
    except Exception:  # noqa: BLE001 - spglib finds no symmetry for some distorted cells; such a
        return None, ideal  # cell is written in P1 rather than not at all
    if len(back) != len(ideal) or not structure_match(back, structure, DEFAULT_TOLERANCES).matched:
        return None, ideal
    return text, ideal


def write_cif(
    structure: Structure, path: str | os.PathLike, symmetrize: bool = False, symprec: float = SPACEGROUP_SYMPREC
) -> Path:
    """Write a CIF atomically (P1 by default, symmetrised with ``symmetrize=True``)."""
    return atomic_write_text(path, cif_text(structure, symmetrize, symprec))


def poscar_text(structure: Structure, comment: str | None = None) -> str:
    """A POSCAR of ``structure`` as text (VASP 5 format with element names, species sorted
    into contiguous blocks): what :func:`write_poscar` writes."""
    return Poscar(structure, comment=comment, sort_structure=True).get_str()


def write_poscar(structure: Structure, path: str | os.PathLike, comment: str | None = None) -> Path:
    """Write a VASP POSCAR atomically (:func:`poscar_text`)."""
    return atomic_write_text(path, poscar_text(structure, comment))


def potcar_configured() -> bool:
    """True when pymatgen knows a VASP pseudopotential directory (PMG_VASP_PSP_DIR)."""
    psp = SETTINGS.get("PMG_VASP_PSP_DIR")
    return bool(psp) and Path(psp).is_dir()


def write_vasp_inputs(structure: Structure, folder: str | os.PathLike, magmoms: list[float] | None = None,
                      symmetrize: bool = False) -> Path:
    """Write a VASP relaxation folder (Materials Project ``MPRelaxSet``).

    With ``symmetrize`` (a prediction's result) the structure is written symmetrised, in its
    primitive standard cell (:func:`core.crystal.symmetry.symmetrised_primitive`): the structure
    of the symmetrised CIF and of the space group the result is named by, not the potential's
    relaxed cell, which can be a slight distortion of it (VASP would keep the lower symmetry);
    not when ``magmoms`` differ between sites of one element (an antiferromagnetic order needs its
    cell). Without it (``export`` of the user's own file) the cell is written as given: a supercell
    or a small distortion may be meant.
    ``MAGMOM`` is the input set's default per element unless ``magmoms`` (μB per
    site, in the structure's site order) are given.

    The folder gets POSCAR, INCAR and KPOINTS; POTCAR too when pymatgen's
    pseudopotential directory is configured, otherwise ``POTCAR.spec`` and a
    ``README.txt`` explaining how to add it. The folder is built next to the
    target and renamed into place, so it is never left half-written.
    """
    target = Path(folder)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    except OSError as exc:
        raise StructureFileError(f"cannot write {target}: {exc.strerror or exc}") from None
    try:
        if magmoms is not None:
            structure = structure.copy(site_properties={"magmom": [float(m) for m in magmoms]})
        if symmetrize and _one_moment_per_element(structure, magmoms):
            structure = symmetrised_primitive(structure)
        input_set = relaxation_input_set(structure)
        os.chmod(staging, 0o777 & ~UMASK)  # mkdtemp makes 0700
        with warnings.catch_warnings(record=True) as said:  # pymatgen's remarks, e.g. Co started low spin
            warnings.simplefilter("always")
            if potcar_configured():
                input_set.write_input(str(staging))
            else:
                input_set.write_input(str(staging), potcar_spec=True)
        remarks = list(dict.fromkeys(str(w.message).strip() for w in said if issubclass(w.category, UserWarning)))
        for message in remarks:
            warnings.warn(VaspRemarkWarning(f"VASP inputs: {message}"), stacklevel=2)
        readme = "" if potcar_configured() else _POTCAR_README
        if not potcar_configured():
            spec = staging / "POTCAR.spec"
            # one symbol per line, the last one ended too (pymatgen leaves it open, and
            # `while read` loops then skip the last element)
            spec.write_text(spec.read_text().rstrip("\n") + "\n")
        if remarks:  # beside the INCAR they concern, where a screen's batch of them is not lost
            readme += "\nRemarks of pymatgen's input set on these inputs:\n" + "".join(f"- {m}\n" for m in remarks)
        # the files as written, each read once (the input set's incar property would compute it again, remarks too)
        magmom = _tidy_incar(staging / "INCAR").get("MAGMOM")
        magnetic = magnetic_start_text(magmom, _tidy_poscar(staging / "POSCAR"), magmoms is not None)
        if magnetic:
            readme += "\n" + magnetic
        if readme:
            (staging / "README.txt").write_text(readme.lstrip("\n"))
        if target.exists():
            retired = Path(tempfile.mkdtemp(prefix=f".{target.name}.old.", dir=target.parent))
            os.replace(target, retired / target.name)
            try:
                os.replace(staging, target)
            except OSError:
                os.replace(retired / target.name, target)  # the old folder back, the user's files in it
                shutil.rmtree(retired, ignore_errors=True)
                raise
            _retire_keeping_other_files(retired, target)
        else:
            os.replace(staging, target)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise StructureFileError(f"cannot write {target}: {exc.strerror or exc}") from None
    except Exception:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


MAGNETIC_START_MU_B = 1.0
"""μB: a MAGMOM above this starts a site magnetic (the input set gives 0.6 to every non-magnetic one)."""


def ferromagnetic_start_note(elements: Iterable[str], from_potential: bool = False) -> str | None:
    """A run's note when its VASP inputs start some ions magnetic (the input set's default above
    :data:`MAGNETIC_START_MU_B`): all parallel, which each vasp/README.txt explains; None otherwise."""
    defaults = MPRelaxSet.CONFIG["INCAR"]["MAGMOM"]
    magnetic = [el for el in elements if float(defaults.get(el, 0.6)) > MAGNETIC_START_MU_B]
    if not magnetic:
        return None
    source = "the potential's moments, magnitudes only" if from_potential else "the Materials Project input set's"
    return (f"the VASP inputs start {', '.join(magnetic)} magnetic with all moments parallel (ferromagnetic; "
            f"MAGMOM: {source}); an antiferromagnetic order needs signed moments and, for some, a supercell: "
            "each vasp/README.txt says how")


def magnetic_start_text(magmom, structure: Structure, from_potential: bool) -> str | None:
    """README words on the magnetic start of VASP inputs, or None when no site starts magnetic: the
    moments all start parallel (ferromagnetic), which cannot describe the antiferromagnetic order of
    MnO, NiO, FeF2 or Fe2O3; what to change, and whether this cell can hold such an order."""
    if not magmom:
        return None
    moments = [float(np.linalg.norm(m)) if isinstance(m, (list, tuple)) else abs(float(m)) for m in magmom]
    if len(moments) != len(structure):  # not one moment per site (a non-collinear INCAR): nothing to name
        return None
    magnetic = [k for k, m in enumerate(moments) if m > MAGNETIC_START_MU_B]
    if not magnetic:
        return None
    counts: dict[str, list[float]] = {}
    for k in magnetic:
        counts.setdefault(structure[k].specie.symbol, []).append(moments[k])
    which = ", ".join(f"{len(v)} {el} at {max(v):.3g} μB" for el, v in counts.items())
    source = ("the potential's predicted moments (magnitudes only: it gives no signs)" if from_potential else
              "the Materials Project input set's defaults per element")
    fits = ("a cell of one magnetic site holds no antiferromagnetic order: build a supercell (e.g. MnO's "
            "rhombohedral AFM-II cell doubles the rock-salt cell along [111])" if len(magnetic) == 1 else
            f"this cell has {len(magnetic)} magnetic sites, so orders that alternate among them fit in it; others "
            "need a supercell")
    return ("Magnetic start: MAGMOM (INCAR, ISPIN = 2) starts " + which + ", all parallel: a ferromagnetic "
            f"start, from {source}. Many compounds of these ions order antiferromagnetically (MnO, NiO, FeF2, "
            "Fe2O3). For such an order give the moments signs in MAGMOM, one per site in POSCAR's order; "
            f"{fits}. Relax each order and compare their energies.\n")


MOMENT_TOLERANCE = 0.2
"""μB: two sites' magnetic moments that agree within this are the same moment, the one rule of
whether a smaller or symmetrised cell may merge them (the written cell of a result,
:mod:`core.predict.results`, and the VASP POSCAR here: they used 0.2 and 0.05, so a CIF could be
symmetrised beside a POSCAR that was not)."""


def _one_moment_per_element(structure: Structure, magmoms: list[float] | None,
                            tolerance: float = MOMENT_TOLERANCE) -> bool:
    """Whether every site of an element carries the same moment (within ``tolerance`` μB), so that
    symmetrising the cell cannot merge sites of different moments; True without moments."""
    if magmoms is None:
        return True
    by_element: dict[str, list[float]] = {}
    for site, moment in zip(structure, magmoms):
        by_element.setdefault(site.specie.symbol, []).append(float(moment))
    return all(max(m) - min(m) <= tolerance for m in by_element.values())


def relaxation_input_set(structure: Structure) -> MPRelaxSet | MPMetalRelaxSet:
    """The Materials Project relaxation set for ``structure``: ``MPMetalRelaxSet``
    (Methfessel-Paxton smearing, ISMEAR = 1 and SIGMA = 0.2 eV, and a denser k-point mesh)
    when every element is a metal (the element table of the contact rule), else
    ``MPRelaxSet`` (tetrahedron method, ISMEAR = -5), which VASP advises against for metals."""
    metal = all_metal([str(element) for element in structure.composition.elements])
    return MPMetalRelaxSet(structure) if metal else MPRelaxSet(structure)


POSCAR_DECIMALS = 10
"""Decimals of the VASP inputs' POSCAR (fractional coordinates; lattice in Å): a symmetrised cell's
0.4999999999999997 and 4e-16 are written 0.5000000000 and 0.0000000000."""


def _tidy_poscar(path: Path) -> Structure:
    """Rewrite the POSCAR with :data:`POSCAR_DECIMALS` decimals, float noise gone (no -0.0), the
    sites and their order, the comment and the species lines kept; returns the structure written."""
    poscar = Poscar.from_file(path, check_for_potcar=False)
    structure = poscar.structure
    frac = np.round(np.asarray(structure.frac_coords, dtype=float), POSCAR_DECIMALS) % 1.0
    frac = np.round(frac, POSCAR_DECIMALS) % 1.0 + 0.0  # 0.99999999999 -> 0.0, and never -0.0
    lattice = np.round(np.asarray(structure.lattice.matrix, dtype=float), POSCAR_DECIMALS) + 0.0
    tidy = Structure(lattice, structure.species, frac, site_properties=structure.site_properties or None)
    path.write_text(Poscar(tidy, comment=poscar.comment).get_str(significant_figures=POSCAR_DECIMALS))
    return tidy


def _tidy_incar(path: Path):
    """Rewrite INCAR floats as VASP users write them (``EDIFF = 0.0003``, not the
    ``0.00030000000000000003`` of the input set's per-atom arithmetic); returns the ``Incar`` written."""
    from pymatgen.io.vasp import Incar

    incar = Incar.from_file(path)
    for key, value in incar.items():
        if isinstance(value, float):
            incar[key] = float(f"{value:.6g}")
        elif isinstance(value, list) and value and all(isinstance(v, float) for v in value):
            incar[key] = [float(f"{v:.6g}") for v in value]
    incar.write_file(path)
    return incar


def check_export_formats(formats: Iterable[str]) -> tuple[str, ...]:
    """The export formats, each one of :data:`EXPORT_FORMATS` in any case (``CIF,Poscar``), at least
    one (repeats dropped).

    Raises
    ------
    ExportError
        No format, or an unknown one (named).
    """
    chosen = tuple(dict.fromkeys(f.strip().lower() for f in formats if f.strip()))
    if not chosen:
        raise ExportError(f"no export format given; choose from {', '.join(EXPORT_FORMATS)}")
    unknown = [f for f in chosen if f not in EXPORT_FORMATS]
    if unknown:
        raise ExportError(f"unknown export format {', '.join(map(repr, unknown))}; "
                          f"choose from {', '.join(EXPORT_FORMATS)}")
    return chosen


def export_targets(out: Path, stem: str) -> dict[str, Path]:
    """Where :func:`export_structure` writes each format of ``stem`` in ``out``."""
    return {"cif": out / f"{stem}.cif", "cif-symmetrized": out / f"{stem}_sym.cif",
            "poscar": out / f"{stem}.POSCAR", "vasp": out / f"{stem}_vasp"}


def export_structure(
    structure: Structure,
    out_dir: str | os.PathLike,
    stem: str | None = None,
    formats: Iterable[str] = EXPORT_FORMATS,
    overwrite: bool = False,
) -> list[Path]:
    """Export one structure in several formats into ``out_dir``.

    Formats: ``cif`` (P1, ``STEM.cif``), ``cif-symmetrized`` (``STEM_sym.cif``),
    ``poscar`` (``STEM.POSCAR``), ``vasp`` (folder ``STEM_vasp/``).
    ``stem`` defaults to the reduced formula. The formats, the stem and the folder
    are checked before anything is written; a file of the export already there is
    replaced only with ``overwrite`` (the user's other files in a VASP folder stay).

    Raises
    ------
    ExportError
        No or an unknown format, a stem that is not a plain file name, or files of
        the export already in ``out_dir`` without ``overwrite``.
    StructureFileError
        ``out_dir`` is a file, or a file cannot be written.
    """
    formats = check_export_formats(formats)
    stem = check_file_stem(stem or structure.composition.reduced_formula)
    out = check_output_folder(out_dir)
    targets = export_targets(out, stem)
    existing = [targets[fmt] for fmt in formats if targets[fmt].exists()]
    if existing and not overwrite:
        names = ", ".join(p.name + ("/" if p.is_dir() else "") for p in existing)
        raise ExportError(f"{out} already holds {names}; nothing was written. Choose another folder or "
                          "--stem, or pass --overwrite to replace them (other files in a VASP folder are kept)")
    written: list[Path] = []
    for fmt in formats:
        if fmt == "cif":
            written.append(write_cif(structure, targets[fmt]))
        elif fmt == "cif-symmetrized":
            written.append(write_cif(structure, targets[fmt], symmetrize=True))
        elif fmt == "poscar":
            written.append(write_poscar(structure, targets[fmt], comment=stem))
        else:
            written.append(write_vasp_inputs(structure, targets[fmt]))
    return written
