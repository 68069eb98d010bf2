"""Train contact-map networks of several sizes on a borrowed GPU machine, then assemble
the chosen members into a shipped model here.

The GPU machine has torch but neither pymatgen nor the data set, so the work is split in
three steps:

``export`` (here)
    Featurise the train and validation partitions of the split
    (:func:`core.contact_model.load_contact_data`) into one ``.npz`` per partition.
``train`` (on the GPU machine)
    Train one member per run spec with :func:`core.contact_model.training.train_contact_model`
    (the shipped recipe: soft-Dice term, same-pattern template retrieval, early stopping on
    validation Dice, a time limit), then score it on the validation cells of
    ``--score-atoms`` with the decision re-tuned on them
    (:func:`core.contact_model.training.tune_decision`). Writes ``NAME.member.pt`` (network
    configuration, fp16 weights, training history) and ``NAME.json``.
``assemble`` (here)
    Rebuild the members' shared scaler and template bank from the same training partition,
    average them (:func:`~core.contact_model.training.combine_ensemble`), add the validation
    maps to the bank and save a model file that ``alphacrystal`` loads like any other.

A run spec is ``NAME:B1,F1,B2,F2:SEED[:K]``: 1D blocks and first filters, 2D blocks and
filters, the seed and the number of templates (default 3). ``default`` is 6,32,6,64 and
``paper`` 9,32,9,256 (:func:`core.contact_model.network.preset`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _spec(text: str) -> dict:
    parts = text.split(":")
    if len(parts) not in (3, 4):
        raise argparse.ArgumentTypeError(f"run spec {text!r}: expected NAME:B1,F1,B2,F2:SEED[:K]")
    try:
        sizes, seed = [int(v) for v in parts[1].split(",")], int(parts[2])
        templates = int(parts[3]) if len(parts) == 4 else 3
    except ValueError:
        raise argparse.ArgumentTypeError(f"run spec {text!r}: sizes, seed and K must be integers") from None
    if len(sizes) != 4:
        raise argparse.ArgumentTypeError(f"run spec {text!r}: four sizes B1,F1,B2,F2 expected")
    return {"text": text, "name": parts[0], "sizes": sizes, "seed": seed, "templates": templates}


def cmd_export(args: argparse.Namespace) -> int:
    from core.contact_model import DataSettings, load_contact_data

    data = load_contact_data(DataSettings(path=args.data, max_atoms=args.max_atoms, split_seed=args.split_seed))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name in ("train", "validation"):
        getattr(data, name).save(out / f"{name}.npz")
        print(f"{name}: {len(getattr(data, name))} structures -> {out / f'{name}.npz'}")
    return 0


def _load(folder: str | Path):
    from core.data.featurize import FeaturizedDataset

    return FeaturizedDataset.load(Path(folder) / "train.npz"), FeaturizedDataset.load(Path(folder) / "validation.npz")


def _size_subset(data, atoms: tuple[int, int]):
    n = data.n_atoms
    return data.subset(np.flatnonzero((n >= atoms[0]) & (n <= atoms[1])))


def _stand_ins_for_missing_packages() -> None:
    """On a machine without pymatgen (the GPU image), let ``core`` import: the training path
    never calls pymatgen, spglib or ase, so their imports get inert stand-ins. Only this
    command does this, and only when pymatgen is missing."""
    import importlib.abc
    import importlib.machinery
    import importlib.util
    import types

    if importlib.util.find_spec("pymatgen") is not None:
        return
    missing = {"pymatgen", "spglib", "ase", "monty", "pyxtal", "chgnet", "sevenn", "dask", "distributed", "psygnal"}

    class Inert:
        def __init__(self, *args, **kwargs) -> None: ...
        def __call__(self, *args, **kwargs): return Inert()
        def __getattr__(self, name: str): return Inert()
        def __mro_entries__(self, bases): return (object,)

    class InertModule(types.ModuleType):
        def __getattr__(self, name: str):
            if name.startswith("__"):
                raise AttributeError(name)
            return Inert()

    class Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
        def find_spec(self, name, path=None, target=None):
            return importlib.machinery.ModuleSpec(name, self, is_package=True) if name.split(".")[0] in missing else None

        def create_module(self, spec):
            module = InertModule(spec.name)
            module.__path__ = []
            return module

        def exec_module(self, module) -> None: ...

    sys.meta_path.insert(0, Finder())


def cmd_train(args: argparse.Namespace) -> int:
    _stand_ins_for_missing_packages()
    import torch

    import core.contact_model.training as training
    from core.contact_model.network import ContactNetConfig

    torch.set_num_threads(args.threads)
    spec = args.run
    b1, f1, b2, f2 = spec["sizes"]
    train, validation = _load(args.data)
    config = training.TrainingConfig(
        preset=spec["name"], templates=spec["templates"], same_pattern=True, dice_loss=1.0,
        seed=spec["seed"], time_limit_s=args.time_limit_s, epochs=args.epochs, device="auto")
    saved = training.preset, training.z_prior_from
    # the run's own size instead of a named preset; the Z counts need pymatgen's Composition
    # and are recomputed by ``assemble`` (both restored afterwards: a test runs this in-process)
    training.preset = lambda name, c_in, t=0: ContactNetConfig(c_in, b1, f1, b2, f2, template_channels=t)
    training.z_prior_from = lambda formulas, n_atoms: {}
    try:
        model = training.train_contact_model(
            train, validation, config,
            progress=lambda info: print(spec["name"], {k: (round(v, 4) if isinstance(v, float) else v)
                                                       for k, v in info.items()}, flush=True))
    finally:
        training.preset, training.z_prior_from = saved
    atoms = tuple(int(v) for v in args.score_atoms.split("-"))
    scored = training.tune_decision(model, _size_subset(validation, atoms))
    history = model.metadata.get("history", [])
    record = {"run": spec["text"], "config": model.net.config.to_dict(),
              "parameters": sum(p.numel() for p in model.net.parameters()),
              "epochs_run": model.metadata["epochs_run"], "best_epoch": model.metadata["best_epoch"],
              "stopped": model.metadata["stopped"], "training_seconds": model.metadata["training_seconds"],
              "val_dice_at_0_5_all_sizes": model.metadata["val_dice_at_0_5"],
              f"validation_{args.score_atoms}": scored, "device": torch.cuda.get_device_name(0)
              if torch.cuda.is_available() else "cpu"}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.save({"config": model.net.config.to_dict(),
                "state_dict": {k: v.half() if v.is_floating_point() else v for k, v in model.net.state_dict().items()},
                "metadata": {**model.metadata, "templates": spec["templates"]}, "record": record},
               out / f"{spec['name']}.member.pt")
    (out / f"{spec['name']}.json").write_text(json.dumps({**record, "history": history}, indent=1))
    print(json.dumps(record), flush=True)
    return 0


def assemble(members: list[str], train, validation, metadata: dict | None = None):
    """A :class:`~core.contact_model.model.ContactModel` from member files written by ``train``
    on these very partitions: the scaler and template bank rebuilt from ``train`` as training
    built them, the members averaged with their decision tuned on ``validation``, then the
    validation maps added to the bank (the shipped recipe)."""
    import torch

    from core.contact_model.model import ContactModel, _load_net, z_prior_from
    from core.contact_model.templates import TemplateBank
    from core.contact_model.training import (
        add_validation_templates,
        combine_ensemble,
        tune_decision,
    )
    from core.crystal.elements import FeatureScaler, raw_features

    scaler = FeatureScaler().fit(raw_features(train.numbers[train.mask]))
    models = []
    for path in members:
        saved = torch.load(path, map_location="cpu", weights_only=False)
        k = int(saved["metadata"]["templates"])
        net = _load_net(saved["config"], {key: v.float() if v.is_floating_point() else v
                                         for key, v in saved["state_dict"].items()})
        meta = {key: v for key, v in saved["metadata"].items() if key != "templates"} | dict(metadata or {})
        models.append(ContactModel(net=net, scaler=scaler, max_atoms=train.max_atoms,
                                   z_prior=z_prior_from(train.formulas, train.n_atoms), metadata=meta,
                                   train_formulas=sorted(set(train.formulas.tolist())),
                                   templates=TemplateBank(train.numbers, train.contact, scaler, k, True)))
    if len({m.templates.k for m in models}) > 1:
        raise ValueError("members with different numbers of templates cannot share one bank")
    model = models[0] if len(models) == 1 else combine_ensemble(models, validation)
    if len(models) == 1:
        model.metadata.update(tune_decision(model, validation))
    return add_validation_templates(model, validation)


def cmd_assemble(args: argparse.Namespace) -> int:
    import torch

    from core.contact_model import DataSettings, load_contact_data

    settings = DataSettings(path=args.data, max_atoms=args.max_atoms, split_seed=args.split_seed)
    data = load_contact_data(settings)
    model = assemble(args.members, data.train, data.validation,
                     {"data": settings.to_dict(), "command": args.command, "torch": str(torch.__version__)})
    print(f"validation, all sizes: {model.metadata['val_dice_final']:.4f} "
          f"({100 * model.metadata['val_exact_fraction_final']:.1f}% exact), threshold {model.threshold}, "
          f"snap {model.snap_similarity}")
    print(f"wrote {model.save(args.out)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command_name", required=True)
    p = sub.add_parser("export", help="featurise train and validation to .npz (here)")
    p.add_argument("--data", required=True)
    p.add_argument("--max-atoms", type=int, default=20)
    p.add_argument("--split-seed", type=int, default=0)
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_export)
    p = sub.add_parser("train", help="train one member (on the GPU machine)")
    p.add_argument("--data", required=True, help="folder written by export")
    p.add_argument("--run", required=True, type=_spec, help="NAME:B1,F1,B2,F2:SEED[:K]")
    p.add_argument("--time-limit-s", type=float, default=300.0)
    p.add_argument("--epochs", type=int, default=200, help="at most this many epochs (early stopping still applies)")
    p.add_argument("--score-atoms", default="13-20")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_train)
    p = sub.add_parser("assemble", help="combine members into a model file (here)")
    p.add_argument("--data", required=True)
    p.add_argument("--max-atoms", type=int, default=20)
    p.add_argument("--split-seed", type=int, default=0)
    p.add_argument("--members", nargs="+", required=True)
    p.add_argument("--command", default="", help="the command line to record in the model")
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_assemble)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
