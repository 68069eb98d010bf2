"""From joint P(Z, space group) to ranked, Wyckoff-feasible space groups.

A (space group, Z) pair is kept only when the composition with Z formula units
fits Wyckoff orbits of the group (:func:`core.crystal.wyckoff.is_feasible`); the
probabilities of the kept pairs are renormalised. The probability of a space
group is the sum over its feasible Z.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.crystal.wyckoff import is_feasible

DEFAULT_SCAN = 60


@dataclass(frozen=True)
class RankedSpaceGroup:
    spacegroup: int
    probability: float
    z_probabilities: dict[int, float]

    @property
    def best_z(self) -> int:
        return max(self.z_probabilities, key=lambda z: self.z_probabilities[z])


def rank_spacegroups(joint: np.ndarray, counts_per_fu: tuple[int, ...], top_k: int = 10,
                     z: int | None = None, scan: int = DEFAULT_SCAN, check_feasibility: bool = True
                     ) -> list[RankedSpaceGroup]:
    """Rank space groups of one composition.

    Parameters
    ----------
    joint : ndarray (max_atoms, 230)
        P(Z = k + 1, space group = j + 1) from :meth:`CandidateModel.joint_probabilities`.
    counts_per_fu : tuple of int
        Atoms of each species per reduced formula unit.
    z : int, optional
        Keep only this number of formula units.
    scan : int
        How many of the most probable (Z, group) pairs are checked for feasibility
        (the rest carry negligible probability); at least ``top_k`` groups are
        returned whenever that many feasible ones exist among the scanned pairs.
    """
    p = np.array(joint, dtype=float)
    if z is not None:
        keep = np.zeros_like(p)
        keep[z - 1] = p[z - 1]
        p = keep
    order = np.argsort(p, axis=None)[::-1]
    per_group: dict[int, dict[int, float]] = {}
    checked = 0
    for flat in order:
        zi, gi = np.unravel_index(flat, p.shape)
        if p[zi, gi] <= 0:
            break
        checked += 1
        if checked > scan and len(per_group) >= top_k:
            break
        zz, sg = int(zi) + 1, int(gi) + 1
        if check_feasibility and not is_feasible(sg, tuple(n * zz for n in counts_per_fu)):
            continue
        per_group.setdefault(sg, {})[zz] = float(p[zi, gi])
    total = sum(sum(v.values()) for v in per_group.values()) or 1.0
    ranked = [RankedSpaceGroup(sg, sum(v.values()) / total, {k: w / total for k, w in v.items()})
              for sg, v in per_group.items()]
    ranked.sort(key=lambda r: -r.probability)
    return ranked[:top_k]


def pooled_joint(small: np.ndarray, large: np.ndarray, atoms_per_fu: np.ndarray | float, small_max: int,
                 large_weight: float = 1.0) -> np.ndarray:
    """P(Z, space group) over every cell up to the large model's size, from two models.

    Cells the small model answers (Z × atoms per formula unit ≤ ``small_max``) keep
    its distribution, scaled by ``1 - q``; larger cells take the large model's own
    probabilities, whose sum over them is ``q`` (the large model's probability that
    the cell is larger than ``small_max``). So the ranking among small cells is the
    small model's (its held-out figures are the better ones there) and larger cells
    enter only as far as the large model believes in them.

    Parameters
    ----------
    small : ndarray (..., Zs, 230)
        The small model's :meth:`CandidateModel.joint_probabilities`.
    large : ndarray (..., Zl, 230)
        The large model's, ``Zl >= Zs``.
    atoms_per_fu : float or ndarray (...)
        Atoms per reduced formula unit.
    small_max : int
        Largest cell (atoms) of the small model.
    large_weight : float
        Multiplies the large model's probabilities of larger cells (``q`` too);
        1 trusts them as they are.
    """
    small, large = np.asarray(small, dtype=float), np.asarray(large, dtype=float)
    n_small, n_large = small.shape[-2], large.shape[-2]
    cells = np.asarray(atoms_per_fu, dtype=float)[..., None] * np.arange(1, n_large + 1)
    big = cells > small_max                                                  # (..., Zl)
    out = large_weight * large * big[..., None]
    q = out.sum(axis=(-2, -1))                                               # (...)
    keep = (~big[..., :n_small])[..., None]
    out[..., :n_small, :] += (1.0 - q)[..., None, None] * small * keep
    return out
