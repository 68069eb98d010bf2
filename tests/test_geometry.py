"""The 3D view's geometry (no display needed): atoms on the cell boundary are drawn on
every face, edge and corner they touch, and every bond joins two drawn atoms."""

from collections import Counter

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from alphacrystal_gui.view3d.geometry import scene_geometry


def _perovskite() -> Structure:
    return Structure(Lattice.cubic(3.905), ["Sr", "Ti", "O", "O", "O"],
                     [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]])


def _inside(geometry, upper) -> Counter:
    f = geometry["frac"]
    keep = (f >= -1e-6).all(axis=1) & (f <= np.asarray(upper) + 1e-6).all(axis=1)
    return Counter(np.array(geometry["species"])[keep].tolist())


def test_cubic_perovskite_cell_draws_every_periodic_image_on_its_boundary():
    g = scene_geometry(_perovskite())
    assert _inside(g, (1, 1, 1)) == {"Sr": 8, "Ti": 1, "O": 6}  # corners, centre, face centres
    big = scene_geometry(_perovskite(), (2, 2, 2))
    assert _inside(big, (2, 2, 2)) == {"Sr": 27, "Ti": 8, "O": 36}


def test_every_bond_ends_on_a_drawn_atom_and_ti_has_its_six_oxygens():
    g = scene_geometry(_perovskite())
    positions, ends = g["positions"], g["bonds"]
    assert len(ends) and all(np.linalg.norm(positions - e, axis=1).min() < 1e-6 for e in ends)
    ti = positions[g["species"].index("Ti")]
    touching = sum(np.linalg.norm(ends[0::2] - ti, axis=1).round(6).tolist().count(0.0) for _ in [0]) + \
        sum(np.linalg.norm(ends[1::2] - ti, axis=1).round(6).tolist().count(0.0) for _ in [0])
    assert touching == 6


def test_coordination_polyhedra_ti_octahedron():
    from alphacrystal_gui.view3d.geometry import polyhedra_mesh

    g = scene_geometry(_perovskite())
    vertices, faces, colours = polyhedra_mesh(g, {"Ti"})
    assert vertices.shape == (6, 3) and faces.shape == (8, 3)  # one octahedron: 6 O, 8 triangles
    assert np.allclose(np.linalg.norm(vertices - vertices.mean(axis=0), axis=1), 3.905 / 2)
    assert (colours[:, 3] < 1).all()  # translucent
    from alphacrystal_gui.view3d.geometry import (
        POLYHEDRON_MAX_LUMINANCE,
        atom_colours,
        polyhedra_edges,
    )

    ti = atom_colours(["Ti"])[0]  # Jmol's light grey: darkened, same hue
    assert colours[0, :3] @ [0.2126, 0.7152, 0.0722] == pytest.approx(POLYHEDRON_MAX_LUMINANCE)
    assert np.allclose(colours[0, :3] / colours[0, :3].max(), ti[:3] / ti[:3].max())
    assert len(polyhedra_edges(vertices, faces)) == 2 * 12  # an octahedron's 12 edges
    assert polyhedra_mesh(_geometry_without_bonds(), None) is None  # nothing bonded: nothing to draw


def test_polyhedra_edges_skip_the_diagonals_of_square_faces():
    from scipy.spatial import ConvexHull

    from alphacrystal_gui.view3d.geometry import polyhedra_edges

    cube = np.array([[x, y, z] for x in (0, 1) for y in (0, 1) for z in (0, 1)], dtype=float)
    faces = ConvexHull(cube).simplices  # 12 triangles, two per square face
    ends = polyhedra_edges(cube, faces)
    assert len(ends) == 2 * 12
    assert np.allclose(np.linalg.norm(ends[0::2] - ends[1::2], axis=1), 1.0)  # cube edges, no face diagonals


def _geometry_without_bonds():
    apart = Structure(Lattice.cubic(20.0), ["Ti", "O"], [[0, 0, 0], [0.5, 0.5, 0.5]])  # 17 Å apart: no bond
    g = scene_geometry(apart)
    assert len(g["bond_pairs"]) == 0
    return g


def test_the_default_view_holds_every_drawn_atom_not_only_the_cell():
    """Fitting the cell alone cut rutile's bonded O atoms outside it off the picture; a bounding
    sphere (the first fix) left flat supercells small: the fit is the projected extent."""
    from alphacrystal_gui.view3d.geometry import view_extent

    rutile = Structure.from_spacegroup("P4_2/mnm", Lattice.tetragonal(4.59, 2.96), ["Ti", "O"],
                                       [[0, 0, 0], [0.305, 0.305, 0]])
    from vispy.scene import TurntableCamera

    g = scene_geometry(rutile, (1, 1, 3))
    centre = g["cell"].mean(axis=0)
    aspect = 1.4
    extent = view_extent(g, centre, 22, 35, aspect)
    # every drawn ball inside the view, as vispy's own camera turns the scene (its axes and signs)
    seen = np.c_[g["positions"] - centre, np.ones(len(g["positions"]))] @ TurntableCamera(
        elevation=22, azimuth=35)._get_rotation_tr()
    assert (np.abs(seen[:, 2]) + g["sizes"]).max() <= extent / 2
    assert (np.abs(seen[:, 0]) + g["sizes"]).max() <= extent / 2 * aspect
    flat = scene_geometry(rutile, (3, 3, 1))
    middle = flat["cell"].mean(axis=0)
    sphere = 2 * (np.linalg.norm(flat["positions"] - middle, axis=1) + flat["sizes"]).max()
    assert view_extent(flat, middle, 22, 35, aspect=1.5) < sphere
    assert view_extent(flat, middle, 22, 35, aspect=0.5) > view_extent(flat, middle, 22, 35, aspect=1.5)


def test_the_default_view_holds_the_nearer_atoms_of_a_deep_supercell_in_perspective():
    """A 2 x 2 x 1 supercell was fitted in its centre plane; the perspective draws nearer atoms larger
    and cut them off a short panel: every ball, projected as a camera of that fov at that distance
    projects it, lies within the view."""
    from vispy.scene import TurntableCamera

    from alphacrystal_gui.view3d.geometry import CAMERA_FOV, view_extent

    rutile = Structure.from_spacegroup("P4_2/mnm", Lattice.tetragonal(4.59, 2.96), ["Ti", "O"],
                                       [[0, 0, 0], [0.305, 0.305, 0]])
    g = scene_geometry(rutile, (2, 2, 2))
    centre = g["cell"].mean(axis=0)
    aspect = 608 / 213
    height = view_extent(g, centre, 22, 35, aspect)
    assert height > view_extent(g, centre, 22, 35, aspect, fov=0.0)  # the perspective needs room
    seen = np.c_[g["positions"] - centre, np.ones(len(g["positions"]))] @ TurntableCamera(
        elevation=22, azimuth=35)._get_rotation_tr()
    distance = height / 2 / np.tan(np.radians(CAMERA_FOV) / 2)  # the camera's distance from the centre
    nearer = -seen[:, 1] + g["sizes"]
    magnified = distance / (distance - nearer)
    assert ((np.abs(seen[:, 2]) + g["sizes"]) * magnified).max() <= height / 2
    assert ((np.abs(seen[:, 0]) + g["sizes"]) * magnified).max() <= height / 2 * aspect
