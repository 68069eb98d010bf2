"""Reconstruction jobs: one GA run for one (space group, lattice, Wyckoff assignment, seed).

:class:`ReconstructionTarget` is what a reconstruction aims at (species in the
map's row order, the 0/1 map, a space group and a conventional lattice); it
comes from a prediction or, in oracle mode, from a known structure
(:func:`oracle_target`). :func:`plan_jobs` expands a target into jobs over the
top Wyckoff assignments and restarts; :func:`run_job` runs one in this process
with a progress callback every generation and a cancellation check.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from pymatgen.core import Structure

from core.contact.contact_map import DEFAULT_RULE, DEFAULT_TOLERANCE, compute_contact_map
from core.crystal.elements import atomic_numbers, element_sort_key
from core.crystal.spacegroups import constrain_lattice
from core.crystal.symmetry import cell_symmetry, primitive_cell
from core.errors import AlphaCrystalError
from core.reconstruction.assignments import Assignment, enumerate_assignments
from core.reconstruction.fitness import ContactFitness
from core.reconstruction.ga import GASettings, GAState, run_ga
from core.reconstruction.genome import Decoder

MAX_FIXED_ASSIGNMENTS = 50

FORCED_RESTARTS = 4
"""GA seeds of each assignment a target is restricted to (a re-run from one structure's
assignment spends about what the prior's top assignments would cost on that one)."""


@dataclass(frozen=True)
class ReconstructionTarget:
    """What to reconstruct.

    Attributes
    ----------
    species : tuple of str
        Element of each map row (primitive cell).
    contact_map : ndarray (n, n)
        Target 0/1 map.
    spacegroup : int
    lattice : tuple of 6 floats
        Conventional cell (a, b, c in Å; α, β, γ in degrees).
    rule : str
        Contact rule the map follows (:mod:`core.contact.contact_rule`); the GA scores by it.
    assignments : tuple of Assignment
        Run only these Wyckoff assignments (a re-run from a known structure's one),
        each with at least :data:`FORCED_RESTARTS` seeds; empty: the prior's ranking.
    ga : GASettings or None
        This target's GA settings (a prediction's budget depends on the cell's size:
        :meth:`core.predict.settings.PredictionSettings.ga`); None: the loop's.
    """

    species: tuple[str, ...]
    contact_map: np.ndarray
    spacegroup: int
    lattice: tuple[float, ...]
    name: str = ""
    rule: str = DEFAULT_RULE
    assignments: tuple[Assignment, ...] = ()
    ga: GASettings | None = None

    @property
    def species_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for el in sorted(self.species, key=element_sort_key):
            counts[el] = counts.get(el, 0) + 1
        return counts


def oracle_target(structure: Structure, name: str = "", tolerance: float = DEFAULT_TOLERANCE,
                  rule: str = DEFAULT_RULE) -> ReconstructionTarget:
    """The true map by ``rule`` (primitive cell, canonical order), space group and conventional
    lattice of a known structure (spglib at symprec 0.1 Å, the MP-20 convention, unless that
    group cannot place the cell's atoms: :func:`core.crystal.symmetry.cell_symmetry`)."""
    cell = primitive_cell(structure)
    cmap = compute_contact_map(cell, tolerance=tolerance, rule=rule)
    numbers = atomic_numbers([s.specie.symbol for s in cell])
    sg, params = cell_symmetry(cell.lattice.matrix, cell.frac_coords, numbers)
    return ReconstructionTarget(tuple(cmap.species), cmap.matrix.copy(), sg, tuple(float(v) for v in params),
                                name or cell.composition.reduced_formula, cmap.rule)


@dataclass(frozen=True)
class ReconstructionJob:
    target: ReconstructionTarget
    assignment: Assignment
    settings: GASettings = field(default_factory=GASettings)
    seed: int = 0
    max_strain: float = 0.0
    tolerance: float = DEFAULT_TOLERANCE
    job_id: str = ""
    assignment_rank: int = 0


@dataclass
class ReconstructionResult:
    """Best structure of one job, with its scores (fitness = Dice × valid-bond fraction)."""

    job_id: str
    structure: Structure
    fitness: float
    dice: float
    valid_fraction: float
    n_valid_bonds: int
    n_short_contacts: int
    assignment: Assignment
    lattice: tuple[float, ...]
    generations: int
    evaluations: int
    seconds: float
    cancelled: bool = False
    history: list[tuple[float, float]] = field(default_factory=list)
    bond_strain: float = 0.0
    assignment_rank: int = 0

    @property
    def rank_key(self) -> tuple[float, int, float]:
        """Sort key of results (ascending = best first): higher fitness, then the
        assignment the Wyckoff prior ranks higher, then bond lengths closer to
        r_i + r_j (the prior is the better judge between assignments that reach
        the same fitness; measurements in docs/reconstruction.md)."""
        return (-round(self.fitness, 9), self.assignment_rank, self.bond_strain)

    def to_dict(self) -> dict:
        return {"job_id": self.job_id, "formula": self.structure.composition.reduced_formula,
                "spacegroup": self.assignment.spacegroup, "assignment": self.assignment.to_dict(),
                "fitness": self.fitness, "dice": self.dice, "valid_fraction": self.valid_fraction,
                "n_valid_bonds": self.n_valid_bonds, "n_short_contacts": self.n_short_contacts,
                "lattice": list(self.lattice), "generations": self.generations, "evaluations": self.evaluations,
                "seconds": self.seconds, "cancelled": self.cancelled, "bond_strain": self.bond_strain}

    def to_stored(self) -> dict:
        """:meth:`to_dict` with the structure and the assignment's rank: what a resumed run
        reads back with :meth:`from_stored` (the fitness history is not kept)."""
        return {**self.to_dict(), "structure": self.structure.as_dict(), "assignment_rank": self.assignment_rank}

    @classmethod
    def from_stored(cls, data: dict) -> ReconstructionResult:
        """The result of :meth:`to_stored` (files of older runs without ``bond_strain`` or
        ``assignment_rank`` too).

        Raises
        ------
        AlphaCrystalError
            An assignment that is not one of the group's (:meth:`Assignment.from_dict`)."""
        return cls(job_id=data["job_id"], structure=Structure.from_dict(data["structure"]), fitness=data["fitness"],
                   dice=data["dice"], valid_fraction=data["valid_fraction"], n_valid_bonds=data["n_valid_bonds"],
                   n_short_contacts=data["n_short_contacts"], assignment=Assignment.from_dict(data["assignment"]),
                   lattice=tuple(data["lattice"]), generations=data["generations"], evaluations=data["evaluations"],
                   seconds=data["seconds"], cancelled=data["cancelled"], bond_strain=data.get("bond_strain", 0.0),
                   assignment_rank=data.get("assignment_rank", 0))


def plan_jobs(target: ReconstructionTarget, n_assignments: int = 5, restarts: int = 1,
              settings: GASettings | None = None, seed: int = 0, max_strain: float = 0.0,
              tolerance: float = DEFAULT_TOLERANCE, start: int = 0) -> list[ReconstructionJob]:
    """Jobs over the ``n_assignments`` best Wyckoff assignments × ``restarts`` seeds, plus
    every assignment without free parameters (one evaluation each, at most
    :data:`MAX_FIXED_ASSIGNMENTS`), which cost nothing to try.

    ``start`` > 0 plans an escalation: only the assignments ranked ``start`` to
    ``n_assignments - 1`` that have free parameters, i.e. what a first call with
    ``n_assignments=start`` did not run (see :func:`escalate`). A job's
    ``assignment_rank`` is its assignment's position in the prior's ranking, so
    results of both calls compare directly.

    Raises
    ------
    AlphaCrystalError
        If the composition fits no Wyckoff assignment of the space group.
    """
    if target.assignments:
        return _forced_jobs(target, restarts, settings or GASettings(), seed, max_strain, tolerance, start)
    every = enumerate_assignments(target.spacegroup, target.species_counts)
    if start:
        ranked = [(k, a) for k, a in enumerate(every[:n_assignments]) if k >= start and a.dof]
    else:
        ranked = list(enumerate(every[:n_assignments]))
        ranked += [(k, a) for k, a in enumerate(every) if k >= n_assignments and a.dof == 0][:MAX_FIXED_ASSIGNMENTS]
    if not every:
        raise AlphaCrystalError(
            f"{target.name or 'target'}: the composition {target.species_counts} does not fit any Wyckoff "
            f"assignment of space group {target.spacegroup}")
    settings = settings or GASettings()
    name = f"{target.name or 'target'}-sg{target.spacegroup}"
    # seeds and ids of a first call follow the list position (as before escalation existed,
    # so earlier runs and resumable run folders stay reproducible); escalated jobs are "x"
    return [ReconstructionJob(target, a, settings, seed + 1000 * (k if start else pos) + r, max_strain, tolerance,
                              f"{name}-x{k}-r{r}" if start else f"{name}-w{pos}-r{r}", k)
            for pos, (k, a) in enumerate(ranked) for r in range(restarts if a.dof else 1)]


_JOB_ID = re.compile(r"^(.+)-sg\d+-[wx]\d+-r\d+$")
"""``{target}-sg{group}-w{position}-r{restart}`` (``x``: an escalated assignment)."""


def job_target(job_id: str) -> str:
    """The name of the target (the candidate key) a GA run's id was built from by
    :func:`plan_jobs`: ``sg136-z2-sg136-w0-r0`` -> ``sg136-z2`` (escalated runs ``-x3-r0``
    too); an id of another form is its own target."""
    match = _JOB_ID.match(job_id)
    return match.group(1) if match else job_id


def _forced_jobs(target: ReconstructionTarget, restarts: int, settings: GASettings, seed: int, max_strain: float,
                 tolerance: float, start: int) -> list[ReconstructionJob]:
    """Jobs of a target restricted to given assignments (none to escalate to)."""
    if start:
        return []
    counts = target.species_counts
    for a in target.assignments:
        if a.spacegroup != target.spacegroup or a.primitive_counts != counts:
            raise AlphaCrystalError(f"{target.name or 'target'}: the assignment {a.label} (space group "
                                    f"{a.spacegroup}) does not place the atoms {counts} of space group "
                                    f"{target.spacegroup}")
    name = f"{target.name or 'target'}-sg{target.spacegroup}"
    runs = 1 if all(a.dof == 0 for a in target.assignments) else max(restarts, FORCED_RESTARTS)
    return [ReconstructionJob(target, a, settings, seed + 1000 * pos + r, max_strain, tolerance,
                              f"{name}-w{pos}-r{r}", pos)
            for pos, a in enumerate(target.assignments) for r in range(runs if a.dof else 1)]


def needs_escalation(results: list[ReconstructionResult]) -> bool:
    """True when no result of a target reached fitness 1 (nor was cancelled)."""
    return bool(results) and not any(r.cancelled for r in results) and \
        max(r.fitness for r in results) < 1 - 1e-9


def escalate(target: ReconstructionTarget, results: list[ReconstructionResult], n_assignments: int,
             up_to: int, restarts: int = 1, settings: GASettings | None = None, seed: int = 0,
             max_strain: float = 0.0, tolerance: float = DEFAULT_TOLERANCE) -> list[ReconstructionJob]:
    """Further jobs for a target whose first ``n_assignments`` assignments all ended below
    fitness 1: the assignments ranked ``n_assignments`` to ``up_to - 1``; none otherwise.

    Measured on 199 held-out test structures in oracle mode (docs/reconstruction.md):
    for the 38 that ended below fitness 1 with 5 assignments, going on to 20
    gained 9 matches and lost 1, at about 33 s more per escalated structure on
    2 cores. Results of the new jobs rank behind the first ones at equal fitness
    (their assignments are ranked lower by the prior).
    """
    if up_to <= n_assignments or not needs_escalation(results):
        return []
    return plan_jobs(target, up_to, restarts, settings, seed, max_strain, tolerance, start=n_assignments)


def _target_in_decoder_order(target: ReconstructionTarget, decoder: Decoder) -> np.ndarray:
    """Rows of the target map re-grouped to the decoder's species sequence."""
    if sorted(target.species) != sorted(decoder.species):
        raise AlphaCrystalError(f"assignment {decoder.assignment.label} holds {len(decoder.species)} atoms "
                                f"({'/'.join(sorted(set(decoder.species)))}); the map has {len(target.species)}")
    order = sorted(range(len(target.species)), key=lambda i: element_sort_key(target.species[i]))
    return np.asarray(target.contact_map)[np.ix_(order, order)]


def run_job(job: ReconstructionJob, progress: Callable[[GAState], None] | None = None,
            cancel=None) -> ReconstructionResult:
    """Run one GA; ``cancel`` is any object with ``is_set()`` (checked every generation)."""
    start = time.perf_counter()
    lattice = constrain_lattice(job.target.spacegroup, np.asarray(job.target.lattice, dtype=float))
    decoder = Decoder(job.assignment, lattice, job.max_strain)
    fitness = ContactFitness(decoder.species, _target_in_decoder_order(job.target, decoder), job.tolerance,
                             job.target.rule)
    rng = np.random.default_rng(job.seed)
    genes, ev, state = run_ga(decoder, fitness, job.settings, rng, progress,
                              (lambda: cancel.is_set()) if cancel is not None else None)
    params = decoder.lattice_params(genes[None, :])[0]
    return ReconstructionResult(
        job_id=job.job_id, structure=decoder.structure(genes), fitness=float(ev.fitness[0]),
        dice=float(ev.dice[0]), valid_fraction=float(ev.valid_fraction[0]), n_valid_bonds=int(ev.n_valid[0]),
        n_short_contacts=int(ev.n_short[0]), assignment=job.assignment, lattice=tuple(float(v) for v in params),
        generations=state.generation, evaluations=state.evaluations, seconds=time.perf_counter() - start,
        cancelled=bool(cancel is not None and cancel.is_set()), history=list(state.history),
        bond_strain=float(ev.bond_strain[0]), assignment_rank=job.assignment_rank)
