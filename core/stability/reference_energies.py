"""Single-point energies of a data set's structures for the reference phases: in parallel
processes and resumable.

Building the references is one single point per structure of the data (43,385 for MP-20):
about 11 minutes with CHGNet on two cores, an hour or more with the SevenNet models. The
energies are computed in chunks of :data:`CHUNK` structures, each saved in a checkpoint
folder as soon as it is done, so that a build that is stopped (Ctrl-C, a closed laptop, a
time limit) continues where it stopped when it is run again with the same data and
potential; another data file or potential is refused by name rather than mixed in.
Chunks run in ``spawn`` worker processes (:func:`core.runtime.parallel.spawn_pool`, one
thread each) when more than one process is asked for.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, wait
from pathlib import Path

import numpy as np

from core.data.datasets import CrystalDataset
from core.errors import AlphaCrystalError
from core.io.files import atomic_write, atomic_write_text
from core.relax.potentials import check_potential, energies_per_atom
from core.runtime.parallel import spawn_pool, terminate_workers

CHUNK = 800
"""Structures per checkpointed chunk: about 1-3 minutes of single points on one core, so a
stopped build loses at most that much (a SevenNet model is loaded once per chunk, 3-8 s)."""

FINGERPRINT_FILE = "fingerprint.json"


class CheckpointMismatchError(AlphaCrystalError):
    """A checkpoint folder of another build (data, partitions, potential, model version or chunk size)."""


def checkpoint_folder(target: str | Path) -> Path:
    """Where the energies of a build writing ``target`` are kept until it finishes
    (``TARGET.partial`` beside it)."""
    target = Path(target)
    return target.with_name(target.name + ".partial")


class EnergyCheckpoint:
    """The chunks of single-point energies already computed by one build.

    Parameters
    ----------
    folder : Path or None
        The checkpoint folder (made when missing); ``None``: nothing is kept.
    fingerprint : dict
        What the energies depend on (:func:`build_fingerprint`). A folder holding another
        fingerprint is refused (:class:`CheckpointMismatchError`).
    """

    def __init__(self, folder: Path | None, fingerprint: dict) -> None:
        self.folder = folder
        if folder is None:
            return
        stamp = folder / FINGERPRINT_FILE
        if stamp.is_file():
            recorded = json.loads(stamp.read_text())
            if recorded != fingerprint:
                changed = ", ".join(k for k in fingerprint if recorded.get(k) != fingerprint[k])
                raise CheckpointMismatchError(
                    f"{folder} holds the energies of another build ({changed} differ): remove the folder "
                    "to start again, or build with the data and potential it was made for")
        else:
            atomic_write_text(stamp, json.dumps(fingerprint, indent=1))

    def _path(self, label: str, start: int) -> Path:
        assert self.folder is not None
        return self.folder / f"{label}-{start:07d}.npy"

    def load(self, label: str, start: int, size: int) -> np.ndarray | None:
        """The saved energies of chunk ``label``/``start`` (eV/atom), or None when not done."""
        if self.folder is None or not self._path(label, start).is_file():
            return None
        values = np.load(self._path(label, start))
        return values if len(values) == size else None

    def save(self, label: str, start: int, energies: np.ndarray) -> None:
        if self.folder is not None:
            atomic_write(self._path(label, start), lambda fh: np.save(fh, np.asarray(energies, dtype=float)))


def remove_checkpoint(folder: Path) -> None:
    """Delete a checkpoint folder and the chunks in it (the build is saved); nothing if absent."""
    if not folder.is_dir():
        return
    for path in folder.iterdir():
        path.unlink()
    folder.rmdir()


def build_fingerprint(data: CrystalDataset, potential: str, parts: dict[str, CrystalDataset] | None = None) -> dict:
    """What a checkpoint's energies depend on: the data, each partition the chunks are counted in
    (``parts``: name -> its structures; a changed split would shift them), the potential with its
    model and package version, and the chunk size."""
    from importlib.metadata import PackageNotFoundError, version

    model = check_potential(potential)
    try:
        package = f"{model.package} {version(model.package)}"
    except PackageNotFoundError:
        package = model.package
    return {"data": data.content_hash(), "potential": potential, "model": model.label, "package": package,
            "chunk": CHUNK, "partitions": {name: part.content_hash() for name, part in (parts or {}).items()}}


def _chunk_energies(job: tuple[list, str, str]) -> np.ndarray:
    structures, potential, device = job
    return energies_per_atom(structures, potential, device)


def dataset_energies(dataset: CrystalDataset, label: str, potential: str, checkpoint: EnergyCheckpoint,
                     device: str = "cpu", jobs: int = 1,
                     progress: Callable[[str], None] | None = None) -> np.ndarray:
    """Single-point energy per atom (eV/atom; NaN where the potential fails) of every structure
    of ``dataset`` at its stored geometry, chunk by chunk, reusing and extending ``checkpoint``.

    ``label`` names the chunks (a partition); ``jobs`` processes compute them (1: in this one).
    """
    say = progress or (lambda message: None)
    starts = list(range(0, len(dataset), CHUNK))
    out = np.full(len(dataset), np.nan)
    todo = []
    for start in starts:
        stop = min(start + CHUNK, len(dataset))
        saved = checkpoint.load(label, start, stop - start)
        if saved is None:
            todo.append(start)
        else:
            out[start:stop] = saved
    if len(todo) < len(starts):
        say(f"{label}: {len(starts) - len(todo)} of {len(starts)} chunks from the checkpoint")

    def job(start: int) -> tuple[list, str, str]:
        stop = min(start + CHUNK, len(dataset))
        return [dataset.structure(k) for k in range(start, stop)], potential, device

    def keep(start: int, energies: np.ndarray, finished: int) -> None:
        out[start:start + len(energies)] = energies
        checkpoint.save(label, start, energies)
        say(f"{label}: {finished}/{len(starts)} chunks of up to {CHUNK} structures done")

    finished = len(starts) - len(todo)
    if jobs <= 1 or len(todo) <= 1:
        for start in todo:
            finished += 1
            keep(start, _chunk_energies(job(start)), finished)
        return out
    with spawn_pool(min(jobs, len(todo))) as pool:
        running: dict = {}
        try:
            while todo or running:
                while todo and len(running) < 2 * jobs:  # a few chunks in flight, not all in memory
                    start = todo.pop(0)
                    running[pool.submit(_chunk_energies, job(start))] = start
                ready, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in ready:
                    finished += 1
                    keep(running.pop(future), future.result(), finished)
        except BaseException:  # Ctrl-C or a failed chunk: stop the workers now, the saved chunks stay
            terminate_workers(pool)
            raise
    return out
