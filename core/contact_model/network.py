"""The contact-map network of the AlphaCrystal paper (section "Deep learning model").

Per-atom inputs (L x C) -> stacked 1D residual blocks (filters doubled every
``double_every`` blocks) -> outer concatenation [h_i, (h_i + h_j) / 2, h_j]
(L x L x 3n) -> stacked 2D residual blocks -> 1x1 convolution -> symmetrised
logits -> sigmoid. The network is fully convolutional, so one set of weights
serves any number of atoms up to the L it was trained for.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class ContactNetConfig:
    """Depth and widths of :class:`ContactNet`.

    Attributes
    ----------
    in_channels : int
        Per-atom input channels (element features plus position encodings).
    blocks_1d, filters_1d : int
        Number of 1D residual blocks and filters of the first one.
    blocks_2d, filters_2d : int
        Number of 2D residual blocks and their filters (constant width).
    double_every : int
        1D filters double every this many blocks (paper: 3).
    kernel_1d, kernel_2d : int
        Convolution kernel sizes.
    template_channels : int
        Extra pair planes (retrieved template maps and their distances,
        :mod:`core.contact_model.templates`) joined to the pair tensor; 0 = none.
    """

    in_channels: int
    blocks_1d: int = 9
    filters_1d: int = 32
    blocks_2d: int = 9
    filters_2d: int = 256
    double_every: int = 3
    kernel_1d: int = 3
    kernel_2d: int = 3
    template_channels: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


def preset(name: str, in_channels: int, template_channels: int = 0) -> ContactNetConfig:
    """Named configurations: ``paper`` (9 + 9 blocks, 32 -> 128 1D filters, 256 2D
    filters; for a GPU) and ``default`` (trains on a 2-core CPU within 45 minutes)."""
    t = template_channels
    if name == "paper":
        return ContactNetConfig(in_channels, 9, 32, 9, 256, template_channels=t)
    if name == "default":
        return ContactNetConfig(in_channels, 6, 32, 6, 64, template_channels=t)
    if name == "tiny":  # for tests
        return ContactNetConfig(in_channels, 2, 8, 2, 8, template_channels=t)
    raise ValueError(f"unknown preset {name!r}; choose paper, default or tiny")


class _Residual1d(nn.Module):
    def __init__(self, c_in: int, c_out: int, kernel: int) -> None:
        super().__init__()
        pad = kernel // 2
        self.conv1 = nn.Conv1d(c_in, c_out, kernel, padding=pad, bias=False)
        self.bn1 = nn.BatchNorm1d(c_out)
        self.conv2 = nn.Conv1d(c_out, c_out, kernel, padding=pad, bias=False)
        self.bn2 = nn.BatchNorm1d(c_out)
        self.shortcut = nn.Identity() if c_in == c_out else nn.Conv1d(c_in, c_out, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return torch.relu(y + self.shortcut(x))


class _Residual2d(nn.Module):
    def __init__(self, channels: int, kernel: int) -> None:
        super().__init__()
        pad = kernel // 2
        self.conv1 = nn.Conv2d(channels, channels, kernel, padding=pad, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, kernel, padding=pad, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return torch.relu(y + x)


class ContactNet(nn.Module):
    """Residual network mapping per-atom inputs to contact logits.

    ``forward(x, templates)`` takes ``x`` of shape (batch, n, in_channels)
    (and, when configured, template planes of shape (batch, template_channels,
    n, n)) and returns symmetric logits of shape (batch, n, n); apply
    ``torch.sigmoid`` for probabilities. All structures of a batch have the
    same atom count n.
    """

    def __init__(self, config: ContactNetConfig) -> None:
        super().__init__()
        self.config = config
        blocks: list[nn.Module] = []
        c_in, width = config.in_channels, config.filters_1d
        for k in range(config.blocks_1d):
            if k and k % config.double_every == 0:
                width *= 2
            blocks.append(_Residual1d(c_in, width, config.kernel_1d))
            c_in = width
        self.blocks_1d = nn.Sequential(*blocks)
        self.to_pairs = nn.Sequential(
            nn.Conv2d(3 * c_in + config.template_channels, config.filters_2d, 1, bias=False),
            nn.BatchNorm2d(config.filters_2d),
            nn.ReLU(),
        )
        self.blocks_2d = nn.Sequential(
            *(_Residual2d(config.filters_2d, config.kernel_2d) for _ in range(config.blocks_2d))
        )
        self.head = nn.Conv2d(config.filters_2d, 1, 1)

    def forward(self, x: torch.Tensor, templates: torch.Tensor | None = None) -> torch.Tensor:
        h = self.blocks_1d(x.transpose(1, 2))  # (B, C, n)
        n = h.shape[-1]
        hi = h.unsqueeze(3).expand(-1, -1, n, n)
        hj = h.unsqueeze(2).expand(-1, -1, n, n)
        planes = [hi, 0.5 * (hi + hj), hj]
        if self.config.template_channels:
            if templates is None or templates.shape[1] != self.config.template_channels:
                raise ValueError(f"this network needs {self.config.template_channels} template planes")
            planes.append(templates)
        pairs = torch.cat(planes, dim=1)
        z = self.blocks_2d(self.to_pairs(pairs))
        logits = self.head(z).squeeze(1)
        return 0.5 * (logits + logits.transpose(1, 2))
