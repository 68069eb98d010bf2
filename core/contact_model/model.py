"""A trained contact-map model: network weights, feature scaler, threshold, provenance.

Saved as one ``.pt`` file holding only tensors and plain Python values, loaded
with ``torch.load(weights_only=True)`` (no pickled code is executed).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from core.contact.contact_map import DEFAULT_THRESHOLD
from core.contact.metrics import dice
from core.contact_model.inputs import atom_inputs
from core.contact_model.network import ContactNet, ContactNetConfig
from core.contact_model.templates import TemplateBank
from core.crystal.composition import PAPER_MAX_ATOMS
from core.crystal.elements import FeatureScaler
from core.errors import AlphaCrystalError
from core.io.files import json_text
from core.io.model_files import load_payload, save_payload
from core.runtime.device import resolve_device

FORMAT = "alphacrystal-contact-model/1"


def pick_device(device: str = "auto") -> torch.device:
    """``auto``: CUDA when available, else CPU; or an explicit ``cpu`` / ``cuda[:N]`` (:mod:`core.runtime.device`)."""
    return torch.device(resolve_device(device))


@dataclass
class ContactModel:
    """Network plus everything needed to turn a composition into a contact map.

    Attributes
    ----------
    net : ContactNet
    scaler : FeatureScaler
        Fitted on the training atoms.
    threshold : float
        Probability above which a contact is predicted (tuned on validation Dice).
    max_atoms : int
        The L the model was trained for.
    z_prior : dict[int, dict[int, int]]
        Training counts of Z per atoms-per-formula-unit, used to pick Z.
    metadata : dict
        Preset, data settings, training command and history, metrics.
    train_formulas : list of str
        Reduced formulas the model has seen: its training structures and every
        map in its template bank (evaluation drops them, to stay honest).
    templates : TemplateBank or None
        Training maps retrieved as extra inputs (when the network uses them).
    members : list of ContactNet
        Further networks trained on the same data with other seeds; the
        probabilities of ``net`` and all members are averaged (an ensemble).
    snap_similarity : float or None
        Template snapping: when the thresholded prediction has a Dice of at
        least this value with the nearest template, the template (the map of a
        real crystal, hence geometrically realisable) is returned instead.
        Tuned on validation Dice; None disables it.
    """

    net: ContactNet
    scaler: FeatureScaler
    threshold: float = DEFAULT_THRESHOLD
    max_atoms: int = PAPER_MAX_ATOMS
    z_prior: dict[int, dict[int, int]] = field(default_factory=dict)
    metadata: dict = field(default_factory=dict)
    train_formulas: list[str] = field(default_factory=list)
    templates: TemplateBank | None = None
    snap_similarity: float | None = None
    members: list[ContactNet] = field(default_factory=list)

    @property
    def device(self) -> torch.device:
        return next(self.net.parameters()).device

    def to(self, device: str | torch.device) -> ContactModel:
        target = pick_device(device) if isinstance(device, str) else device
        for net in (self.net, *self.members):
            net.to(target)
        return self

    @torch.no_grad()
    def predict(self, numbers: np.ndarray, batch_size: int = 512) -> tuple[np.ndarray, np.ndarray]:
        """Probabilities and 0/1 maps, shape (B, n, n) each, for atomic numbers (B, n)
        in canonical order (all rows with the same n)."""
        numbers = np.atleast_2d(numbers)
        nets = (self.net, *self.members)
        for net in nets:
            net.eval()
        probs_out, maps_out = [], []
        for start in range(0, len(numbers), batch_size):
            chunk = numbers[start : start + batch_size]
            x = torch.from_numpy(atom_inputs(chunk, self.scaler, self.max_atoms)).to(self.device)
            planes = None
            if self.net.config.template_channels:
                if self.templates is None:
                    raise AlphaCrystalError("this model needs its template bank, which is missing")
                planes = self.templates.query(chunk)
            t = None if planes is None else torch.from_numpy(planes).to(self.device)
            probs = torch.stack([torch.sigmoid(net(x, t)) for net in nets]).mean(dim=0).cpu().numpy()
            n = probs.shape[-1]
            probs[:, np.arange(n), np.arange(n)] = 0.0
            maps = (probs > self.threshold).astype(np.uint8)
            if self.snap_similarity is not None and planes is not None and self.templates is not None:
                maps = snap_to_templates(maps, planes, self.templates.k, self.snap_similarity)
            probs_out.append(probs)
            maps_out.append(maps)
        if not probs_out:
            empty = np.zeros((0, numbers.shape[1], numbers.shape[1]), np.float32)
            return empty, empty.astype(np.uint8)
        return np.concatenate(probs_out), np.concatenate(maps_out)

    def predict_probabilities(self, numbers: np.ndarray, batch_size: int = 512) -> np.ndarray:
        """Contact probabilities, shape (B, n, n), for atomic numbers (B, n) in canonical order."""
        return self.predict(numbers, batch_size)[0]

    def save(self, path: str | os.PathLike) -> Path:
        """Write the model atomically."""
        payload = {
            "format": FORMAT,
            "config": self.net.config.to_dict(),
            "state_dict": {k: v.detach().cpu() for k, v in self.net.state_dict().items()},
            "scaler": self.scaler.to_dict(),
            "threshold": float(self.threshold),
            "snap_similarity": self.snap_similarity,
            "members": [
                {"config": m.config.to_dict(), "state_dict": {k: v.detach().cpu() for k, v in m.state_dict().items()}}
                for m in self.members
            ],
            "max_atoms": int(self.max_atoms),
            "z_prior": {str(k): {str(z): c for z, c in v.items()} for k, v in self.z_prior.items()},
            "metadata": json.loads(json_text(self.metadata)),  # plain types only; another type is an error
            "train_formulas": "\n".join(self.train_formulas),
            "templates": None if self.templates is None else {
                "k": self.templates.k, "same_pattern": self.templates.same_pattern,
                **{k: torch.from_numpy(v) for k, v in self.templates.to_arrays().items()}
            },
        }
        return save_payload(payload, path)

    @classmethod
    def load(cls, path: str | os.PathLike, device: str = "auto") -> ContactModel:
        """Load a saved model; raises :class:`AlphaCrystalError` naming the file on failure."""
        payload = load_payload(path, FORMAT, "contact model", "alphacrystal train contact-map")
        net = _load_net(payload["config"], payload["state_dict"])
        scaler = FeatureScaler.from_dict(payload["scaler"])
        bank = None
        if payload.get("templates"):
            stored = payload["templates"]
            arrays = {k: v.numpy() for k, v in stored.items() if k not in ("k", "same_pattern")}
            bank = TemplateBank.from_arrays(arrays, scaler, int(stored["k"]), bool(stored.get("same_pattern", False)))
        model = cls(
            net=net,
            scaler=scaler,
            threshold=float(payload["threshold"]),
            max_atoms=int(payload["max_atoms"]),
            z_prior={int(k): {int(z): int(c) for z, c in v.items()} for k, v in payload["z_prior"].items()},
            metadata=payload.get("metadata", {}),
            train_formulas=[f for f in payload.get("train_formulas", "").split("\n") if f],
            templates=bank,
            snap_similarity=payload.get("snap_similarity"),
            members=[_load_net(m["config"], m["state_dict"]) for m in payload.get("members", [])],
        )
        return model.to(device)


def _load_net(config: dict, state_dict: dict) -> ContactNet:
    net = ContactNet(ContactNetConfig(**config))
    net.load_state_dict(state_dict)
    return net.eval()


def z_prior_from(formulas: np.ndarray, n_atoms: np.ndarray) -> dict[int, dict[int, int]]:
    """Counts of Z per atoms-per-formula-unit among training structures."""
    from pymatgen.core import Composition

    counts: dict[int, Counter] = {}
    for formula, n in zip(formulas, n_atoms):
        per_unit = int(round(Composition(str(formula)).num_atoms))
        if per_unit and n % per_unit == 0:
            counts.setdefault(per_unit, Counter())[int(n) // per_unit] += 1
    return {k: dict(v) for k, v in sorted(counts.items())}


def snap_to_templates(maps: np.ndarray, planes: np.ndarray, k: int, similarity: float) -> np.ndarray:
    """Replace each map by the most similar of its ``k`` templates when their Dice
    is at least ``similarity``.

    ``planes`` are the template planes of :meth:`TemplateBank.query` (maps, then
    distances; a distance of 1 marks a missing template). Choosing the best of
    the k retrieved templates rather than only the nearest composition raises
    the validation exact-map rate (70.4 % against 69.6 %) at equal Dice.
    """
    out = maps.copy()
    for b in range(len(maps)):
        best, best_dice = None, -1.0
        for j in range(k):
            if planes[b, k + j, 0, 0] >= 1.0:  # no template in this slot
                continue
            template = planes[b, j].astype(np.uint8)
            score = dice(maps[b], template)
            if score > best_dice:
                best, best_dice = template, score
        if best is not None and best_dice >= similarity:
            out[b] = best
    return out
