"""Structure files through pymatgen: read CIF/POSCAR, write CIF/POSCAR/VASP inputs, atomic writes.

Every write goes to a temporary file (or folder) next to the target and is then
renamed over it, so a crash or a kill never leaves a half-written file behind.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import warnings
from collections.abc import Iterable
from pathlib import Path

from pymatgen.core import SETTINGS, Structure
from pymatgen.io.cif import CifWriter
from pymatgen.io.vasp import Poscar
from pymatgen.io.vasp.sets import MPRelaxSet
from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

from core.errors import StructureFileError
from core.symmetry import CELL_SYMPREC, SPACEGROUP_SYMPREC

EXPORT_FORMATS = ("cif", "cif-symmetrized", "poscar", "vasp")

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


_UMASK = os.umask(0)
os.umask(_UMASK)  # read once at import (os.umask can only be read by setting it)


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` atomically (temporary file + rename).

    Raises
    ------
    StructureFileError
        If the folder is missing or not writable; the message names the path.
    """
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise StructureFileError(f"cannot write {target}: {exc.strerror or exc}") from None
    try:
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; a written file gets normal permissions
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise StructureFileError(f"cannot write {target}: {exc.strerror or exc}") from None
    return target


def read_structure(path: str | os.PathLike) -> Structure:
    """Read an ordered structure from a CIF, POSCAR/CONTCAR/``*.vasp`` or pymatgen JSON file.

    The cell is returned as stored in the file (use :func:`primitive_cell` for
    the primitive cell that contact maps refer to).

    Raises
    ------
    StructureFileError
        If the file is missing, unreadable, empty or has partial occupancies;
        the message names the file and the reason.
    """
    p = Path(path)
    if not p.exists():
        raise StructureFileError(f"{p}: no such file")
    if p.is_dir():
        raise StructureFileError(f"{p}: is a folder, expected a structure file")
    if _is_poscar_name(p):
        _check_poscar_counts(p)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            structure = Structure.from_file(p)
    except Exception as exc:  # pymatgen raises many types for bad files
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise StructureFileError(f"{p}: cannot read a structure ({reason})") from None
    if len(structure) == 0:
        raise StructureFileError(f"{p}: the file contains no atoms")
    if not structure.is_ordered:
        raise StructureFileError(
            f"{p}: has partially occupied sites; AlphaCrystal needs an ordered structure"
        )
    return structure


def _is_poscar_name(path: Path) -> bool:
    name = path.name.upper()
    return name.startswith(("POSCAR", "CONTCAR")) or name.endswith(".VASP")


def _check_poscar_counts(path: Path) -> None:
    """The atom counts of a POSCAR must match its coordinate lines.

    pymatgen reads a counts line ``1 0`` followed by two coordinate lines as one
    atom and fails with ``list index out of range`` on too few lines; both are a
    silent reinterpretation or a riddle for the user, so they are an error naming
    the line. (Checked here because no library reports it.)
    """
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return  # the reader below reports unreadable files
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


def primitive_cell(structure: Structure, symprec: float = CELL_SYMPREC) -> Structure:
    """The spglib primitive cell of ``structure`` (the cell contact maps refer to).

    Falls back to the input cell when spglib finds no symmetry at ``symprec`` (Å).
    """
    try:
        primitive = SpacegroupAnalyzer(structure, symprec=symprec).find_primitive()
    except Exception:  # spglib gives up on some distorted cells
        primitive = None
    return primitive if primitive is not None and len(primitive) <= len(structure) else structure


def space_group(structure: Structure, symprec: float = SPACEGROUP_SYMPREC) -> tuple[int, str]:
    """Space-group number and Hermann-Mauguin symbol (:data:`core.symmetry.SPACEGROUP_SYMPREC`, MP-20's)."""
    analyzer = SpacegroupAnalyzer(structure, symprec=symprec)
    return analyzer.get_space_group_number(), analyzer.get_space_group_symbol()


def cif_text(structure: Structure, symmetrize: bool = False, symprec: float = SPACEGROUP_SYMPREC) -> str:
    """CIF text: P1 with every site (default) or symmetrised with Wyckoff sites
    (P1 when spglib cannot determine the symmetry).

    Sites are relabelled ``Ti1, Ti2, O1, ...`` first, because labels inherited
    from a symmetrised input repeat (``Ti0, Ti0``), which the CIF spec forbids.
    """
    labelled = structure.copy()
    counts: dict[str, int] = {}
    for site in labelled:
        symbol = site.specie.symbol
        counts[symbol] = counts.get(symbol, 0) + 1
        site.label = f"{symbol}{counts[symbol]}"
    if symmetrize:
        try:
            return str(CifWriter(labelled, symprec=symprec))
        except Exception:  # noqa: BLE001 - spglib finds no symmetry for some distorted cells
            pass  # such a cell is written in P1 rather than not at all
    return str(CifWriter(labelled))


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


def write_vasp_inputs(structure: Structure, folder: str | os.PathLike, magmoms: list[float] | None = None) -> Path:
    """Write a VASP relaxation folder (Materials Project ``MPRelaxSet``).

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
        input_set = MPRelaxSet(structure)
        os.chmod(staging, 0o777 & ~_UMASK)  # mkdtemp makes 0700
        if potcar_configured():
            input_set.write_input(staging)
        else:
            input_set.write_input(staging, potcar_spec=True)
            (staging / "README.txt").write_text(_POTCAR_README)
        _tidy_incar(staging / "INCAR")
        if target.exists():
            _carry_other_files(target, staging)
            retired = Path(tempfile.mkdtemp(prefix=f".{target.name}.old.", dir=target.parent))
            os.replace(target, retired / target.name)
            os.replace(staging, target)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            os.replace(staging, target)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise StructureFileError(f"cannot write {target}: {exc.strerror or exc}") from None
    except Exception:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


VASP_INPUT_FILES = ("INCAR", "KPOINTS", "POSCAR", "POTCAR", "POTCAR.spec", "README.txt")
"""What :func:`write_vasp_inputs` writes (and replaces); anything else in the folder is the user's."""


def _carry_other_files(old: Path, new: Path) -> None:
    """Move every file of ``old`` that is not one of :data:`VASP_INPUT_FILES` (a user's
    OUTCAR, CONTCAR, job script) into ``new``, so that replacing the inputs removes nothing
    the user wrote."""
    for path in sorted(old.rglob("*")):
        relative = path.relative_to(old)
        if path.is_dir() or (len(relative.parts) == 1 and relative.name in VASP_INPUT_FILES):
            continue
        (new / relative).parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, new / relative)


def _tidy_incar(path: Path) -> None:
    """Rewrite INCAR floats as VASP users write them (``EDIFF = 0.0003``, not the
    ``0.00030000000000000003`` of the input set's per-atom arithmetic)."""
    from pymatgen.io.vasp import Incar

    incar = Incar.from_file(path)
    for key, value in incar.items():
        if isinstance(value, float):
            incar[key] = float(f"{value:.6g}")
        elif isinstance(value, list) and value and all(isinstance(v, float) for v in value):
            incar[key] = [float(f"{v:.6g}") for v in value]
    incar.write_file(path)


def export_structure(
    structure: Structure,
    out_dir: str | os.PathLike,
    stem: str | None = None,
    formats: Iterable[str] = EXPORT_FORMATS,
) -> list[Path]:
    """Export one structure in several formats into ``out_dir``.

    Formats: ``cif`` (P1, ``STEM.cif``), ``cif-symmetrized`` (``STEM_sym.cif``),
    ``poscar`` (``STEM.POSCAR``), ``vasp`` (folder ``STEM_vasp/``).
    ``stem`` defaults to the reduced formula.
    """
    out = Path(out_dir)
    stem = stem or structure.composition.reduced_formula
    written: list[Path] = []
    for fmt in formats:
        if fmt == "cif":
            written.append(write_cif(structure, out / f"{stem}.cif"))
        elif fmt == "cif-symmetrized":
            written.append(write_cif(structure, out / f"{stem}_sym.cif", symmetrize=True))
        elif fmt == "poscar":
            written.append(write_poscar(structure, out / f"{stem}.POSCAR", comment=stem))
        elif fmt == "vasp":
            written.append(write_vasp_inputs(structure, out / f"{stem}_vasp"))
        else:
            raise ValueError(f"unknown export format {fmt!r}; choose from {', '.join(EXPORT_FORMATS)}")
    return written
