"""Where the engine may write: checks of output files, folders and file stems made before any
work, and a free name beside existing files (a folder the user edited is never overwritten).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from core.errors import ExportError, StructureFileError

VASP_INPUT_FILES = ("INCAR", "KPOINTS", "POSCAR", "POTCAR", "POTCAR.spec", "README.txt")
"""What :func:`core.io.vasp.write_vasp_inputs` writes (and replaces); anything else in the
folder is the user's."""


def free_path(parent: Path, name: str) -> Path:
    """``parent/name``, or ``name-2``, ``-3``, ... when that exists (before a file's suffix:
    ``kept_summary-2.csv``): where a folder or file kept for the user goes without replacing anything."""
    suffix = Path(name).suffix if "." in name.lstrip(".") else ""
    stem = name[:len(name) - len(suffix)]
    candidate, k = parent / name, 1
    while candidate.exists() or candidate.is_symlink():
        k += 1
        candidate = parent / f"{stem}-{k}{suffix}"
    return candidate

def _other_files(folder: Path) -> list[Path]:
    """Everything in ``folder`` besides :data:`VASP_INPUT_FILES` at its top: the user's
    files, links and folders (empty ones too), deepest last."""
    return [p for p in sorted(folder.rglob("*"))
            if not (p.parent == folder and p.name in VASP_INPUT_FILES and p.is_file() and not p.is_symlink())]

def _retire_keeping_other_files(retired: Path, target: Path) -> None:
    """Move the user's files (a VASP run's OUTCAR, CONTCAR, job scripts) of the replaced
    folder ``retired/target.name`` into the new ``target``, then remove it; anything that
    could not be moved stays in a visible ``target.kept`` folder, never removed."""
    old = retired / target.name
    try:
        for path in _other_files(old):
            destination = target / path.relative_to(old)
            if path.is_dir() and not path.is_symlink():
                destination.mkdir(parents=True, exist_ok=True)
            elif path.exists() or path.is_symlink():
                destination.parent.mkdir(parents=True, exist_ok=True)
                os.replace(path, destination)
    finally:
        left = [p for p in _other_files(old) if not p.is_dir() or p.is_symlink()] if old.exists() else []
        if left:
            os.replace(old, free_path(target.parent, f"{target.name}.kept"))
        shutil.rmtree(retired, ignore_errors=True)

REPLACEABLE_KINDS = ("json", "plot")
"""Output files that replace an existing file only when it is of their own kind."""


def check_output_file(path: str | os.PathLike, kind: str | None = None) -> Path:
    """An output file (``--json``, ``--plot``, a model file) checked before any work: not
    a folder, in a folder that exists and is writable, and writable itself if it exists.
    With ``kind`` (``json`` or ``plot``) an existing file is replaced only when it is one of
    that kind (a JSON report, not a run folder's own file nor a pymatgen object; an image of the
    format its suffix names): ``--json x.cif`` would have replaced the user's structure with a report.

    Raises
    ------
    StructureFileError
        Naming the path and the problem.
    """
    target = Path(path)
    if not str(path).strip():
        raise StructureFileError("the output file name is empty")
    if target.is_dir():
        raise StructureFileError(f"{target} is a folder, not a file")
    parent = target.parent
    if not parent.exists():
        raise StructureFileError(f"{target}: the folder {parent} does not exist")
    if not parent.is_dir():
        raise StructureFileError(f"{target}: {parent} is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise StructureFileError(f"{target}: the folder {parent} is not writable")
    if target.exists() and not target.is_file():
        raise StructureFileError(f"{target} is not a regular file (a device, a pipe or a socket): give a file path")
    if target.exists() and not os.access(target, os.W_OK):
        raise StructureFileError(f"{target}: the file is not writable")
    _probe_writable(target)
    if kind is not None and target.is_file() and target.stat().st_size and (found := _not_replaceable(target, kind)):
        raise StructureFileError(f"{target} exists and is {found}: not replaced (give another path)")
    return target


def _probe_writable(target: Path, folder: Path | None = None) -> None:
    """Write access to ``folder`` (default: ``target``'s) tried for real, since permission bits do not
    tell (a read-only or special file system such as /proc, where even root cannot write): the folder
    receives a temporary file that is removed at once, which is what writing the output takes (it is
    written beside its place and renamed into it, :func:`core.io.files.atomic_write_bytes`); the
    user's existing file is not touched. The error names ``target``."""
    import tempfile

    folder = target.parent if folder is None else folder
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise StructureFileError(f"{target}: the folder {folder} is not writable "
                                 f"({exc.strerror or exc})") from None


PLOT_MAGIC = {".png": b"\x89PNG\r\n\x1a\n", ".pdf": b"%PDF", ".svg": b"<"}
"""The first bytes of a plot file of each suffix matplotlib writes (an SVG starts with ``<?xml`` or ``<svg``)."""

STATE_DIR = ".alphacrystal"
"""A run folder's working state (checkpoints, the manifest); its presence marks a run folder."""
SUMMARY_CSV = "summary.csv"
SUMMARY_JSON = "summary.json"
"""A run folder's summaries (one row per ranked structure); the JSON also holds the settings."""
RESULT_FILE = "result.json"
"""A result folder's record (:meth:`core.predict.record.ResultRecord.to_row`)."""
SCREEN_TABLE = "screen.csv"
"""The table a screen's folder holds (:mod:`core.screen.screening`): a run folder never does."""
SCREEN_REPORT = "report.html"
"""A screen's page, beside :data:`SCREEN_TABLE` (:mod:`core.screen.report`)."""
MANIFEST = "written.json"
"""``STATE_DIR/MANIFEST``: every file the program wrote into its result folders, with its
SHA-256, so that a re-run can tell the user's own files (added or edited) from its own."""
def is_run_folder_file(path: str | os.PathLike, folder: str | os.PathLike) -> bool:
    """Whether ``path`` is a file the run folder ``folder`` holds or will hold (its summaries, its
    state, a result folder's record): never a report's path (a first run's ``--json`` replaced the
    run's own summary.json)."""
    target, root = Path(path).resolve(), Path(folder).resolve()
    return (target.parent == root and target.name in (SUMMARY_CSV, SUMMARY_JSON)
            or root / STATE_DIR in target.parents
            or target.name == RESULT_FILE and target.parent.parent == root)


RUN_FOLDER_JSON = (SUMMARY_JSON, MANIFEST, RESULT_FILE)
"""A run folder's own JSON files (:mod:`core.predict.run_folder`, which uses these names; they live
here, below it, so that the output checks of every command can protect them): never replaced by a
report."""

REPORT_STAMP = "written_by"
"""The key every ``--json`` report carries (``alphacrystal VERSION``): a later ``--json`` replaces an
existing JSON file only when it carries it, so that no JSON of the user's (a package.json, a
hand-written map) is ever replaced by a report."""


def _not_replaceable(path: Path, kind: str) -> str:
    """Why the existing file at ``path`` must not be replaced by an output of ``kind`` (``json``: a
    report; ``plot``: a figure of the suffix's format), in words; "" when it may."""
    if kind == "plot":
        magic = PLOT_MAGIC.get(path.suffix.lower())
        if magic is None:
            return f"not a plot file (plots are {', '.join(PLOT_MAGIC)})"
        with path.open("rb") as fh:
            return "" if fh.read(len(magic)) == magic else f"not a {path.suffix.lower()[1:].upper()} image"
    if kind != "json":
        raise ValueError(f"unknown output kind {kind!r}: {', '.join(REPLACEABLE_KINDS)}")
    import json

    if path.name in RUN_FOLDER_JSON:
        return "a run folder's own file"
    other_suffix = path.suffix.lower() != ".json"  # a CIF, a project: said by its suffix unless our report
    try:
        document = json.loads(path.read_text(encoding="utf-8-sig"))
    except (UnicodeDecodeError, ValueError):
        return f"a {path.suffix or 'suffix-less'} file, not a JSON report" if other_suffix else "not a JSON document"
    if isinstance(document, dict) and "@module" in document:
        return f"a pymatgen {document.get('@class', 'object')}, not a report"
    if not (isinstance(document, dict) and str(document.get(REPORT_STAMP, "")).startswith("alphacrystal")):
        if other_suffix:
            return f"a {path.suffix or 'suffix-less'} file, not a JSON report"
        return ("a JSON file this program did not write (its reports carry 'written_by'; one written before "
                "2026-12-05 does not either: remove it if it is one)")
    return ""

def check_output_folder(path: str | os.PathLike) -> Path:
    """An output folder (``--out``) checked before any work: a folder or not there yet (it
    is made), not a file, under a writable folder.

    Raises
    ------
    StructureFileError
        Naming the path and the problem.
    """
    target = Path(path)
    if not str(path).strip():
        raise StructureFileError("the output folder name is empty")
    if target.exists() and not target.is_dir():
        raise StructureFileError(f"{target} is a file, not a folder")
    existing = next((p for p in (target, *target.parents) if p.exists()), Path("."))
    if existing.exists() and not existing.is_dir():
        raise StructureFileError(f"{target}: {existing} is a file, not a folder")
    if existing.exists() and not os.access(existing, os.W_OK | os.X_OK):
        raise StructureFileError(f"{target}: the folder {existing} is not writable")
    if existing.exists():  # permission bits do not tell on /proc or /sys, where even root cannot make a folder
        _probe_writable(target, existing)
    return target

def check_file_stem(stem: str) -> str:
    """A file name stem for exported files: a plain name, so every file lands in the output
    folder (no path separator, not ``.`` or ``..``, not empty).

    Raises
    ------
    ExportError
        Naming the stem and the problem.
    """
    separators = {sep for sep in ("/", "\\", os.sep, os.altsep) if sep}
    if not stem.strip() or stem.strip() in (".", "..") or "\0" in stem:
        raise ExportError(f"file stem {stem!r} is not a file name")
    if stem.startswith("."):  # .hidden.cif: files most listings do not show
        raise ExportError(f"file stem {stem!r} starts with a dot: its files would be hidden; give a visible name")
    if any(sep in stem for sep in separators):
        raise ExportError(f"file stem {stem!r} contains a path separator; give a plain name "
                          "(the files go into the output folder)")
    suffix = os.path.splitext(stem)[1].lower()
    if suffix in STRUCTURE_SUFFIXES:  # x.cif gave x.cif.cif and x.cif_sym.cif
        names = ", ".join(f"STEM{end}" for end in EXPORT_NAME_ENDS.values())
        raise ExportError(f"file stem {stem!r} ends in {suffix}: give the name without it (each format adds its "
                          f"own: {names})")
    return stem


EXPORT_NAME_ENDS = {"cif": ".cif", "cif-symmetrized": "_sym.cif", "poscar": ".POSCAR", "vasp": "_vasp"}
"""What each export format adds to the stem (:func:`core.io.write.export_targets`)."""
STRUCTURE_SUFFIXES = (".cif", ".vasp", ".poscar", ".gz", ".bz2", ".xz")
"""Suffixes of structure files that a stem never ends in (the default stem drops them; a given one
ending so is refused)."""


def stem_of(path: Path) -> str:
    """A structure file's name without its structure suffixes: ``NaCl.cif.gz`` -> ``NaCl``
    (``Path.stem`` gave ``NaCl.cif``)."""
    stem = path.name
    while os.path.splitext(stem)[1].lower() in STRUCTURE_SUFFIXES and os.path.splitext(stem)[0]:
        stem = os.path.splitext(stem)[0]
    return stem
