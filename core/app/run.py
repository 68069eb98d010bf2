"""A run of the desktop app as the session holds it: where it is (:class:`RunState`), what it
was asked to do (:class:`RunRequest`) and what it gave (:class:`SessionResults`).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace

from core.candidates.propose import Candidate
from core.contact.contact_map import ContactMap, compute_contact_map
from core.contact_model.inference import ContactPrediction
from core.errors import AlphaCrystalError
from core.io.structures import primitive_cell
from core.predict.record import ResultRecord
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
        return f"{self.formula}: {len(self.candidates)} space-group candidates{edited}, {len(self.templates)} templates"


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
    """

    formula: str
    inputs: str
    records: list[ResultRecord]
    discarded: list[str] = field(default_factory=list)
    cancelled: bool = False
    seconds: float = 0.0
    views: dict[int, tuple] = field(default_factory=dict)
    provisional: bool = False

    def to_dict(self) -> dict:
        return {"formula": self.formula, "inputs": self.inputs, "discarded": self.discarded,
                "cancelled": self.cancelled, "seconds": self.seconds}


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


def result_contact_map(record: ResultRecord) -> ContactMap | None:
    """The contact map (primitive cell) of a result's structure, or None when it cannot be made."""
    if record.structure is None:
        return None
    try:
        return compute_contact_map(primitive_cell(record.structure))
    except AlphaCrystalError:
        return None
