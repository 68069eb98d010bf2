"""Which device runs the networks and the potential: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.

``auto`` takes CUDA when PyTorch sees a GPU, else the CPU. Asking for CUDA on a
machine without one is an error naming the problem, never a silent fall-back.
"""

from __future__ import annotations

import re

from core.errors import AlphaCrystalError

DEVICE_PATTERN = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")
DEFAULT_DEVICE = "auto"


class DeviceError(AlphaCrystalError):
    """An unknown device name, or CUDA asked for where there is none."""


def check_device_name(name: str) -> str:
    """``name`` when it is a device name this program knows (no hardware check)."""
    if not isinstance(name, str) or not DEVICE_PATTERN.match(name):
        raise DeviceError(f"unknown device {name!r}: use auto, cpu, cuda or cuda:N")
    return name


def resolve_device(name: str = DEFAULT_DEVICE) -> str:
    """The concrete device for ``name``: ``cpu`` or ``cuda:N``.

    Raises
    ------
    DeviceError
        Unknown name, no CUDA device, or a CUDA index beyond those present.
    """
    import torch

    check_device_name(name)
    if name == "cpu":
        return "cpu"
    available = torch.cuda.is_available()
    if name == "auto":
        return "cuda:0" if available else "cpu"
    if not available:
        raise DeviceError(f"device {name!r} was requested but PyTorch sees no CUDA device on this machine "
                          "(use --device cpu or auto)")
    index = int(name.split(":")[1]) if ":" in name else 0
    if index >= torch.cuda.device_count():
        raise DeviceError(f"device {name!r} was requested but this machine has {torch.cuda.device_count()} "
                          "CUDA device(s)")
    return f"cuda:{index}"
