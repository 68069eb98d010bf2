import numpy as np
import pytest
from conftest import FIXTURES
from hypothesis import given, settings
from hypothesis import strategies as st
from pymatgen.core import Lattice, Structure

from core.contact.contact_map import ContactMap, canonical_order, compute_contact_map
from core.crystal.symmetry import primitive_cell

# (species in canonical order, coordination numbers over images) from textbook geometry
EXPECTED = {
    "NaCl": (("Na", "Cl"), [6, 6]),
    "CsCl": (("Cs", "Cl"), [8, 8]),
    "TiO2": (("Ti", "Ti", "O", "O", "O", "O"), [6, 6, 3, 3, 3, 3]),
    "SrTiO3": (("Sr", "Ti", "O", "O", "O"), [12, 6, 6, 6, 6]),
    "ZnO": (("Zn", "Zn", "O", "O"), [4, 4, 4, 4]),
}


def _map(structure: Structure) -> ContactMap:
    return compute_contact_map(primitive_cell(structure))


def test_textbook_coordination(textbook_crystal):
    name, structure = textbook_crystal
    cmap = _map(structure)
    species, cn = EXPECTED[name]
    assert cmap.species == species
    assert cmap.coordination_numbers.tolist() == cn
    assert cmap.n_short_contacts == 0
    assert cmap.valid_bond_fraction == 1.0
    m = cmap.matrix
    assert (m == m.T).all() and not np.diag(m).any()
    assert cmap.n_valid_bonds == sum(cn) // 2


def test_textbook_maps_by_hand():
    # rutile: each Ti bonded to all four O of the primitive cell, no O-O or Ti-Ti contacts
    m = _map(FIXTURES["TiO2"]()).matrix
    np.testing.assert_array_equal(m[:2, 2:], 1)
    assert not m[2:, 2:].any() and not m[:2, :2].any()
    # perovskite: Sr-Ti is a metal pair (0); Sr and Ti bond to every O; O-O none
    p = _map(FIXTURES["SrTiO3"]()).matrix
    assert p[0, 1] == 0 and p[:2, 2:].all() and not p[2:, 2:].any()


def test_metal_pairs_are_never_in_contact():
    # beta-brass CuZn (CsCl type): the Cu-Zn distance 2.55 Å lies in the window, but both are metals
    brass = Structure(Lattice.cubic(2.95), ["Cu", "Zn"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    cmap = compute_contact_map(brass)
    assert not cmap.matrix.any() and cmap.n_valid_bonds == 0 and cmap.n_short_contacts == 0
    # ...unless they clash
    clash = Structure(Lattice.cubic(6.0), ["Cu", "Zn"], [[0, 0, 0], [0.15, 0, 0]])
    assert compute_contact_map(clash).n_short_contacts == 1


def test_images_beyond_the_minimum_image_count():
    # C-C window is [1.06, 1.86] Å. The minimum image of atom 2 is 0.9 Å away (short),
    # the next image along a (2.4 - 0.9 = 1.5 Å) is a valid bond.
    cell = Structure(Lattice.orthorhombic(2.4, 10, 10), ["C", "C"], [[0, 0, 0], [0.375, 0, 0]])
    cmap = compute_contact_map(cell, canonical=False)
    assert cmap.matrix[0, 1] == 1 and cmap.short[0, 1] == 1
    assert cmap.n_valid_bonds == 1 and cmap.n_short_contacts == 1
    assert cmap.valid_bond_fraction == pytest.approx(0.5)


def test_short_contacts_in_compressed_rock_salt():
    squeezed = Structure.from_spacegroup("Fm-3m", Lattice.cubic(4.0), ["Na", "Cl"], [[0, 0, 0], [0.5] * 3])
    cmap = _map(squeezed)  # Na-Cl 2.0 Å < 1.66 + 1.02 - 0.4
    assert not cmap.matrix.any()
    assert cmap.n_short_contacts == 6 and cmap.valid_bond_fraction == 0.0


def test_tolerance_changes_window():
    nacl = FIXTURES["NaCl"]()
    assert _map(nacl).matrix[0, 1] == 1
    assert compute_contact_map(primitive_cell(nacl), tolerance=0.1).matrix[0, 1] == 0  # 2.82 > 2.68 + 0.1


def _shuffled(structure: Structure, seed: int) -> Structure:
    order = np.random.default_rng(seed).permutation(len(structure))
    return Structure.from_sites([structure[i] for i in order])


def test_map_invariant_to_site_order_origin_and_supercell(textbook_crystal):
    _, structure = textbook_crystal
    reference = _map(structure)
    variants = [
        _shuffled(structure, 1),
        structure.copy().translate_sites(range(len(structure)), [0.137, 0.291, 0.443]),
        structure * (2, 1, 1),
        structure * (1, 2, 3),
    ]
    for variant in variants:
        cmap = _map(variant)
        assert cmap.species == reference.species
        np.testing.assert_array_equal(cmap.matrix, reference.matrix)
        np.testing.assert_array_equal(cmap.coordination_numbers, reference.coordination_numbers)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000))
def test_large_symmetric_cell_is_canonical_under_any_site_order(seed):
    # a 12-atom rutile supercell used as given: many symmetry-equivalent atoms to tie-break
    cell = FIXTURES["TiO2"]() * (2, 1, 1)
    reference = compute_contact_map(cell)
    cmap = compute_contact_map(_shuffled(cell, seed).translate_sites(range(12), [seed / 1e4, 0.3, 0.1]))
    np.testing.assert_array_equal(cmap.matrix, reference.matrix)
    assert cmap.species == reference.species


@st.composite
def _graphs(draw):
    n = draw(st.integers(2, 7))
    numbers = draw(st.lists(st.sampled_from([8, 22, 38]), min_size=n, max_size=n))
    upper = draw(st.lists(st.booleans(), min_size=n * (n - 1) // 2, max_size=n * (n - 1) // 2))
    m = np.zeros((n, n), dtype=np.uint8)
    m[np.triu_indices(n, 1)] = upper
    m = m | m.T
    perm = draw(st.permutations(list(range(n))))
    return m, np.array(numbers), np.array(perm)


@settings(max_examples=300, deadline=None)
@given(_graphs())
def test_canonical_order_is_a_canonical_form(graph):
    m, numbers, perm = graph
    order_a = canonical_order(m, numbers)
    permuted = m[np.ix_(perm, perm)]
    order_b = canonical_order(permuted, numbers[perm])
    np.testing.assert_array_equal(m[np.ix_(order_a, order_a)], permuted[np.ix_(order_b, order_b)])
    np.testing.assert_array_equal(numbers[order_a], numbers[perm][order_b])
    assert sorted(order_a.tolist()) == list(range(len(m)))


def test_order_maps_rows_back_to_input_sites():
    cell = _shuffled(primitive_cell(FIXTURES["SrTiO3"]()), 3)
    cmap = compute_contact_map(cell)
    assert [cell[i].specie.symbol for i in cmap.order] == list(cmap.species)
    raw = compute_contact_map(cell, canonical=False)
    np.testing.assert_array_equal(raw.matrix[np.ix_(cmap.order, cmap.order)], cmap.matrix)


def test_labels_padding_and_round_trip():
    cmap = _map(FIXTURES["TiO2"]())
    assert cmap.labels == ("Ti1", "Ti2", "O1", "O2", "O3", "O4")
    padded = cmap.padded(12)
    assert padded.shape == (12, 12) and padded[:6, :6].tolist() == cmap.matrix.tolist() and not padded[6:].any()
    with pytest.raises(ValueError):
        cmap.padded(4)
    again = ContactMap.from_dict(cmap.to_dict())
    assert again.species == cmap.species and (again.matrix == cmap.matrix).all()
    assert again.labels == cmap.labels


def test_disordered_structure_is_rejected():
    from core.errors import AlphaCrystalError

    s = Structure(Lattice.cubic(4.0), [{"Fe": 0.5, "Co": 0.5}], [[0, 0, 0]])
    with pytest.raises(AlphaCrystalError, match="partially occupied"):
        compute_contact_map(s)


def _paper_rule_by_hand(structure: Structure, tol: float = 0.4):
    """The paper's rule written out independently of core.contact.contact_rule: Cordero radii,
    bonded within r_i + r_j ± tol except metal pairs, short below the window (metal
    pairs: below 0.6 (r_i + r_j)), every periodic image (pymatgen's neighbour list)."""
    from pymatgen.core import Element

    from core.crystal.elements import element_table

    table = element_table()
    n = len(structure)
    bonded = np.zeros((n, n), dtype=np.uint8)
    valid = short = 0
    for i, neighbours in enumerate(structure.get_all_neighbors(6.0)):
        zi = structure[i].specie.Z
        for nb in neighbours:
            zj = nb.specie.Z
            target = table.covalent_radius[zi] + table.covalent_radius[zj]
            metals = Element.from_Z(zi).is_metal and Element.from_Z(zj).is_metal
            if metals:
                short += nb.nn_distance < 0.6 * target
            elif nb.nn_distance < target - tol:
                short += 1
            elif nb.nn_distance <= target + tol:
                valid += 1
                if nb.index != i:
                    bonded[i, nb.index] = 1
    return bonded, valid // 2, short // 2


@pytest.mark.parametrize("seed", range(6))
def test_the_paper_rule_is_unchanged_against_a_hand_written_copy(seed):
    """Pins the default rule (the maps every model was trained on) to its definition."""
    from core.contact.contact_map import contact_counts

    rng = np.random.default_rng(seed)
    species = rng.choice(["Na", "Cl", "Ti", "O", "Cs", "Fe", "H", "S"], size=int(rng.integers(2, 7)))
    cell = Structure(Lattice.from_parameters(*(rng.uniform(3.0, 6.0, 3)), *(rng.uniform(70, 110, 3))),
                     species.tolist(), rng.random((len(species), 3)))
    counts = contact_counts(cell.lattice.matrix, cell.frac_coords, [s.specie.Z for s in cell])
    bonded, valid, short = _paper_rule_by_hand(cell)
    assert np.array_equal(counts.bonded, bonded)
    assert (counts.n_valid_bonds, counts.n_short_contacts) == (valid, short)


def test_contact_map_of_a_file_names_the_radii_of_the_rule_it_applied(tmp_path, capsys):
    """--rule metallic printed the covalent window; on a cell that is not all-metal the paper's rule
    applies, and it says so."""
    from pymatgen.core import Lattice, Structure
    from pymatgen.io.cif import CifWriter

    from core.cli import main

    cuzn, gaas = tmp_path / "CuZn.cif", tmp_path / "GaAs.cif"
    CifWriter(Structure.from_spacegroup("Pm-3m", Lattice.cubic(2.95), ["Cu", "Zn"],
                                        [[0, 0, 0], [0.5, 0.5, 0.5]])).write_file(str(cuzn))
    CifWriter(Structure.from_spacegroup("F-43m", Lattice.cubic(5.65), ["Ga", "As"],
                                        [[0, 0, 0], [0.25, 0.25, 0.25]])).write_file(str(gaas))
    assert main(["contact-map", str(cuzn), "--rule", "metallic"]) == 0
    assert "window: metallic radii R_i + R_j for metal pairs" in capsys.readouterr().out
    assert main(["contact-map", str(gaas), "--rule", "metallic"]) == 0
    out = capsys.readouterr().out
    assert "window: covalent radii r_i + r_j ± 0.4 Å" in out and "not all-metal, so the paper's rule applies" in out


def test_a_reference_names_its_bonds_over_images_apart_from_its_maps_pairs(tmp_path):
    from pymatgen.core import Lattice, Structure

    from core.app.reference import read_reference

    path = tmp_path / "SrTiO3.cif"
    Structure.from_spacegroup("Pm-3m", Lattice.cubic(3.905), ["Sr", "Ti", "O"],
                              [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0]]).to(filename=str(path))
    text = read_reference(path).describe()
    assert "18 bonds over periodic images (6 atom pairs in contact in the map)" in text, text
    assert "primitive cell" not in text  # a cell read as it is says nothing of it
    # a supercell is compared as its primitive cell, and says so (a 128-atom file read as "2 atoms")
    big = tmp_path / "SrTiO3_2x2x2.vasp"
    Structure.from_spacegroup("Pm-3m", Lattice.cubic(3.905), ["Sr", "Ti", "O"],
                              [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0]]).make_supercell(2).to(filename=str(big), fmt="poscar")
    assert "5 atoms (the primitive cell of the 40 atoms in the file)" in read_reference(big).describe()
