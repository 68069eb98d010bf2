"""Screening many formulas: one ``predict`` per formula, spread over a Dask cluster.

``alphacrystal screen`` runs :func:`screen` on a Dask ``distributed`` cluster: by
default a ``LocalCluster`` started in this process (one worker process per core,
one thread each, nothing to install or configure), or an existing scheduler
(``--scheduler tcp://host:8786``), or a SLURM / PBS cluster through dask-jobqueue
(``--cluster slurm|pbs`` with a small config file; docs/screening.md). We write no
queue of our own: Dask schedules, retries and reports.

Each formula is one task, :func:`screen_task`, that runs the same
:func:`core.predict.pipeline.predict_structures` as ``predict`` into ``DIR/FORMULA/`` (the
run folder: per-step results are stored as they finish, so a retried or re-run
formula resumes). The task runs on one core (``jobs=1``: the GA and the
relaxations in the worker process itself); the models, the template library and
the potential are cached per process, so a worker loads them once, not once per
formula.

Resumable and fault tolerant: a formula whose folder holds a finished summary is
not run again (its row is read back). A task that raises is retried up to
``retries`` times by Dask; a worker that dies (killed process, lost node) makes
the scheduler re-run its task elsewhere, up to the same number of times
(``distributed.scheduler.allowed-failures``); then the formula is recorded as
failed with the reason. No more tasks are out than the cluster has threads, so a
task sits only on the worker that runs it: Dask also counts a death against the
tasks queued on that worker, which would fail formulas that never ran. A prediction that fails for a reason of its own (no
structure to offer) is not retried. Only finished formulas are written to the
report; nothing half-written is reported as a result.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import socket
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from core.crystal.matching import reference_match
from core.errors import AlphaCrystalError, VaspRemarkWarning
from core.io.files import atomic_write_text
from core.io.outputs import SCREEN_REPORT, SCREEN_TABLE, SUMMARY_JSON
from core.io.read import read_structure
from core.predict.record import ResultRecord
from core.predict.run_folder import structure_cif_name
from core.predict.settings import PredictionSettings, setting_option, setting_value
from core.runtime.parallel import background_priority
from core.screen.cluster import DEFAULT_RETRIES, DEFAULT_WORKER_TIMEOUT
from core.screen.errors import ScreenError
from core.screen.inputs import ScreenItem
from core.screen.report import report_html, sorted_hull
from core.stability.hull import STABILITY_COLUMNS, UNCERTAIN


# ---------------------------------------------------------------- one formula (runs on a worker)
def screen_task(item: ScreenItem, settings_dict: dict, out_dir: str) -> dict:
    """Predict one formula into ``out_dir/item.name`` and return its screen row.

    Runs on a Dask worker: one core (``jobs=1``), torch on one thread. A prediction
    that fails for a reason of its own (an :class:`AlphaCrystalError`) returns a
    ``failed`` row; anything else raises, so that Dask retries it.
    """
    # imported here, on the worker: the client that schedules the screen (the CLI, a laptop) never
    # loads torch and the models (seconds of start-up and the memory they hold)
    import torch

    from core.predict.pipeline import predict_structures

    torch.set_num_threads(1)
    background_priority()  # a window's run beside the screen gets its share of the cores
    start = time.perf_counter()
    settings = task_settings(item, settings_dict, as_dict=False)
    folder = item.folder(Path(out_dir))
    try:
        # pymatgen's remarks on VASP inputs (Co started low spin) are in each vasp/README.txt: printed by
        # every worker, they flooded a screen's terminal. A filter of the worker process (one entry however
        # often added), not a catch_warnings block, which is not thread-safe on a worker with several threads.
        warnings.filterwarnings("ignore", category=VaspRemarkWarning)
        result = predict_structures(item.formula, settings, out_dir=folder)
    except AlphaCrystalError as exc:
        return failed_row(item, str(exc), time.perf_counter() - start, worker=_worker_name())
    row = row_from_folder(item, folder)
    return {**row, "seconds": round(time.perf_counter() - start, 1), "worker": _worker_name(),
            "resumed": bool(any(result.resumed.values()))}


def _worker_name() -> str:
    try:
        from distributed import get_worker

        return get_worker().address
    except (ImportError, ValueError):
        return socket.gethostname()


# ---------------------------------------------------------------- rows
ROW_FIELDS = ("formula", "status", "e_above_hull_meV", "stability", "lowest_e_above_hull_meV", "lowest_stability",
              "best_energy_per_atom",
              "formation_energy_per_atom", "decomposition", "hull_note", "hull_warning", "spacegroup", "symbol", "source", "dice",
              "match", "rms", "n_structures", "seconds", "worker", "folder", "cif", "reason", "line")
"""Columns of ``screen.csv``; its rows are in :func:`screen_order` (lowest energy above the hull first).
``e_above_hull_meV`` and the stability columns are the rank-1 structure's; ``lowest_e_above_hull_meV``
is the lowest of the formula's structures (rank 1 is not always the lowest in the first potential's
energy, which the hull uses: docs/stability.md) and ``lowest_stability`` its label."""


def screen_order(rows: list[dict]) -> list[dict]:
    """Rows by the lowest energy above the hull among each formula's structures (meV/atom;
    comparable across formulas, unlike energies per atom; rank 1's where a row has no lowest),
    lowest first; then those whose rank 1 is ``uncertain`` (far below a hull that lacks phases
    of its system: MgO at -1,550 meV/atom is no best find), then rows without one (not relaxed,
    failed, no reference phases) in their own order."""
    def key(row: dict) -> tuple[int, float]:
        value = sorted_hull(row)
        if value is None:
            return (2, 0.0)
        label = row.get("lowest_stability") or row.get("stability")  # the label of the figure sorted by
        return (1 if label == UNCERTAIN else 0, value)

    return sorted(rows, key=key)


IGNORED_SETTINGS = ("jobs", "device")
"""Settings that do not change a prediction's result (where it ran)."""


def task_settings(item: ScreenItem, settings_dict: dict, as_dict: bool = True):
    """The prediction settings of one formula: the screen's, with its own Z and space groups,
    one core (a ``PredictionSettings``, or its dict as ``summary.json`` stores it)."""
    settings = PredictionSettings(**{**settings_dict, "jobs": 1, "z": item.z,
                                     "spacegroups": item.spacegroups or None})
    return settings.to_dict() if as_dict else settings


def finished(folder: Path, settings: dict | None = None) -> bool:
    """Whether a formula's run folder holds a finished prediction (its summary) made with
    ``settings`` (:func:`task_settings`; None: any). Another Z, other space groups or
    other settings run again; the run folder then recomputes only what they change."""
    if not (folder / SUMMARY_JSON).is_file():
        return False
    if settings is None:
        return True
    stored = _stored_settings(folder)
    return stored is not None and not settings_changes(stored, settings)


def _stored_settings(folder: Path) -> dict | None:
    """The settings a run folder's summary was made with; None where the summary cannot be read."""
    import json

    try:
        return json.loads((folder / SUMMARY_JSON).read_text()).get("settings", {})
    except (OSError, ValueError):
        return None


RELABEL_SETTINGS = ("ehull_threshold", "stability_frame")
"""Settings that only place the same relaxed structures on the hull again: a screen re-run with
another value re-runs those formulas from their stores in seconds (no refusal)."""


def changed_settings(stored: dict, settings: dict) -> list[str]:
    """The settings (keys) that differ between ``stored`` (a finished run folder's) and ``settings``
    where the prediction would change (not :data:`IGNORED_SETTINGS`)."""
    keys = dict.fromkeys([*settings, *stored])
    return [key for key in keys if key not in IGNORED_SETTINGS and not _same(stored.get(key), settings.get(key))]


def settings_changes(stored: dict, settings: dict) -> list[str]:
    """What differs between ``stored`` settings and ``settings``, in the command line's words, one
    ``--option old -> new`` each (``--potential chgnet -> sevennet``, ``--ehull-threshold 100 meV/atom
    -> 50 meV/atom``), or ``--fast`` where the differences are exactly that preset's; [] when nothing
    differs (:func:`changed_settings`)."""
    keys = changed_settings(stored, settings)
    fast, default = dataclasses.asdict(PredictionSettings.fast()), dataclasses.asdict(PredictionSettings())
    preset = {k for k in default if default[k] != fast[k]}

    def side(values: dict) -> str | None:  # "--fast" or "no --fast" where every changed key says so
        if all(_same(values.get(k), fast[k]) for k in keys):
            return "--fast"
        return "no --fast" if all(_same(values.get(k), default[k]) for k in keys) else None

    # a preset switch changes several settings at once; one of them alone is that option's change
    before, after = side(stored), side(settings)
    if len(keys) > 1 and set(keys) <= preset and None not in (before, after) and before != after:
        return [f"{before} -> {after}"]
    words = []
    for k in keys:
        change = f"{setting_value(k, stored.get(k))} -> {setting_value(k, settings.get(k))}"
        if k in NO_OPTION_SETTINGS:  # no option of its own: named as the setting, and where it comes from
            words.append(f"{k} {change}" + (" (a --fast setting)" if k in preset else ""))
        else:
            words.append(f"{setting_option(k)} {change}")
    return words


NO_OPTION_SETTINGS = ("fmax", "relax_steps", "prerelax_steps", "refine_top", "refine_window", "second_top")
"""Settings with no command-line option of their own (``--fast`` sets some of them)."""


def _same(a, b) -> bool:
    """Settings values equal as stored in JSON (a tuple read back as a list)."""
    return (list(a) if isinstance(a, tuple) else a) == (list(b) if isinstance(b, tuple) else b)


def row_from_folder(item: ScreenItem, folder: Path) -> dict:
    """The screen row of a finished run folder: its best structure (rank 1), and, with a
    reference, whether it matches it (StructureMatcher at its default tolerances)."""
    import json

    summary = json.loads((folder / SUMMARY_JSON).read_text())
    rows = summary.get("structures", [])
    best = ResultRecord.from_row(rows[0], where=f"{folder / SUMMARY_JSON}, rank 1") if rows else ResultRecord(0)
    cif = folder / best.folder / structure_cif_name(summary.get("formula", item.name)) if best.folder else None
    placed = [r for r in rows if r.get("e_above_hull_meV") not in (None, "")]
    lowest = min(placed, key=lambda r: float(r["e_above_hull_meV"])) if placed else {}
    row = {"formula": item.formula, "status": "done" if rows else "failed", "line": item.line,
           "best_energy_per_atom": best.energy_per_atom,
           **{k: getattr(best, k) for k in STABILITY_COLUMNS},
           "lowest_e_above_hull_meV": float(lowest["e_above_hull_meV"]) if lowest else None,
           "lowest_stability": lowest.get("stability"),
           "spacegroup": best.relaxed_spacegroup or best.spacegroup,
           "symbol": best.relaxed_symbol or best.symbol or None, "source": best.source or None,
           "dice": best.dice if best.relaxed_dice is None else best.relaxed_dice,
           "n_structures": len(rows),
           "seconds": summary.get("seconds"), "folder": str(folder),
           "cif": str(cif) if cif is not None and cif.is_file() else "", "match": None, "rms": None,
           "reason": "" if rows else "no structure in the summary", "worker": ""}
    if lowest and lowest is not rows[0] and lowest.get("hull_warning") and not row.get("hull_warning"):
        # the row is placed by its lowest structure: a doubt about that figure is the row's
        row["hull_warning"] = f"the formula's lowest structure (rank {lowest.get('rank')}): {lowest['hull_warning']}"
    if item.reference and row["cif"]:
        row.update(_match(row["cif"], item.reference))
    return row


def _match(cif: str, reference: str) -> dict:
    try:
        predicted, known = read_structure(cif), read_structure(reference)
    except AlphaCrystalError as exc:
        return {"match": None, "reason": f"reference not compared: {exc}"}
    found = reference_match(predicted, known)
    return {"match": found.matched, "rms": None if found.rms is None else round(found.rms, 4)}


def failed_row(item: ScreenItem, reason: str, seconds: float | None = None, worker: str = "") -> dict:
    return {"formula": item.formula, "status": "failed", "reason": reason.splitlines()[0] if reason else "",
            "seconds": None if seconds is None else round(seconds, 1), "worker": worker, "line": item.line}


# ---------------------------------------------------------------- the screen
@dataclass
class ScreenProgress:
    """Counts of a running screen (for the progress bar)."""

    total: int
    done: int = 0
    failed: int = 0
    skipped: int = 0
    elapsed_s: float = 0.0
    last: str = ""

    @property
    def running(self) -> int:
        """Formulas not finished yet (running or waiting for a worker)."""
        return self.total - self.done - self.failed - self.skipped


def screen(items: list[ScreenItem], out_dir: str | os.PathLike, settings_dict: dict, client,
           retries: int = DEFAULT_RETRIES, progress: Callable[[ScreenProgress], None] | None = None,
           cancel=None, task: Callable = screen_task,
           worker_timeout: float | None = DEFAULT_WORKER_TIMEOUT, skipped: tuple[str, ...] = ()) -> list[dict]:
    """Run every item not finished yet on ``client``; return one row per item (input order).

    While formulas are left and the cluster has had no worker for ``worker_timeout``
    seconds (None: wait for ever), the screen stops with a :class:`ScreenError` (finished
    rows are kept in ``screen.csv``): batch jobs that never start, or workers all gone.

    ``screen.csv`` and ``report.html`` in ``out_dir`` are rewritten after each finished
    formula (atomically), so an interrupted screen still has its report. ``cancel``
    (anything with ``is_set()``) stops it: running tasks are cancelled, finished rows kept.
    ``task`` is the function run per formula (:func:`screen_task`; tests pass others).
    """
    from distributed import wait

    out = Path(out_dir).resolve()  # a worker on another machine or in another folder needs the full path
    if out.exists() and not out.is_dir():
        raise ScreenError(f"{out} is a file, not a folder")
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    rows: dict[str, dict] = {}
    state = ScreenProgress(total=len(items))
    for item in items:
        if finished(item.folder(out), task_settings(item, settings_dict) if settings_dict else None):
            rows[item.name] = {**row_from_folder(item, item.folder(out)), "status": "done (earlier run)"}
            state.skipped += 1
    todo = [item for item in items if item.name not in rows]
    threshold = (settings_dict or {}).get("ehull_threshold")  # named in the report
    write_report(out, [rows[i.name] for i in items if i.name in rows], threshold, skipped)
    if progress:
        progress(dataclasses.replace(state, elapsed_s=time.perf_counter() - start))
    running: dict = {}
    no_worker_since = [time.perf_counter()]  # when the cluster was last seen without a worker

    def fill() -> None:
        """Submit while fewer tasks are out than the cluster has threads (at least one): a
        task is only ever on the worker that runs it, so a worker that dies costs that one
        formula a retry, not the formulas queued behind it (Dask counts those too).
        No worker for ``worker_timeout`` seconds while formulas are left is an error."""
        threads = sum(client.nthreads().values())
        if threads or not (todo or running):
            no_worker_since[0] = time.perf_counter()
        elif worker_timeout is not None and time.perf_counter() - no_worker_since[0] >= worker_timeout:
            raise ScreenError(f"no Dask worker in {worker_timeout:g} s with {len(todo) + len(running)} formulas "
                              "left: the cluster's worker jobs did not start or have all ended (check the batch "
                              "queue, e.g. squeue or qstat; --worker-timeout sets the wait); finished formulas "
                              f"are in {Path(out) / SCREEN_TABLE}")
        while todo and len(running) < max(1, threads):
            item = todo.pop(0)
            future = client.submit(task, item, settings_dict, str(out), key=f"screen-{item.name}-{time.time_ns()}",
                                   retries=retries, pure=False)
            running[future] = item

    try:
        fill()
        while running:
            try:
                done, _ = wait(list(running), timeout=2.0, return_when="FIRST_COMPLETED")
            except (TimeoutError, asyncio.TimeoutError):  # nothing finished: look for new workers, wait again
                done = set()
            except Exception:  # noqa: BLE001 - e.g. FuturesCancelledError: a lost scheduler connection
                done = {f for f in running if f.status in ("finished", "error", "cancelled", "lost")}
                if not done:
                    raise
            for future in done:
                item = running.pop(future)
                try:
                    row = future.result()
                except Exception as exc:  # noqa: BLE001 - failed every retry, or its worker kept dying
                    row = failed_row(item, f"{type(exc).__name__}: {exc}")
                future.release()  # read: a worker that dies later must not make Dask run it again
                rows[item.name] = row
                if row["status"] == "failed":
                    state.failed += 1
                else:
                    state.done += 1
                state.last = f"{item.formula}: {row['status']}"
                write_report(out, [rows[i.name] for i in items if i.name in rows], threshold, skipped)
                if progress:
                    progress(dataclasses.replace(state, elapsed_s=time.perf_counter() - start))
            if cancel is not None and cancel.is_set():
                break
            fill()  # also picks up workers that joined (a batch system starting jobs)
    finally:
        if running:
            client.cancel(list(running))
    return [rows[i.name] for i in items if i.name in rows]


REPORT_TITLE = "<title>AlphaCrystal screen:"


def check_screen_outputs(out: str | os.PathLike, items: list[ScreenItem], settings_dict: dict,
                         overwrite: bool = False) -> None:
    """Refuse, before any work, a screen that would replace what it should not: a ``screen.csv`` or
    ``report.html`` of the user's (a screen replaced both without a word), or, unless ``overwrite``,
    the finished results of formulas screened in ``out`` with other settings (a re-run with another
    potential replaced a whole earlier screen's folders in place).

    Raises
    ------
    ScreenError
        Naming the file, or the formulas and the first settings that differ.
    """
    folder = Path(out)
    table, report = folder / SCREEN_TABLE, folder / SCREEN_REPORT
    if table.is_file() and _first_line(table).split(",")[:2] != list(ROW_FIELDS[:2]):
        raise ScreenError(f"{table} is not a screen table of this program (its first line is not "
                          f"'{','.join(ROW_FIELDS[:3])},...'): move it or give another --out")
    if report.is_file() and REPORT_TITLE not in report.read_text(encoding="utf-8", errors="replace")[:4000]:
        raise ScreenError(f"{report} is not a screen report of this program: move it or give another --out")
    if overwrite:
        return
    changed = []  # (formula, what differs) of the finished formulas made with other settings
    for item in items:
        if finished(item.folder(folder)):
            stored = _stored_settings(item.folder(folder))
            wanted = task_settings(item, settings_dict)
            if stored is not None and set(changed_settings(stored, wanted)) <= set(RELABEL_SETTINGS):
                continue  # the same structures placed on the hull again (from the formula's store): no loss
            changes = ["an unreadable summary"] if stored is None else settings_changes(stored, wanted)
            changed.append((item, changes))
    if changed:
        names = ", ".join(item.formula for item, _ in changed[:5]) + (" ..." if len(changed) > 5 else "")
        raise ScreenError(f"{folder}: {len(changed)} formula{'s' if len(changed) != 1 else ''} ({names}) "
                          f"{'were' if len(changed) != 1 else 'was'} screened there with other settings "
                          f"({'; '.join(changed[0][1][:3])}): this screen would replace their results. Give "
                          "the same options to continue that screen, another --out, or --overwrite to replace them")


def _first_line(path: Path) -> str:
    with path.open(encoding="utf-8-sig", errors="replace") as fh:
        return fh.readline().strip()


def write_report(out: Path, rows: list[dict], ehull_threshold: float | None = None,
                 skipped: tuple[str, ...] = ()) -> None:
    """``screen.csv`` and ``report.html`` of the rows so far (each written atomically);
    ``ehull_threshold``: the screen's metastable limit (eV/atom), named in the report; ``skipped``:
    the input lines ``--skip-bad-lines`` left out, listed in the report."""
    import csv
    import io

    rows = screen_order(rows)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(ROW_FIELDS), extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in ROW_FIELDS})
    atomic_write_text(out / SCREEN_TABLE, buffer.getvalue())
    atomic_write_text(out / SCREEN_REPORT, report_html(rows, out, ehull_threshold, skipped))


def check_screen_folder(out: str | os.PathLike) -> None:
    """Refuse, before any work, an output folder that is a prediction's run folder (its
    ``summary.json``) or lies inside one: a screen's table and formula folders would be mixed
    with that prediction's results, and the desktop app could open it as either.

    Raises
    ------
    ScreenError
    """
    from core.predict.run_folder import OutputFolderError, our_summary_formula

    given = Path(out)
    resolved = given.resolve()
    for folder in (resolved, *resolved.parents):
        if not (folder / SUMMARY_JSON).is_file() or (folder / SCREEN_TABLE).is_file():
            continue
        try:
            ours = our_summary_formula(folder) is not None
        except OutputFolderError:  # another program's summary.json: not a run folder of ours
            ours = False
        if ours:
            where = "is" if folder == resolved else f"lies inside {folder},"
            raise ScreenError(f"--out {given} {where} a prediction's run folder (it holds {SUMMARY_JSON}): "
                              "give a screen a folder of its own")


def read_screen_table(folder: str | os.PathLike) -> list[dict]:
    """The rows of a screen's ``screen.csv`` (strings as written), for the desktop app.

    Raises
    ------
    ScreenError
        The folder holds no ``screen.csv``.
    """
    import csv

    path = Path(folder) / SCREEN_TABLE
    try:
        with path.open(newline="") as handle:
            return list(csv.DictReader(handle))
    except OSError as exc:
        raise ScreenError(f"{folder}: not a screen folder (no readable {SCREEN_TABLE}: {exc.strerror})") from None
