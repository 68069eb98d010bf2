"""The output folder of a prediction: ranked structures, summaries and the resume state.

Layout::

    OUT/
      summary.csv, summary.json        one row per ranked structure (written last)
      01_TiO2_P4_2-mnm/                one folder per ranked structure
        TiO2.cif                       relaxed, symmetrised CIF
        POSCAR                         relaxed, for VASP
        vasp/                          Materials Project relaxation input set
        reconstructed.cif              the GA structure before relaxation (P1; CMCrystal results)
        template.cif                   the substituted template before relaxation (P1; template results)
        result.json                    the summary row of this structure
      .alphacrystal/                   resume state: one JSON per finished
                                       reconstruction and relaxation

Every file is written atomically. Finished steps are stored under a key that
hashes everything they depend on (formula, candidate, map, settings), so a
re-run with the same inputs skips them and a run with other settings recomputes
only what changed; an interrupted run never leaves a half-written file.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from core.errors import AlphaCrystalError
from core.io import atomic_write_text

STATE_DIR = ".alphacrystal"
RANKED_FOLDER = re.compile(r"^\d{2,}_")
SUMMARY_FILES = ("summary.csv", "summary.json")
LEFTOVERS = (".staging.*", ".retired.*")
"""Folders a killed run can leave behind; the next run removes them."""


class OutputFolderError(AlphaCrystalError, OSError):
    """The output folder cannot be created or written; the message names it."""


def state_key(*parts: object) -> str:
    """A short stable hash of JSON-serialisable parts."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def safe_name(text: str) -> str:
    """A file-name-safe version of a formula or space-group symbol (``P4_2/mnm`` -> ``P4_2-mnm``)."""
    return re.sub(r"[^A-Za-z0-9_.()-]+", "-", text.replace("/", "-")).strip("-") or "x"


class RunFolder:
    """One prediction's output folder (see the module docstring for its layout)."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.state = self.path / STATE_DIR

    def prepare(self) -> None:
        """Create the folder and check that it is writable.

        Raises
        ------
        OutputFolderError
            When it cannot be created or written (read-only, a file in the way).
        """
        if self.path.exists() and not self.path.is_dir():
            raise OutputFolderError(f"output folder {self.path} is a file")
        try:
            self.state.mkdir(parents=True, exist_ok=True)
            fd, probe = tempfile.mkstemp(dir=self.state, prefix=".probe.")
            os.close(fd)
            os.unlink(probe)
            for pattern in LEFTOVERS:
                for leftover in self.path.glob(pattern):
                    shutil.rmtree(leftover, ignore_errors=True)
        except OSError as exc:
            raise OutputFolderError(f"cannot write to output folder {self.path}: {exc.strerror or exc}") from None

    # resume state -------------------------------------------------------
    def load(self, kind: str, key: str) -> dict | None:
        """A finished step stored under ``kind`` and ``key``, or None."""
        path = self.state / f"{kind}-{key}.json"
        if not path.is_file():
            return None
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError):  # unreadable or from an older crash: recompute
            return None

    def save(self, kind: str, key: str, payload: dict) -> None:
        atomic_write_text(self.state / f"{kind}-{key}.json", json.dumps(payload) + "\n")

    # results ------------------------------------------------------------
    def publish(self, entries: list[tuple[str, Callable[[Path], None]]], rows: list[dict], meta: dict) -> list[Path]:
        """Replace the run's results by ``entries`` = [(folder name, writer(folder))]
        and their summary, so that a kill at any moment never leaves a summary that
        lists a folder which is not there.

        Everything is built in a staging folder beside the results first. Then the
        old ``summary.csv``/``summary.json`` are removed, the old ranked folders
        (``NN_*``) retired, the new folders renamed into place, and the new
        summaries renamed in last. Leftovers of a killed run (``.staging.*``,
        ``.retired.*``) are removed by the next run (:meth:`prepare`).
        """
        staging = Path(tempfile.mkdtemp(prefix=".staging.", dir=self.path))
        retired = None
        try:
            for name, writer in entries:
                folder = staging / name
                folder.mkdir()
                writer(folder)
            summaries = self._summary_files(staging, rows, meta)
            for name in SUMMARY_FILES:
                (self.path / name).unlink(missing_ok=True)
            retired = Path(tempfile.mkdtemp(prefix=".retired.", dir=self.path))
            for old in self.path.iterdir():  # only result folders: never a user's own "2024_notes/"
                if old.is_dir() and RANKED_FOLDER.match(old.name) and (old / "result.json").is_file():
                    os.replace(old, retired / old.name)
            out = []
            try:
                for name, _ in entries:
                    os.replace(staging / name, self.path / name)
                    out.append(self.path / name)
                for path in summaries:  # last: the summary appears once every folder it lists is in place
                    os.replace(path, self.path / path.name)
            except Exception:
                for moved in out:  # an error (not a kill) mid-swap: put the old results back
                    shutil.rmtree(moved, ignore_errors=True)
                for old in retired.iterdir():
                    os.replace(old, self.path / old.name)
                raise
            return out
        finally:
            shutil.rmtree(staging, ignore_errors=True)
            if retired is not None:
                shutil.rmtree(retired, ignore_errors=True)

    @staticmethod
    def _summary_files(folder: Path, rows: list[dict], meta: dict) -> tuple[Path, Path]:
        """``summary.csv`` (one row per ranked structure) and ``summary.json`` (the same
        rows + run details), written together into ``folder`` from one list of rows."""
        buffer = io.StringIO()
        if rows:
            writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
        csv_path = atomic_write_text(folder / "summary.csv", buffer.getvalue())
        json_path = atomic_write_text(folder / "summary.json",
                                      json.dumps({**meta, "structures": rows}, indent=2, default=_plain) + "\n")
        return csv_path, json_path


def _plain(value):
    try:
        import numpy as np

        if isinstance(value, np.generic):
            return value.item()
        if isinstance(value, np.ndarray):
            return value.tolist()
    except ImportError:  # pragma: no cover
        pass
    return str(value)


def ranked_folder_name(rank: int, formula: str, symbol: str) -> str:
    """``01_TiO2_P4_2-mnm``: rank, formula and space-group symbol, file-name safe."""
    return f"{int(rank):02d}_{safe_name(formula)}_{safe_name(symbol)}"


def write_structure_folder(folder: Path, structure, formula: str, rank: int, row: dict,
                           reconstructed=None, initial_name: str = "reconstructed.cif",
                           magmoms: list[float] | None = None) -> Path:
    """Fill ``folder`` with one result: ``FORMULA.cif`` (symmetrised), ``POSCAR``, ``vasp/``
    (Materials Project relaxation set), the structure before relaxation as ``initial_name``
    (P1, when given: ``reconstructed.cif`` from CMCrystal, ``template.cif`` from a
    substituted template) and ``result.json``."""
    from core.io import write_cif, write_poscar, write_vasp_inputs

    folder = Path(folder)
    write_cif(structure, folder / f"{safe_name(formula)}.cif", symmetrize=True)
    write_poscar(structure, folder / "POSCAR", comment=f"{formula} rank {rank} (AlphaCrystal Studio)")
    write_vasp_inputs(structure, folder / "vasp", magmoms)
    if reconstructed is not None:
        write_cif(reconstructed, folder / initial_name)
    clean = {k: v for k, v in row.items() if k not in ("structure", "reconstructed", "initial")}
    atomic_write_text(folder / "result.json", json.dumps(clean | {"folder": folder.name}, indent=2,
                                                         default=_plain) + "\n")
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

    from core.io import read_structure

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
