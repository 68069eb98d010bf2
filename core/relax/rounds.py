"""How a pool of candidate structures is relaxed: all briefly, then the most promising fully.

One policy for ``predict`` (both routes share one budget) and the evaluations that
rank reconstructions by energy (:mod:`core.reconstruction.evaluation`), so the
figures in docs/ measure the relaxation ``predict`` ships.

Round 1 relaxes every structure for ``prerelax_steps``; round 2 continues the
unconverged ones within ``refine_window`` of the lowest round-1 energy (at most
``refine_top``, the lowest first) up to the full step budget. Most GA structures are
far from the energy minimum and would use the whole budget; relaxing all of them
fully made relaxation 2/3 of a run's time. A structure left after round 1 keeps its
(higher) round-1 energy and ``converged=False``. Both rounds share one process pool.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable
from dataclasses import replace
from typing import Protocol, TypeVar

from pymatgen.core import Structure

from core.io.files import state_key
from core.io.write import cif_text
from core.relax.relaxer import RelaxResult, RelaxRunner, RelaxSettings
from core.runtime.parallel import resolve_workers
from core.runtime.terminal import counted

PRERELAX_STEPS = 20
"""Steps of round 1 (every structure), ``predict``'s default (chosen on validation pools with
:data:`REFINE_WINDOW` and :data:`REFINE_TOP`: docs/ranking.md)."""

REFINE_TOP = 5
"""The most structures round 2 finishes (the lowest in energy after round 1), ``predict``'s default."""

REFINE_WINDOW: float | None = 0.1
"""eV/atom: round 2 continues only structures within this much of the lowest round-1 energy
(None: no window), ``predict``'s default. With 20 first-round steps this halved the
relaxation steps of 40 validation formulas (500 -> 219 per formula, duplicates removed
before relaxation included) without losing a top-1 or top-5 match."""



def continued_within_window(energies: dict, converged: dict, window: float, at_least: int,
                            at_most: int | None = None) -> list:
    """Which structures a staged relaxation continues to the full budget.

    Parameters
    ----------
    energies, converged : dict
        Key -> energy (eV/atom) and convergence after the first round (failed ones left out).
    window : float
        eV/atom above the lowest first-round energy (converged structures included) within
        which an unconverged structure is continued.
    at_least, at_most : int
        The lowest ``at_least`` unconverged ones are continued whatever the window; never
        more than ``at_most`` (None: no cap), so a run knows its largest count beforehand.

    Returns
    -------
    Keys to continue, lowest energy first.
    """
    if not energies:
        return []
    best = min(energies.values())
    unconverged = sorted((k for k in energies if not converged[k]), key=lambda k: energies[k])
    chosen = [k for n, k in enumerate(unconverged) if n < at_least or energies[k] - best <= window]
    return chosen if at_most is None else chosen[:at_most]

class ResultStore(Protocol):
    """Where finished relaxations are kept between runs (a :class:`core.predict.run_folder.RunFolder`)."""

    def load(self, kind: str, key: str) -> dict | None: ...

    def save(self, kind: str, key: str, data: dict) -> None: ...


Key = TypeVar("Key", bound=Hashable)
"""A structure's key in :func:`relax_in_rounds` (the caller's: a candidate and index, a name)."""


def relax_in_rounds(structures: dict[Key, Structure], full: RelaxSettings, prerelax_steps: int, refine_top: int,
                    workers: int | None = None, cancel=None, store: ResultStore | None = None,
                    progress: Callable[[int, int, str], None] | None = None,
                    group: Callable[[Key], Hashable] | None = None,
                    on_result: Callable[[Key, RelaxResult], None] | None = None,
                    refine_window: float | None = None) -> tuple[dict[Key, RelaxResult], int]:
    """Relax ``structures`` (key -> structure) in two rounds (module docstring).

    Parameters
    ----------
    full : RelaxSettings
        The whole relaxation (force criterion in eV/Å, step budget, potential, device).
    prerelax_steps, refine_top : int
        Steps of round 1, and the most structures round 2 finishes (of each pool).
    refine_window : float, optional
        eV/atom: round 2 continues only unconverged structures within this much of the
        lowest round-1 energy of their pool (the lowest unconverged one always; None: the
        ``refine_top`` lowest whatever their energy).
    workers : int, optional
        Processes (default: one per core this process may use, at most one per structure).
    cancel : object with ``is_set()``, optional
    store : optional
        Finished (pre)relaxations are saved there as they end and resumed from it.
    progress : callable, optional
        ``(done, total, message)`` at the start and after each relaxation. ``total`` is
        fixed before the first relaxation: round 1's relaxations plus the most round 2
        can continue (``refine_top`` per pool); those round 2 does not need (converged
        or failed structures) count as done when round 1 ends.
    group : callable, optional
        Key -> pool: round 2 finishes ``refine_top`` structures of each pool (an evaluation
        of many formulas at once); default one pool (``predict``: both routes share it).
    on_result : callable, optional
        ``(key, result)`` for each structure's relaxation so far: at once for those resumed
        from ``store``, after round 1, and again after round 2 for those it continues
        (the later result replaces the earlier).

    Returns
    -------
    (results by key, how many structures reused a relaxation or prerelaxation from ``store``);
    after a cancel, the structures round 1 reached keep their round-1 result
    """
    first = replace(full, steps=min(prerelax_steps, full.steps))
    out: dict[Key, RelaxResult] = {}
    pre: dict[Key, RelaxResult] = {}
    window = () if refine_window is None else (refine_window,)  # keys of runs without a window unchanged
    keys = {item: state_key(cif_text(structure), full.to_dict(), prerelax_steps, refine_top, *window)
            for item, structure in structures.items()}
    resumed = 0
    for item in structures:
        stored = store.load("relaxation", keys[item]) if store else None
        if stored is not None:
            out[item] = RelaxResult.from_dict(stored)
            resumed += 1
            continue
        stored = store.load("prerelaxation", keys[item]) if store else None
        if stored is not None:
            pre[item] = RelaxResult.from_dict(stored)
            resumed += 1
    round1 = [item for item in structures if item not in out and item not in pre]
    group = group or (lambda item: None)
    # one count, known before the first relaxation: round 1 plus the most round 2 can continue
    waiting_per_pool: dict[Hashable, int] = {}
    for item in structures:
        if item not in out:
            waiting_per_pool[group(item)] = waiting_per_pool.get(group(item), 0) + 1
    planned = sum(min(refine_top, n) for n in waiting_per_pool.values()) if full.steps > first.steps else 0
    total = len(round1) + planned
    done = [0]
    if progress and not total:
        progress(0, 0, f"{resumed} of {len(structures)} structures resumed: no relaxations to run")
    elif progress:
        progress(0, total, f"{total} relaxations: {counted(len(round1), 'structure')} for {first.steps} steps each"
                 + (f", then up to {planned} of the lowest in energy"
                    + (f" (within {1000 * refine_window:g} meV/atom)" if refine_window is not None else "")
                    + f" continued to {full.steps} steps" if planned else "")
                 + (f"; {resumed} of {len(structures)} structures resumed" if resumed else ""))
    if on_result:
        for item, result in [*out.items(), *pre.items()]:
            on_result(item, result)

    def report(item, result: RelaxResult) -> None:
        done[0] += 1
        if on_result:
            on_result(item, result)
        if progress:
            energy = f"{result.energy_per_atom:.4f} eV/atom" if result.ok else f"failed ({result.error})"
            progress(done[0], total, f"{item[0] if isinstance(item, tuple) else item}: {energy}")

    def save(kind: str, item, result: RelaxResult) -> None:
        if store is not None:
            store.save(kind, keys[item], result.to_dict())

    workers = resolve_workers(workers, len(round1))
    with RelaxRunner(workers, cancel) as runner:
        for item, result in runner.run([(i, structures[i]) for i in round1], first):
            pre[item] = result
            save("prerelaxation", item, result)
            report(item, result)
        if cancel is not None and cancel.is_set():
            return _so_far(pre, out), resumed
        waiting = [i for i in pre if i not in out]
        per_pool: dict[Hashable, list] = {}
        for item in waiting:
            if pre[item].ok:
                per_pool.setdefault(group(item), []).append(item)
        refine = [i for items in per_pool.values()
                  for i in continued_within_window({i: pre[i].energy_per_atom for i in items},
                                                   {i: pre[i].converged for i in items},
                                                   math.inf if refine_window is None else refine_window,
                                                   1, refine_top)] if full.steps > first.steps else []
        for item in waiting:
            if item not in refine:
                out[item] = pre[item]
                save("relaxation", item, pre[item])
        if planned > len(refine):  # converged or failed in round 1: nothing left to continue
            done[0] += planned - len(refine)
            if progress:
                progress(done[0], total, f"{len(refine)} continued to {full.steps} steps ({planned - len(refine)} "
                         "not needed: the others converged or failed)" if refine else
                         "no second round needed: every structure converged or failed in the first")
        rest = replace(full, steps=full.steps - first.steps)
        for item, result in runner.run([(i, pre[i].structure) for i in refine], rest):
            out[item] = joined(pre[item], result)
            save("relaxation", item, out[item])
            report(item, out[item])
    return _so_far(pre, out), resumed


def _so_far(pre: dict[Key, RelaxResult], out: dict[Key, RelaxResult]) -> dict[Key, RelaxResult]:
    """Every structure's relaxation so far: its final one, else its round-1 one (a cancelled
    run keeps what it relaxed: unconverged, it ranks as an upper bound, and it is not stored as
    final, so a resumed run continues it). Without a cancel every round-1 result is in ``out``."""
    return {**pre, **out}


def joined(first: RelaxResult, second: RelaxResult) -> RelaxResult:
    """One result for a relaxation done in two parts."""
    if not second.ok:
        return first
    return RelaxResult(second.structure, second.energy_per_atom, first.initial_energy_per_atom,
                       first.steps + second.steps, second.max_force, second.converged,
                       first.seconds + second.seconds, second.error, second.magmoms,
                       (first.energies or []) + (second.energies or []) if first.energies is not None else None)
