"""Training of the contact-map network: Adam, BCE over real off-diagonal entries,
mini-batches of one atom count, early stopping on validation Dice, checkpoints.

Training is deterministic for a seed on one device, can be interrupted
(Ctrl-C writes a checkpoint) and resumed from the last checkpoint.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from core.contact.contact_map import DEFAULT_THRESHOLD
from core.contact.metrics import best_matching_permutation
from core.contact_model.data import groups_by_size
from core.contact_model.inputs import N_INPUTS, atom_inputs
from core.contact_model.model import ContactModel, pick_device, snap_to_templates, z_prior_from
from core.contact_model.network import ContactNet, preset
from core.contact_model.templates import TemplateBank
from core.crystal.elements import FeatureScaler, raw_features
from core.data.featurize import FeaturizedDataset
from core.errors import AlphaCrystalError
from core.io.files import atomic_write

Progress = Callable[[dict], None]


@dataclass
class TrainingConfig:
    """Hyper-parameters of a training run (recorded in the model's metadata)."""

    preset: str = "default"
    epochs: int = 200
    batch_size: int = 64
    learning_rate: float = 1e-3
    weight_decay: float = 0.0
    patience: int = 20
    lr_patience: int = 5
    time_limit_s: float | None = None
    seed: int = 0
    matched_loss: bool = False
    templates: int = 0
    same_pattern: bool = False
    dice_loss: float = 0.0
    device: str = "auto"

    def to_dict(self) -> dict:
        return asdict(self)


class _Batches:
    """Inputs, template planes and targets of one partition, grouped by atom count.

    With a template bank built from this very partition (``self_bank=True``),
    each structure is excluded from its own retrieval.
    """

    def __init__(self, data: FeaturizedDataset, scaler: FeatureScaler, max_atoms: int,
                 bank: TemplateBank | None = None, self_bank: bool = False) -> None:
        self.groups: dict[int, tuple[torch.Tensor, torch.Tensor, np.ndarray]] = {}
        self.templates: dict[int, torch.Tensor | None] = {}
        for n, idx in groups_by_size(data).items():
            numbers = data.numbers[idx, :n]
            x = torch.from_numpy(atom_inputs(numbers, scaler, max_atoms))
            y = torch.from_numpy(data.contact[idx, :n, :n].astype(np.float32))
            self.groups[n] = (x, y, idx)
            self.templates[n] = (
                torch.from_numpy(bank.query(numbers, exclude=idx if self_bank else None)) if bank else None
            )
        self.species = data.numbers

    def epoch(self, batch_size: int, rng: np.random.Generator) -> list[tuple[int, np.ndarray]]:
        batches = []
        for n, (_, _, idx) in self.groups.items():
            order = rng.permutation(len(idx))
            batches += [(n, order[s : s + batch_size]) for s in range(0, len(order), batch_size)]
        return [batches[k] for k in rng.permutation(len(batches))]


def _off_diagonal(n: int, device: torch.device) -> torch.Tensor:
    return 1.0 - torch.eye(n, device=device)


def _dice_per_sample(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    mask = _off_diagonal(pred.shape[-1], pred.device)
    p, t = pred * mask, target * mask
    inter = (p * t).sum(dim=(1, 2))
    total = p.sum(dim=(1, 2)) + t.sum(dim=(1, 2))
    return torch.where(total > 0, 2 * inter / total.clamp(min=1e-9), torch.ones_like(total))


def _matched_targets(probs: np.ndarray, targets: np.ndarray, species: np.ndarray) -> np.ndarray:
    """Targets re-ordered (within elements) to best agree with the current predictions."""
    out = targets.copy()
    for k in range(len(targets)):
        perm, _ = best_matching_permutation(targets[k], probs[k] > DEFAULT_THRESHOLD, species[k].tolist(), exact_limit=720)
        out[k] = targets[k][np.ix_(perm, perm)]
    return out


@torch.no_grad()
def predict_groups(net: ContactNet, batches: _Batches, device: torch.device) -> dict[int, np.ndarray]:
    """Probabilities per atom-count group (same order as the group's indices)."""
    net.eval()
    out = {}
    for n, (x, _, _) in batches.groups.items():
        t = batches.templates[n]
        chunks = [
            torch.sigmoid(net(x[s : s + 1024].to(device), None if t is None else t[s : s + 1024].to(device))).cpu()
            for s in range(0, len(x), 1024)
        ]
        out[n] = torch.cat(chunks).numpy()
    return out


def mean_dice(net: ContactNet, batches: _Batches, device: torch.device, threshold: float = DEFAULT_THRESHOLD) -> float:
    """Mean positional Dice over a partition."""
    probs = predict_groups(net, batches, device)
    scores = [
        _dice_per_sample(torch.from_numpy((probs[n] > threshold).astype(np.float32)), y)
        for n, (_, y, _) in batches.groups.items()
    ]
    return float(torch.cat(scores).mean()) if scores else 0.0


THRESHOLDS = tuple(float(t) for t in np.round(np.arange(0.30, 0.701, 0.05), 2))
SNAP_CANDIDATES: tuple[float | None, ...] = (None, 0.95, 0.9, 0.85, 0.8)


def tune_decision(model: ContactModel, validation: FeaturizedDataset) -> dict:
    """Set ``model.threshold`` (0.30…0.70) and ``model.snap_similarity`` to the values
    with the best mean validation Dice (first the threshold, then snapping).

    Returns the chosen values with the validation Dice and exact fraction.
    """
    cases = []
    for n, idx in groups_by_size(validation).items():
        numbers = validation.numbers[idx, :n]
        probs = model.predict_probabilities(numbers)
        planes = model.templates.query(numbers) if model.templates is not None else None
        cases.append((probs, planes, torch.from_numpy(validation.contact[idx, :n, :n].astype(np.float32))))

    def scores(threshold: float, snap: float | None) -> torch.Tensor:
        out = []
        for probs, planes, target in cases:
            maps = (probs > threshold).astype(np.uint8)
            if snap is not None and planes is not None and model.templates is not None:
                maps = snap_to_templates(maps, planes, model.templates.k, snap)
            out.append(_dice_per_sample(torch.from_numpy(maps.astype(np.float32)), target))
        return torch.cat(out)

    threshold = max(THRESHOLDS, key=lambda t: (float(scores(t, None).mean()), -abs(t - DEFAULT_THRESHOLD)))
    at_threshold = float(scores(threshold, None).mean())
    snaps = SNAP_CANDIDATES if model.templates is not None else (None,)
    best_snap, best_values = None, scores(threshold, None)
    for snap in snaps[1:]:
        values = scores(threshold, snap)
        if float(values.mean()) > float(best_values.mean()) + 1e-9:
            best_snap, best_values = snap, values
    model.threshold, model.snap_similarity = threshold, best_snap
    return {"threshold": threshold, "val_dice_at_threshold": round(at_threshold, 4),
            "snap_similarity": best_snap, "val_dice_final": round(float(best_values.mean()), 4),
            "val_exact_fraction_final": round(float((best_values >= 1 - 1e-9).float().mean()), 4)}


def combine_ensemble(models: list[ContactModel], validation: FeaturizedDataset) -> ContactModel:
    """One model averaging the probabilities of models trained on the same data
    (same scaler and template bank) with different seeds; threshold and snapping
    are re-tuned on validation."""
    first = models[0]
    first.members = [m.net for m in models[1:]] + [net for m in models[1:] for net in m.members]
    decision = tune_decision(first, validation)
    first.metadata = {**first.metadata, **decision,
                      "ensemble": [{k: m.metadata.get(k) for k in ("training", "epochs_run", "best_epoch",
                                                                      "training_seconds", "val_dice_at_0_5")}
                                   for m in models],
                      "training_seconds": round(sum(m.metadata.get("training_seconds", 0) for m in models), 1)}
    return first


def add_validation_templates(model: ContactModel, validation: FeaturizedDataset) -> ContactModel:
    """Add the validation maps to the model's template bank, once training and the
    tuning of threshold and snapping on validation are over.

    A shipped model should retrieve from every structure it may use; only the
    test partition stays unseen. The validation formulas join
    ``model.train_formulas`` so that evaluation never scores a structure that is
    in the bank. Measured on the test partition (shipped ensemble): Dice 0.9249
    -> 0.9281, exact maps 67.5 % -> 69.0 %.
    """
    if model.templates is None:
        return model
    bank = model.templates
    model.templates = TemplateBank(
        np.concatenate([bank.numbers, validation.numbers.astype(bank.numbers.dtype)]),
        np.concatenate([bank.contact, validation.contact.astype(np.uint8)]),
        bank.scaler, bank.k, bank.same_pattern)
    model.train_formulas = sorted(set(model.train_formulas) | set(validation.formulas.tolist()))
    model.metadata["template_bank"] = {"train": len(bank.numbers), "validation": len(validation)}
    return model


class TrainingError(AlphaCrystalError):
    """A training that cannot go on as asked (a checkpoint of another training)."""


def _fingerprint(train: FeaturizedDataset, config: TrainingConfig) -> dict[str, str]:
    """What a checkpoint must share with the training that resumes it: the network's preset, the
    template channels and the training formulas (SHA-256 of their sorted list): resuming on other
    data let formulas of the first run's training leak into the second's held-out split."""
    import hashlib

    formulas = "\n".join(sorted({str(f) for f in train.formulas}))
    return {"preset": config.preset, "templates": str(config.templates),
            "train_formulas": hashlib.sha256(formulas.encode()).hexdigest()}


def train_contact_model(
    train: FeaturizedDataset,
    validation: FeaturizedDataset,
    config: TrainingConfig,
    checkpoint: str | os.PathLike | None = None,
    resume: bool = False,
    progress: Progress | None = None,
    metadata: dict | None = None,
) -> ContactModel:
    """Train a :class:`ContactModel`; returns the best model by validation Dice.

    Parameters
    ----------
    train, validation : FeaturizedDataset
        Partitions that share no reduced formula.
    config : TrainingConfig
    checkpoint : path, optional
        Written after every epoch and on Ctrl-C; with ``resume=True`` training
        continues from it.
    progress : callable, optional
        Called after every epoch with a dict (epoch, epochs, train_loss,
        val_dice, best_val_dice, elapsed_s, eta_s, stopped).
    metadata : dict, optional
        Stored in the model (data settings, command line, ...).
    """
    torch.manual_seed(config.seed)
    device = pick_device(config.device)
    max_atoms = train.max_atoms
    scaler = FeatureScaler().fit(raw_features(train.numbers[train.mask]))
    bank = (TemplateBank(train.numbers, train.contact, scaler, config.templates, config.same_pattern)
            if config.templates else None)
    net = ContactNet(preset(config.preset, N_INPUTS, bank.channels if bank else 0)).to(device)
    optimizer = torch.optim.Adam(net.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    # halve the learning rate when validation Dice has not improved for lr_patience epochs
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, mode="max", factor=0.5, patience=config.lr_patience
    )
    train_batches = _Batches(train, scaler, max_atoms, bank, self_bank=True)
    val_batches = _Batches(validation, scaler, max_atoms, bank)
    state: dict[str, Any] = {"epoch": 0, "best_dice": -1.0, "best_epoch": 0, "history": [], "elapsed": 0.0,
             "best_state": {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}}
    ckpt = Path(checkpoint) if checkpoint else None
    fingerprint = _fingerprint(train, config)
    if resume and ckpt and ckpt.exists():
        saved = torch.load(ckpt, map_location="cpu", weights_only=False)
        if saved.get("fingerprint", fingerprint) != fingerprint:  # a checkpoint of older versions has none
            differs = [k for k in fingerprint if saved["fingerprint"].get(k) != fingerprint[k]]
            raise TrainingError(f"{ckpt} was written by another training ({', '.join(differs)} differ"
                                f"{': other training formulas' if 'train_formulas' in differs else ''}); resuming "
                                "it would mix the two; start afresh without --resume or give its --checkpoint")
        try:
            net.load_state_dict(saved["model"])
        except RuntimeError:
            raise TrainingError(f"{ckpt} holds a network of another size than preset {config.preset!r}; "
                                "resume with the preset it was trained with") from None
        optimizer.load_state_dict(saved["optimizer"])
        scheduler.load_state_dict(saved["scheduler"])
        state = saved["state"]
        torch.set_rng_state(saved["torch_rng"])

    def save_checkpoint() -> None:
        if ckpt is None:
            return
        atomic_write(ckpt, lambda fh: torch.save(
            {"model": net.state_dict(), "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
             "state": state, "torch_rng": torch.get_rng_state(), "config": config.to_dict(),
             "fingerprint": fingerprint}, fh))

    start = time.perf_counter() - state["elapsed"]
    stopped = "epochs"
    try:
        while state["epoch"] < config.epochs:
            elapsed = time.perf_counter() - start
            per_epoch = elapsed / max(1, len(state["history"]))
            if config.time_limit_s and state["history"] and elapsed + per_epoch > config.time_limit_s:
                stopped = "time limit"
                break
            if state["epoch"] - state["best_epoch"] >= config.patience:
                stopped = "early stopping"
                break
            loss = _train_epoch(net, optimizer, train_batches, config, device,
                                np.random.default_rng(config.seed * 100_003 + state["epoch"]))
            val_dice = mean_dice(net, val_batches, device)
            scheduler.step(val_dice)
            state["epoch"] += 1
            state["elapsed"] = time.perf_counter() - start
            if val_dice > state["best_dice"]:
                state["best_dice"], state["best_epoch"] = val_dice, state["epoch"]
                state["best_state"] = {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}
            state["history"].append({"epoch": state["epoch"], "train_loss": loss, "val_dice": val_dice,
                                     "lr": optimizer.param_groups[0]["lr"],
                                     "elapsed_s": round(state["elapsed"], 1)})
            save_checkpoint()
            if progress:
                per_epoch = state["elapsed"] / len(state["history"])
                remaining = config.epochs - state["epoch"]
                if config.time_limit_s:
                    remaining = min(remaining, int(max(0.0, config.time_limit_s - state["elapsed"]) // per_epoch))
                progress({"epoch": state["epoch"], "epochs": config.epochs, "train_loss": loss,
                          "val_dice": val_dice, "best_val_dice": state["best_dice"],
                          "elapsed_s": state["elapsed"], "eta_s": remaining * per_epoch, "stopped": None})
    except KeyboardInterrupt:
        save_checkpoint()
        raise
    net.load_state_dict(state["best_state"])
    info = dict(metadata or {})
    info.update({
        "training": config.to_dict(),
        "stopped": stopped,
        "epochs_run": state["epoch"],
        "best_epoch": state["best_epoch"],
        "training_seconds": round(state["elapsed"], 1),
        "val_dice_at_0_5": round(state["best_dice"], 4),
        "history": state["history"],
        "n_train": len(train),
        "n_validation": len(validation),
    })
    model = ContactModel(
        net=net.cpu().eval(),
        scaler=scaler,
        max_atoms=max_atoms,
        z_prior=z_prior_from(train.formulas, train.n_atoms),
        metadata=info,
        train_formulas=sorted(set(train.formulas.tolist())),
        templates=bank,
    )
    decision = tune_decision(model, validation)
    model.metadata.update(decision)
    if progress:
        progress({"epoch": state["epoch"], "epochs": config.epochs, "stopped": stopped,
                  "best_val_dice": state["best_dice"], "elapsed_s": state["elapsed"], **decision})
    return model


def _train_epoch(net: ContactNet, optimizer: torch.optim.Optimizer, batches: _Batches,
                 config: TrainingConfig, device: torch.device, rng: np.random.Generator) -> float:
    net.train()
    total, count = 0.0, 0
    for n, rows in batches.epoch(config.batch_size, rng):
        if len(rows) < 2 or n < 2:  # batch norm needs two samples; one atom has no pairs
            continue
        x, y, idx = batches.groups[n]
        t = batches.templates[n]
        xb, yb = x[rows].to(device), y[rows]
        logits = net(xb, None if t is None else t[rows].to(device))
        if config.matched_loss:
            probs = torch.sigmoid(logits.detach()).cpu().numpy()
            yb = torch.from_numpy(_matched_targets(probs, yb.numpy(), batches.species[idx[rows], :n]))
        mask = _off_diagonal(n, device).expand_as(logits)
        loss = F.binary_cross_entropy_with_logits(logits, yb.to(device), weight=mask, reduction="sum")
        loss = loss / mask.sum()
        if config.dice_loss:
            # soft Dice per structure, the evaluation metric, added to the BCE
            p, t = torch.sigmoid(logits) * mask, yb.to(device) * mask
            soft = (2 * (p * t).sum(dim=(1, 2)) + 1.0) / (p.sum(dim=(1, 2)) + t.sum(dim=(1, 2)) + 1.0)
            loss = loss + config.dice_loss * (1.0 - soft).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total += float(loss.detach()) * len(rows)
        count += len(rows)
    return total / max(1, count)


def train_contact_ensemble(train: FeaturizedDataset, validation: FeaturizedDataset, config: TrainingConfig,
                           members: int = 1, checkpoint: str | None = None, resume: bool = False,
                           progress=None, metadata: dict | None = None, announce=None) -> ContactModel:
    """Train ``members`` networks (seeds ``config.seed`` upwards, ``config.time_limit_s`` shared
    equally), average them (:func:`combine_ensemble`, which re-tunes the decision on
    validation) and add the validation maps to the template bank
    (:func:`add_validation_templates`): the shipped models' recipe.

    ``checkpoint``: member 0's checkpoint file, member k's ``CHECKPOINT.seedS``;
    ``announce(text)`` receives one line per member started."""
    import dataclasses

    trained = []
    for k in range(members):
        member_config = dataclasses.replace(
            config, seed=config.seed + k,
            time_limit_s=config.time_limit_s / members if config.time_limit_s else None)
        if members > 1 and announce is not None:
            announce(f"ensemble member {k + 1}/{members} (seed {member_config.seed})")
        trained.append(train_contact_model(
            train, validation, member_config,
            checkpoint=None if checkpoint is None else checkpoint if k == 0 else f"{checkpoint}.seed{member_config.seed}",
            resume=resume, progress=progress, metadata=metadata))
    model = trained[0] if len(trained) == 1 else combine_ensemble(trained, validation)
    if model.templates is not None:
        add_validation_templates(model, validation)
    return model
