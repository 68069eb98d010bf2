"""Geometry of a crystal drawing (no Qt, no OpenGL): atom positions, Jmol colours,
ball sizes, bond cylinders, cell edges. Computed wherever is convenient (a
worker thread, the engine process) and handed to the 3D view to draw.
"""

from __future__ import annotations

from functools import lru_cache
from itertools import product
from pathlib import Path

import numpy as np
from pymatgen.core import Structure

from core import atomic_numbers, compute_contact_map, element_table, pair_windows

CELL_EDGES = np.array([[0, 1], [0, 2], [0, 4], [1, 3], [1, 5], [2, 3], [2, 6], [3, 7], [4, 5], [4, 6], [5, 7], [6, 7]])


COLOUR_SCHEMES = ("Jmol", "VESTA")
"""Element colour schemes of pymatgen's ElementColorSchemes.yaml."""


@lru_cache(maxsize=2)
def element_colours(scheme: str = "Jmol") -> dict[str, tuple[float, float, float]]:
    """Element -> RGB in 0..1 from pymatgen's ElementColorSchemes.yaml (``Jmol`` or ``VESTA``)."""
    import pymatgen.vis
    from monty.serialization import loadfn

    table = loadfn(str(Path(pymatgen.vis.__file__).parent / "ElementColorSchemes.yaml"))[scheme]
    return {el: tuple(c / 255 for c in rgb) for el, rgb in table.items()}


def atom_colours(species: list[str], scheme: str = "Jmol") -> np.ndarray:
    """RGBA (n, 4) of atoms in a colour scheme (unknown elements magenta)."""
    colours = element_colours(scheme)
    return np.array([colours.get(el, (0.8, 0.3, 0.8)) + (1.0,) for el in species]).reshape(-1, 4)


BOUNDARY_TOL = 1e-3
"""Fractional distance from a face within which an atom is drawn on the opposite face too."""


def scene_geometry(structure: Structure, repeat: tuple[int, int, int] = (1, 1, 1)) -> dict:
    """Positions (Å, Cartesian), colours, sizes, labels, bond segments and cell corners to draw.

    As VESTA draws a cell: the atoms of the ``repeat`` cells, an atom on a face, edge
    or corner of the block repeated on every face, edge and corner it touches (cubic
    SrTiO3: 8 Sr, 6 O, 1 Ti), and the bonded images just outside the block (labels
    with a prime). Bonds join every pair of drawn atoms that the structure's contact map puts in
    contact, at a distance within the pair's bonding window (:func:`core.pair_windows`, the rule
    and tolerance of that map: r_i + r_j + 0.4 Å for covalent radii by default), so no bond ends
    where no atom is drawn.
    """
    na, nb, nc = repeat
    upper = np.array(repeat, dtype=float)
    shifts = np.array([(a, b, c) for a in range(na) for b in range(nb) for c in range(nc)], dtype=float)
    frac = np.mod(structure.frac_coords, 1.0)
    frac[frac > 1 - BOUNDARY_TOL] = 0.0  # 0.99999 is the face at 0
    species = [site.specie.symbol for site in structure]
    n = len(structure)
    lattice = structure.lattice.matrix
    numbers = atomic_numbers(species)
    radii = element_table().covalent_radius[numbers]  # Å, for the balls' sizes
    cmap = compute_contact_map(structure.copy(), canonical=False)
    contact, window = cmap.matrix, {"tolerance": cmap.tolerance, "rule": cmap.rule}
    counts: dict[str, int] = {}
    labels = []
    for el in species:
        counts[el] = counts.get(el, 0) + 1
        labels.append(f"{el}{counts[el]}")
    cutoff = pair_windows(numbers[:, None], numbers[None, :], **window).high

    # the block's atoms, then their copies on the far faces, edges and corners
    block = (frac[None, :, :] + shifts[:, None, :]).reshape(-1, 3)
    owner = np.tile(np.arange(n), len(shifts))
    drawn: dict[tuple, int] = {}
    for f, k in zip(block, owner):
        low = np.flatnonzero(f < BOUNDARY_TOL)
        for mask in product((0, 1), repeat=len(low)):
            g = f.copy()
            g[low[np.array(mask, dtype=bool)]] += upper[low[np.array(mask, dtype=bool)]]
            drawn.setdefault(tuple(np.round(g, 4)), int(k))
    inside = len(drawn)
    # bonded images just outside the block (vectorised over bonded pairs and the 27 neighbouring cells)
    pairs = np.argwhere(contact > 0)
    images = np.array(list(product((-1, 0, 1), repeat=3)), dtype=float)
    for shift in shifts if len(pairs) else []:
        fi = frac[pairs[:, 0]] + shift
        fj = frac[pairs[:, 1]][:, None, :] + shift + images[None, :, :]
        dist = np.linalg.norm((fj - fi[:, None, :]) @ lattice, axis=2)
        for p_idx, im in np.argwhere(dist <= cutoff[pairs[:, 0], pairs[:, 1]][:, None]):
            end = fj[p_idx, im]
            if ((end < -1e-6) | (end > upper + 1e-6)).any():
                drawn.setdefault(tuple(np.round(end, 4)), int(pairs[p_idx, 1]))
    all_frac = np.array(list(drawn), dtype=float).reshape(-1, 3)
    base = np.array(list(drawn.values()), dtype=int)
    positions = all_frac @ lattice
    # bonds between drawn atoms only
    delta = np.linalg.norm(positions[:, None, :] - positions[None, :, :], axis=2)
    bonded = (contact[base[:, None], base[None, :]] > 0) & (delta <= cutoff[base[:, None], base[None, :]]) \
        & (delta > 0.1)
    i, j = np.nonzero(np.triu(bonded, k=1))
    bonds = np.stack([positions[i], positions[j]], axis=1).reshape(-1, 3) if len(i) else np.zeros((0, 3))
    corners = np.array([(a, b, c) for a in (0, na) for b in (0, nb) for c in (0, nc)], dtype=float) @ lattice
    atom_species = [species[k] for k in base]
    return {
        "mesh": cylinder_mesh(bonds) if len(bonds) else None,
        "positions": positions,
        "colours": atom_colours(atom_species),
        "sizes": 0.45 * radii[base],  # ball-and-stick radius
        "labels": [labels[k] + ("'" if m >= inside else "") for m, k in enumerate(base)],
        "species": atom_species,
        "frac": all_frac,
        "base": base,
        "bonds": bonds,
        "bond_pairs": np.stack([i, j], axis=1) if len(i) else np.zeros((0, 2), dtype=int),
        "cell": corners[CELL_EDGES.reshape(-1)],
    }


VIEW_MARGIN = 1.05
"""The camera's field over the structure's projected extent, perspective included: a little room
around the outermost atoms."""

CAMERA_FOV = 30.0
"""Degrees: the 3D view's perspective (vispy's TurntableCamera ``fov``)."""


def view_extent(geometry: dict, centre: np.ndarray, elevation: float, azimuth: float,
                aspect: float = 1.0, fov: float = CAMERA_FOV) -> float:
    """Å of height the camera shows at ``centre`` (vispy's ``scale_factor``) so that the cell
    and every drawn atom's ball (bonded neighbours drawn outside the cell too) fit the view seen
    from ``elevation`` and ``azimuth`` (degrees, a turntable camera about +z, as vispy turns it)
    in a canvas ``aspect`` = width / height, with a perspective of ``fov`` degrees. Fitting the cell
    alone cut rutile's outer O atoms off; a bounding sphere left flat supercells small; the extent in
    the centre plane alone cut the nearer atoms of a deep 2 x 2 x 1 supercell, which the perspective
    draws larger (a point ``d`` Å nearer than the centre needs ``2 d tan(fov / 2)`` more height)."""
    from vispy.util import transforms

    rotation = transforms.rotate(elevation, [-1, 0, 0]) @ transforms.rotate(azimuth, [0, 0, 1])
    points = np.vstack([geometry["cell"], geometry["positions"]]) - centre
    sizes = np.concatenate([np.zeros(len(geometry["cell"])), np.asarray(geometry["sizes"], dtype=float)])
    if not len(points):
        return 2.0 * VIEW_MARGIN
    seen = np.c_[points, np.ones(len(points))] @ rotation  # vispy's row-vector convention
    nearer = np.clip(-seen[:, 1] + sizes, 0.0, None)  # Å towards the camera (it sits on the -y side)
    grow = 2.0 * nearer * np.tan(np.radians(fov) / 2.0)
    height = float((2.0 * (np.abs(seen[:, 2]) + sizes) + grow).max())  # up the screen (+z up)
    width = float((2.0 * (np.abs(seen[:, 0]) + sizes) + grow).max())  # across the screen
    return max(height, width / max(aspect, 1e-6)) * VIEW_MARGIN


def cylinder_mesh(segments: np.ndarray, radius: float = 0.12, sides: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Vertices and triangle faces of open cylinders along segments (pairs of rows, Å)."""
    start, end = segments[0::2], segments[1::2]
    axis = end - start
    length = np.linalg.norm(axis, axis=1, keepdims=True)
    axis = axis / np.where(length > 0, length, 1.0)
    helper = np.where(np.abs(axis[:, :1]) < 0.9, [[1.0, 0.0, 0.0]], [[0.0, 1.0, 0.0]])
    u = np.cross(axis, helper)
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    v = np.cross(axis, u)
    angles = np.linspace(0, 2 * np.pi, sides, endpoint=False)
    ring = radius * (np.cos(angles)[None, :, None] * u[:, None, :] + np.sin(angles)[None, :, None] * v[:, None, :])
    vertices = np.concatenate([start[:, None, :] + ring, end[:, None, :] + ring], axis=1)  # (m, 2*sides, 3)
    k = np.arange(sides)
    nxt = (k + 1) % sides
    quad = np.stack([np.stack([k, nxt, sides + k], 1), np.stack([nxt, sides + nxt, sides + k], 1)], 1).reshape(-1, 3)
    offsets = (np.arange(len(start)) * 2 * sides)[:, None, None]
    faces = (quad[None, :, :] + offsets).reshape(-1, 3)
    return vertices.reshape(-1, 3).astype(np.float32), faces.astype(np.uint32)


POLYHEDRON_MAX_LUMINANCE = 0.55
"""Polyhedra take the centre's colour darkened to at most this relative luminance (0-1),
so light colours (Ti's grey, Al's) stay visible as translucent faces on white."""


def polyhedron_colour(rgb, alpha: float = 0.55) -> np.ndarray:
    """RGBA of a polyhedron around an atom of colour ``rgb`` (0-1): the same hue, darkened
    to :data:`POLYHEDRON_MAX_LUMINANCE` where lighter, made translucent."""
    rgb = np.asarray(rgb[:3], dtype=float)
    luminance = float(rgb @ np.array([0.2126, 0.7152, 0.0722]))
    if luminance > POLYHEDRON_MAX_LUMINANCE:
        rgb = rgb * (POLYHEDRON_MAX_LUMINANCE / luminance)
    return np.append(rgb, alpha)


def polyhedra_edges(vertices: np.ndarray, faces: np.ndarray, flat_degrees: float = 1.0) -> np.ndarray:
    """Edges of polyhedra drawn as triangles, as segment end points (2E, 3) Å: every edge
    of the triangles except those between two coplanar ones (a square face's diagonal)."""
    tri = vertices[faces]
    normals = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)
    owners: dict[tuple[int, int], list[int]] = {}
    for f, (a, b, c) in enumerate(faces):
        for u, v in ((a, b), (b, c), (c, a)):
            owners.setdefault((min(u, v), max(u, v)), []).append(f)
    cos_flat = np.cos(np.radians(flat_degrees))
    keep = [edge for edge, fs in owners.items()
            if len(fs) != 2 or abs(float(normals[fs[0]] @ normals[fs[1]])) < cos_flat]
    if not keep:
        return np.zeros((0, 3), dtype=np.float32)
    return vertices[np.array(keep).reshape(-1)].astype(np.float32)


def polyhedra_mesh(geometry: dict, elements: set[str] | None = None, min_neighbours: int = 4, alpha: float = 0.55
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Coordination polyhedra: the convex hull of the drawn neighbours of every drawn atom
    with at least ``min_neighbours`` bonds to drawn atoms (of ``elements`` when given), in
    its element's colour (:func:`polyhedron_colour`: darkened where light, translucent).
    Returns (vertices (V, 3) Å, faces (F, 3), vertex colours (V, 4)) or None.

    Centres are the atoms whose neighbours are all of other elements (cations in an ionic
    structure, as VESTA's default polyhedra), so anions do not wrap cations twice."""
    from scipy.spatial import ConvexHull, QhullError

    pairs = geometry.get("bond_pairs", np.zeros((0, 2), dtype=int))
    positions, species, colours = geometry["positions"], geometry["species"], geometry["colours"]
    neighbours: dict[int, set[int]] = {}
    for a, b in pairs:
        neighbours.setdefault(int(a), set()).add(int(b))
        neighbours.setdefault(int(b), set()).add(int(a))
    vertices, faces, vertex_colours = [], [], []
    for centre, around in neighbours.items():
        if len(around) < min_neighbours or any(species[k] == species[centre] for k in around):
            continue
        if elements is not None and species[centre] not in elements:
            continue
        points = positions[sorted(around)]
        try:
            hull = ConvexHull(points)
        except (QhullError, ValueError):  # flat (square-planar) or degenerate: no volume to draw
            continue
        offset = sum(len(v) for v in vertices)
        vertices.append(points)
        faces.append(hull.simplices + offset)
        colour = polyhedron_colour(colours[centre], alpha)
        vertex_colours.append(np.repeat(colour[None, :], len(points), axis=0))
    if not vertices:
        return None
    return (np.concatenate(vertices).astype(np.float32), np.concatenate(faces).astype(np.uint32),
            np.concatenate(vertex_colours).astype(np.float32))
