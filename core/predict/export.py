"""Writing a prediction: ranked folders (CIF, POSCAR, VASP inputs) and the summaries, for the CLI
and for the results the window exports.
"""

from __future__ import annotations

import functools
from pathlib import Path

from core.crystal.composition import parse_formula, same_formula
from core.crystal.symmetry import ANGLE_TOLERANCE, SPACEGROUP_SYMPREC
from core.errors import AlphaCrystalError, FormulaError
from core.predict.record import ResultRecord
from core.predict.result_folder import write_structure_folder
from core.predict.results import PredictionResult, RankedStructure, discarded_lines
from core.predict.run_folder import (
    ForeignResultsError,
    OutputFolderError,
    RunFolder,
    our_summary_formula,
    ranked_folder_name,
)
from core.predict.stages import _is_set
from core.relax.potentials import POTENTIALS
from core.runtime.device import resolve_device


def export_prediction(result: PredictionResult, folder: RunFolder) -> None:
    """Write the ranked folders and the summaries of ``result`` into ``folder``."""
    entries = []
    for e in result.ranked:
        name = ranked_folder_name(e.rank, result.formula, e.crystallography()["relaxed_symbol"])
        e.folder = folder.path / name
        entries.append((name, _structure_writer(e, result.formula, result.settings.magmom)))
    folder.publish(entries, result.rows(), summary_meta(result))
    result.notes.extend(folder.notes)


def summary_meta(result: PredictionResult) -> dict:
    """What ``summary.json`` says of a prediction besides its rows: the settings, the inputs the run
    used (space-group candidates, each Z's contact map as the run took it, edited or not; the
    templates), its notes, timings and units. The window keeps it with a run's results, so that
    its Export all writes the summary ``predict`` writes."""
    return {"formula": result.formula, "settings": result.settings.to_dict(), "seconds": round(result.seconds, 2),
            "stage_seconds": {k: round(v, 2) for k, v in result.stage_seconds.items()},
            "resumed": result.resumed,
            "rejected": result.rejected,
            "discarded": discarded_lines(result),
            "candidates": [c.to_dict() for c in result.candidates],
            "contact_maps": {str(z): p.to_dict() for z, p in result.contact_maps.items()},
            "templates": [c.to_dict(with_structure=False) for c in result.templates],
            "notes": result.notes,
            "symprec": SPACEGROUP_SYMPREC,
            "symprec_note": f"Å, with an angle tolerance of {ANGLE_TOLERANCE:g}°: space groups of the table, "
                            "folder names and symmetrised CIFs",
            "from_relaxation_only": "true where the GA structure had fitness 0 (no bond of the map): the result "
                                    "comes from the relaxation, not from the contact map",
            "device": _device_name(result.settings.device),
            "magmom": "INCAR MAGMOM: " + ("CHGNet's predicted moments of the relaxed structure"
                                          if result.settings.magmom == "potential" else
                                          "the Materials Project input set's defaults per element"),
            "energy": f"{POTENTIALS[result.settings.potential].label} total energy per atom (eV/atom)"
            if result.settings.relax else None}

def _device_name(device: str) -> str:
    """The torch device ``device`` resolves to (``auto`` -> ``cpu``/``cuda``), or ``device`` as given
    where it cannot be resolved here (metadata must never fail a finished run)."""
    try:
        return resolve_device(device)
    except AlphaCrystalError:
        return device


def _structure_writer(entry: RankedStructure, formula: str, magmom: str = "input-set"):
    x = entry.relaxation
    record = entry.record()
    magmoms = entry.written_cell()[1] if magmom == "potential" and x is not None and x.ok else None
    return lambda path: write_structure_folder(path, record, formula, magmoms)


def export_records(records: list[ResultRecord], folder: str | Path, formula: str,
                   cancel=None, summary: bool = False, meta: dict | None = None) -> tuple[list[Path], list[str]]:
    """Write results (as the desktop app keeps them) into ``folder``, one ranked subfolder
    each, with the same writer and names as a prediction's output folder (the formula
    written as the unit formula, :func:`core.crystal.composition.formula_unit_text`), and
    with ``summary`` (all of a run's results) its ``summary.csv``/``summary.json`` as
    ``predict`` writes them (:func:`_export_summary`), with ``meta``, the run's own
    (:func:`summary_meta`: its settings, maps and notes), where it is known.

    Returns the paths written and notes on what was kept of the user's: a file the user
    edited in an earlier export is never replaced (:meth:`core.predict.run_folder.RunFolder.write_in_place`).
    """
    try:
        formula = parse_formula(formula).unit_formula
    except FormulaError:  # a name that is not a formula: kept as it is
        pass
    names = [ranked_folder_name(r.rank, formula, r.shown_symbol) for r in records]
    entries = [(name, functools.partial(write_structure_folder, record=r, formula=formula))
               for name, r in zip(names, records)]
    try:
        earlier = our_summary_formula(Path(folder))
    except OutputFolderError:  # the user's own summary: kept, and a note says so (_export_summary)
        earlier = ""
    other = RunFolder(folder, formula).foreign_formulas(earlier)  # refused before any write, as predict does
    if other:
        raise ForeignResultsError(f"{folder} holds the results of {', '.join(other)}, not {formula}: export "
                                  "into another folder")
    target = RunFolder(folder)
    out = []
    for entry in entries:
        if _is_set(cancel):
            break
        out += target.write_in_place([entry])
    if summary and not _is_set(cancel):
        out += _export_summary(target, records, names, formula, earlier, meta or {})
    return out, target.notes


def _export_summary(target: RunFolder, records: list[ResultRecord], names: list[str], formula: str,
                    earlier: str | None, run_meta: dict) -> list[Path]:
    """``summary.csv``/``summary.json`` of ``records`` (each row naming its folder, ``names``, so
    that the export opens as a run folder) in the export folder, unless the summary there,
    ``earlier`` (:func:`our_summary_formula`: "" for one not ours, None for none), is not ours or
    is another formula's (a note says so; nothing of the user's is replaced)."""
    if earlier is not None and not same_formula(earlier, formula):
        target.notes.append("summary.csv not written: the folder holds a summary that is not this program's "
                            "for " + formula + "; export into another folder for one")
        return []
    meta = {**run_meta, "formula": formula, "exported_by": "AlphaCrystal Studio (the window's Export all)",
            "symprec": SPACEGROUP_SYMPREC}
    rows = [r.to_row() | {"folder": name} for r, name in zip(records, names)]
    return list(RunFolder.summary_files(target.path, rows, meta))
