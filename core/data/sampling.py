"""The evaluation sampling protocol: which held-out structures an end-to-end evaluation draws.

One rule for the ``alphacrystal evaluate`` commands and every benchmark, so a figure in
docs/ can be re-drawn from its recorded :meth:`EvaluationSample.record`:

* up to 12 atoms, a held-out partition (``test`` or ``validation``) of the paper-scope
  split the models were trained on (no all-metal compounds, lowest-energy polymorph per
  formula); above, the full-range split of :mod:`core.data.formula_split` (all
  compositions, lowest-energy polymorph), whose held-out formulas include the
  paper-scope ones; ``all``: every structure of the file;
* then the atom range and the kind of composition, minus structures drawn by earlier
  evaluations (their JSON outputs), and a seeded draw (:func:`seeded_sample`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.data.datasets import CrystalDataset, load_dataset
from core.data.formula_split import (
    PAPER_MAX_ATOMS,
    DataSettings,
    full_range_split,
    seeded_sample,
    split_dataset,
)
from core.errors import AlphaCrystalError

SPLITS = ("test", "validation", "all")
COMPOSITIONS = ("any", "with-nonmetal", "all-metal")


@dataclass(frozen=True)
class EvaluationSample:
    """A seeded sample of held-out structures.

    Attributes
    ----------
    data : str
        The data file (MP-20-style CSV) or folder of CIFs.
    split : str
        ``test``, ``validation`` or ``all``.
    max_atoms, min_atoms : int
        Atoms per cell, inclusive.
    compositions : str
        ``any``, ``with-nonmetal`` or ``all-metal``.
    n : int
        Structures to draw (0: all of the pool).
    seed : int
    exclude_from : tuple of str
        Evaluation JSON outputs whose structures are not drawn again.
    """

    data: str
    max_atoms: int
    split: str = "test"
    min_atoms: int = 1
    compositions: str = "any"
    n: int = 0
    seed: int = 0
    exclude_from: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        object.__setattr__(self, "exclude_from", tuple(self.exclude_from))
        if self.split not in SPLITS:
            raise AlphaCrystalError(f"unknown split {self.split!r}: choose from {', '.join(SPLITS)}")
        if self.compositions not in COMPOSITIONS:
            raise AlphaCrystalError(f"unknown compositions {self.compositions!r}: choose from {', '.join(COMPOSITIONS)}")
        if self.min_atoms > self.max_atoms:
            raise AlphaCrystalError(f"a sample of at least {self.min_atoms} atoms and at most {self.max_atoms}: "
                                    "the minimum is above the maximum")

    def pool(self) -> CrystalDataset:
        """The structures the sample is drawn from (before exclusions and the draw)."""
        if self.split != "all" and self.max_atoms <= PAPER_MAX_ATOMS:
            dataset = getattr(split_dataset(DataSettings(path=str(self.data), max_atoms=self.max_atoms)), self.split)
        elif self.split != "all":
            dataset = getattr(full_range_split(self.data, self.max_atoms), self.split).filter(
                lowest_energy_per_formula=True)
        else:
            dataset = load_dataset(self.data).filter(max_atoms=self.max_atoms)
        dataset = dataset.filter(min_atoms=self.min_atoms)
        if self.compositions != "any":
            all_metal = dataset.all_metal()
            dataset = dataset.subset(np.flatnonzero(all_metal if self.compositions == "all-metal" else ~all_metal))
        return dataset

    def draw(self) -> list[tuple[str, object]]:
        """(material id, pymatgen Structure) of the sample, in the pool's order."""
        dataset = self.pool()
        if len(dataset) == 0:
            paper = (" (up to 12 atoms the held-out split is the paper's: no all-metal compounds)"
                     if self.compositions == "all-metal" and self.max_atoms <= PAPER_MAX_ATOMS
                     and self.split != "all" else "")
            raise AlphaCrystalError(f"{self.data}: no structure of {self.min_atoms}-{self.max_atoms} atoms with "
                                    f"compositions '{self.compositions}' in the {self.split} split{paper}")
        excluded = evaluated_ids(self.exclude_from)
        rows = np.flatnonzero(~np.isin(np.asarray(dataset.material_ids, dtype=str), sorted(excluded))) \
            if excluded else np.arange(len(dataset))
        if len(rows) == 0:
            raise AlphaCrystalError(f"{self.data}: every structure of the sample's pool is in --exclude-from")
        # a further sample draws from its own random stream: with the first sample's seed
        # numpy's draw lands next to the first sample's picks in the pool's row order
        idx = seeded_sample(rows, self.n, self.seed, stream=len(excluded)) if self.n else rows
        return [(str(dataset.material_ids[k]), dataset.structure(int(k))) for k in idx]

    def record(self, drawn: int) -> dict:
        """Where an evaluation's sample came from (written with its figures; evaluations
        merged into one must have drawn from the same pool)."""
        return {"data": str(self.data), "split": self.split, "max_atoms": self.max_atoms,
                "min_atoms": self.min_atoms, "compositions": self.compositions, "seed": self.seed, "n": drawn,
                "exclude_from": list(self.exclude_from)}


def evaluated_ids(paths: Sequence[str]) -> set[str]:
    """Material ids of the per-structure rows of earlier evaluation JSON files
    (``structures``: a list of rows, or one list per protocol; ``skipped`` rows too)."""
    ids: set[str] = set()
    for path in paths:
        try:
            text = Path(path).read_text()
        except OSError as exc:
            raise AlphaCrystalError(f"{path}: cannot be read ({exc.strerror or exc})") from None
        try:
            payload = json.loads(text)
            rows = payload["structures"]
            lists = list(rows.values()) if isinstance(rows, dict) else [rows]
            lists.append(payload.get("skipped", []))  # drawn before, even if it could not run
            ids.update(str(row["id"]) for part in lists for row in part)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise AlphaCrystalError(f"{path}: not an evaluation's JSON output with per-structure rows "
                                    f"({type(exc).__name__}: {exc})") from None
    return ids
