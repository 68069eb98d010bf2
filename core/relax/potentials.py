"""The machine-learned interatomic potentials that relax and rank structures.

Both ship their pretrained weights inside their PyPI wheels, so they load
offline (no download at run time):

- ``chgnet``: CHGNet 0.3.0 (Deng et al., Nat. Mach. Intell. 2023), trained on
  MPtrj; energies on the MP GGA/GGA+U scale. The default (see
  ``docs/potentials.md`` for the measurement that chose it).
- ``sevennet``: SevenNet-0 (11 Jul 2024; Park et al., J. Chem. Theory Comput.
  2024), trained on MPtrj; the default second potential that re-ranks the first five.
- ``sevennet-l3i5``: the larger SevenNet-l3i5 in the same wheel, 2.5× slower per
  step on this CPU (too slow to relax every structure in the 2-minute budget; a
  second opinion costs five single points).
- ``sevennet-mf-0``: SevenNet-MF-0, multi-fidelity, read through its PBE head
  (:data:`SEVENNET_MODALS`); measured no better than SevenNet-0 at ordering
  polymorphs (``docs/potentials.md``).

Energies of different potentials are not comparable with each other: a run
ranks all its structures with one potential.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.crystal.elements import TRAINING_DATA_ELEMENTS, TRAINING_DATA_Z
from core.errors import AlphaCrystalError


@dataclass(frozen=True)
class Potential:
    """One selectable potential.

    Attributes
    ----------
    name : str
        The name users type (``--potential``).
    label : str
        Model and version, as shown in outputs.
    package : str
        The pip package that holds code and weights.
    """

    name: str
    label: str
    package: str


POTENTIALS: dict[str, Potential] = {
    "chgnet": Potential("chgnet", "CHGNet 0.3.0", "chgnet"),
    "sevennet": Potential("sevennet", "SevenNet-0 (11Jul2024)", "sevenn"),
    "sevennet-l3i5": Potential("sevennet-l3i5", "SevenNet-l3i5", "sevenn"),
    "sevennet-mf-0": Potential("sevennet-mf-0", "SevenNet-MF-0 (PBE)", "sevenn"),
}
DEFAULT_POTENTIAL = "chgnet"

SEVENNET_MODELS = {"sevennet": "7net-0", "sevennet-l3i5": "7net-l3i5", "sevennet-mf-0": "7net-mf-0"}
"""sevenn's names of the pretrained models shipped in its wheel (loaded offline)."""

SEVENNET_MODALS = {"sevennet-mf-0": "PBE"}
"""The fidelity read from a multi-fidelity model: SevenNet-MF-0 has a PBE (MPtrj, GGA/GGA+U,
the scale of Materials Project's energies and of CHGNet) and an r2SCAN head."""


TRAINED_Z = TRAINING_DATA_Z
"""Atomic numbers every shipped potential was trained on: MPtrj, the training set of all four, holds
the elements of MP-20 (:data:`core.crystal.elements.TRAINING_DATA_Z`: H to Pu without Po, At, Rn,
Fr and Ra). SevenNet's type maps are exactly these 89 elements; CHGNet embeds Z 1-94 but its
embeddings of 84-88 were never trained (FrCl relaxed to 40 Å³/atom at about 0 eV/atom), and it
fails on Am and beyond (checked against the models by tests/test_potentials.py)."""


class PotentialError(AlphaCrystalError):
    """Unknown potential, or its package is not installed."""


def check_potential_elements(name: str, symbols) -> None:
    """Refuse a relaxation by potential ``name`` of a composition with elements it was not trained
    on (:data:`TRAINED_Z`), before any work.

    Raises
    ------
    PotentialError
        Naming the elements, the potential and what to do instead.
    """
    from pymatgen.core import Element

    outside = [str(s) for s in symbols if Element(str(s)).Z not in TRAINED_Z]
    if outside:
        raise PotentialError(f"{', '.join(outside)}: outside the elements {check_potential(name).label} was trained on "
                             f"({TRAINING_DATA_ELEMENTS}): its energies and relaxations would mean nothing; "
                             "predict without relaxation (--no-relax; in the window, untick the relaxation) "
                             "to get unrelaxed structures")


def check_potential(name: str) -> Potential:
    """The potential called ``name``; a clear error for anything else."""
    if name not in POTENTIALS:
        raise PotentialError(f"unknown potential {name!r}: choose from {', '.join(POTENTIALS)}")
    return POTENTIALS[name]


def quiet():
    """The potentials print their device and version; keep stdout clean for the CLI."""
    return contextlib.redirect_stdout(io.StringIO())


def load_calculator(name: str, device: str = "cpu"):
    """An ASE calculator for potential ``name`` (energies in eV, forces in eV/Å,
    stress in eV/Å³). ``device``: ``cpu``, ``cuda`` or ``auto`` (CUDA when present)."""
    potential = check_potential(name)
    try:
        with quiet(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if name == "chgnet":
                from chgnet.model.dynamics import CHGNetCalculator

                return CHGNetCalculator(use_device=None if device == "auto" else device)
            from sevenn.calculator import SevenNetCalculator

            return SevenNetCalculator(SEVENNET_MODELS[name], device=device, modal=SEVENNET_MODALS.get(name))
    except ImportError as exc:
        raise PotentialError(f"potential {name!r} needs the {potential.package!r} package "
                             f"(pip install {potential.package}): {exc}") from exc


def energies_per_atom(structures: list, name: str = DEFAULT_POTENTIAL, device: str = "cpu",
                      batch_size: int = 32, progress=None) -> np.ndarray:
    """Single-point energies of ``structures`` (pymatgen) with potential ``name``, eV/atom
    (NaN where the potential fails on one). CHGNet is evaluated in batches (about 5x faster
    than one ASE call per structure on a CPU, equal to 1e-6 eV/atom); the others through
    their ASE calculator. ``progress(done, total)`` is called after each batch."""
    check_potential(name)
    out = np.full(len(structures), np.nan)
    if name == "chgnet":
        with quiet(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from chgnet.model import CHGNet

            model = CHGNet.load(verbose=False, use_device=None if device == "auto" else device)

        def evaluate(batch: list) -> list[float]:
            with quiet(), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                predicted = model.predict_structure(batch, task="e", batch_size=batch_size)
                rows: list[Any] = predicted if isinstance(predicted, list) else [predicted]
                return [float(p["e"]) for p in rows]
    else:
        from pymatgen.io.ase import AseAtomsAdaptor

        calculator = load_calculator(name, device)

        def evaluate(batch: list) -> list[float]:
            energies = []
            for structure in batch:
                atoms = AseAtomsAdaptor.get_atoms(structure)
                atoms.calc = calculator
                with quiet(), warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    energies.append(float(atoms.get_potential_energy()) / len(atoms))
            return energies

    for start in range(0, len(structures), batch_size):
        batch = structures[start:start + batch_size]
        try:
            out[start:start + len(batch)] = evaluate(batch)
        except Exception:  # noqa: BLE001 - one bad structure: evaluate the batch one by one
            for k, structure in enumerate(batch):
                try:
                    out[start + k] = evaluate([structure])[0]
                except Exception:  # noqa: BLE001 - left NaN
                    pass
        if progress is not None:
            progress(min(start + batch_size, len(structures)), len(structures))
    return out
