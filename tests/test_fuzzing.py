"""Fuzzing of the readers: every input parses to a valid object or raises the project's own error.

Example counts (stated here and in docs/prediction.md): P1 CIF reader 300, POSCAR
300, project files 200 (each mutation of a valid file, plus arbitrary text).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import nacl, rutile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pymatgen.core import Structure
from pymatgen.io.cif import CifWriter

from core.cif_p1 import read_p1_cif
from core.errors import AlphaCrystalError, StructureFileError
from core.io import read_structure, write_poscar
from core.project import Project

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
    from core.session import Session

    path = tmp_path / "p.acproj"
    path.write_text(data.draw(mutations(project_text)), encoding="utf-8")
    try:
        Session().load_project(Project.load(path), path)
    except AlphaCrystalError as exc:
        assert "p.acproj" in str(exc)
