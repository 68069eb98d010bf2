"""The ``alphacrystal`` entry point: the command table, warnings as one line, errors as exit codes."""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Callable, Sequence

from core import __version__
from core.cli import evaluate, files, maps, predict, proposals, reconstruct, train
from core.cli.options import Parser, warn_about_processes
from core.errors import AlphaCrystalError, AlphaCrystalWarning
from core.io.outputs import SCREEN_REPORT, SCREEN_TABLE, SUMMARY_JSON
from core.runtime.terminal import ignore_library_housekeeping

COMMANDS = (maps, files, proposals, reconstruct, predict)
"""Modules of the top-level commands, in the order ``--help`` lists them; each adds its
parsers with ``register(groups)``. The ``train`` and ``evaluate`` groups follow."""

GROUPS = (("train", "train a model", train), ("evaluate", "evaluate a model", evaluate))
"""Command groups with a second word (``alphacrystal train contact-map``): name, help, module."""


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="alphacrystal",
        description="AlphaCrystal Studio: crystal structures predicted from a chemical formula, relaxed, ranked "
                    "and ready for DFT (start with: alphacrystal predict AgF2). The other commands give each step "
                    "on its own: predicted contact maps, space-group candidates, template structures, CMCrystal "
                    "reconstruction, structure export, training and evaluation.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    groups = {"sub": sub}
    for module in COMMANDS:
        module.register(groups)
    for name, text, module in GROUPS:
        groups[name] = sub.add_parser(name, help=text).add_subparsers(dest="what", required=True, metavar="MODEL")
        module.register(groups)
    for leaf in _commands(parser):
        leaf.set_defaults(command_parser=leaf)  # so that an unknown option is reported by its command
    return parser


def _commands(parser: argparse.ArgumentParser):
    """The parsers of every command (``predict``, ``train contact-map``, ...)."""
    children = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not children:
        yield parser
    for action in children:
        for child in dict.fromkeys(action.choices.values()):  # aliases map to the same parser
            yield from _commands(child)


OPTION_HINTS = {
    ("screen", "--z"): "a screen's Z is per formula: 'NaCl 4' on a line of a text input, or a z column in a CSV "
                       "(docs/screening.md)",
    ("screen", "--spacegroup"): "a screen's space groups are per formula: 'TiO2 2 136 141' on a line of a text "
                                "input (after Z), or a spacegroup column in a CSV (docs/screening.md)",
    ("screen", "--jobs"): "a screen runs one prediction per worker: --workers N sets how many (docs/screening.md)",
    ("screen", "--json"): f"a screen writes its table and report into --out: {SCREEN_TABLE} and {SCREEN_REPORT}, "
                          f"and each formula's {SUMMARY_JSON} (docs/screening.md)",
}
"""(command, option) -> what to do instead, for options a user brings from another command."""


def _one_line_warnings(show: Callable) -> Callable:
    """``warnings.showwarning`` that prints our warnings about the input as one line,
    ``alphacrystal: warning: ...``, each text once per command (a prediction writes VASP inputs for
    every result, and pymatgen's remark on Co would come once per folder), and passes others on
    to ``show``."""
    said: set[str] = set()

    def show_warning(message, category, filename, lineno, file=None, line=None) -> None:
        if issubclass(category, AlphaCrystalWarning):
            if str(message) not in said:
                said.add(str(message))
                print(f"alphacrystal: warning: {message}", file=sys.stderr, flush=True)
        else:
            show(message, category, filename, lineno, file, line)

    return show_warning


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:  # named by the command, with its own --help (the root parser would say 'alphacrystal --help')
        hint = next((text for (command, option), text in OPTION_HINTS.items()
                     if command == args.command_parser.prog.split(" ", 1)[-1] and option in unknown), "")
        args.command_parser.error(f"unrecognized arguments: {' '.join(unknown)}" + (f"; {hint}" if hint else ""))
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        _outputs_are_not_inputs(args)
        with warnings.catch_warnings():  # restores the filters and showwarning afterwards
            warnings.simplefilter("always", AlphaCrystalWarning)
            ignore_library_housekeeping()
            warnings.showwarning = _one_line_warnings(warnings.showwarning)
            warn_about_processes(args)
            code = func(args)
        sys.stdout.flush()  # a closed pipe shows here, inside the handler below, not at exit
        return code
    except AlphaCrystalError as exc:
        print(f"alphacrystal: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("alphacrystal: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (``| head -1``): stop quietly, as Unix tools do
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return 141


OUTPUT_FILE_OPTIONS = ("json", "plot")
"""Options naming a file the command writes (argparse destinations)."""


def _outputs_are_not_inputs(args: argparse.Namespace) -> None:
    """Refuse an output file that is one of the command's inputs (``reconstruct map.json --json
    map.json`` would replace the map it reads), before any work.

    Raises
    ------
    AlphaCrystalError
        Naming the option and the input.
    """
    from pathlib import Path

    out = getattr(args, "out", None)
    for option in OUTPUT_FILE_OPTIONS:
        written = getattr(args, option, None)
        if written and isinstance(out, str) and out.strip():  # predict's default --out: checked by cmd_predict
            from core.cli.options import check_not_a_run_folder_file

            check_not_a_run_folder_file(option, written, out)
        if not written or not Path(written).exists():
            continue
        for name, value in vars(args).items():
            given = value if isinstance(value, (list, tuple)) else [value]  # --exclude-from A.json B.json
            for path in given:
                if (name not in OUTPUT_FILE_OPTIONS and isinstance(path, str) and path.strip()
                        and Path(path).is_file() and Path(path).resolve() == Path(written).resolve()):
                    raise AlphaCrystalError(f"--{option} {written} is a file this command reads "
                                            f"({name.replace('_', '-')}): give another path")


if __name__ == "__main__":
    sys.exit(main())
