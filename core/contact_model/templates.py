"""Template retrieval: contact maps of the most similar training compositions as network inputs.

Many held-out compositions share a structure type with a training compound
(KCl and NaCl, GeF2 and SnF2), which is why copying the nearest training map is
a strong baseline. Giving the network the maps of the ``k`` nearest training
structures (same atom count, closest standardised per-atom element features in
canonical order, L1 distance) lets it learn when to follow a template and when
to depart from it. During training a structure never retrieves itself.
"""

from __future__ import annotations

import numpy as np

from core.crystal.elements import N_FEATURES, FeatureScaler, raw_features


class TemplateBank:
    """Training maps indexed by atom count, searchable by composition similarity.

    Parameters
    ----------
    numbers : ndarray of int, shape (N, L)
        Atomic numbers in canonical order, 0-padded.
    contact : ndarray of uint8, shape (N, L, L)
        Contact maps.
    scaler : FeatureScaler
        Fitted on the training atoms.
    k : int
        Templates returned per query.
    same_pattern : bool
        Prefer structures with the same stoichiometry pattern: the sizes of the
        same-element blocks in canonical order (TiO2 and SnF2: (1, 2)); others
        follow only when too few share it. Measured on the validation partition,
        copying the nearest training map this way gives Dice 0.917 and 73.0 %
        exact maps, against 0.902 and 69.4 % by features alone.
    """

    def __init__(self, numbers: np.ndarray, contact: np.ndarray, scaler: FeatureScaler, k: int = 3,
                 same_pattern: bool = False) -> None:
        self.numbers = np.asarray(numbers, dtype=np.int16)
        self.contact = np.asarray(contact, dtype=np.uint8)
        self.scaler = scaler
        self.k = k
        self.same_pattern = same_pattern
        sizes = (self.numbers > 0).sum(axis=1)
        self.groups = {int(n): np.flatnonzero(sizes == n) for n in np.unique(sizes)}
        self.encoded = {n: self._encode(self.numbers[idx, :n]) for n, idx in self.groups.items()}
        self.patterns = {n: pattern_codes(self.numbers[idx, :n]) for n, idx in self.groups.items()}

    @property
    def channels(self) -> int:
        """Input planes per query: k maps and k distance planes."""
        return 2 * self.k

    def _encode(self, numbers: np.ndarray) -> np.ndarray:
        return self.scaler.transform(raw_features(numbers)).reshape(len(numbers), -1)

    def query(self, numbers: np.ndarray, exclude: np.ndarray | None = None) -> np.ndarray:
        """Template planes of shape (B, 2k, n, n) for atomic numbers (B, n).

        ``exclude[b]`` is a bank index that query b must not retrieve (itself
        during training), or -1. Missing templates (too few structures of that
        size) are all-zero maps with distance plane 1.
        """
        numbers = np.atleast_2d(numbers)
        batch, n = numbers.shape
        out = np.zeros((batch, 2 * self.k, n, n), dtype=np.float32)
        out[:, self.k :] = 1.0
        idx = self.groups.get(n)
        if idx is None or len(idx) == 0:
            return out
        query = self._encode(numbers)
        reference = self.encoded[n]
        scale = float(n * N_FEATURES)  # mean absolute difference per feature
        for s in range(0, batch, 128):
            dist = np.abs(query[s : s + 128, None, :] - reference[None, :, :]).sum(axis=2) / scale
            if exclude is not None:
                rows = np.flatnonzero(np.asarray(exclude[s : s + 128]) >= 0)
                for r in rows:
                    dist[r, idx == exclude[s + r]] = np.inf
            rank = dist
            if self.same_pattern:
                # an offset larger than any feature distance puts other patterns behind;
                # the distance plane still shows the feature distance alone
                other = pattern_codes(numbers[s : s + 128])[:, None] != self.patterns[n][None, :]
                rank = dist + PATTERN_OFFSET * other
            k = min(self.k, dist.shape[1])
            nearest = np.argsort(rank, axis=1, kind="stable")[:, :k]
            for b in range(len(nearest)):
                for j, col in enumerate(nearest[b]):
                    d = dist[b, col]
                    if not np.isfinite(d):
                        continue
                    out[s + b, j] = self.contact[idx[col], :n, :n]
                    out[s + b, self.k + j] = np.tanh(d)
        return out

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Compact arrays to store in a model file (maps bit-packed)."""
        return {"numbers": self.numbers, "contact_bits": np.packbits(self.contact, axis=-1),
                "max_atoms": np.array(self.contact.shape[-1])}

    @classmethod
    def from_arrays(cls, arrays: dict, scaler: FeatureScaler, k: int, same_pattern: bool = False) -> TemplateBank:
        size = int(arrays["max_atoms"])
        contact = np.unpackbits(np.asarray(arrays["contact_bits"]), axis=-1)[..., :size]
        return cls(np.asarray(arrays["numbers"]), contact, scaler, k, same_pattern)


PATTERN_OFFSET = 1.0e3
"""Added to the feature distance of a template whose stoichiometry pattern differs."""


def pattern_codes(numbers: np.ndarray) -> np.ndarray:
    """One integer per row (B, n) of atomic numbers in canonical order that is equal
    exactly when the rows have the same same-element block sizes in the same order.

    Each atom contributes a bit: 1 where it starts a new element block. For n <= 62
    atoms the bits fit an int64."""
    numbers = np.atleast_2d(np.asarray(numbers))
    starts = np.ones(numbers.shape, dtype=np.int64)
    starts[:, 1:] = numbers[:, 1:] != numbers[:, :-1]
    return (starts << np.arange(numbers.shape[1], dtype=np.int64)).sum(axis=1)
