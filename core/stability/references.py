"""Known phases to judge a prediction's stability against: formation energies in two frames.

The references are the known structures of the data: every polymorph of up to 20 atoms of
every formula of MP-20 (all three partitions of the formula split over the whole range,
:func:`core.data.formula_split.full_range_split`), plus every elemental structure. A user who
predicts a known compound sees it judged against its own known phase. Each formula keeps
its partition, so that an evaluation can leave the validation and test formulas out
(:meth:`ReferencePhases.held_out`) and judge them as the new compounds they stand
for; the fitted chemical potentials use the training partition only, so that such an
evaluation is not tuned on what it judges.

For each reduced formula the resource keeps

- Materials Project's formation energy per atom (the lowest of its polymorphs, eV/atom;
  MP-20 holds only entries within 0.08 eV/atom of MP's hull) and that entry's id,
- the potential's energy per atom at the stored (DFT-relaxed) geometry, the lowest
  of its polymorphs (eV/atom; total energy, not a formation energy), and that entry's id
  (the potential's lowest polymorph need not be Materials Project's);

for the validation and test formulas the structures of those entries (the training
formulas' are in the template library, :mod:`core.templates.library`), so that a run
can tell whether it found the known phase; and for each element three chemical
potentials of the potential (eV/atom):

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
import warnings
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
from pymatgen.core import Composition, Structure

from core.data.datasets import CrystalDataset, load_dataset
from core.data.formula_split import PARTITIONS as SPLIT_PARTITIONS
from core.data.formula_split import full_range_split
from core.errors import AlphaCrystalError, AlphaCrystalWarning
from core.io.files import atomic_write_bytes
from core.relax.relaxer import Relaxer, RelaxSettings
from core.stability.reference_energies import EnergyCheckpoint, build_fingerprint, dataset_energies

MU_KINDS = ("crystal", "static", "fitted")
PARTITIONS = (*SPLIT_PARTITIONS, "element")
"""The partition of each reference formula: those of the formula split, and ``element``."""
HELD_OUT = SPLIT_PARTITIONS[1:]
"""The partitions an evaluation judges as new compounds (validation, test)."""


def reference_file(potential: str) -> Path:
    """Where the shipped reference phases of ``potential`` live (they may be absent)."""
    from resources import RESOURCE_DIR

    return RESOURCE_DIR / f"reference_phases_{potential}.npz"


@dataclass
class ReferencePhases:
    """Known phases of the data and the elements, in the frames of one potential.

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
    partitions : ndarray of str, shape (N,)
        The partition of each formula (:data:`PARTITIONS`); all ``train`` when not given.
    potential_ids : ndarray of str, shape (N,)
        The entry whose energy is ``potential_energy`` (the potential's lowest polymorph);
        ``mp_ids`` when not given (a file of before 2026-12-04).
    known : CrystalDataset, optional
        Structures of the entries (by ``material_ids``) that the template library does not
        hold: those of the validation and test formulas and of elements from those partitions.
    """

    potential: str
    formulas: np.ndarray
    mp_ids: np.ndarray
    mp_formation: np.ndarray
    potential_energy: np.ndarray
    elements: np.ndarray
    mu: dict[str, np.ndarray]
    source: str = ""
    partitions: np.ndarray | None = None
    potential_ids: np.ndarray | None = None
    known: CrystalDataset | None = None

    def __post_init__(self) -> None:
        if self.partitions is None:
            self.partitions = np.full(len(self.formulas), "train")
        if self.potential_ids is None:
            self.potential_ids = np.asarray(self.mp_ids)

    def __len__(self) -> int:
        return len(self.formulas)

    def held_out(self) -> frozenset[str]:
        """The validation and test formulas (elements never): what an evaluation leaves out of
        the hull (``HullJudge(..., exclude=...)``) to judge them as new compounds."""
        partitions = np.asarray(self.partitions)
        return frozenset(str(f) for f, p in zip(self.formulas, partitions) if p in HELD_OUT)

    def known_structure(self, material_id: str) -> Structure | None:
        """The stored structure of entry ``material_id`` (a validation or test formula's
        reference entry), or None."""
        if self.known is None:
            return None
        hits = np.flatnonzero(self.known.material_ids == material_id)
        return self.known.structure(int(hits[0])) if len(hits) else None

    def chemical_potentials(self, kind: str) -> dict[str, float]:
        """{element: μ (eV/atom)} of ``kind``; an element without one (NaN) falls back to the
        fitted value, and one without a fitted value (Ne, Ar, Kr: in no training compound, so
        the fit cannot place them) to its elemental crystal's, then its static energy. Elements
        with none of these are left out."""
        if kind not in MU_KINDS:
            raise ValueError(f"unknown chemical-potential kind {kind!r}: choose from {', '.join(MU_KINDS)}")
        order = [self.mu[k] for k in dict.fromkeys((kind, "fitted", "crystal", "static"))]
        out = {}
        for e, values in zip(self.elements, zip(*order)):
            value = next((float(v) for v in values if np.isfinite(v)), None)
            if value is not None:
                out[str(e)] = value
        return out

    def save(self, path: str | os.PathLike) -> Path:
        """Write as a compressed ``.npz`` (atomically)."""
        import io

        buffer = io.BytesIO()
        arrays: dict[str, Any] = {"potential": self.potential, "formulas": self.formulas.astype(str),
                                  "mp_ids": self.mp_ids.astype(str), "mp_formation": self.mp_formation,
                                  "potential_energy": self.potential_energy, "elements": self.elements.astype(str),
                                  "source": self.source, **{f"mu_{k}": v for k, v in self.mu.items()},
                                  "partitions": np.asarray(self.partitions).astype(str),
                                  "potential_ids": np.asarray(self.potential_ids).astype(str)}
        if self.known is not None:  # single precision: 1e-6 Å in a 10 Å cell, half the size
            arrays |= {f"known_{f.name}": _compact(np.asarray(getattr(self.known, f.name)))
                       for f in fields(CrystalDataset) if f.name != "source"}
        np.savez_compressed(buffer, **arrays)
        return atomic_write_bytes(path, buffer.getvalue())

    @classmethod
    def load(cls, path: str | os.PathLike) -> ReferencePhases:
        """Read a file written by :meth:`save`."""
        with np.load(path, allow_pickle=False) as data:
            known = (CrystalDataset(**{f.name: data[f"known_{f.name}"] for f in fields(CrystalDataset)
                                       if f.name != "source"}) if "known_material_ids" in data else None)
            optional = {name: data[name] for name in ("partitions", "potential_ids") if name in data}
            return cls(potential=str(data["potential"]), formulas=data["formulas"], mp_ids=data["mp_ids"],
                       mp_formation=data["mp_formation"], potential_energy=data["potential_energy"],
                       elements=data["elements"], mu={k: data[f"mu_{k}"] for k in MU_KINDS},
                       source=str(data["source"]), known=known, **optional)


def _compact(values: np.ndarray) -> np.ndarray:
    """Float arrays in single precision (stored structures), text as str (never pickled), others as
    they are."""
    if values.dtype == np.float64:
        return values.astype(np.float32)
    return values.astype(str) if values.dtype == object else values


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


class ReferenceDataError(AlphaCrystalError):
    """A data file that cannot give reference phases (no formation energies, too few compounds)."""


def _check_fit_data(everything, single: np.ndarray, train, data) -> None:
    """The data must carry Materials Project formation energies (a few rows without are kept, as in
    the shipped data: 29 of 43,398); fewer training compounds than elements in them give a warning:
    the least-squares fit of the chemical potentials then returns numbers that are not chemical
    potentials (one Li2O fits Li and O to anything on a line).

    Raises
    ------
    ReferenceDataError
        Naming the file and what is missing (checked before any energy is computed).
    """
    compounds = ~single
    known = np.isfinite(everything.energies) & compounds
    if not known.any():
        raise ReferenceDataError(f"{data}: no compound has a formation energy (column formation_energy_per_atom): "
                                 "the hull is built from Materials Project's formation energies")
    compounds_in_training = sorted({str(f) for f in train.formulas if len(Composition(str(f)).elements) > 1})
    elements = sorted({str(e) for f in compounds_in_training for e in Composition(f).elements})
    if len(compounds_in_training) < len(elements):  # a warning: small test sets still fit (least norm)
        warnings.warn(AlphaCrystalWarning(
            f"{data}: {len(compounds_in_training)} training compound(s) for {len(elements)} elements: their fitted "
            "chemical potentials are underdetermined, and E_hull in the mp-fitted frame means little"), stacklevel=2)


def build_reference_phases(data: str | os.PathLike, potential: str = "chgnet", device: str = "cpu",
                           progress: Callable[[str], None] | None = None, jobs: int = 1,
                           checkpoint: str | os.PathLike | None = None) -> ReferencePhases:
    """Compute the reference phases of ``potential`` from the data file ``data`` (see the module
    docstring): one static energy per structure of every partition and per elemental structure,
    one relaxation per element's lowest-energy elemental structure.

    ``jobs`` processes compute the single points; ``checkpoint`` is a folder keeping them chunk
    by chunk (:mod:`core.stability.reference_energies`), so that a stopped build run again with
    the same data and potential continues where it stopped; it is left for the caller to remove
    once the result is saved.

    Raises
    ------
    ReferenceDataError
        When the data cannot give reference phases.
    CheckpointMismatchError
        When ``checkpoint`` holds the energies of another data file or potential.
    """
    say = progress or (lambda message: None)
    split = full_range_split(data)
    parts = {"train": split.train, "validation": split.validation, "test": split.test}
    everything = load_dataset(data)
    single = _single_element(everything)
    _check_fit_data(everything, single, split.train, data)
    elemental = everything.subset(np.flatnonzero(single))
    say(", ".join(f"{len(d)} {name} structures" for name, d in parts.items())
        + f" and {len(elemental)} elemental structures")
    kept = EnergyCheckpoint(Path(checkpoint) if checkpoint is not None else None,
                            build_fingerprint(everything, potential, {**parts, "elements": elemental}))
    rows: dict[str, _ReferenceRow] = {}
    for name, part in parts.items():
        energies = dataset_energies(part, name, potential, kept, device, jobs, say)
        for k in range(len(part)):
            if len(set(part.atoms(k)[2].tolist())) == 1:
                continue  # elements come from every partition, below
            formula = str(part.formulas[k])
            rows.setdefault(formula, _ReferenceRow(name)).add(str(part.material_ids[k]), float(part.energies[k]),
                                                               float(energies[k]))
    energies_el = dataset_energies(elemental, "elements", potential, kept, device, jobs, say)
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
    mp_lowest = element_mp_ids(elemental)
    for symbol, k in lowest.items():  # each element is its own reference phase, at formation energy 0
        rows[symbol] = _ReferenceRow("element", mp_lowest.get(symbol, str(elemental.material_ids[k])), 0.0,
                                     static[symbol], str(elemental.material_ids[k]))
    formulas = sorted(rows)
    training = [f for f in formulas if rows[f].partition == "train"]
    fitted = fit_chemical_potentials(training, np.array([rows[f].energy for f in training]),
                                     np.array([rows[f].formation for f in training]), symbols)
    mu = {"crystal": np.array([crystal.get(s, np.nan) for s in symbols]),
          "static": np.array([static[s] if np.isfinite(static[s]) else np.nan for s in symbols]),
          "fitted": fitted}
    known = known_structures(everything, [i for f in formulas for i in (rows[f].mp_id, rows[f].energy_id)],
                             split.train)
    return ReferencePhases(potential, np.array(formulas), np.array([rows[f].mp_id for f in formulas]),
                           np.array([rows[f].formation for f in formulas]),
                           np.array([rows[f].energy for f in formulas]), np.array(symbols), mu,
                           source=f"{Path(data).name}, every partition of the full-range split + elements",
                           partitions=np.array([rows[f].partition for f in formulas]),
                           potential_ids=np.array([rows[f].energy_id for f in formulas]), known=known)


def _single_element(dataset: CrystalDataset) -> np.ndarray:
    """Whether each structure of ``dataset`` is of one element (an elemental structure)."""
    return np.array([len(set(dataset.atoms(k)[2].tolist())) == 1 for k in range(len(dataset))])


def element_mp_ids(elemental: CrystalDataset) -> dict[str, str]:
    """{element: Materials Project id of its lowest-formation-energy elemental structure in
    ``elemental``}: the element's known phase, as a compound's is MP's lowest polymorph (fcc Cu,
    mp-30; the potential's lowest, which was taken before 2026-12-05, was hcp Cu for CHGNet, and a
    predicted fcc Cu read as metastable beside an hcp "known phase"). Elements whose structures
    have no formation energy are left out."""
    best: dict[str, tuple[float, str]] = {}
    for k in range(len(elemental)):
        formation = float(elemental.energies[k])
        if not np.isfinite(formation):
            continue
        symbol = str(Composition(str(elemental.formulas[k])).elements[0])
        if symbol not in best or formation < best[symbol][0]:
            best[symbol] = (formation, str(elemental.material_ids[k]))
    return {symbol: material_id for symbol, (_, material_id) in best.items()}


def with_mp_lowest_elements(references: ReferencePhases, data: str | os.PathLike) -> ReferencePhases:
    """``references`` with each element's known phase Materials Project's lowest elemental structure
    (:func:`element_mp_ids`) and the known structures completed for it: what
    :func:`build_reference_phases` now makes, for reference files built before it without computing
    any energy again (the potential's energies and ids are unchanged)."""
    split = full_range_split(data)
    everything = load_dataset(data)
    mp_lowest = element_mp_ids(everything.subset(np.flatnonzero(_single_element(everything))))
    partitions = np.asarray(references.partitions)
    mp_ids = np.array([mp_lowest.get(str(f), str(i)) if p == "element" else str(i)
                       for f, i, p in zip(references.formulas, references.mp_ids, partitions)])
    ids = [str(i) for pair in zip(mp_ids, np.asarray(references.potential_ids)) for i in pair]
    return replace(references, mp_ids=mp_ids, known=known_structures(everything, ids, split.train))


def known_structures(everything: CrystalDataset, ids: list[str], train: CrystalDataset) -> CrystalDataset:
    """The structures of the reference entries ``ids`` that the template library (the training
    partition, ``train``) does not hold: held-out formulas' and elements' from held-out partitions."""
    wanted = set(ids) - {str(i) for i in train.material_ids}
    return everything.subset([k for k in range(len(everything)) if str(everything.material_ids[k]) in wanted])


@dataclass
class _ReferenceRow:
    """One formula's reference while the polymorphs are read: Materials Project's lowest
    (formation energy, eV/atom, and id) and the potential's lowest (energy, eV/atom, and id)."""

    partition: str
    mp_id: str = ""
    formation: float = np.nan
    energy: float = np.inf
    energy_id: str = ""

    def add(self, material_id: str, formation: float, energy: float) -> None:
        """Take one polymorph (NaN formation energy: MP has none; NaN energy: the potential failed)."""
        if not self.mp_id or (np.isfinite(formation) and not formation >= self.formation):
            self.mp_id, self.formation = material_id, formation
        if not self.energy_id or (np.isfinite(energy) and not energy >= self.energy):
            self.energy_id, self.energy = material_id, energy
