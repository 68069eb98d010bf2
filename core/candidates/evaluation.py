"""Held-out evaluation of the candidate predictors, with baselines fitted on training rows only.

Space group (Z unknown, as for a user): top-k accuracy of the feasible ranking
(:func:`core.candidates.ranking.rank_spacegroups`), crystal system top-1/2, and
the same conditioned on the true Z. Baseline: the most frequent space groups of
training structures with the same number of elements and the same atom count
(it is given the true atom count; ours is not).

Lattice (given the true space group and Z): MAE/MAPE of a, b, c of the
conventional cell and of the volume per atom, R² of a, b, c (MLatticeABC's
metric). Baseline: per-element atomic volumes fitted by non-negative least
squares on training cells, summed, and a prototype cell shape (median axis
ratios and angles of training structures of the same space group, else crystal
system) scaled to that volume.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict

import numpy as np
from scipy.optimize import nnls

from core.candidates.data import CandidateTable
from core.candidates.lattice import decode, encode
from core.candidates.model import CandidateModel
from core.candidates.ranking import rank_spacegroups
from core.crystal.spacegroups import SYSTEM_NAMES
from core.crystal.symmetry import crystal_system

TOP_K = (1, 3, 5, 10)


def _species_counts(row_counts: np.ndarray) -> tuple[int, ...]:
    return tuple(int(n) for n in row_counts[row_counts > 0])


class FrequencyBaseline:
    """Most frequent space groups of training rows with the same (number of elements, atom count)."""

    def __init__(self, train: CandidateTable) -> None:
        n_el = (train.counts > 0).sum(axis=1)
        self.by_key: dict[tuple[int, int], Counter] = defaultdict(Counter)
        self.by_elements: dict[int, Counter] = defaultdict(Counter)
        self.overall: Counter = Counter(train.spacegroup.tolist())
        for e, n, sg in zip(n_el, train.nsites, train.spacegroup):
            self.by_key[(int(e), int(n))][int(sg)] += 1
            self.by_elements[int(e)][int(sg)] += 1

    def rank(self, n_elements: int, nsites: int, k: int = 10) -> list[int]:
        ranked: list[int] = []
        for counter in (self.by_key.get((n_elements, nsites)), self.by_elements.get(n_elements), self.overall):
            for sg, _ in (counter or Counter()).most_common():
                if sg not in ranked:
                    ranked.append(sg)
                if len(ranked) >= k:
                    return ranked
        return ranked


class PrototypeLatticeBaseline:
    """Sum of fitted atomic volumes in a median-shaped cell of the space group."""

    def __init__(self, train: CandidateTable) -> None:
        primitive_counts = train.counts * train.z[:, None]
        cell_volume = np.exp(encode(train.lattice, train.nsites, train.spacegroup)[:, 0]) * train.nsites
        used = primitive_counts.sum(axis=0) > 0
        self.atomic_volume = np.zeros(train.counts.shape[1])
        self.atomic_volume[used], _ = nnls(primitive_counts[:, used], cell_volume)
        self.fallback_volume = float(np.median(cell_volume / train.nsites))
        targets = encode(train.lattice, train.nsites, train.spacegroup)
        self.shape_by_sg = {int(sg): np.median(targets[train.spacegroup == sg, 1:], axis=0)
                            for sg in np.unique(train.spacegroup)}
        systems = np.array([crystal_system(int(sg)) for sg in train.spacegroup])
        self.shape_by_system = {s: np.median(targets[systems == s, 1:], axis=0) for s in np.unique(systems)}

    def predict(self, counts: np.ndarray, spacegroups: np.ndarray, z: np.ndarray) -> np.ndarray:
        nsites = counts.sum(axis=1) * z
        volume = (counts * z[:, None]) @ self.atomic_volume
        volume = np.where(volume > 0, volume, self.fallback_volume * nsites)
        shapes = np.array([self.shape_by_sg.get(int(sg), self.shape_by_system.get(
            crystal_system(int(sg)), np.array([0, 0, 90, 90, 90]))) for sg in spacegroups])
        targets = np.column_stack([np.log(volume / nsites), shapes])
        return decode(targets, nsites, spacegroups)


def lattice_errors(pred: np.ndarray, true: np.ndarray, nsites: np.ndarray, spacegroups: np.ndarray) -> dict:
    """MAE (Å, Å³/atom), MAPE (%) and R² of a, b, c and volume per atom."""
    v_pred = np.exp(encode(pred, nsites, spacegroups)[:, 0])
    v_true = np.exp(encode(true, nsites, spacegroups)[:, 0])
    abc_err = np.abs(pred[:, :3] - true[:, :3])
    out = {
        "abc_mae": float(abc_err.mean()),
        "abc_mape": float(100 * (abc_err / true[:, :3]).mean()),
        "volume_mae": float(np.abs(v_pred - v_true).mean()),
        "volume_mape": float(100 * (np.abs(v_pred - v_true) / v_true).mean()),
    }
    for k, name in enumerate("abc"):
        resid = ((pred[:, k] - true[:, k]) ** 2).sum()
        total = ((true[:, k] - true[:, k].mean()) ** 2).sum()
        out[f"{name}_r2"] = float(1 - resid / total) if total > 0 else float("nan")
    return out


def _accuracy(hits: list[int | None], k: int) -> float:
    return float(np.mean([h is not None and h < k for h in hits])) if hits else float("nan")


def _position(ranked: list, target) -> int | None:
    """Where ``target`` is in ``ranked`` (0 = first), None when it is not there."""
    return ranked.index(target) if target in ranked else None


def evaluate_candidates(model: CandidateModel, test: CandidateTable, train: CandidateTable) -> dict:
    """Metrics of the model and both baselines on ``test`` (see module docstring)."""
    start = time.perf_counter()
    joint = model.joint_probabilities(test.counts)
    model_seconds = time.perf_counter() - start
    sg_hits, sg_hits_given_z, sys_hits, base_hits, base_sys_hits = [], [], [], [], []
    sg_hits_given_system: list[int | None] = []
    per_system: dict[str, list[int | None]] = defaultdict(list)
    per_system_given: dict[str, list[int | None]] = defaultdict(list)
    base = FrequencyBaseline(train)
    for k in range(len(test)):
        species = _species_counts(test.counts[k])
        true_sg = int(test.spacegroup[k])
        t0 = time.perf_counter()
        ranked = rank_spacegroups(joint[k], species, top_k=30)  # 30 for the crystal-system sums
        model_seconds += time.perf_counter() - t0
        groups = [r.spacegroup for r in ranked[:10]]
        sg_hits.append(_position(groups, true_sg))
        per_system[crystal_system(true_sg)].append(sg_hits[-1])
        system_p: dict[str, float] = defaultdict(float)
        for r in ranked:
            system_p[crystal_system(r.spacegroup)] += r.probability
        systems = sorted(system_p, key=lambda s: -system_p[s])
        sys_hits.append(_position(systems, crystal_system(true_sg)))
        same_system = [g.spacegroup for g in ranked if crystal_system(g.spacegroup) == crystal_system(true_sg)]
        sg_hits_given_system.append(_position(same_system, true_sg))
        per_system_given[crystal_system(true_sg)].append(sg_hits_given_system[-1])
        given_z = rank_spacegroups(joint[k], species, top_k=10, z=int(test.z[k]))
        sg_hits_given_z.append(_position([r.spacegroup for r in given_z], true_sg))
        b = base.rank(len(species), int(test.nsites[k]), k=30)
        base_hits.append(_position(b[:10], true_sg))
        b_systems = list(dict.fromkeys(crystal_system(sg) for sg in b))
        base_sys_hits.append(_position(b_systems, crystal_system(true_sg)))

    t0 = time.perf_counter()
    pred = model.predict_lattice(test.counts, test.spacegroup, test.z)
    lattice_seconds = time.perf_counter() - t0
    proto = PrototypeLatticeBaseline(train).predict(test.counts, test.spacegroup, test.z)
    ours = lattice_errors(pred, test.lattice, test.nsites, test.spacegroup)
    theirs = lattice_errors(proto, test.lattice, test.nsites, test.spacegroup)
    cubic = np.array([crystal_system(int(sg)) == "cubic" for sg in test.spacegroup])
    result = {
        "n": len(test),
        **{f"sg_top{k}": _accuracy(sg_hits, k) for k in TOP_K},
        "crystal_system_top1": _accuracy(sys_hits, 1),
        "crystal_system_top2": _accuracy(sys_hits, 2),
        **{f"sg_top{k}_given_z": _accuracy(sg_hits_given_z, k) for k in TOP_K},
        "sg_top1_given_crystal_system": _accuracy(sg_hits_given_system, 1),
        **{f"baseline_frequency_sg_top{k}": _accuracy(base_hits, k) for k in TOP_K},
        "baseline_frequency_crystal_system_top1": _accuracy(base_sys_hits, 1),
        "baseline_frequency_crystal_system_top2": _accuracy(base_sys_hits, 2),
        **ours,
        **{f"baseline_prototype_{k}": v for k, v in theirs.items()},
        "cubic_a_r2": lattice_errors(pred[cubic], test.lattice[cubic], test.nsites[cubic],
                                     test.spacegroup[cubic])["a_r2"] if cubic.sum() > 1 else float("nan"),
        "ms_per_formula": 1000 * (model_seconds + lattice_seconds) / max(len(test), 1),
        "by_crystal_system": {
            s: {"n": len(per_system[s]), "sg_top1": _accuracy(per_system[s], 1),
                "sg_top5": _accuracy(per_system[s], 5),
                "sg_top1_given_crystal_system": _accuracy(per_system_given[s], 1)}
            for s in SYSTEM_NAMES if per_system[s]},
    }
    return result
