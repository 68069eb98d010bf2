"""3D view of a crystal structure (a vispy scene, drawn offscreen or embedded:
see :mod:`alphacrystal_gui.view3d.canvas_host`).

Atoms are shaded spheres (``Markers`` with spherical shading) coloured with
the Jmol scheme pymatgen ships and sized by covalent radius; bonds are drawn
from a contact map (or, without one, from the foundation's bond rule on
distances); cell edges and an axis triad show the lattice. Turntable camera:
drag to rotate, wheel to zoom, shift-drag to pan. Clicking an atom shows its
label, element and fractional coordinates.
"""

from __future__ import annotations

from functools import lru_cache
from itertools import product
from pathlib import Path

import numpy as np
from pymatgen.core import Structure
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget
from vispy import scene

from alphacrystal_gui.view3d.canvas_host import OffscreenCanvasWidget, create_canvas
from core.contact_map import compute_contact_map
from core.elements import atomic_numbers, element_table

CELL_EDGES = np.array([[0, 1], [0, 2], [0, 4], [1, 3], [1, 5], [2, 3], [2, 6], [3, 7], [4, 5], [4, 6], [5, 7], [6, 7]])


@lru_cache(maxsize=1)
def jmol_colours() -> dict[str, tuple[float, float, float]]:
    """Element -> RGB in 0..1 from pymatgen's ElementColorSchemes.yaml (Jmol)."""
    import pymatgen.vis
    from monty.serialization import loadfn

    table = loadfn(str(Path(pymatgen.vis.__file__).parent / "ElementColorSchemes.yaml"))["Jmol"]
    return {el: tuple(c / 255 for c in rgb) for el, rgb in table.items()}


def scene_geometry(structure: Structure, repeat: tuple[int, int, int] = (1, 1, 1),
                   contact: np.ndarray | None = None) -> dict:
    """Positions (Å, Cartesian), colours, sizes, labels, bond segments and cell corners to draw.

    Bonds connect atom i to every image of j that lies within the bond window
    (``contact[i, j] == 1`` when a map is given, else the foundation's rule);
    bonded images outside the drawn cells are added as atoms (labels with a prime).
    """
    na, nb, nc = repeat
    shifts = np.array([(a, b, c) for a in range(na) for b in range(nb) for c in range(nc)], dtype=float)
    frac = np.mod(structure.frac_coords, 1.0)
    species = [site.specie.symbol for site in structure]
    n = len(structure)
    all_frac = (frac[None, :, :] + shifts[:, None, :]).reshape(-1, 3)
    lattice = structure.lattice.matrix
    positions = all_frac @ lattice
    colours = jmol_colours()
    table = element_table()
    radii = table.covalent_radius[atomic_numbers(species)]
    atom_species = species * len(shifts)
    if contact is None:
        contact = compute_contact_map(structure.copy(), canonical=False).matrix
    counts: dict[str, int] = {}
    labels = []
    for el in species:
        counts[el] = counts.get(el, 0) + 1
        labels.append(f"{el}{counts[el]}")
    # Bond segments from every atom to each image of a bonded atom within r_i + r_j + 0.4 Å
    # (vectorised over bonded pairs and the 27 neighbouring cells); a bonded image that
    # lies outside the drawn cells is drawn as an atom too, as VESTA does.
    segments, extra = [], {}
    cutoff = radii[:, None] + radii[None, :] + 0.4
    pairs = np.argwhere(contact > 0)
    images = np.array(list(product((-1, 0, 1), repeat=3)), dtype=float)
    upper = np.array(repeat, dtype=float)
    for shift in shifts if len(pairs) else []:
        fi = frac[pairs[:, 0]] + shift
        fj = frac[pairs[:, 1]][:, None, :] + shift + images[None, :, :]
        dist = np.linalg.norm((fj - fi[:, None, :]) @ lattice, axis=2)
        for p_idx, im in np.argwhere(dist <= cutoff[pairs[:, 0], pairs[:, 1]][:, None]):
            end = fj[p_idx, im]
            segments += [fi[p_idx] @ lattice, end @ lattice]
            if ((end < -1e-6) | (end > upper + 1e-6)).any():
                extra[tuple(np.round(end, 4))] = int(pairs[p_idx, 1])
    corners = np.array([(a, b, c) for a in (0, na) for b in (0, nb) for c in (0, nc)], dtype=float) @ lattice
    extra_frac = np.array(list(extra), dtype=float).reshape(-1, 3)
    extra_idx = list(extra.values())
    all_frac = np.concatenate([all_frac, extra_frac])
    positions = np.concatenate([positions, extra_frac @ lattice])
    atom_species = atom_species + [species[k] for k in extra_idx]
    atom_labels = [labels[k % n] for k in range(len(shifts) * n)] + [labels[k] + "'" for k in extra_idx]
    sizes = np.concatenate([np.tile(0.45 * radii, len(shifts)), 0.45 * radii[extra_idx]])  # ball-and-stick radius
    bonds = np.array(segments).reshape(-1, 3) if segments else np.zeros((0, 3))
    mesh = cylinder_mesh(bonds) if len(bonds) else None
    return {
        "mesh": mesh,
        "positions": positions,
        "colours": np.array([colours.get(el, (0.8, 0.3, 0.8)) + (1.0,) for el in atom_species]),
        "sizes": sizes,
        "labels": atom_labels,
        "species": atom_species,
        "frac": all_frac,
        "bonds": bonds,
        "cell": corners[CELL_EDGES.reshape(-1)],
    }


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


class StructureView(QWidget):
    """Embedded vispy canvas with a supercell switch, PNG export and click-to-label."""

    atomPicked = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.canvas, canvas_widget, self.render_mode = create_canvas((480, 420))
        self.view = self.canvas.central_widget.add_view()
        self.view.camera = scene.TurntableCamera(fov=30, elevation=22, azimuth=35)
        self.atoms = scene.visuals.Markers(parent=self.view.scene, spherical=True, scaling="scene")
        # Bonds are cylinders (a mesh): GL lines wider than 1 px are invalid on core-profile
        # contexts (Mesa llvmpipe) and vispy's "agg" lines cannot draw separate segments.
        self.bond_mesh = scene.visuals.Mesh(parent=self.view.scene, color=(0.55, 0.55, 0.55, 1), shading="smooth")
        self.cell_lines = scene.visuals.Line(parent=self.view.scene, connect="segments", color=(0.1, 0.1, 0.1, 1),
                                             width=1)
        axis_pos = np.array([[0, 0, 0], [1, 0, 0], [0, 0, 0], [0, 1, 0], [0, 0, 0], [0, 0, 1]], dtype=float)
        axis_colour = np.array([[0.85, 0.1, 0.1, 1]] * 2 + [[0.1, 0.65, 0.1, 1]] * 2 + [[0.1, 0.2, 0.9, 1]] * 2)
        self.axis = scene.visuals.Line(axis_pos, color=axis_colour, connect="segments", width=1,
                                       parent=self.view.scene)  # x red, y green, z blue
        for visual in (self.atoms, self.bond_mesh, self.cell_lines, self.axis):
            visual.visible = False  # drawing an empty visual is a GL error on some drivers
        self.structure: Structure | None = None
        self.contact: np.ndarray | None = None
        self.geometry: dict | None = None
        self.supercell = QCheckBox("2 × 2 × 2")
        self.export_button = QPushButton("Save PNG…")
        self.title = QLabel("No structure")
        self.picked = QLabel("")
        top = QHBoxLayout()
        top.addWidget(self.title, 1)
        top.addWidget(self.supercell)
        top.addWidget(self.export_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(canvas_widget, 1)
        self.canvas_widget = canvas_widget
        layout.addWidget(self.picked)
        self.supercell.toggled.connect(lambda _: self._draw())
        self.canvas.events.mouse_release.connect(self._mouse_release)

    def show_structure(self, structure: Structure | None, title: str = "", contact: np.ndarray | None = None,
                       geometry: dict | None = None) -> None:
        """Draw ``structure`` (None clears). ``contact`` draws bonds from a map in site order;
        ``geometry`` is :func:`scene_geometry` computed elsewhere (e.g. in a worker thread)."""
        self.structure, self.contact = structure, contact
        self.title.setText(title or ("No structure" if structure is None else structure.composition.reduced_formula))
        self._draw(reset_camera=True, geometry=geometry)

    def _draw(self, reset_camera: bool = False, geometry: dict | None = None) -> None:
        shown = self.structure is not None
        for visual in (self.atoms, self.cell_lines, self.axis):
            visual.visible = shown
        if not shown:
            self.bond_mesh.visible = False
            self.geometry = None
            self.canvas.update()
            return
        repeat = (2, 2, 2) if self.supercell.isChecked() else (1, 1, 1)
        g = geometry if geometry is not None and repeat == (1, 1, 1) else \
            scene_geometry(self.structure, repeat, self.contact)
        self.geometry = g
        self.atoms.set_data(g["positions"], face_color=g["colours"], size=2 * g["sizes"], edge_width=0)
        self.bond_mesh.visible = g["mesh"] is not None
        if g["mesh"] is not None:
            vertices, faces = g["mesh"]
            self.bond_mesh.set_data(vertices=vertices, faces=faces, color=(0.55, 0.55, 0.55, 1))
        self.cell_lines.set_data(g["cell"], color=(0.1, 0.1, 0.1, 1))
        length = float(np.linalg.norm(self.structure.lattice.matrix, axis=1).min()) * 0.35
        self.axis.transform = scene.transforms.STTransform(scale=(length, length, length))
        if reset_camera:
            centre = g["cell"].mean(axis=0)
            self.view.camera.center = tuple(centre)
            self.view.camera.scale_factor = float(np.ptp(g["cell"], axis=0).max()) * 1.8 + 2.0
        self.canvas.update()

    def _mouse_release(self, event) -> None:
        if self.geometry is None or event.button != 1:
            return
        label = self.pick(event.pos)
        if label:
            self.picked.setText(label)
            self.atomPicked.emit(label)

    def pick(self, canvas_pos) -> str | None:
        """Label of the atom drawn nearest to a canvas position (pixels), within 15 px."""
        g = self.geometry
        if g is None or not len(g["positions"]):
            return None
        transform = self.atoms.get_transform("visual", "canvas")
        screen = transform.map(g["positions"])
        screen = screen[:, :2] / screen[:, 3:4]
        dist = np.linalg.norm(screen - np.asarray(canvas_pos[:2], dtype=float), axis=1)
        k = int(np.argmin(dist))
        if dist[k] > 15:
            return None
        x, y, z = g["frac"][k]
        return f"{g['labels'][k]} ({g['species'][k]}) at ({x:.3f}, {y:.3f}, {z:.3f}) fractional"

    def render_png(self, path: str | Path) -> Path:
        """Write the current view to a PNG file."""
        from vispy.io import write_png

        widget = self.canvas_widget
        image = widget.grab_frame() if isinstance(widget, OffscreenCanvasWidget) else self.canvas.render()
        write_png(str(path), image)
        return Path(path)
