"""Reading and writing model files: one ``.pt`` of tensors and plain values.

Shared by every trained model of the engine. Files are written atomically and
read with ``torch.load(weights_only=True)``, so loading never executes pickled
code; every failure becomes one :class:`AlphaCrystalError` naming the file.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from core.errors import AlphaCrystalError
from core.io.files import atomic_write


def save_payload(payload: dict, path: str | os.PathLike) -> Path:
    """Write ``payload`` (which must carry its ``format``) to ``path`` atomically."""
    return atomic_write(path, lambda fh: torch.save(payload, fh))


def load_payload(path: str | os.PathLike, fmt: str, what: str, train_command: str) -> dict:
    """The payload of a model file of format ``fmt``.

    Raises
    ------
    AlphaCrystalError
        Missing file (naming ``train_command``), unreadable file, or another format.
    """
    p = Path(path)
    if not p.exists():
        raise AlphaCrystalError(f"{p}: no such model file (train one with `{train_command}`)")
    try:
        payload = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any reader failure is reported the same way
        reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise AlphaCrystalError(f"{p}: not a readable model file ({reason})") from None
    if not isinstance(payload, dict) or payload.get("format") != fmt:
        raise AlphaCrystalError(f"{p}: not an AlphaCrystal {what} (format {fmt} expected)")
    return payload
