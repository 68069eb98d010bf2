"""Contact-map prediction from a composition: network, training, inference, evaluation.

Layer 6 (a method package): may import :mod:`core.relax` and the layers below it, and the
other method packages. Its names load their module on first use (``core.contact_model.
ContactModel``), so that a light submodule (the presets the CLI lists) does not pull in
torch; a measured start-up cost: importing torch takes 1.3 s of the command line's 4 s.
"""

from core.data.formula_split import (  # the settings that define its data
    PAPER_BENCHMARK_FORMULAS,
    DataSettings,
)

_LAZY = {
    "load_contact_data": "core.contact_model.data",
    "ContactPrediction": "core.contact_model.inference", "load_model": "core.contact_model.inference",
    "predict_contact_map": "core.contact_model.inference",
    "ContactModel": "core.contact_model.model",
    "ContactNet": "core.contact_model.network", "ContactNetConfig": "core.contact_model.network",
    "preset": "core.contact_model.network",
    "TrainingConfig": "core.contact_model.training", "train_contact_model": "core.contact_model.training",
}


def __getattr__(name: str):
    """Load a name of :data:`_LAZY` from its module on first use."""
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'core.contact_model' has no attribute {name!r}")


__all__ = ["PAPER_BENCHMARK_FORMULAS", "DataSettings", *_LAZY]
