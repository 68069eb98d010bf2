"""The contact map being edited by hand: a plain model (no Qt) that calls listeners.

As in napari, widgets are thin views: they read the document and call its
methods; it notifies every listener after a change, so several views (the map
editor, the coordination list) stay in step. The session
(:mod:`core.app.session`) holds one document per Z.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from core.contact.contact_map import DEFAULT_THRESHOLD
from core.crystal.elements import atomic_numbers, element_table

Listener = Callable[[], None]


class ContactMapDocument:
    """The contact map being edited: the prediction, a threshold, hand edits, undo/redo.

    The map is symmetric with a zero diagonal at all times: toggling (i, j)
    toggles (j, i). Every change (toggle, threshold, reset) is one undoable step.

    Attributes
    ----------
    labels, species : list of str
        Row labels (``Ag1``, ``F1``...) and elements, canonical order.
    probabilities : ndarray (n, n) or None
        The network's probabilities (None for a map without a prediction).
    matrix : ndarray of uint8 (n, n)
        The current map.
    reference : ndarray (n, n) or None
        The true map of an opened structure with the same atoms, for the diff overlay.
    """

    def __init__(self) -> None:
        self.labels: list[str] = []
        self.species: list[str] = []
        self.probabilities: np.ndarray | None = None
        self.threshold = DEFAULT_THRESHOLD
        self.matrix = np.zeros((0, 0), dtype=np.uint8)
        self.reference: np.ndarray | None = None
        self.reference_distances: np.ndarray | None = None
        self.image_coordination: np.ndarray | None = None
        """Coordination numbers over periodic images (Sr 12, Ti 6 in SrTiO3), when the map
        comes from a structure; a predicted map has only partner counts (:meth:`coordination`)."""
        self._undo: list[tuple[np.ndarray, float]] = []
        self._redo: list[tuple[np.ndarray, float]] = []
        self._listeners: list[Listener] = []
        self._predicted = np.zeros((0, 0), dtype=np.uint8)
        self._predicted_threshold = DEFAULT_THRESHOLD
        """The threshold of the prediction's map, which Reset returns to with it."""

    # listeners -------------------------------------------------------------
    def connect(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def disconnect(self, listener: Listener) -> None:
        """Stop calling ``listener`` (no error when it was not connected)."""
        if listener in self._listeners:
            self._listeners.remove(listener)

    def _changed(self) -> None:
        for listener in list(self._listeners):
            listener()

    # loading -----------------------------------------------------------------
    @property
    def n(self) -> int:
        return len(self.labels)

    def load(self, labels, species, matrix, probabilities=None, threshold: float = DEFAULT_THRESHOLD,
             predicted=None, image_coordination=None) -> None:
        """Show a new map (clears undo history). ``predicted`` is what Reset returns to;
        ``image_coordination``: a structure's coordination numbers over periodic images."""
        self.labels, self.species = list(labels), list(species)
        self.image_coordination = None if image_coordination is None else np.asarray(image_coordination, dtype=int)
        self.matrix = _symmetric(np.asarray(matrix, dtype=np.uint8))
        self.probabilities = None if probabilities is None else np.asarray(probabilities, dtype=np.float32)
        self.threshold = float(threshold)
        self._predicted = self.matrix.copy() if predicted is None else _symmetric(np.asarray(predicted, np.uint8))
        self._predicted_threshold = self.threshold
        if self.reference is not None and self.reference.shape != self.matrix.shape:
            self.reference = None
        self._undo.clear()
        self._redo.clear()
        self._changed()

    def replace_matrix(self, matrix: np.ndarray) -> None:
        """Set the map as stored elsewhere (a reopened project's edits); clears undo history."""
        if np.shape(matrix) != self.matrix.shape:
            raise ValueError(f"map of shape {np.shape(matrix)} for {self.n} atoms")
        self.matrix = _symmetric(np.asarray(matrix, dtype=np.uint8))
        self._undo.clear()
        self._redo.clear()
        self._changed()

    def set_reference(self, matrix: np.ndarray | None, distances: np.ndarray | None = None) -> None:
        """The true map for the diff overlay (ignored when its size differs) and, optionally,
        the reference structure's shortest interatomic distances in the same order (Å)."""
        self.reference = None if matrix is None or np.shape(matrix) != self.matrix.shape else np.asarray(matrix)
        self.reference_distances = None if self.reference is None or distances is None else np.asarray(distances)
        self._changed()

    def describe_pair(self, i: int, j: int) -> str:
        """What hovering over cell (i, j) says: the pair, bonded or not, the network's
        probability and, with a reference, its bond and distance (Å)."""
        if not (0 <= i < self.n and 0 <= j < self.n):
            return ""
        if i == j:
            return f"{self.labels[i]}: the diagonal (an atom and itself) is never a bond"
        text = f"{self.labels[i]}–{self.labels[j]}: {'bonded' if self.matrix[i, j] else 'not bonded'}"
        if self.probabilities is not None:
            text += f", p = {float(self.probabilities[i, j]):.2f}"
        if self.reference is not None:
            text += f"; reference: {'bonded' if self.reference[i, j] else 'not bonded'}"
            if self.reference_distances is not None:
                text += f", d = {float(self.reference_distances[i, j]):.3f} Å"
        return text

    # edits -----------------------------------------------------------------
    def _push(self) -> None:
        self._undo.append((self.matrix.copy(), self.threshold))
        self._redo.clear()

    def toggle(self, i: int, j: int) -> bool:
        """Flip the bond between atoms i and j (and its mirror); the diagonal cannot be set."""
        if i == j or not (0 <= i < self.n and 0 <= j < self.n):
            return False
        self._push()
        value = 1 - int(self.matrix[i, j])
        self.matrix[i, j] = self.matrix[j, i] = value
        self._changed()
        return True

    def set_threshold(self, threshold: float) -> int:
        """Re-threshold the probabilities (an undoable step); returns how many atom pairs edited by
        hand (against the map of the old threshold) the new map replaces, so that the caller can
        say so (Undo brings them back)."""
        if self.probabilities is None:
            return 0
        if float(threshold) == self.threshold:
            return 0
        edited = self.matrix != _symmetric((self.probabilities > self.threshold).astype(np.uint8))
        replaced = int(np.triu(edited, 1).sum())
        self._push()
        self.threshold = float(threshold)
        self.matrix = _symmetric((self.probabilities > self.threshold).astype(np.uint8))
        self._changed()
        return replaced

    def reset(self) -> None:
        """Back to the prediction and its threshold (undoable): the slider had stayed at a threshold
        moved before, beside the prediction's map, and a saved project kept it."""
        self._push()
        self.matrix = self._predicted.copy()
        self.threshold = self._predicted_threshold
        self._changed()

    def undo(self) -> bool:
        return self._step(self._undo, self._redo)

    def redo(self) -> bool:
        return self._step(self._redo, self._undo)

    def _step(self, source: list, target: list) -> bool:
        """Restore the last state of ``source``, keeping the current one on ``target``."""
        if not source:
            return False
        target.append((self.matrix.copy(), self.threshold))
        self.matrix, self.threshold = source.pop()
        self._changed()
        return True

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    @property
    def edited(self) -> bool:
        """True when the map differs from the prediction."""
        return self.matrix.shape != self._predicted.shape or bool((self.matrix != self._predicted).any())

    @property
    def at_prediction(self) -> bool:
        """True when both the map and the threshold are the prediction's (what *Reset to
        prediction* restores; a threshold moved without changing the map is not at it)."""
        return not self.edited and self.threshold == self._predicted_threshold

    # derived ---------------------------------------------------------------
    def coordination(self) -> np.ndarray:
        """Distinct bonded partners per atom in the cell (row sums); not the coordination
        number a crystallographer reads (:attr:`image_coordination`)."""
        return self.matrix.sum(axis=1).astype(int)

    def rule_conflicts(self) -> list[tuple[int, int]]:
        """Bonded pairs (i < j) that the contact rule never bonds: two metals (their pairs
        are never in contact by the paper's definition, so no structure's map has them)."""
        if not self.n:
            return []
        metal = element_table().is_metal[atomic_numbers(self.species)]
        i, j = np.nonzero(np.triu(self.matrix, k=1) & (metal[:, None] & metal[None, :]))
        return list(zip(i.tolist(), j.tolist()))

    def all_metal(self) -> bool:
        """Whether every atom is a metal: by the paper's rule such a map is empty by definition."""
        return bool(self.n) and bool(element_table().is_metal[atomic_numbers(self.species)].all())

    def edited_cells(self) -> np.ndarray:
        """True where the map differs from the prediction (a pair edited by hand), shape (n, n)."""
        if self.matrix.shape != self._predicted.shape:
            return np.ones(self.matrix.shape, dtype=bool)
        return self.matrix != self._predicted

    def diff(self) -> np.ndarray | None:
        """+1 where the map has a bond the reference lacks, -1 where it misses one, else 0."""
        if self.reference is None:
            return None
        return self.matrix.astype(int) - np.asarray(self.reference, dtype=int)


def _symmetric(matrix: np.ndarray) -> np.ndarray:
    out = np.maximum(matrix, matrix.T).astype(np.uint8)
    np.fill_diagonal(out, 0)
    return out
