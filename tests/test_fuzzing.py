"""Fuzzing of the readers: every input parses to a valid object or raises the project's own error.

Example counts (stated here and in docs/prediction.md): P1 CIF reader 300, POSCAR
300, project files 200 (each mutation of a valid file, plus arbitrary text). Also:
POSCAR lattices 150 + 150 (degenerate ones always a StructureFileError; any numbers a
sound cell or that error) and numeric CLI options 150 (every checked option of every
command, parsed only: accepted within its range or a one-line usage error).
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from conftest import nacl, rutile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pymatgen.core import Structure
from pymatgen.io.cif import CifWriter

from core.app.project import Project
from core.errors import AlphaCrystalError, StructureFileError, StructureWarning
from core.io.cif_p1 import read_p1_cif
from core.io.read import read_structure
from core.io.write import write_poscar

CIF_EXAMPLES = POSCAR_EXAMPLES = 300
PROJECT_EXAMPLES = 200


def fuzz(examples: int) -> settings:
    return settings(max_examples=examples, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

VALID_CIF = str(CifWriter(rutile()))


def mutations(text: str):
    """A valid text with lines dropped, duplicated or replaced, or characters changed."""
    lines = text.splitlines()
    line_edit = st.tuples(st.sampled_from(["drop", "dup", "replace"]), st.integers(0, len(lines) - 1),
                          st.text(max_size=30))
    char_edit = st.tuples(st.integers(0, max(0, len(text) - 1)), st.text(min_size=1, max_size=3))

    def apply(edits):
        out = list(lines)
        for kind, k, new in edits[0]:
            k = min(k, len(out) - 1)
            if not out:
                break
            if kind == "drop":
                del out[k]
            elif kind == "dup":
                out.insert(k, out[k])
            else:
                out[k] = new
        joined = "\n".join(out) + "\n"
        for k, new in edits[1]:
            joined = joined[:k] + new + joined[k + 1:]
        return joined

    return st.tuples(st.lists(line_edit, max_size=4), st.lists(char_edit, max_size=3)).map(apply) | st.text()


@fuzz(CIF_EXAMPLES)
@given(mutations(VALID_CIF))
def test_p1_cif_reader_returns_a_cell_or_none(text):
    out = read_p1_cif(text)
    if out is not None:
        lattice, symbols, frac = out
        assert np.shape(lattice) == (3, 3) and len(symbols) == len(frac) and np.shape(frac)[1:] == (3,)


@pytest.fixture(scope="module")
def poscar_text(tmp_path_factory):
    return write_poscar(rutile(), tmp_path_factory.mktemp("p") / "POSCAR").read_text()


@pytest.mark.filterwarnings("ignore::core.errors.StructureWarning")  # duplicated lines: atoms on top of each other
@fuzz(POSCAR_EXAMPLES)
@given(data=st.data())
def test_poscar_reader_gives_a_structure_or_its_own_error(tmp_path, poscar_text, data):
    text = data.draw(mutations(poscar_text))
    path = tmp_path / "POSCAR"
    path.write_text(text, encoding="utf-8")
    try:
        structure = read_structure(path)
    except StructureFileError:
        return
    assert isinstance(structure, Structure) and len(structure) > 0


@pytest.fixture(scope="module")
def project_text():
    project = Project(formula="NaCl", results=[{"rank": 1, "structure": nacl().as_dict()}],
                      reference={"name": "nacl.cif", "structure": nacl().as_dict()})
    return json.dumps(project.to_dict(), indent=1)


@fuzz(PROJECT_EXAMPLES)
@given(data=st.data())
def test_project_files_open_or_give_their_own_error(tmp_path, project_text, data):
    from core.app.session import Session

    path = tmp_path / "p.acproj"
    path.write_text(data.draw(mutations(project_text)), encoding="utf-8")
    try:
        Session().load_project(Project.load(path), path)
    except AlphaCrystalError as exc:
        assert "p.acproj" in str(exc)


# ---------------------------------------------------------------- degenerate POSCAR lattices
LATTICE_EXAMPLES = OPTION_EXAMPLES = 150
FINITE = st.floats(-20, 20, allow_nan=False, allow_infinity=False)


@st.composite
def degenerate_lattices(draw):
    """Three lattice rows that are no crystal's cell: a zero vector, coplanar vectors, a
    non-finite number, or a cell scaled to nothing."""
    a, b = ([draw(FINITE) for _ in range(3)] for _ in range(2))
    kind = draw(st.sampled_from(["zero", "coplanar", "non-finite", "tiny"]))
    if kind == "zero":
        rows = [a, b, [draw(FINITE) for _ in range(3)]]
        rows[draw(st.integers(0, 2))] = [0.0, 0.0, 0.0]
    elif kind == "coplanar":
        s, t = draw(FINITE), draw(FINITE)
        rows = [a, b, [s * x + t * y for x, y in zip(a, b)]]
        rows = draw(st.permutations(rows))
    elif kind == "non-finite":
        rows = [a, b, [draw(FINITE) for _ in range(3)]]
        rows[draw(st.integers(0, 2))][draw(st.integers(0, 2))] = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
    else:
        scale = draw(st.floats(1e-300, 1e-4))
        rows = [[scale * v for v in row] for row in ([5, 0, 0], [0, 5, 0], [0, 0, 5])]
    return rows


def _poscar(rows) -> str:
    lattice = "\n".join(" ".join(repr(float(v)) for v in row) for row in rows)
    return f"fuzz\n1.0\n{lattice}\nNa Cl\n1 1\nDirect\n0 0 0\n0.5 0.5 0.5\n"


@fuzz(LATTICE_EXAMPLES)
@given(rows=degenerate_lattices())
def test_degenerate_poscar_lattices_are_a_structure_file_error(tmp_path, rows):
    path = tmp_path / "POSCAR"
    path.write_text(_poscar(rows))
    with pytest.raises(StructureFileError) as err:
        read_structure(path)
    assert str(path) in str(err.value)


@fuzz(LATTICE_EXAMPLES)
@given(rows=st.lists(st.lists(st.floats(allow_nan=True, allow_infinity=True) | FINITE, min_size=3, max_size=3),
                     min_size=3, max_size=3))
def test_any_poscar_lattice_reads_to_a_sound_cell_or_its_own_error(tmp_path, rows):
    from core.io.read import MAX_CELL_LENGTH, MIN_CELL_VOLUME

    path = tmp_path / "POSCAR"
    path.write_text(_poscar(rows))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", StructureWarning)
            structure = read_structure(path)
    except StructureFileError:
        return
    matrix = structure.lattice.matrix
    assert np.isfinite(matrix).all() and structure.volume >= MIN_CELL_VOLUME
    assert max(structure.lattice.abc) <= MAX_CELL_LENGTH


# ---------------------------------------------------------------- numeric CLI options
def _cli_options():
    """(command words, option, its type, the command's required arguments) of every option
    with a checked numeric type (core.cli.options.Number and the named ones)."""
    import argparse

    from core.cli import build_parser
    from core.cli import options as cli

    numeric = {cli.spacegroup_number, cli.z_or_auto, cli.tolerance}
    found = []

    def walk(parser, words):
        required = []
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    walk(sub, (*words, name))
            elif not action.option_strings:
                required.append("NaCl")  # a formula or a file name: not read while parsing
            elif action.required:
                required += [action.option_strings[0], "out" if action.dest == "out" else "data.csv"]
        for action in parser._actions:
            if action.option_strings and (isinstance(action.type, cli.Number) or action.type in numeric):
                found.append((words, action.option_strings[0], action.type, tuple(required)))

    walk(build_parser(), ())
    return found


CLI_OPTIONS = _cli_options()
NUMBERS = (st.integers(-10**30, 10**30) | st.floats(allow_nan=True, allow_infinity=True)
           | st.sampled_from(["0", "-0", "-1", "1e400", "-inf", "nan", "", " ", "1.5", "9" * 40, "0x10", "auto",
                              "12-3", "2**31"])).map(str)


def test_every_command_has_numeric_options_to_fuzz():
    commands = {words for words, *_ in CLI_OPTIONS}
    assert {("predict",), ("reconstruct",), ("screen",), ("contact-map",), ("dataset-stats",), ("candidates",),
            ("templates",), ("train", "contact-map"), ("train", "candidates"), ("evaluate", "reconstruction"),
            ("evaluate", "prediction")} <= commands


@fuzz(OPTION_EXAMPLES)
@given(option=st.sampled_from(CLI_OPTIONS), value=NUMBERS)
def test_numeric_options_are_accepted_in_range_or_refused_in_one_line(monkeypatch, capsys, option, value):
    """Negative, zero, huge, non-finite or garbage: accepted (then within the option's range)
    or ``alphacrystal: error: ...`` naming the option, exit 2; never a traceback. The commands
    themselves are replaced, so nothing runs."""
    from core.cli import evaluate, files, main, maps, predict, proposals, reconstruct, train
    from core.cli import options as cli

    words, name, kind, required = option
    seen = {}

    def parsed_only(args):
        seen["value"] = getattr(args, name.lstrip("-").replace("-", "_"))
        return 0

    for module in (evaluate, files, maps, predict, proposals, reconstruct, train):
        for attr in dir(module):
            if attr.startswith("cmd_"):
                monkeypatch.setattr(module, attr, parsed_only)
    capsys.readouterr()
    try:
        code = main([*words, *required, f"{name}={value}"])
    except SystemExit as stop:
        err = capsys.readouterr().err
        assert stop.code == 2 and err.startswith("alphacrystal: error:") and name in err, err
        assert len(err.splitlines()) == 1 and "Traceback" not in err
        return
    assert code == 0
    got = seen["value"]
    if isinstance(kind, cli.Number):
        assert np.isfinite(got)
        assert kind.low is None or got >= kind.low
        assert kind.high is None or got <= kind.high
