"""Relaxation and energy ranking with a universal interatomic potential.

The potential is CHGNet by default, SevenNet-0 on request (:mod:`core.relax.potentials`;
both offline). Positions and cell are relaxed together (ASE FIRE with the
Fréchet cell filter) until the largest force is below ``fmax`` (eV/Å) or
``steps`` is reached. Energies are the potential's total energy per atom
(eV/atom, MP-compatible GGA/GGA+U scale): comparable between polymorphs of one
composition relaxed with the same potential, not a formation energy.

Structures are relaxed one at a time, in parallel processes: relaxing a batch
with one model call per step was no faster per structure on the CPU
(``benchmarks/bench_potentials.py``, docs/potentials.md).

Reconstructed structures can hold atoms far too close; a relaxation that
raises, ends with a non-finite energy or with atoms collapsed together is
reported as failed (``error``) instead of stopping the run.
"""

from __future__ import annotations

import math
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass
from functools import lru_cache

import numpy as np
from pymatgen.core import Structure

from core.io.read import MIN_ATOM_DISTANCE
from core.relax.potentials import DEFAULT_POTENTIAL, check_potential, load_calculator, quiet
from core.runtime.parallel import one_thread, spawn_pool, terminate_workers

COLLAPSE_FRACTION = 0.5
"""Two atoms closer than this fraction of the sum of their covalent radii after relaxation have
fallen into a potential's short-range hole (SevenNet-0 gave a BaI2 with Ba-I at 1.17 Å, a third
of 3.54 Å, -28.5 eV/atom against -3.5 for every sound BaI2, and ranked it first). In 7,051
Materials Project structures of the data the closest pair is never below 0.63 of that sum
(uranium intermetallics), 0.76 for 99 % of them."""


@dataclass(frozen=True)
class RelaxSettings:
    """Attributes
    ----------
    fmax : float
        Force convergence criterion, eV/Å.
    steps : int
        Maximum optimiser steps.
    relax_cell : bool
        Relax the lattice as well as the positions.
    device : str
        ``cpu``, ``cuda`` or ``auto`` (CUDA when present).
    potential : str
        ``chgnet`` or ``sevennet`` (:mod:`core.relax.potentials`).
    """

    fmax: float = 0.1
    steps: int = 300
    relax_cell: bool = True
    device: str = "cpu"
    potential: str = DEFAULT_POTENTIAL

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class RelaxResult:
    """Outcome of one relaxation.

    Attributes
    ----------
    structure : Structure
        Relaxed structure (the input when the relaxation failed).
    energy_per_atom : float
        CHGNet energy of the relaxed structure, eV/atom (nan when failed).
    initial_energy_per_atom : float
        CHGNet energy of the input structure, eV/atom.
    steps : int
        Optimiser steps taken.
    max_force : float
        Largest remaining force, eV/Å.
    converged : bool
        ``max_force <= fmax``.
    seconds : float
    error : str or None
        Why the relaxation failed, if it did.
    """

    structure: Structure
    energy_per_atom: float
    initial_energy_per_atom: float
    steps: int
    max_force: float
    converged: bool
    seconds: float
    error: str | None = None
    magmoms: list[float] | None = None
    """The potential's magnetic moments of the relaxed structure, μB per site (CHGNet only)."""
    energies: list[float] | None = None
    """Energy after each optimiser step, eV/atom (the relaxation's course: staged relaxation
    policies are chosen from it, docs/ranking.md)."""

    @property
    def ok(self) -> bool:
        return self.error is None and math.isfinite(self.energy_per_atom)

    def to_dict(self) -> dict:
        return {"structure": self.structure.as_dict(), "energy_per_atom": self.energy_per_atom,
                "initial_energy_per_atom": self.initial_energy_per_atom, "steps": self.steps,
                "max_force": self.max_force, "converged": self.converged, "seconds": self.seconds,
                "error": self.error, "magmoms": self.magmoms, "energies": self.energies}

    @classmethod
    def from_dict(cls, data: dict) -> RelaxResult:
        values = dict(data)
        values["structure"] = Structure.from_dict(values["structure"])
        return cls(**values)


class Relaxer:
    """Relaxations with one potential instance (loaded on first use, 0.1–2 s).

    Both potentials run the same optimiser: ASE FIRE on the positions and, with
    ``relax_cell``, the cell through ASE's Fréchet cell filter (CHGNet's own
    ``StructOptimizer`` default), so their figures differ only by the potential.
    """

    def __init__(self, settings: RelaxSettings | None = None) -> None:
        self.settings = settings or RelaxSettings()
        check_potential(self.settings.potential)
        self._calculator = None

    def _load(self):
        if self._calculator is None:
            self._calculator = load_calculator(self.settings.potential, self.settings.device)
        return self._calculator

    def _atoms(self, structure: Structure):
        from pymatgen.io.ase import AseAtomsAdaptor

        atoms = AseAtomsAdaptor.get_atoms(structure)
        atoms.calc = self._load()
        return atoms

    def energy_per_atom(self, structure: Structure) -> float:
        """Single-point energy of the potential, eV/atom."""
        atoms = self._atoms(structure)
        with quiet(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return float(atoms.get_potential_energy()) / len(atoms)

    def relax(self, structure: Structure) -> RelaxResult:
        """Relax ``structure``; never raises for a bad structure (see ``RelaxResult.error``)."""
        from ase.filters import FrechetCellFilter
        from ase.optimize import FIRE
        from pymatgen.io.ase import AseAtomsAdaptor

        start = time.perf_counter()

        def failed(reason: str) -> RelaxResult:
            return RelaxResult(structure, float("nan"), float("nan"), 0, float("nan"), False,
                               time.perf_counter() - start, reason)

        if shortest_distance(structure) < MIN_ATOM_DISTANCE:
            return failed(f"atoms closer than {MIN_ATOM_DISTANCE} Å")
        s = self.settings
        try:
            atoms = self._atoms(structure)
            n = len(atoms)
            with quiet(), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                initial = float(atoms.get_potential_energy()) / n
                optimizer = FIRE(FrechetCellFilter(atoms) if s.relax_cell else atoms, logfile=None)
                course: list[float] = []
                # the optimiser evaluated this step's energy already: reading it costs nothing
                optimizer.attach(lambda: course.append(round(float(atoms.get_potential_energy()) / n, 6)))
                converged = bool(optimizer.run(fmax=s.fmax, steps=s.steps))
                energy = float(atoms.get_potential_energy()) / n
                forces = np.asarray(atoms.get_forces(), dtype=float)
                moments = atoms.calc.results.get("magmoms")
            relaxed = AseAtomsAdaptor.get_structure(atoms)  # the calculator's moments go to ``magmoms``,
            final = Structure(relaxed.lattice, relaxed.species, relaxed.frac_coords)  # not into the exports
            max_force = float(np.linalg.norm(forces, axis=1).max()) if len(forces) else 0.0
        except Exception as exc:  # noqa: BLE001 - the potential can fail on a broken geometry
            return failed(f"{type(exc).__name__}: {exc}")
        error = None
        if not math.isfinite(energy):
            error = "non-finite energy"
        elif shortest_distance(final) < MIN_ATOM_DISTANCE:  # a potential's short-range hole: energy meaningless
            error = f"atoms collapsed closer than {MIN_ATOM_DISTANCE} Å during relaxation"
        else:
            error = collapsed_pair(final)
        magmoms = None if moments is None else [round(float(m), 3) for m in np.ravel(moments)]
        return RelaxResult(final, energy, initial, optimizer.nsteps, max_force, converged,
                           time.perf_counter() - start, error, magmoms, course)


def collapsed_pair(structure: Structure) -> str | None:
    """The closest pair of atoms nearer than :data:`COLLAPSE_FRACTION` of the sum of their covalent
    radii, in words, or None: a relaxation that ends so has collapsed and its energy is meaningless."""
    from pymatgen.optimization.neighbors import find_points_in_spheres

    from core.crystal.elements import element_table

    radius = element_table().covalent_radius
    numbers = np.array([site.specie.Z for site in structure], dtype=np.int64)
    cart = np.ascontiguousarray(structure.cart_coords, dtype=float)
    cutoff = 2 * COLLAPSE_FRACTION * float(radius[numbers].max())
    centre, neighbour, _, distance = find_points_in_spheres(
        cart, cart, cutoff, np.array([1, 1, 1], dtype=np.int64),
        np.ascontiguousarray(structure.lattice.matrix, dtype=float), 1e-8)
    sums = radius[numbers[centre]] + radius[numbers[neighbour]]
    short = (distance > 1e-8) & (distance < COLLAPSE_FRACTION * sums)
    if not short.any():
        return None
    k = int(np.flatnonzero(short)[np.argmin(distance[short] / sums[short])])
    a, b = structure[int(centre[k])].specie, structure[int(neighbour[k])].specie
    return (f"atoms collapsed during relaxation: {a}-{b} {distance[k]:.2f} Å, less than "
            f"{COLLAPSE_FRACTION:.0%} of their covalent radii ({sums[k]:.2f} Å)")


def shortest_distance(structure: Structure) -> float:
    """Shortest interatomic distance in Å over periodic images (inf for one atom alone)."""
    if len(structure) < 2 and min(structure.lattice.abc) >= MIN_ATOM_DISTANCE:
        return float("inf")
    dist = structure.distance_matrix
    np.fill_diagonal(dist, np.inf)
    shortest = float(dist.min()) if dist.size else float("inf")
    return min(shortest, min(structure.lattice.abc))


_WORKER_RELAXER: Relaxer | None = None


def relax_worker(structure: dict, settings: dict) -> dict:
    """Process-pool entry point: relax a structure given as ``Structure.as_dict()``.

    The potential is loaded once per worker process and reused.
    """
    global _WORKER_RELAXER
    wanted = RelaxSettings(**settings)
    if _WORKER_RELAXER is None or _WORKER_RELAXER.settings != wanted:
        _WORKER_RELAXER = Relaxer(wanted)
    return _WORKER_RELAXER.relax(Structure.from_dict(structure)).to_dict()


@lru_cache(maxsize=2)
def cached_relaxer(settings: RelaxSettings) -> Relaxer:
    """One potential instance per process and settings (loading takes up to seconds)."""
    return Relaxer(settings)


class RelaxRunner:
    """Relaxations in this process (one worker) or on one spawn pool kept open for
    several batches (``with RelaxRunner(2, cancel) as runner: runner.run(...)``).

    ``cancel`` is anything with ``is_set()`` (a ``threading.Event``, a
    ``CancelToken``) or None; a cancelled batch stops the workers at once,
    because one relaxation can take a minute.
    """

    def __init__(self, workers: int, cancel=None) -> None:
        self.workers, self.cancel = workers, cancel
        self._pool_context: AbstractContextManager[ProcessPoolExecutor] | None = None
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> RelaxRunner:
        return self

    def __exit__(self, *exc) -> None:
        if self._pool_context is not None:
            self._pool_context.__exit__(*exc)

    def _cancelled(self) -> bool:
        return self.cancel is not None and self.cancel.is_set()

    def run(self, items, settings: RelaxSettings):
        """Yield (key, RelaxResult) as relaxations of ``items`` [(key, Structure)] finish."""
        from concurrent.futures import FIRST_COMPLETED, wait

        if not items or self._cancelled():
            return
        if self.workers <= 1:
            relaxer = cached_relaxer(settings)
            for item, structure in items:
                if self._cancelled():
                    return
                with one_thread():  # one worker, one core: as a pool worker runs
                    result = relaxer.relax(structure)
                yield item, result
            return
        if self._pool is None:
            self._pool_context = spawn_pool(self.workers)
            self._pool = self._pool_context.__enter__()
        pool = self._pool
        futures = {pool.submit(relax_worker, s.as_dict(), settings.to_dict()): item for item, s in items}
        pending = set(futures)
        while pending:
            finished, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
            for fut in finished:
                if not fut.cancelled():
                    yield futures[fut], RelaxResult.from_dict(fut.result())
            if self._cancelled():
                terminate_workers(pool)
                return
