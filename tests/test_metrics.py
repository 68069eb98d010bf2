import itertools

import numpy as np
import pytest
from conftest import FIXTURES
from hypothesis import given, settings
from hypothesis import strategies as st
from pymatgen.core import Lattice, Structure

from core.contact.contact_map import compute_contact_map
from core.contact.metrics import best_matching_permutation, dice, matched_dice
from core.crystal.matching import (
    CSP_TOLERANCES,
    PAPER_TOLERANCES,
    fractional_rmsd_mae,
    structure_match,
)
from core.crystal.symmetry import primitive_cell


def test_dice_basics():
    a = np.array([[0, 1, 1], [1, 0, 0], [1, 0, 0]])
    assert dice(a, a) == 1.0
    assert dice(a, 1 - a - np.eye(3, dtype=int)) == 0.0
    b = np.array([[0, 1, 0], [1, 0, 0], [0, 0, 0]])
    assert dice(a, b) == pytest.approx(2 * 2 / (4 + 2))
    assert dice(np.zeros((2, 2)), np.zeros((2, 2))) == 1.0
    # the diagonal is ignored, probabilities are thresholded at 0.5
    assert dice(a + np.eye(3, dtype=int), a * 0.9) == 1.0
    with pytest.raises(ValueError):
        dice(a, np.zeros((2, 2)))


def test_matched_dice_is_invariant_to_same_element_permutations():
    cmap = compute_contact_map(primitive_cell(FIXTURES["TiO2"]()) * (2, 1, 1))  # 12 atoms, 8 O
    target = cmap.matrix
    rng = np.random.default_rng(0)
    perm = np.arange(12)
    ti, o = np.flatnonzero(np.array(cmap.species) == "Ti"), np.flatnonzero(np.array(cmap.species) == "O")
    perm[ti] = rng.permutation(ti)
    perm[o] = rng.permutation(o)
    scrambled = target[np.ix_(perm, perm)]
    assert dice(scrambled, target) < 1.0
    assert matched_dice(scrambled, target, cmap.species) == 1.0
    # heuristic path (exhaustive search disabled) also recovers it here
    assert matched_dice(scrambled, target, cmap.species, exact_limit=1) == 1.0


def test_matched_dice_does_not_permute_across_elements():
    species = ("Na", "Cl", "Cl")
    pred = np.array([[0, 1, 0], [1, 0, 0], [0, 0, 0]])
    target = np.array([[0, 0, 0], [0, 0, 1], [0, 1, 0]])  # Cl-Cl bond: no same-element swap fixes it
    assert matched_dice(pred, target, species) == 0.0


def test_best_permutation_reorders_prediction():
    species = ("O", "O", "O")
    target = np.array([[0, 1, 0], [1, 0, 0], [0, 0, 0]])
    pred = np.array([[0, 0, 0], [0, 0, 1], [0, 1, 0]])
    perm, value = best_matching_permutation(pred, target, species)
    assert value == 1.0
    np.testing.assert_array_equal(pred[np.ix_(perm, perm)], target)


@st.composite
def _pairs(draw):
    n = draw(st.integers(2, 7))
    species = tuple(draw(st.lists(st.sampled_from(["Sr", "Ti", "O"]), min_size=n, max_size=n)))

    def sym():
        m = np.zeros((n, n), dtype=np.uint8)
        m[np.triu_indices(n, 1)] = draw(st.lists(st.booleans(), min_size=n * (n - 1) // 2, max_size=n * (n - 1) // 2))
        return m | m.T

    return sym(), sym(), species


@settings(max_examples=200, deadline=None)
@given(_pairs())
def test_matched_dice_bounds(pair):
    pred, target, species = pair
    exact = matched_dice(pred, target, species)
    heuristic = matched_dice(pred, target, species, exact_limit=1)
    assert dice(pred, target) <= heuristic + 1e-12 <= exact + 2e-12
    # brute force over all same-element permutations agrees with the exhaustive path
    best = 0.0
    idx = list(range(len(species)))
    for perm in itertools.permutations(idx):
        if all(species[p] == species[i] for i, p in zip(idx, perm)):
            best = max(best, dice(pred[np.ix_(perm, perm)], target))
    assert exact == pytest.approx(best)


def test_rmsd_mae_on_perturbed_copy():
    ref = primitive_cell(FIXTURES["TiO2"]())
    assert fractional_rmsd_mae(ref, ref) == (0.0, 0.0)
    shifted = ref.copy()
    shifted.translate_sites([0], [0.03, -0.04, 0.0], frac_coords=True)
    rmsd, mae = fractional_rmsd_mae(shifted, ref)
    n = len(ref)
    assert rmsd == pytest.approx(np.sqrt((0.03**2 + 0.04**2) / n))
    assert mae == pytest.approx((0.03 + 0.04) / n)


def test_rmsd_minimises_over_axis_permutations_and_wraps():
    ref = primitive_cell(FIXTURES["TiO2"]())
    swapped = ref.copy()
    # swap the a and c axes of the fractional coordinates and wrap a coordinate across the cell edge
    frac = ref.frac_coords[:, [2, 1, 0]]
    frac[0] = (frac[0] + [1.0, 0, 0])
    swapped = type(ref)(ref.lattice, ref.species, frac)
    assert fractional_rmsd_mae(swapped, ref)[0] == pytest.approx(0.0, abs=1e-12)


def test_rmsd_requires_same_atoms():
    with pytest.raises(ValueError, match="same atoms"):
        fractional_rmsd_mae(primitive_cell(FIXTURES["NaCl"]()), primitive_cell(FIXTURES["CsCl"]()))


def test_structure_matcher_wrappers():
    ref = primitive_cell(FIXTURES["SrTiO3"]())
    moved = ref.copy()
    moved.perturb(0.05, min_distance=0.05, seed=0)  # a fixed shake: the test is the same on every run
    hit = structure_match(moved, ref, CSP_TOLERANCES)
    assert hit.matched and 0 < hit.rms < 0.1
    assert structure_match(ref, ref).rms == pytest.approx(0.0, abs=1e-8)
    assert not structure_match(primitive_cell(FIXTURES["NaCl"]()), primitive_cell(FIXTURES["CsCl"]())).matched
    # a 15 degree shear exceeds the CSP angle tolerance (10) but not the paper's loose one (20)
    sheared = Structure(Lattice.from_parameters(3.905, 3.905, 3.905, 90, 90, 105), ref.species, ref.frac_coords)
    assert not structure_match(sheared, ref, CSP_TOLERANCES).matched
    assert structure_match(sheared, ref, PAPER_TOLERANCES).matched
