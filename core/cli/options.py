"""Shared option types, limits and option groups of the ``alphacrystal`` commands: every numeric
option has a :class:`Number` type naming its range, every output path is checked before any work.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

import numpy as np

from core.crystal.composition import MP20_MAX_ATOMS
from core.data.sampling import COMPOSITIONS
from core.errors import AlphaCrystalError, AlphaCrystalWarning
from core.predict.ranking import NEAR_TIE_EV
from core.predict.settings import (
    COUNT_RANGES,
    LONG_GA_BUDGET,
    MAGMOM_SOURCES,
    MAX_COUNT,
    MAX_STRAIN,
    OTHER_RANGES,
    RANKINGS,
    SECOND_TOP,
    SHORT_GA_BUDGET,
    SHORT_GA_MAX_ATOMS,
    SYMMETRY_PRIOR,
    PredictionSettings,
    cli_scale,
)
from core.relax.potentials import POTENTIALS
from core.stability.hull import DEFAULT_EHULL_THRESHOLD_EV, FRAME_FOR_POTENTIAL
from core.stability.hull import DEFAULT_FRAME as DEFAULT_STABILITY_FRAME
from core.stability.hull import FRAMES as STABILITY_FRAMES
from core.templates.retrieval import SCORERS

MAX_SEED = 2**32 - 1
"""numpy's and torch's seeds are unsigned 32-bit numbers here."""

class Number:
    """argparse type: a whole (``int``) or real (finite ``float``) number from ``low`` to
    ``high`` (None: no bound; ``low_open``/``high_open``: the bound itself excluded).

    A bad value is a usage error naming the option and the allowed range (argparse adds
    the option: ``argument --strain: -1 is not allowed: give a number from 0 to 0.5``).
    Every numeric option of the CLI has one (tests/test_fuzzing.py finds them by this class).
    """

    def __init__(self, kind: type, low: float | None = None, high: float | None = None, *,
                 low_open: bool = False, high_open: bool = False, note: str = "") -> None:
        self.kind, self.low, self.high = kind, low, high
        self.low_open, self.high_open, self.note = low_open, high_open, note
        self.__name__ = "whole number" if kind is int else "number"  # argparse's name of the type

    def describe(self) -> str:
        """``a whole number of 1 or more``, ``a number from 0 to 0.5``, ..."""
        what = "a whole number" if self.kind is int else "a number"
        low, high = (None if v is None else str(v) if self.kind is int else f"{v:g}" for v in (self.low, self.high))
        low = f"above {low}" if low is not None and self.low_open else low
        high = f"below {high}" if high is not None and self.high_open else high
        if low is None and high is None:
            text = what
        elif high is None:
            text = f"{what} {low}" if self.low_open else f"{what} of {low} or more"
        elif low is None:
            text = f"{what} {high}" if self.high_open else f"{what} of {high} or less"
        elif self.low_open or self.high_open:
            text = f"{what} {low if self.low_open else 'of ' + low + ' or more'} and " \
                   f"{high if self.high_open else high + ' or less'}"
        else:
            text = f"{what} from {low} to {high}"
        return text + (f" ({self.note})" if self.note else "")

    def __call__(self, text: str) -> int | float:
        try:
            value = self.kind(text.strip())
        except (ValueError, OverflowError):
            raise argparse.ArgumentTypeError(f"{text!r} is not allowed: give {self.describe()}") from None
        if self.kind is float and not np.isfinite(value):
            raise argparse.ArgumentTypeError(f"{text.strip()} is not allowed: give {self.describe()}")
        below = self.low is not None and (value <= self.low if self.low_open else value < self.low)
        above = self.high is not None and (value >= self.high if self.high_open else value > self.high)
        if below or above:
            raise argparse.ArgumentTypeError(f"{text.strip()} is not allowed: give {self.describe()}")
        return value

    def __repr__(self) -> str:
        return f"Number({self.describe()})"

positive = Number(int, 1, MAX_COUNT)
"""argparse type: a whole number >= 1 (argparse names the option in its error)."""

non_negative = Number(int, 0, MAX_COUNT)

processes = Number(int, *COUNT_RANGES["jobs"])


def local_processes(text: str) -> int:
    """argparse type of ``--jobs`` (worker processes on this machine): :data:`processes`, refused when
    they would not fit its memory (:func:`core.runtime.parallel.local_processes_problem`; the command
    warns when they outnumber the cores: :func:`warn_about_processes`)."""
    from core.runtime.parallel import local_processes_problem

    jobs = int(processes(text))
    error, _ = local_processes_problem(jobs)
    if error:
        raise argparse.ArgumentTypeError(error)
    return jobs


def warn_about_processes(args: argparse.Namespace) -> None:
    """Warn when ``--jobs`` asks for more worker processes than this machine has cores."""
    from core.runtime.parallel import local_processes_problem

    jobs = getattr(args, "jobs", None)
    note = local_processes_problem(jobs)[1] if isinstance(jobs, int) else None
    if note:
        warnings.warn(AlphaCrystalWarning(f"--jobs {jobs}: {note}"), stacklevel=2)

seed = Number(int, 0, MAX_SEED)

def setting_number(setting: str, kind: type = float, note: str = "") -> Number:
    """argparse type of the option of ``setting`` over its one range (:data:`OTHER_RANGES`), in the
    option's unit (:func:`core.predict.settings.cli_scale`: meV/atom for a setting in eV/atom)."""
    low, high = (kind(bound * cli_scale(setting)) for bound in OTHER_RANGES[setting])
    return Number(kind, low, high, note=note)

top_spacegroups = setting_number("top_k", int, note="there are 230 space groups")

population = Number(int, *COUNT_RANGES["population"],
                    note="the GA keeps 2 elite individuals and breeds at least 2 children")

ga_runs = Number(int, *COUNT_RANGES["restarts"])

escalate_to = Number(int, *COUNT_RANGES["escalate_to"], note="0: off")

strain = setting_number("max_strain", note="a fraction of the lattice lengths; 0: fixed")

positive_float = Number(float, 0.0, low_open=True)

non_negative_float = Number(float, 0.0)

dropout = Number(float, 0.0, 1.0, high_open=True)

learning_rate = Number(float, 0.0, 1.0, low_open=True)

def spacegroup_number(text: str) -> int:
    """argparse type: a space group by its international number (1-230) or its Hermann-Mauguin
    symbol (:func:`core.crystal.symmetry.spacegroup_from_text`), as its number."""
    from core.crystal.symmetry import spacegroup_from_text

    try:
        return spacegroup_from_text(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None

def z_or_auto(text: str) -> int | None:
    """argparse type of ``--z``: ``auto`` (None) or formula units, a whole number >= 1."""
    if text.strip().lower() == "auto":
        return None
    try:
        return int(positive(text))
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"{text.strip()} is not allowed: give auto or {positive.describe()}") from None

def tolerance(text: str) -> float:
    """argparse type of ``--tolerance``: a bond window half-width in Å, 0 to
    :data:`core.contact.contact_map.MAX_TOLERANCE`."""
    from core.contact.contact_map import MAX_TOLERANCE

    return Number(float, 0.0, MAX_TOLERANCE, note="Å")(text)

def atom_range(text: str) -> str:
    """argparse type of ``--atoms``: LOW-HIGH or HIGH, checked at parse time by
    :func:`parse_atom_range` (which the commands call for the numbers)."""
    try:
        parse_atom_range(text)
    except AlphaCrystalError as exc:  # argparse names the option itself
        raise argparse.ArgumentTypeError(str(exc).removeprefix("--atoms ")) from None
    return text

def _checked(check: Callable[[str], object]) -> Callable[[str], str]:
    """An argparse type from a ``core.io`` check (its error becomes a usage error)."""

    def convert(text: str) -> str:
        try:
            check(text)
        except AlphaCrystalError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
        return text

    convert.__name__ = check.__name__
    return convert

def output_file(text: str) -> str:
    """argparse type of ``--json``, ``--plot`` and other files written: checked before any
    work (:func:`core.io.outputs.check_output_file`: not a folder, in a writable folder that exists)."""
    from core.io.outputs import check_output_file

    return _checked(check_output_file)(text)

def json_output(text: str) -> str:
    """argparse type of ``--json``: :func:`output_file`, and an existing file is replaced only
    when it is a JSON document (never a structure file given by mistake)."""
    from core.io.outputs import check_output_file

    return _checked(lambda path: check_output_file(path, "json"))(text)

def plot_output(text: str) -> str:
    """argparse type of ``--plot``: :func:`output_file` with a suffix matplotlib writes (.png, .pdf,
    .svg), replacing only an image of that format."""
    from core.io.outputs import PLOT_MAGIC, check_output_file

    if Path(text).suffix.lower() not in PLOT_MAGIC:
        raise argparse.ArgumentTypeError(f"{text}: a plot is written as {', '.join(PLOT_MAGIC)}; give one of "
                                         "these suffixes")
    return _checked(lambda path: check_output_file(path, "plot"))(text)

def output_folder(text: str) -> str:
    """argparse type of ``--out`` folders: not a file, under a writable folder
    (:func:`core.io.outputs.check_output_folder`)."""
    from core.io.outputs import check_output_folder

    return _checked(check_output_folder)(text)

def export_formats(text: str) -> tuple[str, ...]:
    """argparse type of ``export --formats``: known formats, at least one."""
    from core.io.write import check_export_formats

    try:
        return check_export_formats(text.split(","))
    except AlphaCrystalError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None

def file_stem(text: str) -> str:
    """argparse type of ``export --stem``: a plain file name (:func:`core.io.outputs.check_file_stem`)."""
    from core.io.outputs import check_file_stem

    return _checked(check_file_stem)(text)

def parse_atom_range(text: str) -> tuple[int, int]:
    """``13-20`` -> (13, 20); ``12`` -> (1, 12)."""
    parts = text.split("-")
    try:
        low, high = (1, int(parts[0])) if len(parts) == 1 else (int(parts[0]), int(parts[1]))
    except ValueError:
        raise AlphaCrystalError(f"--atoms takes LOW-HIGH or HIGH, e.g. 13-20, not {text!r}") from None
    if len(parts) > 2 or not 1 <= low <= high:
        raise AlphaCrystalError(f"--atoms {text}: need 1 <= LOW <= HIGH")
    if high > MP20_MAX_ATOMS:  # no model, template or data row holds a larger cell
        raise AlphaCrystalError(f"--atoms {text}: the program's cells stop at {MP20_MAX_ATOMS} atoms")
    return low, high

def write_json_option(path: str | None, payload: dict) -> None:
    """Write a command's ``--json`` report, stamped ``written_by`` (:data:`core.io.outputs.REPORT_STAMP`):
    a later ``--json`` replaces only a file that carries the stamp."""
    if path:
        from core import __version__
        from core.io.files import write_json
        from core.io.outputs import REPORT_STAMP

        write_json(path, {REPORT_STAMP: f"alphacrystal {__version__}", **_finite(payload)})


def _finite(value):
    """``value`` with every NaN or infinity (a mean over no structures) as None: JSON has no NaN, and
    Python's ``NaN`` token is rejected by other readers (JavaScript's JSON.parse)."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if isinstance(value, (float, np.floating)) and not np.isfinite(value):
        return None
    return value


class Parser(argparse.ArgumentParser):
    """argparse with the project's one-line errors: ``alphacrystal: error: predict: argument
    --population: 2 is not allowed: ... (see alphacrystal predict --help)``, exit code 2."""

    def error(self, message: str) -> NoReturn:
        command = self.prog.removeprefix("alphacrystal").strip()
        self.exit(2, f"alphacrystal: error: {command + ': ' if command else ''}{message} "
                     f"(see {self.prog} --help)\n")

def add_rule_argument(p: argparse.ArgumentParser) -> None:
    """``--rule``: the contact rule of maps computed from structures (core.contact.contact_rule)."""
    from core.contact.contact_rule import RULES

    p.add_argument("--rule", choices=RULES, default=None,
                   help="contact rule of a structure's map: paper (default; metal-metal pairs never in contact) "
                        "or metallic (metal-metal pairs of all-metal cells within the metallic-radius sum "
                        "± tolerance)")

def add_size_filter_arguments(p: argparse.ArgumentParser) -> None:
    """``--min-atoms`` and ``--compositions``: which held-out structures a sample draws from."""
    p.add_argument("--min-atoms", type=positive, default=1,
                   help="smallest primitive cell sampled (default 1; e.g. 13 with --max-atoms 20 for 13-20 atoms)")
    p.add_argument("--compositions", choices=COMPOSITIONS, default="any",
                   help="which compositions are sampled: any (default), only those with a non-metal, or only "
                        "all-metal ones (up to 12 atoms the held-out split is the paper's: with a non-metal)")
    p.add_argument("--exclude-from", nargs="+", metavar="JSON", default=[],
                   help="leave out the structures of these earlier evaluations (their JSON output) before "
                        "sampling: a further sample disjoint from theirs, to be merged with them")

DEFAULT_TOP_K = PredictionSettings.top_k
"""Space-group candidates per formula unless told (``--top-k``)."""
RECONSTRUCT_ESCALATE = 20
"""``reconstruct``'s default for ``--escalate``: one target, so more assignments are affordable
than in ``predict`` (where it is off)."""


def add_ga_arguments(p: argparse.ArgumentParser) -> None:
    from core.reconstruction.loop import LoopSettings

    d = LoopSettings()
    p.add_argument("--assignments", type=ga_runs, default=d.n_assignments,
                   help=f"Wyckoff assignments tried, best prior first (default {d.n_assignments})")
    p.add_argument("--restarts", type=ga_runs, default=d.restarts,
                   help=f"GA runs per assignment with different seeds (default {d.restarts})")
    p.add_argument("--escalate", type=escalate_to, default=RECONSTRUCT_ESCALATE, metavar="N",
                   help="when every run ends below fitness 1, go on with the assignments ranked up to N "
                        f"(default {RECONSTRUCT_ESCALATE}; 0: off)")
    p.add_argument("--population", type=population, default=d.ga.population,
                   help=f"GA population (default {d.ga.population}, as in the paper; {population.describe()})")
    p.add_argument("--generations", type=positive, default=d.ga.generations,
                   help=f"maximum generations (default {d.ga.generations}, as in the paper)")
    p.add_argument("--patience", type=non_negative, default=d.ga.patience,
                   help=f"generations to keep refining bond lengths after fitness 1 (default {d.ga.patience})")
    p.add_argument("--jobs", type=local_processes, default=None, help="worker processes (default: one per core this process may use)")
    p.add_argument("--seed", type=seed, default=0, help="seed of the GA runs (default 0; same seed, same result)")

def add_prediction_options(p: argparse.ArgumentParser) -> None:
    """Options of ``predict`` that ``evaluate prediction`` shares (read by ``predict_settings``);
    the defaults they name are :class:`PredictionSettings`' own."""
    d, fast = PredictionSettings(), PredictionSettings.fast()
    p.add_argument("--no-relax", action="store_true",
                   help="skip relaxation: the routes have no common energy scale, so their own orders (CMCrystal: "
                        "fitness, then space-group probability; templates: substitution score) are interleaved, "
                        "template first; no E_hull")
    p.add_argument("--device", default=None, metavar="auto|cpu|cuda[:N]",
                   help="where the contact-map network and the potential run (default auto: CUDA when present)")
    p.add_argument("--magmom", choices=MAGMOM_SOURCES, default=None,
                   help="INCAR MAGMOM of the VASP inputs: input-set (default: the Materials Project set's value "
                        "per element, e.g. 5 for Mn, 0.6 otherwise) or potential (CHGNet's predicted moments)")
    p.add_argument("--potential", choices=list(POTENTIALS), default=None,
                   help="interatomic potential that relaxes and ranks (default chgnet; "
                        + "; ".join(f"{k}: {v.label}" for k, v in POTENTIALS.items() if k != "chgnet")
                        + "; all offline; see docs/potentials.md)")
    p.add_argument("--fast", action="store_true",
                   help=f"quick preset: {fast.n_assignments} assignments, population {fast.population}, "
                        f"{fast.generations} generations (stop after {fast.stall} without gain), "
                        f"{fast.relax_per_candidate} relaxation per candidate, {fast.template_top_k} templates "
                        f"(default {d.template_top_k}); relaxed to {fast.fmax:g} eV/Å (default {d.fmax:g}) in at most "
                        f"{fast.relax_steps} steps (default {d.relax_steps}), the best {fast.refine_top} further; "
                        + (f"no second potential (default {d.second_potential})" if fast.second_potential is None
                           else f"second potential {fast.second_potential} (default {d.second_potential})")
                        + ": its energies and ranks can differ from a default run's and the window's")
    p.add_argument("--assignments", type=ga_runs, default=None, help=f"Wyckoff assignments per candidate (default {d.n_assignments})")
    p.add_argument("--restarts", type=ga_runs, default=None, help=f"GA runs per assignment (default {d.restarts})")
    p.add_argument("--escalate", type=escalate_to, default=None, metavar="N",
                   help="a candidate whose runs all end below fitness 1 goes on with the assignments ranked up "
                        f"to N (default {d.escalate_to}: off; each escalated candidate costs about 30 s on 2 cores)")
    p.add_argument("--population", type=population, default=None,
                   help=f"GA population (default {d.population}, as in the paper; {population.describe()})")
    p.add_argument("--generations", type=positive, default=None, help=f"GA generations (default {d.generations}, as in the paper)")
    p.add_argument("--patience", type=non_negative, default=None,
                   help="generations a GA run goes on refining bond lengths after reaching fitness 1 (default: "
                        f"{SHORT_GA_BUDGET[0]} for cells of at most {SHORT_GA_MAX_ATOMS} atoms, {LONG_GA_BUDGET[0]} above; "
                        "docs/ranking.md)")
    p.add_argument("--stall", type=positive, default=None,
                   help="a GA run stops when its best fitness has not improved for this many generations "
                        f"(default: {SHORT_GA_BUDGET[1]} for cells of at most {SHORT_GA_MAX_ATOMS} atoms, "
                        f"{LONG_GA_BUDGET[1]} above)")
    p.add_argument("--strain", type=strain, default=None,
                   help=f"lattice length freedom around the prediction, a fraction (default {d.max_strain:g}; 0 to {MAX_STRAIN})")
    p.add_argument("--relax-per-candidate", type=positive, default=None, help=f"distinct structures relaxed per candidate (default {d.relax_per_candidate})")
    p.add_argument("--ranking", choices=RANKINGS, default=None,
                   help="order of the relaxed structures: energy (default: the potential's energy per atom) or "
                        "learned (a logistic ranker over energy gap, symmetry, route and map agreement, trained "
                        "on validation pools; docs/ranking.md)")
    p.add_argument("--second-potential", choices=["auto", *POTENTIALS, "none"], default=None,
                   help=f"potential that re-ranks the {SECOND_TOP} lowest distinct structures at the first one's relaxed "
                        "geometry (default auto: SevenNet-0 after CHGNet, CHGNet after a SevenNet; --fast: none; "
                        "docs/ranking.md)")
    p.add_argument("--second-weight", type=setting_number("second_weight"), default=None, metavar="W",
                   help="weight of the second potential's energy against the first's when re-ranking (0.5: the "
                        "mean; 1: the second alone at the first one's geometry)")
    p.add_argument("--symmetry-prior", type=setting_number("symmetry_prior", note="meV/atom; 0: off"), default=None,
                   metavar="MEV", help=f"the first {SECOND_TOP} structures are ordered by energy minus MEV × ln P(relaxed space "
                   "group | composition, Z), P from the candidate model (default "
                   f"{1000 * SYMMETRY_PRIOR:g}; 0: energy alone; not with --ranking learned; docs/ranking.md)")
    p.add_argument("--near-tie", type=setting_number("near_tie", note="meV/atom; 0: off"), default=None,
                   metavar="MEV", help="merge a relaxed structure onto a higher-symmetry one it distorts when that "
                   f"one is at most this many meV/atom higher (default 0: off; e.g. {1000 * NEAR_TIE_EV:g}; "
                   "docs/ranking.md)")
    p.add_argument("--stability-frame", choices=[DEFAULT_STABILITY_FRAME, *STABILITY_FRAMES, "none"], default=None,
                   help="energies of the convex hull of the known phases that each relaxed result is placed on "
                        f"(default {DEFAULT_STABILITY_FRAME}: chosen per potential on validation, "
                        + ", ".join(f"{frame} for {POTENTIALS[k].label.split(' (')[0]}"
                                    for k, frame in FRAME_FOR_POTENTIAL.items())
                        + "; mp-fitted: Materials Project's formation energies with the potential's fitted "
                        "elemental energies; none: no energy above the hull; docs/stability.md)")
    p.add_argument("--ehull-threshold", type=setting_number("ehull_threshold", note="meV/atom"),
                   default=None,
                   metavar="MEV", help="a result at most this many meV/atom above the hull is metastable, above it "
                   f"unstable (default {1000 * DEFAULT_EHULL_THRESHOLD_EV:g}; docs/stability.md)")
    p.add_argument("--sources", default="contact,templates",
                   help="routes pooled into one ranking: contact (CMCrystal on the predicted map), templates "
                        "(substituted known structures) or both (default contact,templates)")
    p.add_argument("--templates-top-k", type=positive, default=None, metavar="K",
                   help=f"distinct template structures relaxed (default {d.template_top_k}, --fast {fast.template_top_k})")
    p.add_argument("--template-scorer", choices=SCORERS, default=None,
                   help="substitution score of the template retrieval (default mendeleev: the Mendeleev-number "
                        "distance; ionic: data-mined ionic substitution probabilities; auto: ionic when "
                        "oxidation states can be guessed)")

def ga_settings(args: argparse.Namespace):
    from core.reconstruction import GASettings

    return GASettings(population=args.population, generations=args.generations, patience=args.patience)

def predict_settings(args: argparse.Namespace):
    from core.predict.settings import PredictionSettings

    z = None if args.z in (None, "auto") else args.z  # checked by z_or_auto (screen's default: "auto")
    _no_ignored_ranking_options(args)
    base = PredictionSettings.fast() if args.fast else PredictionSettings()
    changes = {"top_k": args.top_k, "z": z, "jobs": args.jobs, "relax": not args.no_relax, "seed": args.seed,
               "spacegroups": tuple(dict.fromkeys(args.spacegroup)) if args.spacegroup else None}  # a repeat once
    for name in ("assignments", "restarts", "escalate", "population", "generations", "patience", "stall", "strain", "relax_per_candidate",
                 "templates_top_k", "template_scorer", "potential", "device", "magmom", "second_potential", "second_weight", "ranking"):
        value = getattr(args, name, None)
        if value is not None:
            changes[{"assignments": "n_assignments", "strain": "max_strain", "escalate": "escalate_to",
                     "templates_top_k": "template_top_k"}.get(name, name)] = value
    changes["sources"] = _sources(args.sources)
    if changes.get("second_potential") == "none":
        changes["second_potential"] = None
    for name in ("near_tie", "symmetry_prior", "ehull_threshold"):
        if getattr(args, name, None) is not None:
            changes[name] = getattr(args, name) / cli_scale(name)
    if getattr(args, "stability_frame", None) is not None:
        changes["stability_frame"] = None if args.stability_frame == "none" else args.stability_frame
    return dataclasses.replace(base, **changes)

RELAXED_ONLY_OPTIONS = ("second_potential", "second_weight", "ranking", "symmetry_prior", "near_tie",
                        "stability_frame", "ehull_threshold", "potential")
"""Options that act only on relaxed structures (each the PredictionSettings field of its name, in the
units of :func:`core.predict.settings.cli_scale`): given with ``--no-relax`` a value that would change
anything is an error, not ignored and then recorded in summary.json as if applied. (``--magmom input-set``
is not among them: a ``--no-relax`` run still writes VASP inputs with the input set's MAGMOM.)"""


def _changes_something(name: str, value) -> bool:
    """Whether ``--name value`` differs from leaving it out: not None, ``none``/``auto``, 0 (off)
    or the default."""
    from core.predict.settings import PredictionSettings

    if value in (None, "none", "auto") or value == 0:
        return False
    scale = cli_scale(name)
    default = getattr(PredictionSettings(), name)
    if isinstance(default, (int, float)) and not isinstance(default, bool) and isinstance(value, (int, float)):
        return abs(value - default * scale) > 1e-9
    return value != default


def _no_ignored_ranking_options(args: argparse.Namespace) -> None:
    """Refuse option combinations where one would be ignored (a new user's trial found both run
    without comment, and the ignored value written to summary.json)."""
    if getattr(args, "no_relax", False):
        given = [f"--{name.replace('_', '-')}" for name in RELAXED_ONLY_OPTIONS
                 if _changes_something(name, getattr(args, name, None))]
        if given:
            raise AlphaCrystalError(f"{', '.join(given)}: {'acts' if len(given) == 1 else 'act'} on relaxed "
                                    "structures, and --no-relax relaxes none; drop one or the other")
    if getattr(args, "ranking", None) == "learned" and getattr(args, "symmetry_prior", None):
        raise AlphaCrystalError("--symmetry-prior: the learned ranker keeps its own order, so the prior would not "
                                "be applied (--ranking learned); give one or the other")


def _sources(text: str) -> tuple[str, ...]:
    """``contact,templates`` -> ("contact", "templates"); an unknown name is an error naming it."""
    from core.predict.settings import SOURCES

    names = tuple(dict.fromkeys(s.strip() for s in text.split(",") if s.strip()))
    unknown = [s for s in names if s not in SOURCES]
    if unknown or not names:
        raise AlphaCrystalError(f"--sources: unknown source {', '.join(unknown) or '(none given)'}; "
                                f"choose from {','.join(SOURCES)}")
    return names


def check_not_a_run_folder_file(option: str, written: str, out: str | os.PathLike) -> None:
    """Refuse ``--option written`` when it names a file of the run folder ``out``.

    Raises
    ------
    AlphaCrystalError
        Naming the option and the folder.
    """
    from core.io.outputs import is_run_folder_file

    if is_run_folder_file(written, out):
        raise AlphaCrystalError(f"--{option} {written} is a file of the run folder {out} (the program writes it "
                                "there): give another path")
