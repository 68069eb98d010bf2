"""One result's folder: writing a ranked structure (symmetrised CIF, POSCAR, VASP inputs, the
structure before relaxation, ``result.json``) and reading a finished run folder back.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from core.errors import AlphaCrystalError
from core.io.files import atomic_write_text, json_text
from core.io.outputs import RESULT_FILE, SUMMARY_JSON
from core.io.read import read_structure
from core.io.vasp import write_vasp_inputs
from core.io.write import write_cif, write_poscar
from core.predict.record import ResultRecord, ResultRecordError
from core.predict.run_folder import OutputFolderError, structure_cif_name

INITIAL_NAMES = {"contact": "reconstructed.cif", "templates": "template.cif"}
"""File name of a result's structure before relaxation, by route."""


def write_structure_folder(folder: Path, record: ResultRecord, formula: str,
                           magmoms: list[float] | None = None) -> Path:
    """Fill ``folder`` with one result: ``FORMULA.cif`` (symmetrised), ``POSCAR``, ``vasp/``
    (Materials Project relaxation set), the structure before relaxation (P1, when the record
    has one: ``reconstructed.cif`` from CMCrystal, ``template.cif`` from a substituted
    template, :data:`INITIAL_NAMES`) and ``result.json`` (:meth:`ResultRecord.to_row`)."""

    folder = Path(folder)
    structure = record.structure
    if structure is None:
        raise ValueError(f"result #{record.rank} has no structure to write")
    write_cif(structure, folder / structure_cif_name(formula), symmetrize=True)
    # the cell as ranked, read back by read_run_folder: the relaxed one, or its primitive cell (spglib's,
    # at the reporting tolerance) where relaxation raised the symmetry; symmetrised in the CIF and vasp/
    what = "relaxed cell" if record.energy_per_atom is not None else "cell as built, not relaxed"
    write_poscar(structure, folder / "POSCAR", comment=f"{formula} rank {record.rank}, {what} (AlphaCrystal "
                 "Studio; symmetrised: the CIF and vasp/POSCAR)")
    write_vasp_inputs(structure, folder / "vasp", magmoms, symmetrize=True)  # the CIF's structure
    if record.initial is not None:
        write_cif(record.initial, folder / INITIAL_NAMES[record.route])
    atomic_write_text(folder / RESULT_FILE, json_text(record.to_row() | {"folder": folder.name}))
    return folder

def read_run_folder(path: str | os.PathLike) -> tuple[str, list[ResultRecord], dict]:
    """A finished run folder read back: (formula, records, summary meta).

    Each record is the structure's ``result.json`` with its ``structure`` (the relaxed cell,
    from its ``POSCAR``: as ranked, not symmetrised) and ``initial`` structure (before relaxation,
    when the folder has one), in rank order: what the desktop app shows for a run it did
    itself (a screen's formulas are opened this way).

    Raises
    ------
    OutputFolderError
        No finished run there (no ``summary.json``), or a listed folder is missing or unreadable.
    """
    from pymatgen.core import Structure

    path = Path(path)
    summary_path = path / SUMMARY_JSON
    if not summary_path.is_file():
        raise OutputFolderError(f"{path}: no finished prediction here (no {SUMMARY_JSON})")
    try:
        summary = json.loads(summary_path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise OutputFolderError(f"{summary_path}: cannot be read ({exc})") from None
    records = []
    for listed in summary.get("structures", []):
        folder = path / str(listed.get("folder", ""))
        try:
            row = json.loads((folder / RESULT_FILE).read_text())
            structure = Structure.from_file(folder / "POSCAR")
            record = ResultRecord.from_row(row, structure, where=str(folder / RESULT_FILE))
        except (OSError, ValueError, ResultRecordError) as exc:
            raise OutputFolderError(f"{folder}: the result listed in {summary_path.name} cannot be read "
                                    f"({exc})") from None
        initial = folder / INITIAL_NAMES[record.route]
        if initial.is_file():
            try:
                record.initial = read_structure(initial)
            except AlphaCrystalError as exc:
                raise OutputFolderError(f"{initial}: cannot be read ({exc})") from None
        records.append(record)
    meta = {k: v for k, v in summary.items() if k != "structures"}
    return str(summary.get("formula", path.name)), records, meta
