import csv
import gzip
import itertools

import numpy as np
import pytest
from pymatgen.core import Structure
from pymatgen.io.cif import CifWriter

from core.io.cif_p1 import read_p1_cif


def _compare(text: str) -> None:
    parsed = read_p1_cif(text)
    assert parsed is not None
    lattice, symbols, frac = parsed
    ref = Structure.from_str(text, fmt="cif")
    np.testing.assert_allclose(lattice, ref.lattice.matrix, atol=1e-6)
    ref_symbols = np.array([s.specie.symbol for s in ref])
    assert sorted(symbols) == sorted(ref_symbols.tolist())
    # pymatgen groups sites by species, so pair each site with its periodic twin
    for symbol, xyz in zip(symbols, frac):
        diff = ref.frac_coords[ref_symbols == symbol] - xyz
        diff -= np.round(diff)  # pymatgen wraps and rounds near-special positions
        assert np.abs(diff).max(axis=1).min() < 1e-4


def test_matches_pymatgen_on_p1_cifs(textbook_crystal):
    _, structure = textbook_crystal
    _compare(str(CifWriter(structure)))


def test_declines_what_it_does_not_understand(textbook_crystal):
    _, structure = textbook_crystal
    assert read_p1_cif(str(CifWriter(structure, symprec=0.01))) is None  # symmetry operations
    p1 = str(CifWriter(structure))
    assert read_p1_cif(p1 + "\n" + p1) is None  # two data blocks
    assert read_p1_cif(p1.replace("_cell_length_a", "_cell_length_q")) is None
    assert read_p1_cif("not a cif") is None


@pytest.mark.data
def test_matches_pymatgen_on_real_rows(shared_mp_csv):
    csv.field_size_limit(1 << 30)
    with gzip.open(shared_mp_csv, "rt", newline="") as fh:
        rows = list(itertools.islice(csv.DictReader(fh), 0, 3000, 15))
    for row in rows:
        _compare(row["cif"])
