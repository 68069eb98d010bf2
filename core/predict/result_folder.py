"""One result's folder: writing a ranked structure (symmetrised CIF, POSCAR, VASP inputs, the
structure before relaxation, ``result.json``) and reading a finished run folder back.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from core.io.files import atomic_write_text, json_text
from core.predict.run_folder import OutputFolderError, safe_name


def write_structure_folder(folder: Path, structure, formula: str, rank: int, row: dict,
                           reconstructed=None, initial_name: str = "reconstructed.cif",
                           magmoms: list[float] | None = None) -> Path:
    """Fill ``folder`` with one result: ``FORMULA.cif`` (symmetrised), ``POSCAR``, ``vasp/``
    (Materials Project relaxation set), the structure before relaxation as ``initial_name``
    (P1, when given: ``reconstructed.cif`` from CMCrystal, ``template.cif`` from a
    substituted template) and ``result.json``."""
    from core.io.structures import write_cif, write_poscar, write_vasp_inputs

    folder = Path(folder)
    write_cif(structure, folder / f"{safe_name(formula)}.cif", symmetrize=True)
    write_poscar(structure, folder / "POSCAR", comment=f"{formula} rank {rank} (AlphaCrystal Studio)")
    write_vasp_inputs(structure, folder / "vasp", magmoms)
    if reconstructed is not None:
        write_cif(reconstructed, folder / initial_name)
    clean = {k: v for k, v in row.items() if k not in ("structure", "reconstructed", "initial")}
    atomic_write_text(folder / "result.json", json_text(clean | {"folder": folder.name}))
    return folder

def read_run_folder(path: str | os.PathLike) -> tuple[str, list[dict], dict]:
    """A finished run folder read back: (formula, rows, summary meta).

    Each row is the structure's ``result.json`` plus ``structure`` (the relaxed cell, from
    its ``POSCAR``: exact, not symmetrised) and ``reconstructed`` (its structure before
    relaxation, when the folder has one), as ``as_dict``, in rank order: what the desktop
    app shows for a run it did itself (a screen's formulas are opened this way).

    Raises
    ------
    OutputFolderError
        No finished run there (no ``summary.json``), or a listed folder is missing or unreadable.
    """
    from pymatgen.core import Structure

    from core.io.structures import read_structure

    path = Path(path)
    summary_path = path / "summary.json"
    if not summary_path.is_file():
        raise OutputFolderError(f"{path}: no finished prediction here (no summary.json)")
    try:
        summary = json.loads(summary_path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise OutputFolderError(f"{summary_path}: cannot be read ({exc})") from None
    rows = []
    for listed in summary.get("structures", []):
        folder = path / str(listed.get("folder", ""))
        try:
            row = json.loads((folder / "result.json").read_text())
            row["structure"] = Structure.from_file(folder / "POSCAR").as_dict()
        except (OSError, ValueError) as exc:
            raise OutputFolderError(f"{folder}: the result listed in {summary_path.name} cannot be read "
                                    f"({exc})") from None
        for name in ("reconstructed.cif", "template.cif"):
            if (folder / name).is_file():
                row["reconstructed"] = read_structure(folder / name).as_dict()
                break
        rows.append(row)
    meta = {k: v for k, v in summary.items() if k != "structures"}
    return str(summary.get("formula", path.name)), rows, meta
