"""Contact-map prediction from a composition: network, training, inference, evaluation."""

from core.contact_model.data import load_contact_data
from core.contact_model.inference import ContactPrediction, load_model, predict_contact_map
from core.contact_model.model import ContactModel
from core.contact_model.network import ContactNet, ContactNetConfig, preset
from core.contact_model.training import TrainingConfig, train_contact_model
from core.data.formula_split import (  # the settings that define its data
    PAPER_BENCHMARK_FORMULAS,
    DataSettings,
)

__all__ = [
    "PAPER_BENCHMARK_FORMULAS",
    "ContactModel",
    "ContactNet",
    "ContactNetConfig",
    "ContactPrediction",
    "DataSettings",
    "TrainingConfig",
    "load_contact_data",
    "load_model",
    "predict_contact_map",
    "preset",
    "train_contact_model",
]
