"""Training of the candidate predictors (Adam, mini-batches, early stopping on validation).

Space-group network: cross-entropy of Z (masked to the Z values that fit in
``max_atoms``) plus cross-entropy of the space group given the true Z; the
epoch kept is the one with the lowest validation loss of the *marginal*
space-group probability (Z unknown, as for a user). Lattice network: mean
squared error over the standardised targets that the crystal system leaves free.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TypeVar

import numpy as np
import torch
from torch import nn

from core.candidates.data import CandidateData, CandidateTable
from core.candidates.features import composition_features
from core.candidates.lattice import encode, free_mask
from core.candidates.model import CandidateModel, allowed_z_mask
from core.candidates.networks import LatticeNet, MLPConfig, SpaceGroupNet
from core.crystal.composition import PAPER_MAX_ATOMS
from core.crystal.spacegroups import N_SPACEGROUPS, SYSTEM_NAMES, system_of_all

Progress = Callable[[dict], None]


@dataclass(frozen=True)
class CandidateTrainingConfig:
    sg_hidden: int = 256
    sg_dropout: float = 0.3
    lattice_hidden: int = 512
    lattice_dropout: float = 0.2
    epochs: int = 200
    batch_size: int = 128
    learning_rate: float = 1e-3
    weight_decay: float = 1e-4
    patience: int = 20
    ensemble: int = 3
    seed: int = 0
    max_atoms: int = PAPER_MAX_ATOMS
    label_smoothing: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


def _one_hot(idx: np.ndarray, n: int) -> torch.Tensor:
    return nn.functional.one_hot(torch.from_numpy(np.asarray(idx, dtype=np.int64)), n).float()


@dataclass
class _Tensors:
    x: torch.Tensor
    z_idx: torch.Tensor
    z_mask: torch.Tensor
    sg_idx: torch.Tensor
    z_1h: torch.Tensor
    sg_1h: torch.Tensor
    sys_1h: torch.Tensor
    y: torch.Tensor
    y_free: torch.Tensor


def _tensors(table: CandidateTable, x_mean, x_scale, y_mean, y_scale, max_atoms: int) -> _Tensors:
    x = (composition_features(table.counts) - x_mean) / x_scale
    y = (encode(table.lattice, table.nsites, table.spacegroup) - y_mean) / y_scale
    return _Tensors(
        x=torch.from_numpy(x.astype(np.float32)),
        z_idx=torch.from_numpy(table.z - 1),
        z_mask=torch.from_numpy(allowed_z_mask(table.counts.sum(axis=1), max_atoms)),
        sg_idx=torch.from_numpy(table.spacegroup - 1),
        z_1h=_one_hot(table.z - 1, max_atoms),
        sg_1h=_one_hot(table.spacegroup - 1, N_SPACEGROUPS),
        sys_1h=_one_hot(system_of_all()[table.spacegroup - 1], len(SYSTEM_NAMES)),
        y=torch.from_numpy(y.astype(np.float32)),
        y_free=torch.from_numpy(free_mask(table.spacegroup)),
    )


def _sg_loss(net: SpaceGroupNet, t: _Tensors, idx, smoothing: float) -> torch.Tensor:
    z_logits, sg_logits = net(t.x[idx], t.z_1h[idx])
    z_logits = z_logits.masked_fill(~t.z_mask[idx], -1e9)
    return (nn.functional.cross_entropy(z_logits, t.z_idx[idx])
            + nn.functional.cross_entropy(sg_logits, t.sg_idx[idx], label_smoothing=smoothing))


@torch.no_grad()
def _marginal_nll(net: SpaceGroupNet, t: _Tensors) -> float:
    """Mean -ln P(true space group) with Z marginalised (the user's situation)."""
    net.eval()
    z_logits, sg_logits = net.all_z(t.x)
    p_z = torch.softmax(z_logits.masked_fill(~t.z_mask, -torch.inf), dim=1)
    p_sg = (p_z[:, :, None] * torch.softmax(sg_logits, dim=2)).sum(dim=1)
    return float(-torch.log(p_sg[torch.arange(len(p_sg)), t.sg_idx].clamp_min(1e-12)).mean())


@torch.no_grad()
def _lattice_val_loss(net: LatticeNet, t: _Tensors) -> float:
    net.eval()
    return float(_lattice_loss(net, t, slice(None)))


def _lattice_loss(net: LatticeNet, t: _Tensors, idx) -> torch.Tensor:
    pred = net(t.x[idx], t.sg_1h[idx], t.sys_1h[idx], t.z_1h[idx])
    free = t.y_free[idx]
    return ((pred - t.y[idx]) ** 2 * free).sum() / free.sum().clamp_min(1)


NetT = TypeVar("NetT", bound=nn.Module)


def _fit(net: NetT, loss_fn, val_fn, n_train: int, config: CandidateTrainingConfig, seed: int,
         progress: Progress | None, label: str) -> tuple[NetT, dict]:
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    opt = torch.optim.Adam(net.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=5)
    best, best_state, best_epoch, history = np.inf, None, 0, []
    start = time.perf_counter()
    for epoch in range(1, config.epochs + 1):
        net.train()
        order = rng.permutation(n_train)
        total = 0.0
        for lo in range(0, n_train, config.batch_size):
            idx = torch.from_numpy(order[lo:lo + config.batch_size])
            if len(idx) < 2:
                continue  # batch norm needs two rows
            opt.zero_grad()
            loss = loss_fn(net, idx)
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        net.eval()
        val = val_fn(net)
        sched.step(val)
        history.append({"epoch": epoch, "train_loss": round(total / n_train, 5), "val_loss": round(val, 5)})
        if val < best:
            best, best_epoch = val, epoch
            best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
        if progress:
            progress({"model": label, "epoch": epoch, "epochs": config.epochs, "train_loss": total / n_train,
                      "val_loss": val, "best_val_loss": best, "elapsed_s": time.perf_counter() - start})
        if epoch - best_epoch >= config.patience:
            break
    if best_state is not None:  # at least one epoch ran (epochs >= 1)
        net.load_state_dict(best_state)
    net.eval()
    return net, {"best_epoch": best_epoch, "epochs_run": epoch, "best_val_loss": round(best, 5),
                 "seconds": round(time.perf_counter() - start, 1)}


def train_candidate_model(data: CandidateData, config: CandidateTrainingConfig,
                          progress: Progress | None = None, metadata: dict | None = None) -> CandidateModel:
    """Train ``config.ensemble`` space-group and lattice networks on ``data.train``,
    early-stopped on ``data.validation``."""
    torch.manual_seed(config.seed)
    x_train = composition_features(data.train.counts)
    x_mean = x_train.mean(axis=0)
    x_std = x_train.std(axis=0)
    x_scale = np.where(x_std > 1e-8, x_std, 1.0)
    y_train = encode(data.train.lattice, data.train.nsites, data.train.spacegroup)
    free = free_mask(data.train.spacegroup)
    y_mean = np.array([y_train[free[:, k], k].mean() if free[:, k].any() else 0.0 for k in range(6)])
    y_std = np.array([y_train[free[:, k], k].std() if free[:, k].any() else 1.0 for k in range(6)])
    y_scale = np.where(y_std > 1e-8, y_std, 1.0)
    args = (x_mean, x_scale, y_mean, y_scale, config.max_atoms)
    train, val = _tensors(data.train, *args), _tensors(data.validation, *args)
    sg_mlp = MLPConfig(n_features=x_train.shape[1], max_atoms=config.max_atoms, hidden=config.sg_hidden,
                       dropout=config.sg_dropout)
    lattice_mlp = MLPConfig(n_features=x_train.shape[1], max_atoms=config.max_atoms,
                            hidden=config.lattice_hidden, dropout=config.lattice_dropout)
    start = time.perf_counter()
    sg_nets: list[SpaceGroupNet] = []
    lattice_nets: list[LatticeNet] = []
    runs: list[dict] = []
    for k in range(config.ensemble):
        seed = config.seed + k
        torch.manual_seed(seed)
        sg_net, info = _fit(SpaceGroupNet(sg_mlp), lambda n, i: _sg_loss(n, train, i, config.label_smoothing),
                         lambda n: _marginal_nll(n, val), len(data.train), config, seed, progress,
                         f"space group {k + 1}/{config.ensemble}")
        sg_nets.append(sg_net)
        runs.append({"model": "space_group", "seed": seed, **info})
        torch.manual_seed(seed)
        lattice_net, info = _fit(LatticeNet(lattice_mlp), lambda n, i: _lattice_loss(n, train, i),
                         lambda n: _lattice_val_loss(n, val), len(data.train), config, seed,
                         progress, f"lattice {k + 1}/{config.ensemble}")
        lattice_nets.append(lattice_net)
        runs.append({"model": "lattice", "seed": seed, **info})
    meta = {**(metadata or {}), "training": config.to_dict(), "runs": runs,
            "training_seconds": round(time.perf_counter() - start, 1),
            "n_train": len(data.train), "n_validation": len(data.validation)}
    return CandidateModel(sg_nets, lattice_nets, x_mean, x_scale, y_mean, y_scale, config.max_atoms, meta,
                          sorted(set(data.train.formulas.tolist()))).eval()
