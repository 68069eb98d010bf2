"""``alphacrystal train contact-map`` and ``train candidates``: the shipped models' training commands.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from core.cli.options import (
    Number,
    dropout,
    json_output,
    learning_rate,
    non_negative_float,
    output_file,
    positive,
    positive_float,
    processes,
    seed,
    write_json_option,
)
from core.contact_model.presets import PRESETS
from core.crystal.composition import PAPER_MAX_ATOMS
from core.errors import AlphaCrystalError
from core.runtime.terminal import format_seconds


def cmd_train_candidates(args: argparse.Namespace) -> int:
    import shlex

    import torch

    from core.candidates.data import load_candidate_data
    from core.candidates.training import CandidateTrainingConfig, train_candidate_model
    from core.contact_model import DataSettings

    if args.threads:
        torch.set_num_threads(args.threads)
    settings = DataSettings(path=args.data, max_atoms=args.max_atoms, split_seed=args.split_seed)
    print(f"loading {args.data} and finding space groups (cached after the first run) ...", flush=True)
    data = load_candidate_data(settings)
    print(f"train {len(data.train)}  validation {len(data.validation)}  test {len(data.test)} structures "
          f"(split by reduced formula, seed {args.split_seed})", flush=True)
    _enough_to_train(data)
    config = CandidateTrainingConfig(sg_hidden=args.sg_hidden, sg_dropout=args.sg_dropout,
                                     lattice_hidden=args.lattice_hidden, lattice_dropout=args.lattice_dropout,
                                     epochs=args.epochs,
                                     learning_rate=args.lr, patience=args.patience, ensemble=args.ensemble,
                                     seed=args.seed, max_atoms=args.max_atoms)

    def progress(info: dict) -> None:
        if info["epoch"] % 10 == 0:
            print(f"{info['model']:<18} epoch {info['epoch']:>3}  loss {info['train_loss']:.4f}  "
                  f"val {info['val_loss']:.4f} (best {info['best_val_loss']:.4f})  "
                  f"{format_seconds(info['elapsed_s'])}", flush=True)

    metadata = {"data": settings.to_dict(), "torch": str(torch.__version__),
                "command": "alphacrystal " + " ".join(shlex.quote(a) for a in sys.argv[1:])}
    model = train_candidate_model(data, config, progress=progress, metadata=metadata)
    path = model.save(args.out)
    print(f"wrote {path} ({format_seconds(model.metadata['training_seconds'])} of training)")
    write_json_option(args.json, {k: v for k, v in model.metadata.items()} | {"model": str(path)})
    return 0

def _enough_to_train(data) -> None:
    """Training needs structures in both the training and the validation partition (a tiny data
    file split by formula left one and none: a torch traceback)."""
    if len(data.train) == 0 or len(data.validation) == 0:
        raise AlphaCrystalError(f"the split by reduced formula left {len(data.train)} training and "
                                f"{len(data.validation)} validation structures; training needs both: give a "
                                "larger data file (the split keeps about 80 % / 10 % / 10 % of the formulas)")


def cmd_train_contact_map(args: argparse.Namespace) -> int:
    import shlex

    import torch

    from core.contact_model import (
        DataSettings,
        TrainingConfig,
        load_contact_data,
    )
    from core.contact_model.training import train_contact_ensemble

    if args.threads:
        torch.set_num_threads(args.threads)
    settings = DataSettings(path=args.data, max_atoms=args.max_atoms, split_seed=args.split_seed)
    print(f"loading and featurising {args.data} (cached after the first run) ...", flush=True)
    data = load_contact_data(settings)
    print(f"train {len(data.train)}  validation {len(data.validation)}  test {len(data.test)} structures "
          f"(split by reduced formula, seed {args.split_seed})", flush=True)
    _enough_to_train(data)
    config = TrainingConfig(
        preset=args.preset, epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.lr,
        patience=args.patience, seed=args.seed, matched_loss=args.matched_loss, device=args.device,
        templates=args.templates, same_pattern=args.same_pattern, dice_loss=args.dice_loss,
        time_limit_s=args.time_limit_min * 60 if args.time_limit_min else None,
    )

    def progress(info: dict) -> None:
        if info.get("stopped"):
            snap = info["snap_similarity"]
            print(f"stopped ({info['stopped']}) after epoch {info['epoch']}: best validation Dice "
                  f"{info['best_val_dice']:.4f}; threshold {info['threshold']:.2f} gives "
                  f"{info['val_dice_at_threshold']:.4f}; template snapping "
                  f"{'off' if snap is None else f'at map Dice >= {snap:.2f}'} gives {info['val_dice_final']:.4f} "
                  f"({100 * info['val_exact_fraction_final']:.1f}% exact)", flush=True)
            return
        print(f"epoch {info['epoch']:>3}/{info['epochs']}  loss {info['train_loss']:.4f}  "
              f"val Dice {info['val_dice']:.4f} (best {info['best_val_dice']:.4f})  "
              f"elapsed {format_seconds(info['elapsed_s'])}  left <= {format_seconds(info['eta_s'])}", flush=True)

    checkpoint = args.checkpoint or f"{args.out}.ckpt"
    if args.resume and not Path(checkpoint).is_file():
        raise AlphaCrystalError(f"--resume: no checkpoint {checkpoint} to continue from (without --resume the "
                                "training starts afresh)")
    metadata = {"data": settings.to_dict(), "preset": args.preset,
                "command": "alphacrystal " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
                "torch": str(torch.__version__)}
    model = train_contact_ensemble(data.train, data.validation, config, args.ensemble, checkpoint, args.resume,
                                   progress, metadata, announce=lambda text: print(text, flush=True))
    if args.ensemble > 1:
        print(f"ensemble of {args.ensemble}: threshold {model.threshold:.2f}, validation Dice "
              f"{model.metadata['val_dice_final']:.4f} ({100 * model.metadata['val_exact_fraction_final']:.1f}% exact)")
    if model.templates is not None:
        print(f"template bank: {len(model.templates.numbers)} maps (training + validation)", flush=True)
    path = model.save(args.out)
    print(f"wrote {path}")
    write_json_option(args.json, {k: v for k, v in model.metadata.items() if k != "history"} | {"model": str(path)})
    return 0


def register(groups: dict[str, argparse._SubParsersAction]) -> None:
    """Add this module's commands to the parser groups (``sub``: top level; ``train``, ``evaluate``)."""
    train, = groups["train"],
    p = train.add_parser("contact-map", help="train the contact-map network")
    p.add_argument("--data", required=True, help="MP-20-style CSV(.gz) or folder of CIFs")
    p.add_argument("--out", default="contact_model.pt", type=output_file, help="model file to write")
    p.add_argument("--preset", default="default", choices=PRESETS,
                   help="network size and schedule: default, paper (as published) or tiny (tests)")
    p.add_argument("--epochs", type=positive, default=200, help="maximum training epochs (default 200)")
    p.add_argument("--time-limit-min", type=positive_float, default=None, help="stop before this many minutes")
    p.add_argument("--batch-size", type=Number(int, 1, 65536), default=64, help="maps per optimiser step (default 64)")
    p.add_argument("--lr", type=learning_rate, default=1e-3, help="Adam learning rate (default 1e-3)")
    p.add_argument("--patience", type=positive, default=20, help="early-stopping patience in epochs")
    p.add_argument("--seed", type=seed, default=0, help="seed of weights and batch order")
    p.add_argument("--split-seed", type=seed, default=0, help="seed of the split by reduced formula")
    p.add_argument("--max-atoms", type=positive, default=PAPER_MAX_ATOMS, help="L: largest primitive cell")
    p.add_argument("--matched-loss", action="store_true",
                   help="align targets to predictions by same-element permutation before the loss")
    p.add_argument("--templates", type=Number(int, 0, 100), default=0, metavar="K",
                   help="feed the maps of the K most similar training compositions to the network (0: off)")
    p.add_argument("--same-pattern", action="store_true",
                   help="retrieve templates with the same stoichiometry pattern first (with --templates)")
    p.add_argument("--dice-loss", type=non_negative_float, default=0.0, metavar="W",
                   help="add W x (1 - soft Dice) to the cross-entropy (0: off, the paper's loss)")
    p.add_argument("--ensemble", type=positive, default=1, metavar="N",
                   help="train N models (seeds SEED..SEED+N-1, time limit shared) and average them")
    p.add_argument("--device", default="auto", help="auto (CUDA if present), cpu or cuda")
    p.add_argument("--threads", type=processes, default=None, help="CPU threads for torch")
    p.add_argument("--checkpoint", type=output_file, help="checkpoint file (default OUT.ckpt)")
    p.add_argument("--resume", action="store_true", help="continue from the checkpoint")
    p.add_argument("--json", metavar="PATH", type=json_output, help="write the training summary as JSON")
    p.set_defaults(func=cmd_train_contact_map)
    p = train.add_parser("candidates", help="train the space-group/Z and lattice predictors")
    p.add_argument("--data", required=True, help="MP-20-style CSV(.gz) or folder of CIFs")
    p.add_argument("--out", default="candidate_model.pt", type=output_file, help="model file to write")
    p.add_argument("--epochs", type=positive, default=200, help="maximum training epochs (default 200)")
    p.add_argument("--sg-hidden", type=Number(int, 1, 65536), default=256, help="hidden width of the space-group network")
    p.add_argument("--sg-dropout", type=dropout, default=0.3, help="dropout of the space-group network (default 0.3)")
    p.add_argument("--lattice-hidden", type=Number(int, 1, 65536), default=512, help="hidden width of the lattice network")
    p.add_argument("--lattice-dropout", type=dropout, default=0.2, help="dropout of the lattice network (default 0.2)")
    p.add_argument("--lr", type=learning_rate, default=1e-3, help="Adam learning rate")
    p.add_argument("--patience", type=positive, default=20, help="early-stopping patience in epochs")
    p.add_argument("--ensemble", type=positive, default=3, help="networks per predictor (seeds SEED..SEED+N-1)")
    p.add_argument("--seed", type=seed, default=0, help="seed of weights and batch order (default 0)")
    p.add_argument("--split-seed", type=seed, default=0, help="seed of the split by reduced formula")
    p.add_argument("--max-atoms", type=positive, default=PAPER_MAX_ATOMS, help="largest primitive cell")
    p.add_argument("--threads", type=processes, default=None, help="CPU threads for torch")
    p.add_argument("--json", metavar="PATH", type=json_output, help="write the training summary as JSON")
    p.set_defaults(func=cmd_train_candidates)
