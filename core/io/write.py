"""Writing structures: CIF (P1, or symmetrised and checked by reading it back), POSCAR, and the
export of one structure in several formats (:func:`export_structure`, with the VASP inputs of
:mod:`core.io.vasp`).

Every write goes to a temporary file (or folder) next to the target and is then renamed over it
(:mod:`core.io.files`), so a crash or a kill never leaves a half-written file behind.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable
from pathlib import Path

from pymatgen.core import Structure
from pymatgen.io.cif import CifWriter
from pymatgen.io.vasp import Poscar

from core.crystal.symmetry import ANGLE_TOLERANCE, IDEAL_SYMPREC, SPACEGROUP_SYMPREC
from core.errors import ExportError
from core.io.files import atomic_write_text
from core.io.outputs import EXPORT_NAME_ENDS, check_file_stem, check_output_folder
from core.io.vasp import wrapped_fractions, write_vasp_inputs

EXPORT_FORMATS = tuple(EXPORT_NAME_ENDS)  # ("cif", "cif-symmetrized", "poscar", "vasp")


def cif_text(structure: Structure, symmetrize: bool = False, symprec: float = SPACEGROUP_SYMPREC) -> str:
    """CIF text: P1 with every site (default) or symmetrised with Wyckoff sites
    (P1 when spglib cannot determine the symmetry, or when the symmetrised text would not
    read back as the structure: :func:`_symmetrised_cif`).

    Sites are labelled per element (:func:`_site_labels_by_element`).
    """
    if symmetrize:
        text, ideal = _symmetrised_cif(structure, symprec)
        if text is not None:
            return text
        structure = ideal  # the cell made exact, in P1: it reads back as itself, as the POSCAR beside it
    with warnings.catch_warnings():  # labels inherited from a symmetrised input repeat: relabelled next
        warnings.filterwarnings("ignore", message="Site labels are not unique")
        writer = CifWriter(structure)
    return _written(writer, structure)


def _written(writer: CifWriter, structure: Structure) -> str:
    """The CIF text of ``writer``, its sites labelled per element and its formula in the program's
    convention (the one finish of a P1 and a symmetrised CIF)."""
    return str(_program_formula(_site_labels_by_element(writer), structure))


def _program_formula(writer: CifWriter, structure: Structure) -> CifWriter:
    """``writer`` with ``_chemical_formula_structural`` in the program's one convention
    (:func:`core.crystal.composition.formula_unit_text`: ``H8SN2O4``): pymatgen groups it into
    ``H8S(NO2)2`` for (NH4)2SO4, which reads as a nitrite."""
    from core.crystal.composition import formula_unit_text

    for block in writer.cif_file.data.values():
        if "_chemical_formula_structural" in block.data:
            block.data["_chemical_formula_structural"] = formula_unit_text(structure.composition.element_composition)
    return writer


def _site_labels_by_element(writer: CifWriter) -> CifWriter:
    """``writer`` with its sites labelled ``Co1, As1, S1, O1, O2`` (numbered within each element, as
    crystallographers and the window label them; CIF labels must be unique): pymatgen numbers a
    symmetrised CIF's sites across elements from 0 (``Co0, As1, S2``), and writes a P1 CIF with the
    labels its sites carry, which repeat when inherited from a symmetrised input (``Ti0, Ti0``)."""
    for block in writer.cif_file.data.values():
        symbols = block.data.get("_atom_site_type_symbol")
        if not symbols or len(symbols) != len(block.data.get("_atom_site_label", [])):
            continue
        counts: dict[str, int] = {}
        labels = []
        for symbol in symbols:
            element = "".join(ch for ch in str(symbol) if ch.isalpha())  # "Fe2+" -> Fe
            counts[element] = counts.get(element, 0) + 1
            labels.append(f"{element}{counts[element]}")
        block.data["_atom_site_label"] = labels
    return writer


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

    from core.crystal.matching import reference_match
    from core.crystal.symmetry import standard_cell

    ideal = structure
    try:
        ideal = standard_cell(structure, symprec)
        if ideal is structure:  # spglib found no symmetry
            return None, structure
        text = _written(CifWriter(ideal, symprec=min(IDEAL_SYMPREC, symprec), angle_tolerance=ANGLE_TOLERANCE), ideal)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            back = CifParser.from_str(text).parse_structures(primitive=False)[0]
    except Exception:  # noqa: BLE001 - spglib finds no symmetry for some distorted cells; such a
        return None, ideal  # cell is written in P1 rather than not at all
    # the text against the cell it was written from, site by site (no primitive reduction: at its
    # 0.25 Å a symmetrised I4/mcm SrTiO3 read back as the cubic 5-atom cell, unlike its 10-atom
    # POSCAR, and a folder named I4-mcm got a P1 CIF); the cell is the structure's within symprec
    if len(back) != len(ideal) or not reference_match(back, ideal, primitive_cell=False).matched:
        return None, ideal
    return text, ideal


def write_cif(
    structure: Structure, path: str | os.PathLike, symmetrize: bool = False, symprec: float = SPACEGROUP_SYMPREC
) -> Path:
    """Write a CIF atomically (P1 by default, symmetrised with ``symmetrize=True``)."""
    return atomic_write_text(path, cif_text(structure, symmetrize, symprec))


def poscar_text(structure: Structure, comment: str | None = None) -> str:
    """A POSCAR of ``structure`` as text (VASP 5 format with element names, species sorted
    into contiguous blocks, fractional coordinates in [0, 1): the same cell and atoms; a relaxed
    cell had 1.0004 and -0.0000000018 among them): what :func:`write_poscar` writes."""
    wrapped = Structure(structure.lattice, structure.species, wrapped_fractions(structure.frac_coords),
                        site_properties=structure.site_properties)
    return Poscar(wrapped, comment=comment, sort_structure=True).get_str()


def write_poscar(structure: Structure, path: str | os.PathLike, comment: str | None = None) -> Path:
    """Write a VASP POSCAR atomically (:func:`poscar_text`)."""
    return atomic_write_text(path, poscar_text(structure, comment))


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
    return {fmt: out / f"{stem}{end}" for fmt, end in EXPORT_NAME_ENDS.items()}


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
