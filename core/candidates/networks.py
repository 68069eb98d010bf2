"""Small multilayer perceptrons for the candidate predictors.

* :class:`SpaceGroupNet`: composition → P(Z) (formula units in the primitive
  cell) and, given Z, P(space group | composition, Z). The marginal
  P(space group) = Σ_Z P(Z) P(sg | Z) is what a user gets from a formula alone.
* :class:`LatticeNet`: (composition, space group, Z) → standardised
  ``[ln(volume per atom), ln(b/a), ln(c/a), α, β, γ]`` of the conventional cell.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from core.crystal.composition import PAPER_MAX_ATOMS
from core.crystal.spacegroups import N_SPACEGROUPS, SYSTEM_NAMES

N_LATTICE_TARGETS = 6


@dataclass(frozen=True)
class MLPConfig:
    n_features: int
    max_atoms: int = PAPER_MAX_ATOMS
    hidden: int = 512
    dropout: float = 0.2

    def to_dict(self) -> dict:
        return asdict(self)


def _mlp(n_in: int, hidden: int, dropout: float, layers: int = 2) -> nn.Sequential:
    mods: list[nn.Module] = []
    for k in range(layers):
        mods += [nn.Linear(n_in if k == 0 else hidden, hidden), nn.BatchNorm1d(hidden), nn.ReLU(), nn.Dropout(dropout)]
    return nn.Sequential(*mods)


class SpaceGroupNet(nn.Module):
    """Logits of Z (1..max_atoms) and of the 230 space groups given Z."""

    def __init__(self, config: MLPConfig) -> None:
        super().__init__()
        self.config = config
        self.trunk = _mlp(config.n_features, config.hidden, config.dropout)
        self.z_head = nn.Linear(config.hidden, config.max_atoms)
        self.sg_head = nn.Sequential(
            nn.Linear(config.hidden + config.max_atoms, config.hidden), nn.ReLU(), nn.Dropout(config.dropout),
            nn.Linear(config.hidden, N_SPACEGROUPS))

    def forward(self, x: torch.Tensor, z_onehot: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.trunk(x)
        return self.z_head(h), self.sg_head(torch.cat([h, z_onehot], dim=1))

    def all_z(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Z logits (N, max_atoms) and space-group logits for every Z (N, max_atoms, 230)."""
        h = self.trunk(x)
        n, m = len(x), self.config.max_atoms
        eye = torch.eye(m, dtype=x.dtype, device=x.device)
        hz = torch.cat([h[:, None, :].expand(n, m, -1), eye[None].expand(n, m, m)], dim=2)
        return self.z_head(h), self.sg_head(hz.reshape(n * m, -1)).reshape(n, m, N_SPACEGROUPS)


class LatticeNet(nn.Module):
    """Standardised lattice targets from composition, space group and Z."""

    def __init__(self, config: MLPConfig) -> None:
        super().__init__()
        self.config = config
        n_in = config.n_features + N_SPACEGROUPS + len(SYSTEM_NAMES) + config.max_atoms
        self.body = _mlp(n_in, config.hidden, config.dropout)
        self.out = nn.Linear(config.hidden, N_LATTICE_TARGETS)

    def forward(self, x: torch.Tensor, sg_onehot: torch.Tensor, system_onehot: torch.Tensor,
                z_onehot: torch.Tensor) -> torch.Tensor:
        return self.out(self.body(torch.cat([x, sg_onehot, system_onehot, z_onehot], dim=1)))
