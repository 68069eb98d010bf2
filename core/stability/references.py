"""Known phases to judge a prediction's stability against: formation energies in two frames.

The references are the known structures of the data the models were trained on:
every polymorph of the *training* partition of the formula split over MP-20's whole
range (:func:`core.data.formula_split.full_range_split`), plus every elemental structure
of the data (elements are never "new"). Validation and test formulas are left out,
so that they can be judged as the new compounds they stand for.

For each reduced formula the resource keeps

- Materials Project's formation energy per atom (the lowest of its polymorphs, eV/atom;
  MP-20 holds only entries within 0.08 eV/atom of MP's hull), and
- the potential's energy per atom at the stored (DFT-relaxed) geometry, the lowest
  of its polymorphs (eV/atom; total energy, not a formation energy);

and for each element three chemical potentials of the potential (eV/atom):

- ``crystal``: its lowest-energy elemental structure of the data, relaxed by the potential;
- ``static``: the same structures at their stored geometry;
- ``fitted``: the least-squares solution of ``E_pot(ref) - Σ x_i μ_i = E_f^MP(ref)``
  over every training formula, which puts the potential's energies into Materials
  Project's frame (its anion and +U corrections included) and exists also for
  elements without an elemental structure in the data (O, N, F, H, ...).

Which combination is used is a :class:`core.stability.hull.StabilityFrame`, chosen on
validation (docs/stability.md). The resource is re-created by
``alphacrystal build-references`` (:func:`build_reference_phases`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pymatgen.core import Composition

from core.data.datasets import load_dataset
from core.data.formula_split import full_range_split
from core.io.files import atomic_write_bytes
from core.relax.potentials import energies_per_atom
from core.relax.relaxer import Relaxer, RelaxSettings

MU_KINDS = ("crystal", "static", "fitted")


def reference_file(potential: str) -> Path:
    """Where the shipped reference phases of ``potential`` live (they may be absent)."""
    from resources import RESOURCE_DIR

    return RESOURCE_DIR / f"reference_phases_{potential}.npz"


@dataclass
class ReferencePhases:
    """Known phases of the training data and the elements, in the frames of one potential.

    Attributes
    ----------
    potential : str
        The potential the energies come from (:mod:`core.relax.potentials`).
    formulas : ndarray of str, shape (N,)
        Reduced formulas.
    mp_ids : ndarray of str, shape (N,)
        The Materials Project entry of the lowest MP formation energy of each formula.
    mp_formation : ndarray, shape (N,)
        Materials Project formation energy per atom, eV/atom (lowest polymorph).
    potential_energy : ndarray, shape (N,)
        The potential's energy per atom at the stored geometry, eV/atom (lowest polymorph).
    elements : ndarray of str, shape (E,)
        Element symbols.
    mu : dict[str, ndarray]
        Chemical potential of each element by kind (:data:`MU_KINDS`), eV/atom; NaN
        where it cannot be had (no elemental structure for ``crystal``/``static``).
    source : str
        The data file and split they were built from.
    """

    potential: str
    formulas: np.ndarray
    mp_ids: np.ndarray
    mp_formation: np.ndarray
    potential_energy: np.ndarray
    elements: np.ndarray
    mu: dict[str, np.ndarray]
    source: str = ""

    def __len__(self) -> int:
        return len(self.formulas)

    def chemical_potentials(self, kind: str) -> dict[str, float]:
        """{element: μ (eV/atom)} of ``kind``; an element without one (NaN) falls back to
        the fitted value, so every element of the references has one."""
        if kind not in MU_KINDS:
            raise ValueError(f"unknown chemical-potential kind {kind!r}: choose from {', '.join(MU_KINDS)}")
        chosen, fitted = self.mu[kind], self.mu["fitted"]
        return {str(e): float(c if np.isfinite(c) else f) for e, c, f in zip(self.elements, chosen, fitted)
                if np.isfinite(c) or np.isfinite(f)}

    def save(self, path: str | os.PathLike) -> Path:
        """Write as a compressed ``.npz`` (atomically)."""
        import io

        buffer = io.BytesIO()
        arrays: dict[str, Any] = {"potential": self.potential, "formulas": self.formulas.astype(str),
                                  "mp_ids": self.mp_ids.astype(str), "mp_formation": self.mp_formation,
                                  "potential_energy": self.potential_energy, "elements": self.elements.astype(str),
                                  "source": self.source, **{f"mu_{k}": v for k, v in self.mu.items()}}
        np.savez_compressed(buffer, **arrays)
        return atomic_write_bytes(path, buffer.getvalue())

    @classmethod
    def load(cls, path: str | os.PathLike) -> ReferencePhases:
        """Read a file written by :meth:`save`."""
        with np.load(path, allow_pickle=False) as data:
            return cls(potential=str(data["potential"]), formulas=data["formulas"], mp_ids=data["mp_ids"],
                       mp_formation=data["mp_formation"], potential_energy=data["potential_energy"],
                       elements=data["elements"], mu={k: data[f"mu_{k}"] for k in MU_KINDS},
                       source=str(data["source"]))


def formation_energy(composition: Composition, energy_per_atom: float, mu: dict[str, float]) -> float:
    """Formation energy per atom (eV/atom) of ``composition`` at total energy ``energy_per_atom``
    (eV/atom) against the elemental chemical potentials ``mu`` (eV/atom)."""
    fractions = composition.fractional_composition
    return float(energy_per_atom - sum(float(x) * mu[str(el)] for el, x in fractions.items()))


def fit_chemical_potentials(formulas: list[str], energies: np.ndarray, formation: np.ndarray,
                            elements: list[str]) -> np.ndarray:
    """μ (eV/atom, NaN for an element in no formula) minimising the squared residuals of
    ``energies - Σ x_i μ_i - formation`` over ``formulas`` (least squares, numpy)."""
    index = {e: k for k, e in enumerate(elements)}
    x = np.zeros((len(formulas), len(elements)))
    for row, formula in enumerate(formulas):
        for el, frac in Composition(formula).fractional_composition.items():
            x[row, index[str(el)]] = float(frac)
    ok = np.isfinite(energies) & np.isfinite(formation)
    present = x[ok].any(axis=0)
    solution, *_ = np.linalg.lstsq(x[ok][:, present], (energies - formation)[ok], rcond=None)
    mu = np.full(len(elements), np.nan)
    mu[present] = solution
    return mu


def build_reference_phases(data: str | os.PathLike, potential: str = "chgnet", device: str = "cpu",
                           progress: Callable[[str], None] | None = None) -> ReferencePhases:
    """Compute the reference phases of ``potential`` from the data file ``data`` (see the module
    docstring): one static energy per training structure and elemental structure, one
    relaxation per element's lowest-energy elemental structure."""
    say = progress or (lambda message: None)
    train = full_range_split(data).train
    everything = load_dataset(data)
    single = np.array([len(set(everything.atoms(k)[2].tolist())) == 1 for k in range(len(everything))])
    elemental = everything.subset(np.flatnonzero(single))
    say(f"{len(train)} training structures and {len(elemental)} elemental structures")
    energies_train = energies_per_atom([train.structure(k) for k in range(len(train))], potential, device,
                                       progress=lambda done, total: say(f"training structures: {done}/{total}")
                                       if done % 3200 == 0 or done == total else None)
    energies_el = energies_per_atom([elemental.structure(k) for k in range(len(elemental))], potential, device)
    rows: dict[str, tuple[float, str, float]] = {}
    for k in range(len(train)):
        if len(set(train.atoms(k)[2].tolist())) == 1:
            continue  # elements come from every partition, below
        formula, ef, e = str(train.formulas[k]), float(train.energies[k]), float(energies_train[k])
        old = rows.get(formula)
        better = old is None or (np.isfinite(ef) and not ef >= old[0])  # NaN: MP has no formation energy
        mp_best = (ef, str(train.material_ids[k])) if better or old is None else old[:2]
        rows[formula] = (*mp_best, min(e, old[2]) if old is not None else e)
    symbols = sorted({str(el) for k in range(len(everything)) for el in
                      Composition(str(everything.formulas[k])).elements},
                     key=lambda s: Composition(s).elements[0].Z)
    static = {s: np.inf for s in symbols}
    lowest: dict[str, int] = {}
    for k in range(len(elemental)):
        symbol = str(Composition(str(elemental.formulas[k])).elements[0])
        if energies_el[k] < static[symbol]:
            static[symbol], lowest[symbol] = float(energies_el[k]), k
    relaxer = Relaxer(RelaxSettings(potential=potential, device=device))
    crystal = {}
    for n, (symbol, k) in enumerate(sorted(lowest.items())):
        result = relaxer.relax(elemental.structure(k))
        crystal[symbol] = result.energy_per_atom if result.ok else static[symbol]
        say(f"elements relaxed: {n + 1}/{len(lowest)}")
    for symbol, k in lowest.items():  # each element is its own reference phase, at formation energy 0
        rows[symbol] = (0.0, str(elemental.material_ids[k]), static[symbol])
    formulas = sorted(rows)
    mp_formation = np.array([rows[f][0] for f in formulas])
    potential_energy = np.array([rows[f][2] for f in formulas])
    compounds = [f for f in formulas if len(Composition(f).elements) > 1]
    fitted = fit_chemical_potentials(compounds, np.array([rows[f][2] for f in compounds]),
                                     np.array([rows[f][0] for f in compounds]), symbols)
    mu = {"crystal": np.array([crystal.get(s, np.nan) for s in symbols]),
          "static": np.array([static[s] if np.isfinite(static[s]) else np.nan for s in symbols]),
          "fitted": fitted}
    return ReferencePhases(potential, np.array(formulas), np.array([rows[f][1] for f in formulas]),
                           mp_formation, potential_energy, np.array(symbols), mu,
                           source=f"{Path(data).name}, training partition of the full-range split + elements")
