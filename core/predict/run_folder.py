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

from core.crystal.composition import same_formula
from core.errors import AlphaCrystalError
from core.io.files import atomic_write_text, json_text
from core.io.outputs import (  # their home: below every command's output checks
    MANIFEST,
    RESULT_FILE,
    SCREEN_TABLE,
    STATE_DIR,
    SUMMARY_CSV,
    SUMMARY_JSON,
    free_path,
)

RANKED_FOLDER = re.compile(r"^\d{2,}_")
SUMMARY_FILES = (SUMMARY_CSV, SUMMARY_JSON)
LEFTOVERS = (".staging.*", ".retired.*")
"""Folders a killed run can leave behind; the next run removes them."""
SUMMARIES_ENTRY = "(summaries)"
"""The manifest's entry for the summary files themselves (no result folder is named so): for each,
the SHA-256 of every version the program may have left there (the last run's; while a run swaps
its results in, the new one too, so that a kill mid-swap never makes the program's own summary
look edited)."""
KEPT_PREFIX = "kept_"
"""An earlier result folder that holds files of the user's is kept as ``kept_01_...``."""
_OWN_FILES = (RESULT_FILE, "POSCAR", "reconstructed.cif", "template.cif", "vasp/INCAR", "vasp/KPOINTS",
              "vasp/POSCAR", "vasp/POTCAR", "vasp/POTCAR.spec", "vasp/README.txt")
"""What a result folder of an older version (written before :data:`MANIFEST`) held besides
``FORMULA.cif``."""


class OutputFolderError(AlphaCrystalError, OSError):
    """The output folder cannot be created or written; the message names it."""


class ForeignResultsError(OutputFolderError):
    """The output folder holds another formula's results (``--overwrite`` replaces them)."""


def safe_name(text: str) -> str:
    """A file-name-safe version of a formula or space-group symbol (``P4_2/mnm`` -> ``P4_2-mnm``):
    letters, digits, ``_``, ``.`` and ``-`` only, safe on every file system (no brackets)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text.replace("/", "-")).strip("-.") or "x"


def structure_cif_name(formula: str) -> str:
    """The name of a result folder's symmetrised CIF: ``FORMULA.cif``, file-name safe."""
    return f"{safe_name(formula)}.cif"


class RunFolder:
    """One prediction's output folder (see the module docstring for its layout)."""

    def __init__(self, path: str | os.PathLike, formula: str | None = None, overwrite: bool = False) -> None:
        """``formula``: the run's formula; a folder holding another formula's results is
        refused unless ``overwrite`` (the user's own files are kept even then)."""
        self.path = Path(path)
        self.state = self.path / STATE_DIR
        self.formula = formula
        self.overwrite = overwrite
        self.notes: list[str] = []
        """What :meth:`publish` did with files of the user's (kept, moved along), in words."""

    def check(self) -> None:
        """Refuse, before anything is written, a folder whose contents this program did not
        write where it would write (a ``summary.csv`` of the user's, a ``01_...`` folder
        without ``result.json``) or that holds another formula's results (unless
        ``overwrite``).

        Raises
        ------
        OutputFolderError, ForeignResultsError
        """
        if self.path.exists() and not self.path.is_dir():
            raise OutputFolderError(f"output folder {self.path} is a file")
        if not self.path.is_dir():
            return
        if (self.path / SCREEN_TABLE).is_file():
            raise OutputFolderError(f"{self.path} is a screen's folder (it holds {SCREEN_TABLE}): a prediction "
                                    "goes into a folder of its own (each formula of a screen has its subfolder)")
        summary_formula = our_summary_formula(self.path)
        for folder in sorted(self.path.iterdir()):
            if self._named_like_ours(folder) and not (folder / RESULT_FILE).is_file():
                raise OutputFolderError(f"{folder} is named like a result folder but has no result.json: it is "
                                        "not this program's; move it or choose another output folder")
        if self.formula is None or self.overwrite:
            return
        self.check_formula(summary_formula)

    def foreign_formulas(self, summary_formula: str | None = None) -> list[str]:
        """The other formulas whose results the folder holds (its summary's, ``summary_formula``,
        and each result folder's); [] for a folder of this formula's or none."""
        if self.formula is None or not self.path.is_dir():
            return []
        found = {summary_formula} if summary_formula else set()
        for folder in self._result_folders():
            found.add(str(_read_json(folder / RESULT_FILE).get("formula", "")))
        return sorted(f for f in found if f and not same_formula(f, self.formula))

    def check_formula(self, summary_formula: str | None = None) -> None:
        """Refuse a folder holding another formula's results (:meth:`foreign_formulas`), before
        anything is written.

        Raises
        ------
        ForeignResultsError
        """
        other = self.foreign_formulas(summary_formula)
        if other:
            raise ForeignResultsError(f"{self.path} holds the results of {', '.join(other)}, not "
                                      f"{self.formula}: choose another output folder, or pass --overwrite to "
                                      "replace them (files you added to them are kept)")

    def _named_like_ours(self, path: Path) -> bool:
        """``NN_FORMULA_...`` with this run's formula: where a result folder of this run may go
        (a user's ``2024_notes/`` is not)."""
        parts = path.name.split("_")
        return (self.formula is not None and RANKED_FOLDER.match(path.name) is not None and len(parts) > 2
                and same_formula(parts[1], self.formula))

    def prepare(self) -> None:
        """Check the folder (:meth:`check`), create it and check that it is writable.

        Raises
        ------
        OutputFolderError
            When it cannot be created or written (read-only, a file in the way), or
            holds what this program must not replace (:meth:`check`).
        """
        self.check()
        try:
            self.state.mkdir(parents=True, exist_ok=True)
            fd, probe = tempfile.mkstemp(dir=self.state, prefix=".probe.")
            os.close(fd)
            os.unlink(probe)
            for leftover in self.path.glob(".staging.*"):  # of a killed run: only files the program wrote
                shutil.rmtree(leftover, ignore_errors=True)
            for leftover in self.path.glob(".retired.*"):  # a retired folder with the user's files is kept
                self._remove_retired(leftover)
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
        atomic_write_text(self.state / f"{kind}-{key}.json", json_text(payload, indent=None))

    # results ------------------------------------------------------------
    def publish(self, entries: list[tuple[str, Callable[[Path], object]]], rows: list[dict], meta: dict) -> list[Path]:
        """Replace the run's results by ``entries`` = [(folder name, writer(folder))]
        and their summary, so that a kill at any moment never leaves a summary that
        lists a folder which is not there, and no file of the user's is ever removed.

        Everything is built in a staging folder beside the results first. Then the
        folder is checked again (:meth:`check`); the old ``summary.csv``/``summary.json``
        are removed, the old ranked folders (``NN_*``) retired, the new folders renamed
        into place, and the new summaries renamed in last. An old result folder holding
        files the program did not write (or wrote and the user edited,
        :data:`MANIFEST`) is not retired: those files move along into the new folder of
        the same structure (identical ``POSCAR``), or, without one, the old folder is
        kept whole as ``kept_NN_*``; :attr:`notes` says which. Leftovers of a killed run
        (``.staging.*``, ``.retired.*``) are removed by the next run (:meth:`prepare`).
        """
        staging = Path(tempfile.mkdtemp(prefix=".staging.", dir=self.path))
        retired, previous = None, None
        try:
            for name, writer in entries:
                folder = staging / name
                folder.mkdir()
                writer(folder)
            written = {name: _file_hashes(staging / name) for name, _ in entries}
            self.check()
            old_folders = self._result_folders()
            names = {name for name, _ in entries}
            for name in names:
                target = self.path / name
                if (target.exists() or target.is_symlink()) and target not in old_folders:
                    raise OutputFolderError(f"{target} is in the way and is not a result folder of this program; "
                                            "move it or choose another output folder")
            previous = _read_json(self.state / MANIFEST)  # what the earlier run wrote
            keep, moves = self._plan_user_files(old_folders, staging, written, previous)
            self._keep_edited_summaries(previous)
            # the summary says where the user's files went (a screen prints no notes: they were said nowhere)
            noted = list(meta.get("notes") or [])
            said = [note for note in self.notes if note not in noted]
            summaries = self.summary_files(staging, rows, {**meta, "notes": noted + said} if said else meta)
            summary_hashes = {path.name: [_sha256(path)] for path in summaries}
            remade = [_structure_lines(staging / name / "POSCAR") for name in written]
            gone = sorted(old.name for old in old_folders  # not kept, its name not reused, its POSCAR not remade
                          if old not in keep and old.name not in names
                          and (_structure_lines(old / "POSCAR") or None) not in remade)
            # for a kill during the swap: the old summaries or the new ones may be on disk, both the program's
            self._save_manifest({**previous, SUMMARIES_ENTRY: {
                name: _own_hashes(previous, name) + summary_hashes[name] for name in summary_hashes}})
            retired = Path(tempfile.mkdtemp(prefix=".retired.", dir=self.path))
            self._set_aside(old_folders, keep, retired)
            out = []
            try:
                for name, _ in entries:
                    os.replace(staging / name, self.path / name)
                    out.append(self.path / name)
                # last: the summary appears once every folder it lists is in place; the json first,
                # so that a kill between the two never leaves a csv that check() takes for the user's
                for path in sorted(summaries, key=lambda p: p.suffix != ".json"):
                    os.replace(path, self.path / path.name)
            except Exception:
                for moved in out:  # an error (not a kill) mid-swap: put the old results back
                    shutil.rmtree(moved, ignore_errors=True)
                for old in retired.iterdir():
                    os.replace(old, self.path / old.name)
                raise
            self._save_manifest({**written, SUMMARIES_ENTRY: summary_hashes})
            self._move_user_files(retired, moves)
            if gone:  # a narrower re-run (fewer candidates) ends with fewer folders: say which went
                self.notes.append(f"removed {_count_folders(gone)} of the earlier run that this run did not make "
                                  f"again: {', '.join(gone)} (they held only files the program wrote)")
            return out
        finally:
            shutil.rmtree(staging, ignore_errors=True)
            if retired is not None:
                self._remove_retired(retired, previous)

    def _set_aside(self, old_folders: list[Path], keep: dict[Path, Path], retired: Path) -> None:
        """Move the old summaries and result folders out of the way (into ``retired``, or to their
        ``kept_`` names); where one cannot be moved (a folder the system will not let go), everything
        moved is put back and :class:`OutputFolderError` names it. The summaries were deleted first
        and a traceback followed: the folder was left without them."""
        done: list[tuple[Path, Path]] = []
        moving = self.path
        try:
            for name in SUMMARY_FILES:
                moving = self.path / name
                if moving.exists():
                    os.replace(moving, retired / name)
                    done.append((retired / name, moving))
            for old in old_folders:  # only result folders: never a user's own "2024_notes/"
                moving = old
                target = keep.get(old, retired / old.name)
                os.replace(old, target)
                done.append((target, old))
        except OSError as exc:
            for moved, origin in reversed(done):
                try:
                    os.replace(moved, origin)
                except OSError:  # cannot happen for what was just moved; said by the error below if it does
                    pass
            raise OutputFolderError(f"cannot move {moving} aside to replace it ({exc.strerror or exc}); the earlier "
                                    "results are left as they were: check its permissions (or an immutable "
                                    "flag), or choose another output folder") from None

    def _keep_edited_summaries(self, previous: dict) -> None:
        """A summary the user edited since the program wrote it (its hash differs from the
        manifest's) is kept as ``kept_summary.csv`` rather than replaced; :attr:`notes` says so.
        A folder of an earlier version of the program has no hash of its summaries: they are
        replaced, as they were then."""
        if not isinstance(previous.get(SUMMARIES_ENTRY), dict):
            return
        for name in SUMMARY_FILES:
            path, own = self.path / name, _own_hashes(previous, name)
            if path.is_file() and own and _sha256(path) not in own:
                kept = free_path(self.path, KEPT_PREFIX + name)
                os.replace(path, kept)
                self.notes.append(f"kept your edited {name} as {kept.name} (the new {name} replaces it)")

    def write_in_place(self, entries: list[tuple[str, Callable[[Path], object]]]) -> list[Path]:
        """Write result folders ``entries`` = [(folder name, writer(folder))] into the folder
        beside whatever it holds (the desktop app's export: no summary, other folders left as
        they are), never replacing a file the user edited.

        Each folder is written in a staging folder first. Into an existing folder of that
        name the new files are moved one by one, and files the user added stay, unless a
        file the program would write there differs both from what it last wrote (by
        :data:`MANIFEST`; a folder without an entry there counts every difference) and from
        the new version: then the old folder is kept whole as ``kept_NN_*`` and the new one
        takes its name. :attr:`notes` says so.
        """
        try:
            self.state.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputFolderError(f"cannot write to folder {self.path}: {exc.strerror or exc}") from None
        manifest = _read_json(self.state / MANIFEST)
        out = []
        for name, writer in entries:
            target = self.path / name
            if target.exists() and not target.is_dir() or target.is_symlink():
                raise OutputFolderError(f"{target} is in the way and is not a result folder of this program; "
                                        "move it or choose another folder")
            staging = Path(tempfile.mkdtemp(prefix=".staging.", dir=self.path))
            try:
                new = staging / name  # the writer names the folder in result.json
                new.mkdir()
                writer(new)
                written = _file_hashes(new)
                edited = self._edited(target, written, manifest.get(name)) if target.is_dir() else []
                if edited:
                    kept = free_path(self.path, KEPT_PREFIX + name)
                    os.replace(target, kept)
                    self.notes.append(f"kept {name} as {kept.name}: you edited {', '.join(edited)}")
                if target.is_dir():
                    for file in written:
                        (target / file).parent.mkdir(parents=True, exist_ok=True)
                        os.replace(new / file, target / file)
                else:
                    os.replace(new, target)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
            manifest[name] = written
            self._save_manifest(manifest)
            out.append(target)
        return out

    @staticmethod
    def _edited(folder: Path, written: dict[str, str | None], own: object) -> list[str]:
        """Files of ``folder`` that the program is about to write anew (``written``) and that
        differ from both the new version and what the program last wrote there (``own``, its
        manifest entry; None when there is none): the user's edits, which must not be replaced."""
        own = own if isinstance(own, dict) else {}
        found = _file_hashes(folder, hashed=set(written))
        return sorted(name for name, digest in found.items()
                      if name in written and digest != written[name] and digest != own.get(name))

    def _result_folders(self) -> list[Path]:
        """The ranked folders of the earlier run: those its manifest (:data:`MANIFEST`) or its
        ``summary.json`` lists, with a ``result.json``; any ``NN_*`` folder with a
        ``result.json`` only for a folder of an older version that has neither. A copy the
        user made (``01_TiO2_mybackup/``) is not listed, so it is never retired."""
        if not self.path.is_dir():
            return []
        listed = set(_read_json(self.state / MANIFEST))
        summary = _read_json(self.path / SUMMARY_JSON).get("structures")
        if isinstance(summary, list):
            listed |= {str(row.get("folder", "")) for row in summary if isinstance(row, dict)}
        return sorted(p for p in self.path.iterdir()
                      if p.is_dir() and RANKED_FOLDER.match(p.name) and (p / RESULT_FILE).is_file()
                      and (not listed or p.name in listed))

    def user_files(self, folder: Path, manifest: dict | None = None, empty_folders: bool = True) -> list[str]:
        """Files of a result folder (paths relative to it) that this program did not write,
        or wrote and somebody changed since (by ``manifest``, default the one on disk), and the
        empty folders in it (``vasp/run1/``, with a slash: the program makes none, and a re-run
        removed one made for a DFT run; ``empty_folders=False``: files only, as for an old folder whose
        files have moved along and left their folders empty behind)."""
        manifest = (_read_json(self.state / MANIFEST) if manifest is None else manifest).get(folder.name)
        if isinstance(manifest, dict):
            own = manifest
        else:  # a folder of an older version: its file names
            formula = str(_read_json(folder / RESULT_FILE).get("formula", ""))
            own = {name: None for name in (*_OWN_FILES, structure_cif_name(formula))}
        found = _file_hashes(folder, hashed=set(own) if isinstance(manifest, dict) else set())
        ours = {parent.as_posix() for name in own for parent in Path(name).parents if parent != Path(".")}
        empty = [f"{path.relative_to(folder).as_posix()}/" for path in folder.rglob("*")
                 if empty_folders and path.is_dir() and not path.is_symlink() and not any(path.iterdir())
                 and path.relative_to(folder).as_posix() not in ours]  # an emptied vasp/ is the program's
        return sorted([name for name, digest in found.items()
                       if name not in own or (own[name] is not None and own[name] != digest)] + empty)

    def _plan_user_files(self, old_folders: list[Path], staging: Path, written: dict[str, dict[str, str | None]],
                         previous: dict) -> tuple[dict[Path, Path], list[tuple[str, str, list[str]]]]:
        """Where the user's files of each old result folder go: along with the same structure
        (identical ``POSCAR``) into its new folder, as (old name, new name, files), moved once
        the new folders are in place; else the old folder stays whole under a ``kept_`` name,
        as {old folder: kept path}. :attr:`notes` says which."""
        keep: dict[Path, Path] = {}
        moves: list[tuple[str, str, list[str]]] = []
        poscars = {name: _structure_lines(staging / name / "POSCAR") for name in written}
        for old in old_folders:
            files = self.user_files(old, previous)
            if not files:
                continue
            poscar = _structure_lines(old / "POSCAR")
            same = next((name for name, lines in poscars.items() if poscar is not None and lines == poscar), None)
            if same is not None and not any((staging / same / f).exists() for f in files if not f.endswith("/")):
                moves.append((old.name, same, files))
                self.notes.append(f"kept {_count(files)} you added to {old.name} ({', '.join(files)}): moved "
                                  f"along with the same structure into {same}")
                continue
            keep[old] = free_path(self.path, KEPT_PREFIX + old.name)
            if same is not None:  # the same structure, but a file of the user's is one the new run writes too
                why = (f"the same structure is now {same}, but the run writes "
                       + ", ".join(f for f in files if (staging / same / f).exists())
                       + " there anew, so your version stays with the old folder")
            else:
                why = ("no new result has exactly its POSCAR (a re-run may relax the same structure type a little "
                       "differently, or not find it)")
            self.notes.append(f"kept {old.name} as {keep[old].name}: it holds {_count(files)} of yours "
                              f"({', '.join(files)}); {why}")
        return keep, moves

    def _move_user_files(self, retired: Path, moves: list[tuple[str, str, list[str]]]) -> None:
        """Move the planned user files from the retired old folders into the new ones."""
        for old_name, new_name, files in moves:
            for f in files:
                if f.endswith("/"):  # an empty folder of the user's: made again where it belongs
                    (self.path / new_name / f).mkdir(parents=True, exist_ok=True)
                    continue
                (self.path / new_name / f).parent.mkdir(parents=True, exist_ok=True)
                os.replace(retired / old_name / f, self.path / new_name / f)

    def _remove_retired(self, retired: Path, manifest: dict | None = None) -> None:
        """Remove retired old result folders, except one still holding files of the user's (a
        move that failed, or a run killed before it): that one is kept as ``kept_NN_...``."""
        for old in sorted(retired.iterdir()) if retired.is_dir() else []:
            # files only: the folders a move along emptied (and the empty ones it made again) are not the user's
            files = (self.user_files(old, manifest, empty_folders=False)
                     if old.is_dir() and (old / RESULT_FILE).is_file() else [])
            if files:
                kept = free_path(self.path, KEPT_PREFIX + old.name)
                os.replace(old, kept)
                self.notes.append(f"kept {old.name} as {kept.name}: it holds {_count(files)} of yours")
        shutil.rmtree(retired, ignore_errors=True)

    def _save_manifest(self, written: dict[str, dict]) -> None:
        atomic_write_text(self.state / MANIFEST, json_text(written, indent=1, sort_keys=True))

    @staticmethod
    def summary_files(folder: Path, rows: list[dict], meta: dict) -> tuple[Path, Path]:
        """``summary.csv`` (one row per ranked structure) and ``summary.json`` (the same
        rows + run details), written together into ``folder`` from one list of rows."""
        buffer = io.StringIO()
        if rows:
            writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
        csv_path = atomic_write_text(folder / SUMMARY_CSV, buffer.getvalue())
        json_path = atomic_write_text(folder / SUMMARY_JSON,
                                      json_text({**meta, "structures": rows}))
        return csv_path, json_path


def _own_hashes(manifest: dict, name: str) -> list[str]:
    """The SHA-256 of every version of summary ``name`` the program may have left (the manifest's
    :data:`SUMMARIES_ENTRY`; a single hash in the first files of this kind)."""
    entry = manifest.get(SUMMARIES_ENTRY)
    value = entry.get(name) if isinstance(entry, dict) else None
    values = [value] if isinstance(value, str) else value if isinstance(value, list) else []
    return [v for v in values if isinstance(v, str)]


def _read_json(path: Path) -> dict:
    """A JSON object from ``path``; {} when it is missing, unreadable or not an object."""
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _file_hashes(folder: Path, hashed: set[str] | None = None) -> dict[str, str | None]:
    """{path relative to ``folder``: SHA-256} of every file below it; only the paths in
    ``hashed`` are read (all when None: a folder the program just wrote), so that a user's
    WAVECAR of several GB is listed, not read."""
    out: dict[str, str | None] = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() or path.is_symlink():
            name = path.relative_to(folder).as_posix()
            wanted = path.is_file() and not path.is_symlink() and (hashed is None or name in hashed)
            out[name] = _sha256(path) if wanted else None
    return out


def _structure_lines(poscar: Path) -> list[str] | None:
    """A POSCAR's lines without the first (a comment that names the rank): equal for the same
    relaxed structure whatever its rank; None without one."""
    try:
        return poscar.read_text().splitlines()[1:]
    except OSError:
        return None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _count_folders(names: list[str]) -> str:
    return f"{len(names)} result folder{'s' if len(names) != 1 else ''}"


def _count(files: list[str]) -> str:
    return f"{len(files)} file" + ("" if len(files) == 1 else "s")


def our_summary_formula(folder: Path) -> str | None:
    """The formula of the summary this program wrote into ``folder`` ("" when it names none), or
    None when there is no summary.

    Raises
    ------
    OutputFolderError
        When ``folder`` holds a ``summary.json``/``summary.csv`` this program did not write.
    """
    summary = folder / SUMMARY_JSON
    if summary.exists():
        try:
            payload = json.loads(summary.read_text())
            rows = payload["structures"]  # every summary of ours lists its structures
            if not isinstance(rows, list):
                raise TypeError("structures is not a list")
            return str(payload.get("formula") or "")
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise OutputFolderError(f"{summary} was not written by alphacrystal ({type(exc).__name__}); "
                                    "move it or choose another output folder") from None
    csv_path = folder / SUMMARY_CSV
    if csv_path.exists():
        try:  # ours if the manifest of its run folder lists it as written (its json deleted by hand)
            ours = _sha256(csv_path) in _own_hashes(_read_json(folder / STATE_DIR / MANIFEST), SUMMARY_CSV)
        except OSError:
            ours = False
        if ours:
            return ""
        raise OutputFolderError(f"{csv_path} was not written by alphacrystal (no {SUMMARY_JSON} beside it, and "
                                f"not among the files {STATE_DIR}/{MANIFEST} lists); move it or choose another "
                                "output folder")
    return None


def ranked_folder_name(rank: int, formula: str, symbol: str) -> str:
    """``01_TiO2_P4_2-mnm``: rank, formula and space-group symbol, file-name safe."""
    return f"{int(rank):02d}_{safe_name(formula)}_{safe_name(symbol)}"


