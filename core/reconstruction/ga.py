"""The genetic algorithm of CMCrystal: tournament selection, crossover, mutation, elitism.

Genes of fractional coordinates are periodic (mutation wraps them into [0, 1)
and blend crossover follows the shorter way round the circle); strain genes live
in [-1, 1] and are clipped. The whole population is evaluated at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np

from core.errors import AlphaCrystalError
from core.reconstruction.fitness import ContactFitness, Evaluation
from core.reconstruction.genome import Decoder

PERFECT = 1.0 - 1e-9
MIN_POPULATION = 4
"""The smallest population the GA runs: it keeps :attr:`GASettings.elitism` (2) elite
individuals and needs at least 2 children per generation (with 2 or fewer it failed
with a ValueError); every command checks it, and :class:`GASettings` refuses less."""
MAX_POPULATION = 10_000
"""The largest population: the GA evaluates the whole population at once, and 100x the paper's
100 fills the memory."""


@dataclass(frozen=True)
class GASettings:
    """Paper defaults: population 100, up to 1000 generations (100,000 evaluations).

    Attributes
    ----------
    population, generations : int
    tournament : int
        Individuals drawn per tournament.
    crossover_rate : float
        Probability that a child mixes two parents (else it copies one).
    mutation_rate : float or None
        Per-gene mutation probability (default ``max(1/n_genes, 0.1)``).
    mutation_sigma : float
        Standard deviation of Gaussian mutation (fractional units / strain units).
    reset_rate : float
        Per-gene probability of a uniform re-draw (keeps diversity).
    elitism : int
        Best individuals copied unchanged to the next generation.
    patience : int
        Stop when the best fitness has been 1 for this many generations (they
        are not wasted: the GA ranks equal fitness by how close bond lengths are
        to r_i + r_j, see :attr:`Evaluation.score`).
    stall : int or None
        Stop when the best fitness has not improved for this many generations
        (None: never; the paper runs the full budget).
    """

    population: int = 100
    generations: int = 1000
    tournament: int = 3
    crossover_rate: float = 0.9
    mutation_rate: float | None = None
    mutation_sigma: float = 0.08
    reset_rate: float = 0.02
    elitism: int = 2
    patience: int = 50
    stall: int | None = None

    def __post_init__(self) -> None:
        if self.population < MIN_POPULATION:
            raise AlphaCrystalError(f"GA population {self.population}: at least {MIN_POPULATION} individuals "
                                    f"are needed ({self.elitism} elite and 2 or more children per generation)")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class GAState:
    """Progress of a run, passed to the progress callback after every generation."""

    generation: int
    best_fitness: float
    mean_fitness: float
    best_genes: np.ndarray
    evaluations: int
    elapsed_s: float
    history: list[tuple[float, float]] = field(default_factory=list)
    decoder: Decoder | None = None

    @property
    def best_structure(self):
        """The best structure so far as a pymatgen Structure (built on demand, ~0.2 ms)."""
        if self.decoder is None:
            raise ValueError("this state carries no decoder")
        return self.decoder.structure(self.best_genes)


def _random_genes(rng: np.random.Generator, n: int, periodic: np.ndarray) -> np.ndarray:
    g = rng.random((n, len(periodic)))
    g[:, ~periodic] = 2 * g[:, ~periodic] - 1
    return g


def _normalise(genes: np.ndarray, periodic: np.ndarray) -> np.ndarray:
    genes[:, periodic] %= 1.0
    genes[:, ~periodic] = np.clip(genes[:, ~periodic], -1.0, 1.0)
    return genes


def run_ga(
    decoder: Decoder,
    fitness: ContactFitness,
    settings: GASettings,
    rng: np.random.Generator,
    progress: Callable[[GAState], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> tuple[np.ndarray, Evaluation, GAState]:
    """Evolve genomes of ``decoder`` towards ``fitness`` = 1.

    Returns the best genome, its evaluation (arrays of length 1) and the final state.
    """
    start = time.perf_counter()
    periodic = decoder.periodic
    n_genes = decoder.n_genes
    pop_size = settings.population

    def evaluate(genes: np.ndarray) -> Evaluation:
        return fitness.evaluate(decoder.frac_coords(genes), decoder.lattice_matrices(genes))

    if decoder.n_coordinate_genes == 0:
        return _score_fixed_atoms(decoder, evaluate, pop_size, rng, progress, start)

    rate = settings.mutation_rate if settings.mutation_rate is not None else max(1.0 / n_genes, 0.1)
    genes = _random_genes(rng, pop_size, periodic)
    ev = evaluate(genes)
    evaluations = pop_size
    history: list[tuple[float, float]] = []
    perfect_since = None
    best_so_far, improved_at = -1.0, 0
    for generation in range(1, settings.generations + 1):
        order = np.argsort(-ev.score, kind="stable")
        best = order[0]
        history.append((float(ev.fitness[best]), float(ev.fitness.mean())))
        state = GAState(generation, history[-1][0], history[-1][1], genes[best].copy(), evaluations,
                        time.perf_counter() - start, history, decoder)
        if progress:
            progress(state)
        if ev.fitness[best] >= PERFECT:
            perfect_since = perfect_since or generation
            if generation - perfect_since >= settings.patience:
                break
        else:
            perfect_since = None
        if ev.fitness[best] > best_so_far + 1e-9:
            best_so_far, improved_at = float(ev.fitness[best]), generation
        elif settings.stall and generation - improved_at >= settings.stall:
            break
        if generation == settings.generations or (cancelled and cancelled()):
            break
        # selection: tournaments
        n_children = pop_size - settings.elitism
        draws = rng.integers(0, pop_size, size=(2, n_children, settings.tournament))
        parents = [d[np.arange(n_children), np.argmax(ev.score[d], axis=1)] for d in draws]
        a, b = genes[parents[0]], genes[parents[1]]
        # crossover: uniform gene mixing, plus a blend step on half of the mixed children
        mix = rng.random(n_children) < settings.crossover_rate
        take_b = (rng.random(a.shape) < 0.5) & mix[:, None]
        child = np.where(take_b, b, a)
        blend = mix & (rng.random(n_children) < 0.5)
        if blend.any():
            diff = b[blend] - a[blend]
            diff[:, periodic] -= np.round(diff[:, periodic])       # shorter way round the circle
            child[blend] = a[blend] + rng.random((blend.sum(), 1)) * diff
        # mutation: Gaussian steps and rare uniform resets
        mutate = rng.random(child.shape) < rate
        child = child + mutate * rng.normal(0.0, settings.mutation_sigma, child.shape)
        reset = rng.random(child.shape) < settings.reset_rate
        if reset.any():
            child = np.where(reset, _random_genes(rng, n_children, periodic), child)
        child = _normalise(child, periodic)
        elite = genes[order[: settings.elitism]]
        genes = np.concatenate([elite, child])
        child_ev = evaluate(child)
        elite_ev = _take(ev, order[: settings.elitism])
        ev = _concat(elite_ev, child_ev)
        evaluations += n_children
    best = int(np.argmax(ev.score))
    return genes[best], _take(ev, [best]), state


def _score_fixed_atoms(decoder: Decoder, evaluate: Callable[[np.ndarray], Evaluation], pop_size: int,
                       rng: np.random.Generator, progress, start: float) -> tuple[np.ndarray, Evaluation, GAState]:
    """Every atom on a point without free coordinates: nothing for generations to evolve.

    Without strain genes one structure is scored. With them, only the cell lengths can
    change, so one generation is scored instead of a stall budget of them (the flat
    fitness curves of such assignments): the unstrained cell and ``pop_size - 1``
    random strains, in one vectorised evaluation; the best is kept."""
    genes = np.zeros((1, decoder.n_genes))
    if decoder.n_genes:
        genes = np.concatenate([genes, _random_genes(rng, pop_size - 1, decoder.periodic)])
    ev = evaluate(genes)
    best = int(np.argmax(ev.score))
    point = (float(ev.fitness[best]), float(ev.fitness.mean()))
    state = GAState(1 if decoder.n_genes else 0, point[0], point[1], genes[best], len(genes),
                    time.perf_counter() - start, [point], decoder)
    if progress:
        progress(state)
    return genes[best], _take(ev, [best]), state


def _take(ev: Evaluation, idx) -> Evaluation:
    idx = np.asarray(idx)
    return Evaluation(ev.fitness[idx], ev.dice[idx], ev.valid_fraction[idx], ev.n_valid[idx], ev.n_short[idx],
                      ev.maps[idx], ev.bond_strain[idx])


def _concat(a: Evaluation, b: Evaluation) -> Evaluation:
    return Evaluation(*(np.concatenate([x, y]) for x, y in zip(
        (a.fitness, a.dice, a.valid_fraction, a.n_valid, a.n_short, a.maps, a.bond_strain),
        (b.fitness, b.dice, b.valid_fraction, b.n_valid, b.n_short, b.maps, b.bond_strain))))
