"""From a formula to a predicted contact map with the shipped (or a given) model."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from core.contact.contact_rule import DEFAULT_RULE, pair_windows
from core.contact.matrix_check import (
    check_species_of_formula,
    checked_contact_matrix,
    checked_probabilities,
    checked_threshold,
)
from core.contact_model.model import ContactModel
from core.crystal.composition import Formula, parse_formula
from core.crystal.elements import atomic_numbers
from core.errors import AlphaCrystalError, FormulaError
from core.runtime.device import resolve_device
from resources import RESOURCE_DIR

DEFAULT_MODEL_PATH = RESOURCE_DIR / "contact_model_default.pt"
LARGE_CELL_MODEL_PATH = RESOURCE_DIR / "contact_model_l20.pt"
"""Trained on cells of up to 20 atoms: used for cells the default (12-atom) model cannot take."""


@dataclass(frozen=True)
class ContactPrediction:
    """A predicted contact map of a primitive cell.

    Attributes
    ----------
    formula : str
        Reduced formula.
    z : int
        Formula units in the cell; ``z_options`` lists all that fit in L atoms.
    species, labels : tuple of str
        Element and label (``Ag1, Ag2, F1, ...``) of each row, canonical element order.
    probabilities : ndarray, shape (n, n)
        Predicted contact probabilities (symmetric, zero diagonal).
    contact : ndarray of uint8, shape (n, n)
        ``probabilities > threshold``, or the nearest training map when the two
        agree closely (template snapping, see :class:`ContactModel`).
    threshold : float
    """

    formula: str
    z: int
    z_options: tuple[int, ...]
    species: tuple[str, ...]
    labels: tuple[str, ...]
    probabilities: np.ndarray
    contact: np.ndarray
    threshold: float

    @classmethod
    def from_dict(cls, data: dict, where: str = "prediction") -> ContactPrediction:
        """Inverse of :meth:`to_dict` (probabilities rounded to 4 decimals there), checked as a
        file's content is (:mod:`core.contact.matrix_check`).

        Raises
        ------
        AlphaCrystalError
            Species that are not the formula's atoms with Z, labels not one per atom, a map or
            probabilities not n × n, a map not symmetric 0/1 with a zero diagonal, probabilities
            or the threshold outside [0, 1]; the message names ``where``.
        """
        formula, z = str(data["formula"]), data["z"]
        if isinstance(z, bool) or not isinstance(z, int) or z < 1:
            raise AlphaCrystalError(f"{where}: z must be a whole number of formula units, got {z!r}")
        species, labels = tuple(str(s) for s in data["species"]), tuple(str(s) for s in data["labels"])
        check_species_of_formula(species, formula, z, where)
        if len(labels) != len(species):
            raise AlphaCrystalError(f"{where}: {len(labels)} labels for {len(species)} atoms")
        n = len(species)
        return cls(formula=formula, z=z, z_options=tuple(int(v) for v in data["z_options"]),
                   species=species, labels=labels,
                   probabilities=checked_probabilities(data["probabilities"], n, where),
                   contact=checked_contact_matrix(data["contact"], n, where, "contact"),
                   threshold=checked_threshold(data["threshold"], where))

    def to_dict(self) -> dict:
        return {
            "formula": self.formula,
            "z": self.z,
            "z_options": list(self.z_options),
            "species": list(self.species),
            "labels": list(self.labels),
            "threshold": self.threshold,
            "contact": self.contact.tolist(),
            "probabilities": np.round(self.probabilities, 4).tolist(),
        }


@lru_cache(maxsize=4)
def _cached_model(path: str, device: str) -> ContactModel:
    return ContactModel.load(path, device)


def load_model(path: str | None = None, device: str = "auto") -> ContactModel:
    """The model at ``path`` (default: the shipped one) on ``device``, loaded once per
    process and concrete device (``auto`` and ``cuda:0`` share one copy on a GPU machine)."""
    return _cached_model(str(path or DEFAULT_MODEL_PATH), resolve_device(device))


def model_for_cell(n_atoms: int, device: str = "auto") -> ContactModel:
    """The shipped model for a cell of ``n_atoms`` atoms: the default one up to its L (12),
    the 20-atom one above when it is shipped (else the default, which then names its limit)."""
    small = load_model(None, device)
    if n_atoms > small.max_atoms and LARGE_CELL_MODEL_PATH.is_file():
        return load_model(str(LARGE_CELL_MODEL_PATH), device)
    return small


def shipped_max_atoms() -> int:
    """Largest cell (atoms) a shipped contact model takes."""
    # read on the CPU: asking the size must not start CUDA (a --device cpu run, the GUI, a screen worker)
    return load_model(str(LARGE_CELL_MODEL_PATH) if LARGE_CELL_MODEL_PATH.is_file() else None, "cpu").max_atoms


def choose_z(formula: Formula, model: ContactModel) -> int:
    """The Z to use when none is given: the typed one (``Ag2F4`` -> 2) when it
    has more than one formula unit, else the most frequent Z among training
    structures with the same atoms per formula unit (ties: smaller Z)."""
    options = formula.z_values(model.max_atoms)
    if formula.typed_z > 1 and formula.typed_z in options:
        return formula.typed_z
    counts = model.z_prior.get(formula.atoms_per_formula_unit, {})
    return max(options, key=lambda z: (counts.get(z, 0), -z))


def predict_contact_map(
    formula: str | Formula, z: int | None = None, model: ContactModel | None = None
) -> ContactPrediction:
    """Predict the contact map of ``formula`` with ``z`` formula units (chosen when None).

    Raises
    ------
    FormulaError
        For an invalid formula, or a cell larger than the model's L atoms.
    """
    model = model or load_model()
    parsed = formula if isinstance(formula, Formula) else parse_formula(formula)
    options = parsed.z_values(model.max_atoms)
    if z is None:
        z = choose_z(parsed, model)
    elif z not in options:
        raise FormulaError(
            f"Z={z} gives {z * parsed.atoms_per_formula_unit} atoms for '{parsed.text}'; "
            f"the model handles at most {model.max_atoms} (Z in {options})"
        )
    species = parsed.atom_elements(z, model.max_atoms)
    numbers = atomic_numbers(species)
    probs, maps = model.predict(numbers[None, :])
    # the map follows the paper's rule, under which two metals are never in contact: a network
    # trained on compounds with a non-metal says nothing reliable about such pairs (CuAu got an
    # Au-Cu contact that no structure can have), so they are 0, and an all-metal map is empty
    bondable = pair_windows(numbers[:, None], numbers[None, :], rule=DEFAULT_RULE).bondable
    probs, contact = np.where(bondable, probs[0], 0.0), np.where(bondable, maps[0], 0).astype(maps[0].dtype)
    seen: dict[str, int] = {}
    labels = []
    for el in species:
        seen[el] = seen.get(el, 0) + 1
        labels.append(f"{el}{seen[el]}")
    return ContactPrediction(
        formula=parsed.unit_formula,
        z=z,
        z_options=tuple(options),
        species=tuple(species),
        labels=tuple(labels),
        probabilities=probs,
        contact=contact,
        threshold=model.threshold,
    )
