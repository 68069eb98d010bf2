"""Tasks for the screening tests that run on Dask workers (importable there by name)."""

from __future__ import annotations

import os
from pathlib import Path


def dies_on_first_try(item, settings_dict, out_dir):
    """Kill the worker process the first time this formula runs; succeed the second time
    (a marker file in ``out_dir`` counts the attempts)."""
    marker = Path(out_dir) / f"{item.name}.attempts"
    attempts = int(marker.read_text()) + 1 if marker.exists() else 1
    marker.write_text(str(attempts))
    if attempts == 1 or item.formula == "KBr":  # KBr: its worker dies on every try
        os._exit(1)
    return {"formula": item.formula, "status": "done", "line": item.line, "reason": "", "seconds": 0.0,
            "worker": "test", "n_structures": 0}


def must_not_run(item, settings_dict, out_dir):
    raise AssertionError(f"{item.formula} was finished already and must be skipped")
