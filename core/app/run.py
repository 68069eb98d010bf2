"""A run of the desktop app as the session holds it (:class:`RunModel`): where it is
(:class:`RunState`), what it was asked to do (:class:`RunRequest`) and what it gave
(:class:`SessionResults`).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace

import numpy as np
from psygnal import Signal
from pymatgen.core import Structure

from core.app.errors import SessionError
from core.app.reference import ReferenceOverlay
from core.candidates.propose import Candidate
from core.contact.contact_map import ContactMap, compute_contact_map
from core.contact.map_document import ContactMapDocument
from core.contact_model.inference import ContactPrediction
from core.crystal.symmetry import primitive_cell
from core.errors import AlphaCrystalError
from core.predict.export import summary_meta
from core.predict.record import ResultRecord
from core.predict.results import discarded_lines
from core.runtime.terminal import counted
from core.templates.retrieval import TemplateCandidate


class RunState(str, enum.Enum):
    """Where a run is: shown to the user as is."""

    IDLE = "idle"
    STARTING = "starting"  # worker processes starting, nothing computed yet
    RUNNING = "running"
    CANCELLING = "cancelling"
    DONE = "done"
    CANCELLED = "cancelled"
    FAILED = "failed"

    @property
    def busy(self) -> bool:
        return self in (RunState.STARTING, RunState.RUNNING, RunState.CANCELLING)


@dataclass
class RunRequest:
    """The inputs of one run, copied from the session when it starts (later edits do not reach it)."""

    formula: str
    candidates: list[Candidate]
    maps: dict[int, ContactPrediction]
    templates: list[TemplateCandidate]
    edited_zs: list[int]
    rerun_of: str = ""
    """``result #3`` when the run starts again from a result's Wyckoff assignment."""

    def describe(self) -> str:
        """E.g. ``NaCl: 3 space-group candidates (Z=1 map edited by hand), 5 templates``, or
        ``TiO2: re-run of result #3 in P4_2/mnm (136), Z = 2 [Ti 2a, O 4f]``."""
        edited = f" ({', '.join(f'Z={z}' for z in self.edited_zs)} map edited by hand)" if self.edited_zs else ""
        if self.rerun_of:
            c = self.candidates[0]
            label = c.assignment["label"] if c.assignment else "assignment unknown"
            return (f"{self.formula}: re-run of {self.rerun_of} in {c.symbol} ({c.spacegroup}), Z = {c.z} "
                    f"[{label}]{edited}")
        return (f"{self.formula}: {counted(len(self.candidates), 'space-group candidate')}{edited}, "
                f"{counted(len(self.templates), 'template')}")


@dataclass
class SessionResults:
    """The results of one run and what they came from.

    Attributes
    ----------
    formula : str
        The formula the run predicted (export and save use this one, never the typed one).
    inputs : str
        :meth:`RunRequest.describe` of the run.
    records : list of ResultRecord
        One per result (:class:`core.predict.record.ResultRecord`, with both structures), rank order.
    discarded : list of str
        One line per structure that is not in the list, saying why (duplicate of #k,
        atoms too close, relaxation failed).
    cancelled : bool
    seconds : float
    views : dict
        Result index -> (contact map, 3D geometry) made off the GUI thread (not saved).
    provisional : bool
        The structures relaxed so far by a run still going on, ranked by energy so far
        (duplicates not merged yet): never exported or saved; the run's final ranking
        replaces them.
    meta : dict
        What the run's ``summary.json`` says besides its rows
        (:func:`core.predict.export.summary_meta`: settings, candidates, each Z's map as the run
        took it, templates, notes), with ``edited_maps``, the Zs whose map was edited by hand;
        a run folder's own; {} where unknown (a project of before 2026-12-05). Export all
        writes it, a project keeps it.
    """

    formula: str
    inputs: str
    records: list[ResultRecord]
    discarded: list[str] = field(default_factory=list)
    cancelled: bool = False
    seconds: float = 0.0
    views: dict[int, tuple] = field(default_factory=dict)
    provisional: bool = False
    meta: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"formula": self.formula, "inputs": self.inputs, "discarded": self.discarded,
                "cancelled": self.cancelled, "seconds": self.seconds, "meta": self.meta}


def run_meta(value) -> dict:
    """Run metadata as read from a file (a project, a run folder's summary.json): optional
    information, so another kind of value is dropped, never a reason to refuse the file; its
    ``notes`` only as a list of strings (the one check of them: the views trust it)."""
    if not isinstance(value, dict):
        return {}
    notes = value.get("notes")
    if notes is not None and not (isinstance(notes, list) and all(isinstance(n, str) for n in notes)):
        value = {k: v for k, v in value.items() if k != "notes"}
    return dict(value)


class ProvisionalResults:
    """The structures a running run has relaxed so far, ranked by energy so far: one record per
    key (a later relaxation of the same structure replaces its record)."""

    def __init__(self) -> None:
        self._by_key: dict[str, tuple[ResultRecord, tuple | None]] = {}

    def add(self, key: str, record: ResultRecord, view: tuple | None = None) -> None:
        """The structure ``key`` (``sg225-z1/0``) was relaxed; ``view``: (contact map, 3D geometry)."""
        self._by_key[key] = (replace(record, key=key, provisional=True), view)

    def results(self, formula: str, inputs: str) -> SessionResults:
        """Provisional results: every record ranked by energy so far (lowest first; those without
        an energy last). A record keeps its identity while its structure stays, so a view can
        tell it is unchanged."""
        def by_energy(item: tuple[str, tuple[ResultRecord, tuple | None]]) -> tuple[bool, float, str]:
            energy = item[1][0].energy_per_atom
            return (energy is None, energy if energy is not None else 0.0, item[0])

        ordered = sorted(self._by_key.items(), key=by_energy)
        records = []
        for rank, (_, (record, _view)) in enumerate(ordered, 1):
            record.rank = rank
            records.append(record)
        views = {k: view for k, (_, (_, view)) in enumerate(ordered) if view is not None}
        return SessionResults(formula, inputs, records, [], False, 0.0, views, provisional=True)


def structure_contact_map(structure: Structure) -> ContactMap | None:
    """The contact map the window shows for a result's structure: its primitive cell's, by the
    default rule and tolerance; None when it cannot be made (the map panel then says so)."""
    try:
        return compute_contact_map(primitive_cell(structure))
    except AlphaCrystalError:
        return None


def result_contact_map(record: ResultRecord) -> ContactMap | None:
    """:func:`structure_contact_map` of a result's structure (None without one)."""
    return None if record.structure is None else structure_contact_map(record.structure)


class RunModel:
    """The session's run (:attr:`Session.run`): where it is, what it was asked, what it gave.

    It holds the state and message of the run going on (or of the last one), its request,
    its results (final, or provisional while it runs: the structures relaxed so far, ranked
    by energy so far), the GA fitness histories, and which result is on view (its map in
    :attr:`result_document`, read-only; the input maps are untouched).

    Everything here belongs to one run and is cleared together (:meth:`clear`: one
    :attr:`cleared` event that every view of a run follows). Starting a run never loses
    results: those it replaces come back if it fails or ends without a structure.
    """

    state_changed = Signal(str)
    """The run state changed (its :class:`RunState` value); the message with it. (A running
    run's progress message changes without an event: the window reads it with the progress.)"""
    cleared = Signal()
    """The previous run and everything from it is gone (a new Predict, an opened project, the
    start of the next run): results, provisional results, fitness histories, the viewed
    result, the run's state and message."""
    results_changed = Signal()
    comparison_changed = Signal()
    """The results shown got a reference's comparison (:meth:`set_comparison`): the same results, new
    match/RMSD values (a view refreshes them and keeps its selection)."""
    """New results (final, or a run's provisional ones), or none."""
    viewing_changed = Signal(object)
    """The result index whose map is shown read-only, or None (back to the input map)."""
    generation = Signal(str, dict)
    """A GA generation of the run: (job id, {generation, best_fitness, mean_fitness, ...})."""
    histories_changed = Signal()
    """The fitness histories were replaced (a new run started, a project was opened)."""

    def __init__(self) -> None:
        self.state = RunState.IDLE
        self.message = ""
        self.request: RunRequest | None = None
        """The inputs of the run going on (or of the last one)."""
        self.results: SessionResults | None = None
        self.histories: dict[str, list[tuple[int, float, float]]] = {}
        """Job id -> (generation, best fitness, mean fitness) per GA generation."""
        self.viewing: int | None = None
        self.result_document = ContactMapDocument()
        self.overlay = ReferenceOverlay()
        """The reference structure's true map, overlaid on a viewed result of the same atoms."""
        self.previous_results: SessionResults | None = None
        """The results a running run replaced, until it yields its own."""
        self.previous_histories: dict[str, list[tuple[int, float, float]]] = {}
        """The fitness histories of :attr:`previous_results`."""
        self._provisional = ProvisionalResults()

    # ------------------------------------------------------------------ reading
    @property
    def busy(self) -> bool:
        return self.state.busy

    @property
    def records(self) -> list[ResultRecord]:
        """The results shown (final or provisional), rank order; [] without any."""
        return self.results.records if self.results is not None else []

    @property
    def provisional(self) -> bool:
        """The results shown are a running run's provisional ones."""
        return self.results is not None and self.results.provisional

    def export_selection(self, index: int | None = None) -> tuple[list[ResultRecord], str]:
        """(records, formula) to export: result ``index`` or all, with the formula they were computed for."""
        if self.results is None or not self.records:
            raise SessionError("no results to export: run a prediction first")
        if self.results.provisional:
            raise SessionError("the run is still going on: its results are provisional until it ends")
        if index is None:
            return list(self.records), self.results.formula
        if not 0 <= index < len(self.records):
            raise SessionError("select a result to export (or use Export all)")
        return [self.records[index]], self.results.formula

    def saved_results(self) -> tuple[SessionResults | None, dict[str, list[tuple[int, float, float]]], int | None]:
        """(results, fitness histories, result on view) that a project saves now: the finished
        ones; while a run is going on, those it replaced (its own are provisional)."""
        if self.busy:
            return self.previous_results, self.previous_histories, None
        if self.results is not None and self.results.provisional:
            return None, {}, None
        return self.results, self.histories, self.viewing

    # ------------------------------------------------------------------ the run's course
    def clear(self) -> None:
        """Forget the previous run and everything from it; one :attr:`cleared` event."""
        self.results = None
        self.viewing = None
        self._provisional = ProvisionalResults()
        self.previous_results, self.previous_histories = None, {}
        self.result_document.load([], [], np.zeros((0, 0), dtype=np.uint8))
        self.histories = {}
        self.state, self.message = RunState.IDLE, ""
        self.cleared.emit()

    def start(self, request: RunRequest) -> bool:
        """The run of ``request`` starts: the previous one is cleared (the window shows only the
        current run), :attr:`RunState.STARTING`. Returns whether results were replaced."""
        had_results = self.results is not None
        replaced = self.results if self.results is not None and not self.results.provisional else None
        histories = self.histories if replaced is not None else {}
        self.clear()
        self.previous_results, self.previous_histories = replaced, histories
        self.request = request
        self._set_state(RunState.STARTING, "starting worker processes…")
        return had_results

    def progress(self, message: str = "") -> None:
        """Work has been done: STARTING becomes RUNNING (CANCELLING stays)."""
        if self.state == RunState.STARTING:
            self._set_state(RunState.RUNNING, message)
        elif self.state == RunState.RUNNING and message:
            self.message = message

    def add_generation(self, job: str, data: dict) -> None:
        """One GA generation of the running run (kept for the plot and the project)."""
        self.histories.setdefault(job, []).append(
            (int(data["generation"]), float(data["best_fitness"]), float(data["mean_fitness"])))
        self.progress()
        self.generation.emit(job, data)

    def request_cancel(self) -> bool:
        """Ask the running run to stop (returns whether there was one)."""
        if not self.state.busy or self.state == RunState.CANCELLING:
            return False
        self._set_state(RunState.CANCELLING, "cancelling…")
        return True

    def add_provisional(self, key: str, record: ResultRecord, view=None) -> None:
        """A structure of the running run was relaxed (or relaxed further): it joins the
        provisional results, ranked by energy so far (its ``rank``; ``provisional`` set).
        A later call with the same ``key`` replaces its record. A viewed provisional result
        stays on view (its index follows the new order). Ignored when no run is going on.

        ``view`` is (contact map, 3D geometry) or None."""
        if not self.state.busy or self.request is None:
            return
        viewed = self.records[self.viewing].key if self.viewing is not None and self.results else ""
        self._provisional.add(key, record, view)
        self.results = self._provisional.results(self.request.formula, self.request.describe())
        index = next((k for k, r in enumerate(self.records) if viewed and r.key == viewed), None)
        if index is not None:
            if viewed == key:
                self.view_result(index)  # its structure changed: its map again
            elif index != self.viewing:
                self.viewing = index
                self.viewing_changed.emit(index)
        self.results_changed.emit()

    def finish(self, result, records: list[ResultRecord], views: list | None = None,
               meta: dict | None = None) -> None:
        """The run ended with ``result`` (a ``PredictionResult``) and its records (they replace
        any provisional results); ``meta``: its :func:`~core.predict.export.summary_meta`, made
        where the run ran (made here when not given)."""
        self._provisional = ProvisionalResults()
        if not records and self.previous_results is not None:  # nothing finished: the previous results stay
            self._restore_previous(f"{'cancelled' if result.cancelled else 'done'}: no structure finished; "
                                   "the previous results are shown again")
            return
        if self.request is None:
            raise SessionError("no run was started: there is nothing to finish")
        meta = {**(summary_meta(result) if meta is None else meta), "inputs": self.request.describe(),
                "edited_maps": list(self.request.edited_zs)}  # before anything changes
        self.previous_results, self.previous_histories = None, {}
        self.results = SessionResults(self.request.formula, self.request.describe(), list(records),
                                      discarded_lines(result), bool(result.cancelled), float(result.seconds),
                                      dict(enumerate(views or [])), meta=meta)
        self.back_to_input()  # a result of the previous run may be on view
        finished = len(records)
        if result.cancelled:
            self._set_state(RunState.CANCELLED, f"cancelled: {counted(finished, 'structure')} from the finished part")
        else:
            self._set_state(RunState.DONE, f"done: {finished} distinct structure{'' if finished == 1 else 's'} in {result.seconds:.0f} s")
        self.results_changed.emit()

    def fail(self, message: str) -> None:
        """The run failed. The results it replaced are shown again (its own provisional rows
        are dropped: the previous run's finished results come first); without any, its
        provisional records become its results, ranked by energy and not de-duplicated, so that
        they can be exported and saved."""
        self._provisional = ProvisionalResults()
        if self.previous_results is not None:
            self._restore_previous(f"{message} (the previous results are shown again)", RunState.FAILED)
            return
        if self.results is not None and self.results.provisional:
            self.results = replace(self.results, provisional=False,
                                   records=[replace(r, provisional=False, key="") for r in self.records],
                                   inputs=f"{self.results.inputs} (failed run: the structures relaxed before it "
                                          "failed, not de-duplicated)")
            message = f"{message} ({len(self.records)} structures relaxed before it failed are kept)"
            self.results_changed.emit()
        self._set_state(RunState.FAILED, message)

    def set_comparison(self, records: list[ResultRecord], values: list[tuple[bool | None, float | None]]) -> bool:
        """A reference's comparison with ``records`` (:func:`core.predict.pipeline.compare_records`,
        computed elsewhere: a reference opened after the run) put on the results shown, when they
        are still those records; False (nothing changed) when the results changed meanwhile."""
        if self.results is None or self.provisional or [id(r) for r in self.records] != [id(r) for r in records]:
            return False
        for record, (match, rmsd) in zip(records, values):  # the same records: a viewed one stays the viewed one
            record.match_reference, record.rmsd_reference = match, rmsd
        self.comparison_changed.emit()
        return True

    def show(self, results: SessionResults, message: str) -> None:
        """Show finished results made elsewhere (a run folder), :attr:`RunState.DONE` with ``message``."""
        self.results = results
        self._set_state(RunState.DONE, message)
        self.results_changed.emit()

    def restore(self, results: SessionResults | None, histories: dict, viewing: int | None) -> None:
        """An opened project's run: its fitness histories, results and the result on view."""
        self.histories = histories
        self.histories_changed.emit()
        if results is not None:
            self.results = results
            n = len(results.records)
            # the run panel reads "done" with what the project holds, not "Idle" beside its results
            self._set_state(RunState.DONE, f"{n} structure{'s' if n != 1 else ''} from the saved project"
                            + (f" ({results.seconds:.0f} s when run)" if results.seconds else ""))
            self.results_changed.emit()
            if viewing is not None and 0 <= viewing < len(self.records):
                self.view_result(viewing)

    def _restore_previous(self, message: str, state: RunState | None = None) -> None:
        """Show the results the run replaced again, with their fitness histories."""
        self.results, self.previous_results = self.previous_results, None
        self.histories, self.previous_histories = self.previous_histories, {}
        self.histories_changed.emit()
        self._set_state(state or (RunState.CANCELLED if self.state == RunState.CANCELLING else RunState.DONE),
                        message)
        self.results_changed.emit()

    def _set_state(self, state: RunState, message: str) -> None:
        self.state, self.message = state, message
        self.state_changed.emit(state.value)

    # ------------------------------------------------------------------ the result on view
    def view_result(self, index: int) -> ResultRecord:
        """Show result ``index``: its map goes to :attr:`result_document` (read-only);
        the input maps are not touched. Returns its record."""
        if not 0 <= index < len(self.records):
            raise SessionError(f"no result #{index + 1}")
        record = self.records[index]
        cmap = self.results.views.get(index, (None, None))[0] if self.results is not None else None
        if cmap is None:
            cmap = result_contact_map(record)
        if cmap is not None:
            self.result_document.load(cmap.labels, cmap.species, cmap.matrix,
                                      image_coordination=cmap.coordination_numbers)
            self.overlay.apply(self.result_document)
        else:
            self.result_document.load([], [], np.zeros((0, 0), dtype=np.uint8))
        self.viewing = index
        self.viewing_changed.emit(index)
        return record

    def back_to_input(self) -> None:
        """Leave a result's map: the input map of the current Z is shown again, exactly as it was."""
        if self.viewing is not None:
            self.viewing = None
            self.viewing_changed.emit(None)

    def set_overlay(self, overlay: ReferenceOverlay) -> None:
        """Overlay a reference's true map on the viewed result's map (and on results viewed later)."""
        self.overlay = overlay
        overlay.apply(self.result_document)
