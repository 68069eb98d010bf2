"""A trained candidate model: space-group/Z networks, lattice networks, scalers, provenance.

Saved as one ``.pt`` file of tensors and plain values, loaded with
``torch.load(weights_only=True)``. Every network is an ensemble member;
probabilities (space groups) and targets (lattice) are averaged over members.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from core.candidates.features import composition_features
from core.candidates.lattice import decode
from core.candidates.networks import LatticeNet, MLPConfig, SpaceGroupNet
from core.crystal.composition import PAPER_MAX_ATOMS
from core.crystal.spacegroups import N_SPACEGROUPS, SYSTEM_NAMES, system_of_all
from core.io.files import json_text
from core.io.model_files import load_payload, save_payload

FORMAT = "alphacrystal-candidate-model/1"


def allowed_z_mask(atoms_per_fu: np.ndarray, max_atoms: int) -> np.ndarray:
    """(N, max_atoms) booleans: Z = 1..max_atoms with Z × atoms per formula unit ≤ max_atoms."""
    z = np.arange(1, max_atoms + 1)
    return z[None, :] * np.asarray(atoms_per_fu)[:, None] <= max_atoms


def _compact(tensor: torch.Tensor) -> torch.Tensor:
    """Weights are stored in float16 (half the file size; the change of the outputs is
    far below the model's error), counters as they are."""
    t = tensor.detach().cpu()
    return t.half() if t.is_floating_point() else t


@dataclass
class CandidateModel:
    """Space-group, Z and lattice predictors for compositions of at most ``max_atoms`` atoms.

    Attributes
    ----------
    sg_nets, lattice_nets : list of nn.Module
        Ensemble members (evaluation mode).
    x_mean, x_scale : ndarray
        Standardisation of :func:`composition_features`, fitted on training rows.
    y_mean, y_scale : ndarray (6,)
        Standardisation of the lattice targets, fitted on training rows.
    """

    sg_nets: list[SpaceGroupNet]
    lattice_nets: list[LatticeNet]
    x_mean: np.ndarray
    x_scale: np.ndarray
    y_mean: np.ndarray
    y_scale: np.ndarray
    max_atoms: int = PAPER_MAX_ATOMS
    metadata: dict = field(default_factory=dict)
    train_formulas: list[str] = field(default_factory=list)

    def _x(self, counts: np.ndarray) -> torch.Tensor:
        x = (composition_features(counts) - self.x_mean) / self.x_scale
        return torch.from_numpy(x.astype(np.float32))

    @torch.no_grad()
    def joint_probabilities(self, counts: np.ndarray) -> np.ndarray:
        """P(Z, space group | composition), shape (N, max_atoms, 230); Z index k means Z = k + 1.

        ``counts`` are atoms per element of one reduced formula unit (rows of
        :func:`core.candidates.features.count_matrix`). Z values whose cell would
        exceed ``max_atoms`` get probability 0.
        """
        counts = np.atleast_2d(np.asarray(counts, dtype=float))
        x = self._x(counts)
        mask = torch.from_numpy(allowed_z_mask(counts.sum(axis=1), self.max_atoms))
        total: torch.Tensor | None = None
        for net in self.sg_nets:
            z_logits, sg_logits = net.all_z(x)
            p_z = torch.softmax(z_logits.masked_fill(~mask, -torch.inf), dim=1)
            joint = p_z[:, :, None] * torch.softmax(sg_logits, dim=2)
            total = joint if total is None else total + joint
        if total is None:
            raise ValueError("a candidate model without space-group networks")
        return (total / len(self.sg_nets)).numpy().astype(np.float64)

    @torch.no_grad()
    def predict_lattice(self, counts: np.ndarray, spacegroups: np.ndarray, z: np.ndarray) -> np.ndarray:
        """Conventional ``(a, b, c, α, β, γ)`` (Å, degrees), shape (N, 6), obeying each
        space group's crystal-system constraints, for compositions with ``z`` formula units."""
        counts = np.atleast_2d(np.asarray(counts, dtype=float))
        spacegroups = np.atleast_1d(np.asarray(spacegroups, dtype=np.int64))
        z = np.atleast_1d(np.asarray(z, dtype=np.int64))
        if np.any(z < 1) or np.any(z > self.max_atoms):
            raise ValueError(f"Z must be 1..{self.max_atoms}")
        x = self._x(counts)
        sg_1h = torch.nn.functional.one_hot(torch.from_numpy(spacegroups - 1), N_SPACEGROUPS).float()
        sys_1h = torch.nn.functional.one_hot(torch.from_numpy(system_of_all()[spacegroups - 1]),
                                             len(SYSTEM_NAMES)).float()
        z_1h = torch.nn.functional.one_hot(torch.from_numpy(z - 1), self.max_atoms).float()
        out = torch.stack([net(x, sg_1h, sys_1h, z_1h) for net in self.lattice_nets]).mean(dim=0).numpy()
        targets = out * self.y_scale + self.y_mean
        nsites = counts.sum(axis=1) * z
        return decode(targets, nsites, spacegroups)

    def eval(self) -> CandidateModel:
        for net in [*self.sg_nets, *self.lattice_nets]:
            net.eval()
        return self

    # -- persistence ---------------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> Path:
        """Write the model atomically."""
        def pack(nets):
            return [{"config": n.config.to_dict(),
                     "state_dict": {k: _compact(v) for k, v in n.state_dict().items()}} for n in nets]

        payload = {
            "format": FORMAT,
            "sg_nets": pack(self.sg_nets),
            "lattice_nets": pack(self.lattice_nets),
            **{k: torch.from_numpy(np.asarray(getattr(self, k), dtype=np.float32))
               for k in ("x_mean", "x_scale", "y_mean", "y_scale")},
            "max_atoms": int(self.max_atoms),
            "metadata": json.loads(json_text(self.metadata)),  # plain types only; another type is an error
            "train_formulas": "\n".join(self.train_formulas),
        }
        return save_payload(payload, path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> CandidateModel:
        """Load a saved model; raises :class:`AlphaCrystalError` naming the file on failure."""
        payload = load_payload(path, FORMAT, "candidate model", "alphacrystal train candidates")

        def unpack(items, kind):
            nets = []
            for item in items:
                net = kind(MLPConfig(**item["config"]))
                net.load_state_dict({k: v.float() if v.is_floating_point() else v
                                     for k, v in item["state_dict"].items()})
                nets.append(net)
            return nets

        model = cls(
            sg_nets=unpack(payload["sg_nets"], SpaceGroupNet),
            lattice_nets=unpack(payload["lattice_nets"], LatticeNet),
            **{k: payload[k].numpy().astype(np.float64) for k in ("x_mean", "x_scale", "y_mean", "y_scale")},
            max_atoms=int(payload["max_atoms"]),
            metadata=payload.get("metadata", {}),
            train_formulas=[f for f in payload.get("train_formulas", "").split("\n") if f],
        )
        return model.eval()
