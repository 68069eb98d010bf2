"""Plain files: atomic writes and the one JSON policy of the engine (what a JSON file may
hold, how it is written, the stable key of a JSON-serialisable state).

Every write goes to a temporary file next to the target and is then renamed over it,
so a crash or a kill never leaves a half-written file behind.
"""

from __future__ import annotations

import enum
import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from core.errors import StructureFileError

UMASK = os.umask(0)
os.umask(UMASK)  # read once at import (os.umask can only be read by setting it)


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8, newlines as given) to ``path`` atomically (:func:`atomic_write_bytes`)."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (:func:`atomic_write`)."""
    return atomic_write(path, lambda fh: fh.write(data))


def atomic_write(path: str | os.PathLike, write: Callable[[BinaryIO], object]) -> Path:
    """Call ``write(file)`` on a temporary file next to ``path``, then rename it over ``path``:
    the one way the engine writes a file (text, ``.npz`` arrays, torch payloads), so that a crash,
    a kill or a failed ``write`` never leaves a half-written file or a stray temporary one.

    Raises
    ------
    StructureFileError
        If the folder is missing or not writable; the message names the path. An exception
        raised by ``write`` itself goes on, after the temporary file is removed.
    """
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise StructureFileError(f"cannot write {target}: {exc.strerror or exc}") from None
    try:
        os.chmod(tmp, 0o666 & ~UMASK)  # mkstemp makes 0600; a written file gets normal permissions
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise StructureFileError(f"cannot write {target}: {exc.strerror or exc}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def plain(value: object) -> object:
    """The JSON form of the values the engine stores besides JSON's own: numpy scalars and
    arrays, paths, enums, sets. Anything else is an error naming its type, never a
    silent ``str()``."""
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"cannot store a {type(value).__name__} in a JSON file")


def json_text(payload: object, indent: int | None = 2, sort_keys: bool = False) -> str:
    """``payload`` as JSON text with a final newline (values through :func:`plain`)."""
    return json.dumps(payload, indent=indent, sort_keys=sort_keys, default=plain) + "\n"


def write_json(path: str | os.PathLike, payload: object, indent: int | None = 2, sort_keys: bool = False) -> Path:
    """Write ``payload`` to ``path`` atomically as :func:`json_text`."""
    return atomic_write_text(path, json_text(payload, indent, sort_keys))


def state_key(*parts: object) -> str:
    """A short stable hash (16 hex digits) of JSON-serialisable parts: the name of a cached state."""
    # default=str, not plain: a key only names a state (it is never read back), and the keys of
    # run folders written so far must stay the same for them to resume (numpy ints hash as strings)
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
