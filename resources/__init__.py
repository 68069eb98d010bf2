"""Files shipped with AlphaCrystal Studio: element data, model weights, examples, icons.

Use :func:`resource_path` rather than building paths by hand, so the lookup works
from a source checkout, an installed wheel and a PyInstaller bundle alike.
"""

from __future__ import annotations

from pathlib import Path

RESOURCE_DIR = Path(__file__).resolve().parent


def resource_path(name: str) -> Path:
    """Absolute path of a shipped resource, e.g. ``resource_path("element_features.csv")``.

    Raises
    ------
    FileNotFoundError
        If the resource is not part of this installation.
    """
    path = RESOURCE_DIR / name
    if not path.exists():
        raise FileNotFoundError(f"resource {name!r} is missing from {RESOURCE_DIR}")
    return path
