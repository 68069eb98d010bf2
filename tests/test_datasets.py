import csv
import gzip
import time

import numpy as np
import pytest
from conftest import FIXTURES, PAPER_BENCHMARK
from pymatgen.core import Lattice, Structure
from pymatgen.io.cif import CifWriter

from core.contact.contact_map import compute_contact_map
from core.crystal.symmetry import crystal_system, primitive_cell
from core.data.datasets import cache_dir, load_dataset, split_by_formula, stats_text
from core.data.featurize import featurize_dataset
from core.errors import DatasetError


def _rows():
    brass = Structure(Lattice.cubic(2.95), ["Cu", "Zn"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    entries = [
        ("mp-nacl", primitive_cell(FIXTURES["NaCl"]()), -2.0),
        ("mp-cscl", primitive_cell(FIXTURES["CsCl"]()), -2.1),
        ("mp-rutile", primitive_cell(FIXTURES["TiO2"]()), -3.4),
        ("mp-rutile-sc", primitive_cell(FIXTURES["TiO2"]()) * (2, 1, 1), -3.3),  # a "polymorph" (same formula)
        ("mp-sto", primitive_cell(FIXTURES["SrTiO3"]()), -3.5),
        ("mp-sto-big", primitive_cell(FIXTURES["SrTiO3"]()) * (2, 2, 1), -3.0),  # 20 atoms
        ("mp-zno", FIXTURES["ZnO"](), -1.8),
        ("mp-brass", brass, None),
    ]
    return [
        {
            "material_id": mid,
            "reduced_formula": s.composition.reduced_formula,
            "formation_energy_per_atom": "" if e is None else e,
            "cif": str(CifWriter(s)),
        }
        for mid, s, e in entries
    ]


@pytest.fixture
def tiny_csv(tmp_path):
    path = tmp_path / "tiny.csv.gz"
    with gzip.open(path, "wt", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["material_id", "reduced_formula", "formation_energy_per_atom", "cif"])
        writer.writeheader()
        writer.writerows(_rows())
    return path


def test_load_csv(tiny_csv):
    ds = load_dataset(tiny_csv)
    assert len(ds) == 8
    assert ds.nsites.tolist() == [2, 2, 6, 12, 5, 20, 4, 2]
    assert ds.formulas.tolist()[:3] == ["NaCl", "CsCl", "TiO2"]
    assert ds.spacegroups.tolist()[:3] == [225, 221, 136]  # computed with spglib when the column is absent
    assert np.isnan(ds.energies[-1]) and ds.energies[0] == -2.0
    s = ds.structure(2)
    assert compute_contact_map(s).coordination_numbers.tolist() == [6, 6, 3, 3, 3, 3]


def test_filters(tiny_csv):
    ds = load_dataset(tiny_csv)
    assert len(ds.filter(max_atoms=12)) == 7
    assert "CuZn" not in ds.filter(exclude_all_metal=True).formulas
    lowest = ds.filter(lowest_energy_per_formula=True)
    assert sorted(lowest.material_ids.tolist()) == sorted(
        ["mp-nacl", "mp-cscl", "mp-rutile", "mp-sto", "mp-zno", "mp-brass"]
    )
    both = ds.filter(max_atoms=12, exclude_all_metal=True, lowest_energy_per_formula=True)
    assert len(both) == 5


def test_split_by_formula_never_leaks():
    # 200 synthetic entries over 60 formulas
    from core.data.datasets import _Builder

    builder = _Builder()
    rng = np.random.default_rng(0)
    for k in range(200):
        f = int(rng.integers(60))
        builder.add(f"id{k}", np.eye(3) * 5, np.array([8, 8]), rng.random((2, 3)), f"F{f}", 1, None)
    ds = builder.build("synthetic")
    split = split_by_formula(ds, seed=3)
    parts = [set(split.train.formulas), set(split.validation.formulas), set(split.test.formulas)]
    assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])
    assert len(split.train) + len(split.validation) + len(split.test) == 200
    assert 40 <= len(parts[0]) <= 56
    again = split_by_formula(ds, seed=3)
    assert again.test.material_ids.tolist() == split.test.material_ids.tolist()
    other = split_by_formula(ds, seed=4)
    assert other.test.material_ids.tolist() != split.test.material_ids.tolist()
    with pytest.raises(ValueError):
        split_by_formula(ds, fractions=(0.5, 0.5, 0.5))


def test_forced_test_formulas(tiny_csv):
    ds = load_dataset(tiny_csv)
    split = split_by_formula(ds, fractions=(1.0, 0.0, 0.0), seed=0, test_formulas=["Ti2O4"])
    assert set(split.test.formulas) == {"TiO2"}
    assert "TiO2" not in set(split.train.formulas)


def test_cache_is_used_and_invalidated(tiny_csv):
    first = load_dataset(tiny_csv)
    files = list(cache_dir().glob("dataset-*.npz"))
    assert files
    again = load_dataset(tiny_csv)
    assert again.content_hash() == first.content_hash()
    # editing the data changes the key
    rows = _rows()[:3]
    with gzip.open(tiny_csv, "wt", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    assert len(load_dataset(tiny_csv)) == 3


def test_corrupt_cache_is_rebuilt(tiny_csv):
    load_dataset(tiny_csv)
    for f in cache_dir().glob("dataset-*.npz"):
        f.write_bytes(b"garbage")
    assert len(load_dataset(tiny_csv)) == 8


def test_folder_of_cifs_reduces_to_primitive(tmp_path):
    for name, make in FIXTURES.items():
        CifWriter(make(), symprec=0.01).write_file(tmp_path / f"{name}.cif")
    ds = load_dataset(tmp_path)
    assert dict(zip(ds.material_ids, ds.nsites.tolist())) == {
        "CsCl": 2, "NaCl": 2, "SrTiO3": 5, "TiO2": 6, "ZnO": 4,
    }


def test_bad_inputs_are_named(tmp_path):
    with pytest.raises(DatasetError, match="no such file"):
        load_dataset(tmp_path / "nope.csv")
    one = tmp_path / "NaCl.cif"  # it said "expected a CSV with a 'cif' column, found ['data_NaCl']"
    one.write_text("data_NaCl\n")
    with pytest.raises(DatasetError, match="NaCl.cif: one structure file, not a data set: give a folder of CIFs"):
        load_dataset(one)
    no_col = tmp_path / "nocol.csv"
    no_col.write_text("a,b\n1,2\n")
    with pytest.raises(DatasetError, match="'cif' column"):
        load_dataset(no_col)
    bad_row = tmp_path / "bad.csv"
    bad_row.write_text('material_id,cif\nmp-1,"data_x\n_cell_length_a 3\n"\n')
    with pytest.raises(DatasetError, match=r"bad.csv: line \d+ \(mp-1\): cannot parse"):
        load_dataset(bad_row)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DatasetError, match="no \\*.cif files"):
        load_dataset(empty)
    from conftest import nacl
    from pymatgen.io.cif import CifWriter

    energy = tmp_path / "energy.csv"  # counted as missing without a word before
    energy.write_text(f'material_id,formation_energy_per_atom,cif\nmp-7,abc,"{CifWriter(nacl())}"\n')
    with pytest.raises(DatasetError, match=r"energy.csv: line \d+ \(mp-7\): formation_energy_per_atom 'abc' is not"):
        load_dataset(energy, use_cache=False)


def test_stats(tiny_csv):
    stats = load_dataset(tiny_csv).stats()
    assert stats["n_structures"] == 8 and stats["n_reduced_formulas"] == 6
    assert stats["atoms_per_structure"][2] == 3
    assert stats["elements_per_structure"] == {2: 6, 3: 2}
    assert stats["element_counts"]["O"] == 5
    assert stats["all_metal"] == 1
    assert stats["spacegroup_counts"][221] == 4  # CsCl, SrTiO3 (two cells), CuZn
    assert stats["crystal_system_counts"]["cubic"] == 5
    assert "space groups" in stats_text(stats)
    assert crystal_system(186) == "hexagonal" and crystal_system(0) == "unknown"


def test_featurize_and_cache(tiny_csv):
    ds = load_dataset(tiny_csv).filter(max_atoms=12)
    with pytest.raises(ValueError, match="more than 4 atoms"):
        featurize_dataset(ds, max_atoms=4)
    feats = featurize_dataset(ds, max_atoms=12)
    assert feats.features.shape == (7, 12, 11) and feats.contact.shape == (7, 12, 12)
    assert feats.n_atoms.tolist() == ds.nsites.tolist()
    rutile = list(ds.material_ids).index("mp-rutile")
    assert feats.numbers[rutile, :6].tolist() == [22, 22, 8, 8, 8, 8]
    assert not feats.features[rutile, 6:].any() and not feats.contact[rutile, 6:].any()
    np.testing.assert_array_equal(feats.contact[rutile, :6, :6], compute_contact_map(ds.structure(rutile)).matrix)
    start = time.perf_counter()
    again = featurize_dataset(ds, max_atoms=12)
    assert time.perf_counter() - start < 1.0
    np.testing.assert_array_equal(again.contact, feats.contact)


@pytest.mark.data
def test_real_data_set(shared_mp_csv):
    ds = load_dataset(shared_mp_csv)
    assert len(ds) > 40_000
    small = ds.filter(max_atoms=12, exclude_all_metal=True, lowest_energy_per_formula=True)
    assert small.nsites.max() <= 12 and not small.all_metal().any()
    assert len(np.unique(small.formulas)) == len(small)
    split = split_by_formula(small, seed=0)
    assert not set(split.train.formulas) & set(split.test.formulas)
    # compare with the CSV's own atom counts and space groups
    with gzip.open(shared_mp_csv, "rt", newline="") as fh:
        csv.field_size_limit(1 << 30)
        meta = {r["material_id"]: r for r in csv.DictReader(fh)}
    for k in range(0, len(ds), 997):
        row = meta[ds.material_ids[k]]
        assert int(row["nsites"]) == ds.nsites[k]
        assert int(row["spacegroup_number"]) == ds.spacegroups[k]
    feats = featurize_dataset(small.subset(np.arange(300)), max_atoms=12)
    assert (feats.contact == feats.contact.transpose(0, 2, 1)).all()


@pytest.mark.data
def test_paper_benchmark_maps():
    if not PAPER_BENCHMARK.exists():
        pytest.skip("paper benchmark folder not present")
    ds = load_dataset(PAPER_BENCHMARK)
    assert len(ds) >= 16 and ds.nsites.max() <= 12
    for k in range(len(ds)):
        cmap = compute_contact_map(ds.structure(k))
        assert cmap.matrix.any(), ds.material_ids[k]
