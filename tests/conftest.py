"""Shared fixtures: textbook crystals built in code from space group and lattice.

Lattice constants in Å from standard references (room-temperature experimental values).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pymatgen.core import Lattice, Structure

from core.crystal.elements import atomic_numbers
from core.crystal.symmetry import primitive_cell
from core.data.datasets import _Builder

# Qt widgets render offscreen unless pytest-xvfb (or a desktop) provides a display.
if not os.environ.get("DISPLAY"):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
MP_CSV = SHARED_DATA / "mp" / "structures.csv.gz"
PAPER_BENCHMARK = SHARED_DATA / "benchmarks" / "alphacrystal_paper"


def nacl() -> Structure:
    return Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])


def cscl() -> Structure:
    return Structure.from_spacegroup("Pm-3m", Lattice.cubic(4.12), ["Cs", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])


def rutile() -> Structure:
    return Structure.from_spacegroup(
        "P4_2/mnm", Lattice.tetragonal(4.594, 2.959), ["Ti", "O"], [[0, 0, 0], [0.3048, 0.3048, 0]]
    )


def perovskite() -> Structure:
    return Structure.from_spacegroup(
        "Pm-3m", Lattice.cubic(3.905), ["Sr", "Ti", "O"], [[0.5, 0.5, 0.5], [0, 0, 0], [0.5, 0, 0]]
    )


def wurtzite() -> Structure:
    return Structure.from_spacegroup(
        "P6_3mc", Lattice.hexagonal(3.25, 5.207), ["Zn", "O"], [[1 / 3, 2 / 3, 0], [1 / 3, 2 / 3, 0.382]]
    )


FIXTURES = {"NaCl": nacl, "CsCl": cscl, "TiO2": rutile, "SrTiO3": perovskite, "ZnO": wurtzite}

SUBSTITUTIONS = {
    "NaCl": [("Na", "K"), ("Na", "Li"), ("Cl", "Br"), ("Na", "Rb"), ("Cl", "F"), ("Na", "Ag")],
    "CsCl": [("Cs", "Tl"), ("Cl", "Br"), ("Cl", "I")],
    "TiO2": [("Ti", "Sn"), ("Ti", "Ge"), ("Ti", "Ru"), ("Ti", "Mn"), ("Ti", "Pb")],
    "SrTiO3": [("Sr", "Ba"), ("Sr", "Ca"), ("Ti", "Zr"), ("Ti", "Sn"), ("Sr", "Pb")],
    "ZnO": [("Zn", "Be"), ("O", "S"), ("Zn", "Cd")],
}


def substituted_dataset():
    """Textbook structures and element-substituted copies (scaled by covalent radii)."""
    builder = _Builder()
    k = 0
    for name, make in FIXTURES.items():
        base = primitive_cell(make())
        variants = [base]
        for old, new in SUBSTITUTIONS[name]:
            s = base.copy()
            s.replace_species({old: new})
            s.scale_lattice(s.volume * 1.1)
            variants.append(s)
        for s in variants:
            z = atomic_numbers([site.specie.symbol for site in s])
            builder.add(f"fx-{k}", s.lattice.matrix, z, s.frac_coords, s.composition.reduced_formula, 1, -1.0)
            k += 1
    return builder.build("fixtures")


@pytest.fixture(params=sorted(FIXTURES))
def textbook_crystal(request) -> tuple[str, Structure]:
    return request.param, FIXTURES[request.param]()


@pytest.fixture
def shared_mp_csv() -> Path:
    if not MP_CSV.exists():
        pytest.skip(f"data set not present: {MP_CSV}")
    return MP_CSV


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Keep each test session's feature cache out of the user's home folder."""
    monkeypatch.setenv("ALPHACRYSTAL_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
