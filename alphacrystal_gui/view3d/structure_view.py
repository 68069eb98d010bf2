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

from pathlib import Path

import numpy as np
from pymatgen.core import Structure
from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)
from vispy import scene
from vispy.visuals import MeshVisual

import core
from alphacrystal_gui.view3d.canvas_host import OffscreenCanvasWidget, create_canvas
from alphacrystal_gui.view3d.geometry import (
    CAMERA_FOV,
    COLOUR_SCHEMES,
    atom_colours,
    polyhedra_edges,
    polyhedra_mesh,
    scene_geometry,
    view_extent,
)
from alphacrystal_gui.widgets.labels import WrappedLabel, fitted

MEASURE_COLOUR = (0.85, 0.35, 0.0, 1.0)
"""Colour of a measured distance or angle drawn in the scene (orange)."""


class _BondMeshVisual(MeshVisual):
    """vispy's mesh with one colour function for its lifetime.

    ``MeshVisual`` makes a new (identical) colour function on every ``set_data``,
    which re-compiles its shaders: 12-35 ms per new structure in software
    OpenGL, in the GUI thread. Colour maps (one value per vertex) keep vispy's path.
    """

    _pass_colour = None

    def _build_color_transform(self, colors):
        if colors.ndim == 2 and colors.shape[1] == 1:
            return super()._build_color_transform(colors)
        if self._pass_colour is None:
            self._pass_colour = super()._build_color_transform(colors)
        return self._pass_colour


_BondMesh = scene.visuals.create_visual_node(_BondMeshVisual)


class StructureView(QWidget):
    """Embedded vispy canvas with a supercell switch, PNG export and click-to-label."""

    atomPicked = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.canvas, canvas_widget, self.render_mode = create_canvas((480, 420))
        self.view = self.canvas.central_widget.add_view()
        self.view.camera = scene.TurntableCamera(fov=CAMERA_FOV, elevation=22, azimuth=35)
        self.atoms = scene.visuals.Markers(parent=self.view.scene, spherical=True, scaling="scene")
        # Bonds are cylinders (a mesh): GL lines wider than 1 px are invalid on core-profile
        # contexts (Mesa llvmpipe) and vispy's "agg" lines cannot draw separate segments.
        self.bond_mesh = _BondMesh(parent=self.view.scene, color=(0.55, 0.55, 0.55, 1), shading="smooth")
        # coordination polyhedra: translucent, per-vertex colours, flat-shaded faces so that each
        # face reads as a plane, dark edges; drawn after the opaque visuals
        self.polyhedra = scene.visuals.Mesh(parent=self.view.scene, shading="flat")
        self.polyhedra.set_gl_state("translucent", depth_test=True, cull_face=False)
        self.polyhedra.order = 10
        self.polyhedra.visible = False
        self.polyhedra_lines = scene.visuals.Line(parent=self.view.scene, connect="segments",
                                                  color=(0.15, 0.15, 0.2, 0.9), width=1)
        self.polyhedra_lines.order = 11
        self.polyhedra_lines.visible = False
        # site labels (Ti1, O3) and the measured distance or angle, drawn over everything
        self.labels = scene.visuals.Text(parent=self.view.scene, color=(0.05, 0.05, 0.05, 1), font_size=8,
                                         anchor_x="left", anchor_y="bottom")
        self.labels.set_gl_state("translucent", depth_test=False)
        self.labels.order = 20
        self.labels.visible = False
        self.measure_line = scene.visuals.Line(parent=self.view.scene, connect="strip", color=MEASURE_COLOUR,
                                               width=1)
        self.measure_line.set_gl_state("translucent", depth_test=False)
        self.measure_line.order = 21
        self.measure_text = scene.visuals.Text(parent=self.view.scene, color=MEASURE_COLOUR, font_size=10,
                                               bold=True, anchor_x="center", anchor_y="bottom")
        self.measure_text.set_gl_state("translucent", depth_test=False)
        self.measure_text.order = 22
        for visual in (self.measure_line, self.measure_text):
            visual.visible = False
        self.cell_lines = scene.visuals.Line(parent=self.view.scene, connect="segments", color=(0.1, 0.1, 0.1, 1),
                                             width=1)
        axis_pos = np.array([[0, 0, 0], [1, 0, 0], [0, 0, 0], [0, 1, 0], [0, 0, 0], [0, 0, 1]], dtype=float)
        axis_colour = np.array([[0.85, 0.1, 0.1, 1]] * 2 + [[0.1, 0.65, 0.1, 1]] * 2 + [[0.1, 0.2, 0.9, 1]] * 2)
        self.axis = scene.visuals.Line(axis_pos, color=axis_colour, connect="segments", width=1,
                                       parent=self.view.scene)  # x red, y green, z blue
        # one transform, rescaled per structure: assigning a new transform object makes vispy
        # rebuild (re-compile) the visual's shaders, 20-40 ms in software OpenGL
        self.axis.transform = scene.transforms.STTransform()
        if self.render_mode == "offscreen":
            self._compile_shaders()
        for visual in (self.atoms, self.bond_mesh, self.cell_lines, self.axis):
            visual.visible = False  # drawing an empty visual is a GL error on some drivers
        self.structure: Structure | None = None
        self.geometry: dict | None = None
        self._picks: list[int] = []
        """Drawn atoms clicked for a measurement (indices into the geometry)."""
        self.scheme_box = QComboBox()
        self.scheme_box.addItems(list(COLOUR_SCHEMES))
        self.scheme_box.setToolTip("element colours: Jmol or VESTA scheme")
        self.scheme_box.currentIndexChanged.connect(lambda _: self._draw())
        self.polyhedra_box = QComboBox()
        self.polyhedra_box.setToolTip("coordination polyhedra: none, around every atom whose neighbours are all "
                                      "other elements (cations), or around one element")
        self.polyhedra_box.addItem("no polyhedra", None)
        self.polyhedra_box.currentIndexChanged.connect(lambda _: self._draw_polyhedra())
        self.labels_box = QCheckBox("labels")
        self.labels_box.setToolTip("site labels (Ti1, O3) next to every drawn atom; images outside the cell "
                                   "carry a prime")
        self.labels_box.toggled.connect(lambda _: self._draw_labels())
        self.cells = []
        for axis in "abc":
            box = QSpinBox()
            box.setRange(1, 4)
            box.setToolTip(f"cells drawn along {axis} (N × M × K; the view re-centres on them)")
            box.valueChanged.connect(lambda _: self._draw(reset_camera=True))
            self.cells.append(box)
        self.export_button = QPushButton("Save PNG…")
        self.export_button.setToolTip("save the view as a PNG at 1, 2 or 4 times the panel's size")
        # a long title ("best so far: ... (before relaxation)") takes the width it is given,
        # on its own row, whole in the tooltip
        self.title = fitted(QLabel("No structure"), wrap=False)
        self.legend = WrappedLabel("")
        self.legend.setToolTip("element colours (Jmol scheme)")
        self.picked = WrappedLabel("")
        self.view_buttons = {}
        top = QHBoxLayout()
        top.addStretch(1)
        for index, axis in enumerate("abc"):
            button = QPushButton(axis)
            button.setFixedWidth(28)
            button.setToolTip(f"look along the {axis} axis (shortcut {axis.upper()} in the 3D view)")
            button.setShortcut(axis.upper())
            button.clicked.connect(lambda _=False, k=index: self.look_along(k))
            self.view_buttons[axis] = button
            top.addWidget(button)
        reset = QPushButton("reset")
        reset.setToolTip("the default oblique view (shortcut R)")
        reset.setShortcut("R")
        reset.clicked.connect(self.reset_view)
        self.view_buttons["reset"] = reset
        top.addWidget(reset)
        top.addWidget(self.scheme_box)
        top.addWidget(self.polyhedra_box)
        # two rows: in one, the controls asked for 684 px and made the window wider than a
        # 1366-px laptop screen
        second = QHBoxLayout()
        second.addStretch(1)
        second.addWidget(self.labels_box)
        second.addWidget(QLabel("cells"))
        for box in self.cells:
            second.addWidget(box)
        second.addWidget(self.export_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addLayout(top)
        layout.addLayout(second)
        layout.addWidget(self.legend)
        layout.addWidget(canvas_widget, 1)
        self.canvas_widget = canvas_widget
        layout.addWidget(self.picked)
        self.canvas.events.mouse_release.connect(self._mouse_release)
        self.canvas.events.mouse_move.connect(self._mouse_move)

    def _compile_shaders(self) -> None:
        """Draw every visual once with placeholder data, so that the shaders are compiled
        while the window is built rather than in the first frame of a structure (about
        100 ms in software OpenGL, which would stall the window during a run)."""
        point = np.zeros((1, 3), dtype=np.float32)
        self.atoms.set_data(point, face_color=(0.5, 0.5, 0.5, 1), size=1.0, edge_width=0)
        self.bond_mesh.set_data(vertices=np.eye(3, dtype=np.float32), faces=np.array([[0, 1, 2]], np.uint32),
                                color=(0.55, 0.55, 0.55, 1))
        self.cell_lines.set_data(np.array([[0, 0, 0], [1, 1, 1]], dtype=np.float32), color=(0.1, 0.1, 0.1, 1))
        self.labels.text, self.labels.pos = ["O1"], point
        self.labels.visible = True
        try:
            self.canvas.render(size=(8, 8))
        except Exception:  # noqa: BLE001 - only a head start; the first real frame compiles them otherwise
            pass
        self.labels.visible = False

    def show_structure(self, structure: Structure | None, title: str = "", geometry: dict | None = None) -> None:
        """Draw ``structure`` (None clears), its bonds by the contact rule; ``geometry`` is
        :func:`scene_geometry` computed elsewhere (e.g. in a worker thread)."""
        self.structure = structure
        self._picks = []
        self.picked.setText("")
        self.title.setText(title or ("No structure" if structure is None
                                     else core.formula_unit_text(structure.composition)))
        self.title.setToolTip(self.title.text())
        self._draw(reset_camera=True, geometry=geometry)

    def _draw(self, reset_camera: bool = False, geometry: dict | None = None) -> None:
        shown = self.structure is not None
        for visual in (self.atoms, self.cell_lines, self.axis):
            visual.visible = shown
        if not shown:
            for visual in (self.bond_mesh, self.polyhedra, self.polyhedra_lines, self.labels, self.measure_line,
                           self.measure_text):
                visual.visible = False
            self.geometry = None
            self.legend.setText("")  # no elements of a structure no longer drawn
            self._update_polyhedra_choices([])
            self.canvas.update()
            return
        repeat = self.repeat
        g = geometry if geometry is not None and repeat == (1, 1, 1) else \
            scene_geometry(self.structure, repeat)
        if self.scheme_box.currentText() != "Jmol":
            g = {**g, "colours": atom_colours(g["species"], self.scheme_box.currentText())}
        old = self.geometry
        if old is None or np.shape(old["positions"]) != np.shape(g["positions"]) \
                or not np.allclose(old["positions"], g["positions"]):
            self._picks = []  # other atoms drawn: the measurement's indices mean nothing now
            self.picked.setText("")
        self.geometry = g
        self.atoms.set_data(g["positions"], face_color=g["colours"], size=2 * g["sizes"], edge_width=0)
        self.bond_mesh.visible = g["mesh"] is not None
        if g["mesh"] is not None:
            vertices, faces = g["mesh"]
            # fresh arrays with numpy's built-in dtypes: arrays unpickled from the engine process
            # carry equal but non-built-in dtype objects, which vispy's buffers reject
            self.bond_mesh.set_data(vertices=np.asarray(vertices).astype(np.float32),
                                    faces=np.asarray(faces).astype(np.uint32), color=(0.55, 0.55, 0.55, 1))
        self.cell_lines.set_data(g["cell"], color=(0.1, 0.1, 0.1, 1))
        # long enough to stick out of an atom at the origin (ball radius 0.45 r_cov <= 1.2 Å)
        length = max(float(np.linalg.norm(self.structure.lattice.matrix, axis=1).min()) * 0.5, 2.0)
        self.axis.transform.scale = (length, length, length)
        if reset_camera:
            centre = g["cell"].mean(axis=0)
            self.view.camera.center = tuple(centre)
            width, height = self.canvas.size
            self.view.camera.scale_factor = view_extent(g, centre, self.view.camera.elevation,
                                                        self.view.camera.azimuth, width / max(height, 1))
        self._update_polyhedra_choices(list(dict.fromkeys(g["species"])))
        self._draw_polyhedra()
        self._draw_labels()
        self._draw_measurement()
        seen = sorted(dict.fromkeys(g["species"]), key=core.element_sort_key)  # cations first, as the maps' rows
        colour = {el: tuple(c) for el, c in zip(g["species"], g["colours"])}
        self.legend.setText("  ".join(
            f"<span style='color:rgb({int(255 * colour[el][0])},{int(255 * colour[el][1])},"
            f"{int(255 * colour[el][2])})'>&#9679;</span> {el}" for el in seen))
        self.canvas.update()

    def _update_polyhedra_choices(self, elements: list[str]) -> None:
        """Keep the choice when the elements stay; offer "all centres" and each element."""
        current = self.polyhedra_box.currentData()
        self.polyhedra_box.blockSignals(True)
        self.polyhedra_box.clear()
        self.polyhedra_box.addItem("no polyhedra", None)
        self.polyhedra_box.addItem("polyhedra: all centres", "all")
        for el in elements:
            self.polyhedra_box.addItem(f"polyhedra: {el}", el)
        index = self.polyhedra_box.findData(current)
        self.polyhedra_box.setCurrentIndex(max(index, 0))
        self.polyhedra_box.blockSignals(False)

    def show_polyhedra(self, choice: str | None) -> None:
        """``None`` (none), ``"all"`` (every cation-like centre) or an element symbol."""
        index = self.polyhedra_box.findData(choice)
        if index >= 0:
            self.polyhedra_box.setCurrentIndex(index)

    def _draw_polyhedra(self) -> None:
        choice = self.polyhedra_box.currentData()
        mesh = None
        if choice is not None and self.geometry is not None:
            mesh = polyhedra_mesh(self.geometry, None if choice == "all" else {choice})
        self.polyhedra.visible = self.polyhedra_lines.visible = mesh is not None
        if mesh is not None:
            vertices, faces, colours = mesh
            self.polyhedra.set_data(vertices=vertices, faces=faces, vertex_colors=colours)
            edges = polyhedra_edges(vertices, faces)
            self.polyhedra_lines.visible = len(edges) > 0
            if len(edges):
                self.polyhedra_lines.set_data(edges)
        self.canvas.update()

    def _draw_labels(self) -> None:
        g = self.geometry
        shown = self.labels_box.isChecked() and g is not None and len(g["positions"]) > 0
        self.labels.visible = shown
        if shown:
            # a little beside the atom's centre, towards the viewer's upper right
            self.labels.text = list(g["labels"])
            self.labels.pos = np.asarray(g["positions"], dtype=np.float32) + 0.25
        self.canvas.update()

    def show_labels(self, on: bool) -> None:
        """Draw (or hide) the site label of every drawn atom."""
        self.labels_box.setChecked(bool(on))

    def _draw_measurement(self) -> None:
        """The picked atoms joined by a line, with the distance (two) or angle (three) beside it."""
        picks = self._picks
        shown = self.geometry is not None and len(picks) >= 2
        self.measure_line.visible = self.measure_text.visible = shown
        if shown:
            points = np.asarray(self.geometry["positions"], dtype=np.float32)[picks]
            self.measure_line.set_data(points, color=MEASURE_COLOUR)
            self.measure_text.text = measurement_label(self.geometry, picks)
            self.measure_text.pos = (points[1] if len(picks) == 3 else points.mean(axis=0))[None, :]
        self.canvas.update()

    @property
    def repeat(self) -> tuple[int, int, int]:
        """Cells drawn along a, b and c."""
        return tuple(box.value() for box in self.cells)

    def set_repeat(self, repeat: tuple[int, int, int]) -> None:
        """Draw N × M × K cells (one redraw, view re-centred)."""
        for box, n in zip(self.cells, repeat):
            box.blockSignals(True)
            box.setValue(int(n))
            box.blockSignals(False)
        self._draw(reset_camera=True)

    def look_along(self, axis: int) -> None:
        """Turn the camera to look along lattice vector ``axis`` (0 a, 1 b, 2 c)."""
        if self.structure is None:
            return
        direction = self.structure.lattice.matrix[axis]
        self.view.camera.elevation, self.view.camera.azimuth = camera_angles(direction)
        self.canvas.update()

    def reset_view(self) -> None:
        """The default oblique view, centred on the drawn cells."""
        self.view.camera.elevation, self.view.camera.azimuth = 22.0, 35.0
        if self.structure is not None:
            self._draw(reset_camera=True)

    def _mouse_release(self, event) -> None:
        if self.geometry is None or event.button != 1:
            return
        k = self.pick_index(event.pos)
        if k is not None:
            self.add_pick(k)

    def _mouse_move(self, event) -> None:
        """Hovering (no button held) names the atom under the mouse in the canvas tooltip."""
        if self.geometry is None or event.is_dragging:
            return
        k = self.pick_index(event.pos)
        self.canvas_widget.setToolTip("" if k is None else self._describe(k))

    def pick_index(self, canvas_pos) -> int | None:
        """Index of the drawn atom nearest to a canvas position (pixels), within 15 px."""
        g = self.geometry
        if g is None or not len(g["positions"]):
            return None
        transform = self.atoms.get_transform("visual", "canvas")
        screen = transform.map(g["positions"])
        screen = screen[:, :2] / screen[:, 3:4]
        dist = np.linalg.norm(screen - np.asarray(canvas_pos[:2], dtype=float), axis=1)
        k = int(np.argmin(dist))
        return None if dist[k] > 15 else k

    def pick(self, canvas_pos) -> str | None:
        """Label of the atom drawn nearest to a canvas position (pixels), within 15 px."""
        k = self.pick_index(canvas_pos)
        return None if k is None else self._describe(k)

    def _describe(self, k: int) -> str:
        g = self.geometry
        x, y, z = g["frac"][k]
        return f"{g['labels'][k]} ({g['species'][k]}) at ({x:.3f}, {y:.3f}, {z:.3f}) fractional"

    def add_pick(self, k: int) -> str:
        """Add drawn atom ``k`` to the measurement: one atom is described, two give their
        distance, three the angle at the middle one (the drawn images, so periodic images
        count); a fourth click starts again. Returns (and shows, and emits) the text."""
        if self._picks and self._picks[-1] == k:  # the same atom again: nothing to measure
            return self.picked.text()
        self._picks = [*self._picks, k] if len(self._picks) < 3 else [k]
        text = measurement_text(self.geometry, self._picks) if len(self._picks) > 1 else self._describe(k)
        self._draw_measurement()
        self.picked.setText(text)
        self.atomPicked.emit(text)
        return text

    def render_png(self, path: str | Path, scale: int = 1, transparent: bool = False) -> Path:
        """Write the current view to a PNG file at ``scale`` × the panel's size in device pixels,
        on white or (``transparent``) on a transparent background."""
        from vispy.io import write_png

        widget = self.canvas_widget
        background = self.canvas.bgcolor
        if transparent:
            self.canvas.bgcolor = (1.0, 1.0, 1.0, 0.0)
        try:
            if isinstance(widget, OffscreenCanvasWidget):
                image = widget.grab_frame(scale=scale)
            else:
                w, h = self.canvas.physical_size
                image = self.canvas.render(size=(w * scale, h * scale))
        finally:
            self.canvas.bgcolor = background
        write_png(str(path), image)
        return Path(path)


def camera_angles(direction) -> tuple[float, float]:
    """(elevation, azimuth) in degrees of a vispy ``TurntableCamera`` that looks along
    ``direction`` (Cartesian). vispy's camera sits at azimuth 0 on the -y side of its
    centre, looking towards +y; azimuth turns it about z, elevation lifts it."""
    x, y, z = np.asarray(direction, dtype=float) / np.linalg.norm(direction)
    elevation = float(np.degrees(np.arcsin(np.clip(-z, -1.0, 1.0))))
    azimuth = float(np.degrees(np.arctan2(-x, y)))
    return elevation, azimuth


def measurement_label(geometry: dict, picks: list[int]) -> str:
    """The short form drawn in the scene: ``2.820 Å`` for two atoms, ``90.00°`` for three."""
    text = measurement_text(geometry, picks)
    return text.split(" = ")[1].split("  ")[0]


def measurement_text(geometry: dict, picks: list[int]) -> str:
    """``d(Na1–Cl1) = 2.820 Å`` for two drawn atoms; for three, the angle at the middle one
    and both distances (Cartesian positions of the drawn images, Å and degrees)."""
    p = geometry["positions"][picks]
    names = [geometry["labels"][k] for k in picks]
    d01 = float(np.linalg.norm(p[1] - p[0]))
    if len(picks) == 2:
        return f"d({names[0]}–{names[1]}) = {d01:.3f} Å"
    d12 = float(np.linalg.norm(p[2] - p[1]))
    u, v = p[0] - p[1], p[2] - p[1]
    angle = float(np.degrees(np.arccos(np.clip(u @ v / (np.linalg.norm(u) * np.linalg.norm(v)), -1.0, 1.0))))
    return (f"angle {names[0]}–{names[1]}–{names[2]} = {angle:.2f}°  (d {names[0]}–{names[1]} = {d01:.3f} Å, "
            f"{names[1]}–{names[2]} = {d12:.3f} Å)")
