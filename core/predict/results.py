"""What a prediction returns: one :class:`RankedStructure` per distinct structure and the
:class:`PredictionResult` that holds them, their rows (``summary.csv/json``), the candidate keys
and the (de)serialisation of reconstructions for resumed runs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from pymatgen.core import Structure

from core.candidates.propose import Candidate
from core.contact_model.inference import (
    ContactPrediction,
)
from core.crystal.composition import formula_unit_text, formula_units
from core.crystal.symmetry import (
    SPACEGROUP_SYMPREC,
    cell_summary,
    hm_symbol,
    primitive_cell,
    space_group_or_p1,
)
from core.io.vasp import MOMENT_TOLERANCE
from core.predict.record import ResultRecord
from core.predict.settings import PredictionSettings
from core.reconstruction.job import ReconstructionResult
from core.relax.relaxer import (
    RelaxResult,
)
from core.stability.hull import (
    STABILITY_COLUMNS,
    Stability,
)
from core.templates.retrieval import TemplateCandidate

ENERGY_DECIMALS = 5
"""Decimals of an energy per atom (eV) in the summaries: 0.01 meV/atom; every ΔE shown is
computed from energies rounded so, so that the table, the CLI and rank_reason agree."""


@dataclass
class RankedStructure:
    """One predicted structure after relaxation (or before, without relaxation) and ranking.

    Exactly one route made it: CMCrystal (``candidate`` and ``reconstruction``
    set) or a template substitution (``template`` set).
    """

    rank: int
    source: str
    """``CMCrystal sg225`` or ``template mp-22862``."""
    initial: Structure
    """The structure before relaxation: the GA's reconstruction or the substituted template."""
    relaxation: RelaxResult | None
    candidate: Candidate | None = None
    reconstruction: ReconstructionResult | None = None
    template: TemplateCandidate | None = None
    duplicates: int = 0
    found_also_by: list[str] = field(default_factory=list)
    """Sources of the duplicates merged into this entry (the same structure found again)."""
    duplicate_of: RankedStructure | None = None
    """The ranked entry this one was merged into (None when it is ranked itself)."""
    near_tie: tuple[RankedStructure, float] | None = None
    """(lower-symmetry structure, its energy below this one in eV/atom) when this entry took
    the place of a near-tie it distorts (:func:`core.predict.ranking.merge_near_ties`)."""
    second_energy: float | None = None
    """The second potential's energy at the relaxed geometry, eV/atom (None when not re-ranked)."""
    rank_reason: str = ""
    """Why the entry ranks where it does, in words (summary ``rank_reason``, the GUI's tooltip)."""
    rank_score: float | None = None
    """eV/atom: what the first entries were ordered by (energy above their lowest, by the second
    potential when it re-ranks, plus the symmetry prior's term), from the lowest of them; None
    for the entries ordered by the first potential's energy alone."""
    stability: Stability | None = None
    """Formation energy, energy above the hull of the known phases and decomposition
    (:mod:`core.stability.hull`; None without relaxation or reference phases)."""
    folder: Path | None = None
    relaxed_score: tuple[float, float, float] | None = None
    """(fitness, Dice, valid-bond fraction) of the relaxed structure against the predicted map of its Z."""
    _crystallography: tuple[int, dict] | None = field(default=None, repr=False, compare=False)
    _written: tuple[int, Structure, list[float] | None] | None = field(default=None, repr=False, compare=False)

    @property
    def route(self) -> str:
        """``contact`` or ``templates``."""
        return "templates" if self.template is not None else "contact"

    @property
    def structure(self) -> Structure:
        """The relaxed structure when relaxation succeeded, else the initial one."""
        if self.relaxation is not None and self.relaxation.ok:
            return self.relaxation.structure
        return self.initial

    @property
    def energy_per_atom(self) -> float:
        """Energy of the run's potential, eV/atom (nan without a successful relaxation)."""
        return self.relaxation.energy_per_atom if self.relaxation is not None else float("nan")

    @property
    def start(self) -> TemplateCandidate | Candidate:
        """What the route started from: the template, or CMCrystal's candidate."""
        start = self.template or self.candidate
        if start is None:
            raise ValueError(f"{self.source}: a ranked structure comes from a template or a candidate")
        return start

    @property
    def spacegroup(self) -> int:
        """Space group the route started from (the candidate's or the template's)."""
        return self.start.spacegroup

    @property
    def z(self) -> int:
        return self.start.z

    def crystallography(self) -> dict:
        """``relaxed_spacegroup``, ``relaxed_symbol`` and :func:`core.crystal.symmetry.cell_summary` of
        :attr:`structure`, computed once per structure (rows, folder names and exports share it)."""
        structure = self.structure
        if self._crystallography is None or self._crystallography[0] != id(structure):
            sg, symbol = space_group_or_p1(structure)
            self._crystallography = (id(structure), {"relaxed_spacegroup": sg, "relaxed_symbol": symbol,
                                                     **cell_summary(structure)})
        return self._crystallography[1]

    def written_cell(self) -> tuple[Structure, list[float] | None]:
        """The cell the result is reported and written in, and the potential's magnetic moments
        (μB) per site of it (None without them): the result's primitive cell at the reporting
        tolerance (``SPACEGROUP_SYMPREC``, that of its relaxed group and CIF) when relaxation raised
        the symmetry and it is smaller (R-3c -> R-3m, F-43m -> Pm-3m), else the cell as relaxed.
        Computed once per structure (the record, its folder and its MAGMOM share it)."""
        if self._written is None or self._written[0] != id(self.structure):
            self._written = (id(self.structure), *self._reduced_cell())
        return self._written[1], self._written[2]

    def _reduced_cell(self) -> tuple[Structure, list[float] | None]:
        x, relaxed = self.relaxation, self.structure
        moments = ([float(m) for m in x.magmoms] if x is not None and x.magmoms is not None
                   and len(x.magmoms) == len(relaxed) else None)
        carried = relaxed if moments is None else relaxed.copy(site_properties={"magmom": moments})
        # at the tolerance the relaxed group and the CIF are reported at: at the contact maps' tighter
        # one a P6_3/mmc result (at 0.1 Å) stayed a 12-atom cell beside its 4-atom CIF, and VASP got 3x the atoms
        cell = primitive_cell(carried, symprec=SPACEGROUP_SYMPREC, keep_site_properties=True)
        if len(cell) >= len(relaxed) or (moments is not None and not _same_moments(carried, cell)):
            return relaxed, moments
        if moments is not None:  # kept apart: a magmom site property would set the input set's MAGMOM
            moments = [float(m) for m in cell.site_properties["magmom"]]
            cell.remove_site_property("magmom")
        return cell, moments

    def record(self) -> ResultRecord:
        """The entry as the user sees it: its summary values and both structures
        (route-specific columns are None for the other route)."""
        r, c, x, tpl = self.reconstruction, self.candidate, self.relaxation, self.template
        start = self.start
        seconds = (r.seconds if r is not None else 0.0) + (x.seconds if x is not None else 0.0)
        # the result's own primitive cell: a relaxation that raised the symmetry (R-3c -> R-3m, F-43m ->
        # Pm-3m) can halve the cell the route started from, and POSCAR, Z and n_atoms then say so
        cell, _ = self.written_cell()
        return ResultRecord(**{
            "rank": self.rank,
            "folder": self.folder.name if self.folder else "",
            "formula": formula_unit_text(self.structure.composition),
            "source": self.source,
            "spacegroup": start.spacegroup, "symbol": start.symbol, "start_z": start.z, "z": formula_units(cell.composition),
            "n_atoms": len(cell),
            "sg_probability": None if c is None else round(c.probability, 4),
            "assignment": tpl.wyckoff if tpl is not None else r.assignment.label if r is not None else "",
            "template_formula": None if tpl is None else tpl.template_formula,
            "template_score": None if tpl is None else round(tpl.score, 4),
            "dice": None if r is None else round(r.dice, 4),
            "valid_fraction": None if r is None else round(r.valid_fraction, 4),
            "fitness": None if r is None else round(r.fitness, 4),
            "energy_per_atom": None if x is None or not x.ok else round(x.energy_per_atom, ENERGY_DECIMALS),
            "relaxed_dice": None if self.relaxed_score is None else round(self.relaxed_score[1], 4),
            "relaxed_fitness": None if self.relaxed_score is None else round(self.relaxed_score[0], 4),
            **self.crystallography(),
            "converged": None if x is None else x.converged,
            "relax_steps": None if x is None else x.steps,
            "relax_error": None if x is None else x.error,
            "second_energy_per_atom": None if self.second_energy is None else round(self.second_energy, ENERGY_DECIMALS),
            "rank_reason": self.rank_reason,
            "rank_score_meV": None if self.rank_score is None else round(1000 * self.rank_score, 1),
            **(self.stability.row() if self.stability is not None else dict.fromkeys(STABILITY_COLUMNS)),
            "duplicates": self.duplicates,
            "found_also_by": "; ".join(self.found_also_by),
            "from_relaxation_only": bool(r is not None and r.fitness == 0.0),
            "reconstruction_s": None if r is None else round(r.seconds, 2),
            "relaxation_s": None if x is None else round(x.seconds, 2),
            "wall_s": round(seconds, 2),
        }, structure=cell, initial=self.initial)

@dataclass
class PredictionResult:
    """Everything a prediction produced.

    ``pool`` holds every sound structure of both routes in ranking order before
    duplicates across routes were merged (what each route alone would have
    ranked); ``ranked`` is the pooled, de-duplicated list. ``notes`` says what the
    run could not do (a route out of scope) in words for the user.
    """

    formula: str
    settings: PredictionSettings
    candidates: list[Candidate]
    contact_maps: dict[int, ContactPrediction]
    reconstructions: dict[str, list[ReconstructionResult]]
    ranked: list[RankedStructure]
    seconds: float
    stage_seconds: dict[str, float] = field(default_factory=dict)
    cancelled: bool = False
    out_dir: Path | None = None
    resumed: dict[str, int] = field(default_factory=dict)
    rejected: list[dict] = field(default_factory=list)
    templates: list[TemplateCandidate] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    pool: list[RankedStructure] = field(default_factory=list)

    def records(self) -> list[ResultRecord]:
        """The ranked structures as records, rank order."""
        return [r.record() for r in self.ranked]

    def rows(self) -> list[dict]:
        """The summary lines (:meth:`ResultRecord.to_row`), rank order."""
        return [r.to_row() for r in self.records()]

def candidate_key(candidate: Candidate) -> str:
    """A readable id of a candidate: ``sg136-z2``."""
    return f"sg{candidate.spacegroup}-z{candidate.z}"

def parse_candidate_key(key: str) -> tuple[int, int] | None:
    """(space group, Z) of a candidate key (``sg136-z2`` -> (136, 2)); None for other text."""
    import re

    found = re.fullmatch(r"sg(\d+)-z(\d+)", key)
    return (int(found[1]), int(found[2])) if found and 1 <= int(found[1]) <= 230 else None

def candidate_label(key: str) -> str:
    """A candidate key (``sg136-z2``, :func:`candidate_key`) in words: ``P4_2/mnm (136), Z = 2``;
    any other text is returned as it is."""
    parsed = parse_candidate_key(key)
    return key if parsed is None else f"{hm_symbol(parsed[0])} ({parsed[0]}), Z = {parsed[1]}"

def discarded_lines(result: PredictionResult) -> list[str]:
    """One line per structure of a run that is not in its ranked list, saying why:
    merged as a duplicate of a ranked one (after relaxation, when relaxed), or
    rejected (atoms too close, relaxation failed, no Wyckoff assignment)."""
    lines = []
    for e in result.pool:
        if e.duplicate_of is None:
            continue
        r = e.reconstruction
        tpl = e.template
        what = (f"{e.source} [{r.assignment.label}] fitness {r.fitness:.3f}" if r is not None else
                f"{e.source} ({tpl.template_formula} {tpl.symbol})" if tpl is not None else e.source)
        energy = f", {e.energy_per_atom:.4f} eV/atom" if math.isfinite(e.energy_per_atom) else ""
        when = " after relaxation" if result.settings.relax else ""
        twin = e.duplicate_of
        if twin.rank == 0 and twin.duplicate_of is not None:  # a twin that was itself merged as a near-tie
            lines.append(f"{what}{energy}: the same structure as {twin.source}'s, a distortion merged onto "
                         f"#{twin.duplicate_of.rank}")
        elif twin.near_tie is not None and twin.near_tie[0] is e:
            lines.append(f"{what}{energy}: a {e.crystallography()['relaxed_symbol']} distortion of #{twin.rank} "
                         f"({twin.crystallography()['relaxed_symbol']}), {1000 * twin.near_tie[1]:.1f} meV/atom "
                         "lower: merged onto the higher symmetry")
        else:
            lines.append(f"{what}{energy}: the same structure as #{twin.rank}{when}")
    for rejected in result.rejected:
        fitness = f" fitness {rejected['fitness']:.3f}" if rejected.get("fitness") is not None else ""
        what = rejected.get("source") or f"CMCrystal {rejected.get('candidate', '')}"
        lines.append(f"{what} [{rejected.get('assignment', '')}]{fitness}: {rejected['reason']}")
    return lines




def _same_moments(relaxed: Structure, cell: Structure) -> bool:
    """Whether ``cell`` (a primitive cell of ``relaxed`` with its ``magmom`` site property) keeps
    every element's magnetic moments: each element's sorted moments in ``relaxed`` equal those of
    ``cell`` repeated by the size ratio, within :data:`MOMENT_TOLERANCE`. spglib's primitive cell
    does not look at moments, so a ferrimagnetic or charge-ordered cell distorted by less than the
    tolerance would lose a sublattice's moments from MAGMOM. pymatgen carries to every site of an
    element the first such site's moment, so an element on two inequivalent sites with different
    moments (a spinel's two Fe) also keeps the relaxed cell: larger than needed, but with its
    MAGMOM right (mapping the moments through spglib's site classes would reduce it)."""
    factor = len(relaxed) // max(len(cell), 1)
    for element in relaxed.composition.elements:
        full = sorted(m for site, m in zip(relaxed, relaxed.site_properties["magmom"]) if site.specie == element)
        kept = sorted(m for site, m in zip(cell, cell.site_properties["magmom"]) for _ in range(factor)
                      if site.specie == element)
        if len(full) != len(kept) or any(abs(a - b) > MOMENT_TOLERANCE for a, b in zip(full, kept)):
            return False
    return True
