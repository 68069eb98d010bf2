"""Where the vispy scene is drawn: offscreen with EGL into a plain widget, or in an
embedded ``QOpenGLWidget``.

Why offscreen is the default where it works (Linux): a ``QOpenGLWidget``
anywhere in a window makes Qt composite the *whole* window through OpenGL.
With a software OpenGL (Mesa llvmpipe: remote desktops, virtual machines,
computers without a GPU driver) every repaint of any widget - a progress bar,
a status label - then cost 17-32 ms, and one 3D frame 50-110 ms, so the event
loop stalled during runs (measured with ``benchmarks/bench_gui_responsiveness.py``).
Rendering the scene into an EGL pbuffer (about 9 ms per frame in llvmpipe,
a few ms on a GPU) and painting the image in an ordinary widget leaves the
window a plain raster window. Mouse input is forwarded to the vispy canvas, so
the camera behaves exactly as in the embedded canvas.

No library offers this adapter (vispy's Qt backend is the embedded canvas;
its EGL backend has no widget), hence the hand-written forwarding below,
which follows vispy's own Qt backend.

``ALPHACRYSTAL_3D=embedded`` forces the embedded canvas, ``offscreen`` the
EGL path; the default ``auto`` tries EGL and falls back to the embedded
canvas where EGL is missing (Windows, macOS) or fails.
"""

from __future__ import annotations

import logging
import os

import numpy as np
from PySide6.QtCore import QPointF, Qt, QTimer
from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import QWidget
from vispy import scene

log = logging.getLogger(__name__)

MODE_VARIABLE = "ALPHACRYSTAL_3D"

_EGL_APP = None


def _egl_app():
    """vispy's EGL application (one per process), or None where EGL is unavailable."""
    global _EGL_APP
    if _EGL_APP is None:
        from vispy import app as vispy_app

        saved = os.environ.get("EGL_PLATFORM")
        # a pbuffer needs no window system: Mesa's surfaceless platform works under X11,
        # Wayland and with no display at all (set only while EGL picks its display)
        os.environ.setdefault("EGL_PLATFORM", "surfaceless")
        try:
            _EGL_APP = vispy_app.Application("egl")
        except Exception as exc:  # noqa: BLE001 - no libEGL, or it cannot initialise
            log.info("offscreen 3D rendering unavailable: %s", exc)
            _EGL_APP = False
        finally:
            if saved is None:
                os.environ.pop("EGL_PLATFORM", None)
    return _EGL_APP or None


def create_canvas(size: tuple[int, int] = (480, 420)) -> tuple[scene.SceneCanvas, QWidget, str]:
    """A scene canvas, the widget that shows it, and the mode (``offscreen`` or ``embedded``)."""
    mode = os.environ.get(MODE_VARIABLE, "auto").strip().lower()
    if mode in ("auto", "offscreen"):
        app = _egl_app()
        if app is not None:
            try:
                canvas = scene.SceneCanvas(app=app, keys=None, bgcolor="white", size=size, show=False)
                canvas.render(size=(1, 1))  # fails here, not later, if the context is unusable
                return canvas, OffscreenCanvasWidget(canvas), "offscreen"
            except Exception as exc:  # noqa: BLE001 - fall back to the embedded canvas
                log.info("offscreen 3D rendering failed, using the embedded canvas: %s", exc)
        elif mode == "offscreen":
            log.warning("%s=offscreen but EGL is unavailable: using the embedded canvas", MODE_VARIABLE)
    canvas = scene.SceneCanvas(keys=None, bgcolor="white", size=size, show=False)
    return canvas, canvas.native, "embedded"


def _modifiers(event) -> tuple:
    from vispy.util import keys

    mods = event.modifiers()
    pairs = ((Qt.KeyboardModifier.ShiftModifier, keys.SHIFT), (Qt.KeyboardModifier.ControlModifier, keys.CONTROL),
             (Qt.KeyboardModifier.AltModifier, keys.ALT), (Qt.KeyboardModifier.MetaModifier, keys.META))
    return tuple(key for flag, key in pairs if mods & flag)


_BUTTONS = {Qt.MouseButton.LeftButton: 1, Qt.MouseButton.RightButton: 2, Qt.MouseButton.MiddleButton: 3}


def _buttons(event) -> list[int]:
    held = event.buttons()
    return [code for flag, code in _BUTTONS.items() if held & flag]


class OffscreenCanvasWidget(QWidget):
    """Shows the latest offscreen frame of ``canvas`` and forwards mouse input to it.

    A frame is rendered at most once per event-loop turn after anything asks for
    one (:meth:`request_render`: scene changes, camera moves, resizes).
    """

    def __init__(self, canvas: scene.SceneCanvas, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.canvas = canvas
        self.image: QImage | None = None
        self.frames = 0
        self._scheduled = False
        self._rendering = False
        self.setMinimumSize(120, 120)
        self.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self._hook_updates()

    def _hook_updates(self) -> None:
        """vispy asks its backend for a redraw (``_vispy_update``, part of vispy's backend
        protocol) when the camera or a visual changes: turn that into a new frame."""
        backend = self.canvas._backend
        original = backend._vispy_update

        def update() -> None:
            original()
            if not self._rendering:
                self.request_render()

        backend._vispy_update = update

    def sizeHint(self):  # noqa: N802 - Qt override
        from PySide6.QtCore import QSize

        return QSize(480, 420)

    # rendering ------------------------------------------------------------------
    def request_render(self) -> None:
        if not self._scheduled:
            self._scheduled = True
            QTimer.singleShot(0, self._render)

    def _physical_size(self) -> tuple[int, int]:
        ratio = self.devicePixelRatioF()
        return max(1, round(self.width() * ratio)), max(1, round(self.height() * ratio))

    def _render(self) -> None:
        self._scheduled = False
        if not self.isVisible() and self.image is not None:
            return
        frame = self.grab_frame(alpha=False)
        height, width = frame.shape[:2]
        image = QImage(frame.data, width, height, frame.strides[0], QImage.Format.Format_RGB888).copy()
        image.setDevicePixelRatio(self.devicePixelRatioF())
        self.image = image
        self.frames += 1
        self.update()

    def grab_frame(self, alpha: bool = True, scale: int = 1) -> np.ndarray:
        """Render now at ``scale`` × the widget's size in device pixels; RGBA (h, w, 4), or RGB without alpha."""
        self._rendering = True
        try:
            size = self._physical_size()
            self._resize_canvas((size[0] * scale, size[1] * scale))
            try:
                # rendered at the larger size itself: render(size=...) kept the small viewport and
                # drew the scene into one corner of the bigger image
                return np.ascontiguousarray(self.canvas.render(alpha=alpha))
            finally:
                if scale != 1:
                    self._resize_canvas(size)
        finally:
            self._rendering = False
            # SceneCanvas drops update requests until its draw handler has run; render()
            # does not run that handler, so re-arm it (vispy's own flag) for the next change
            self.canvas._update_pending = False

    def _resize_canvas(self, size: tuple[int, int]) -> None:
        if tuple(self.canvas.size) != tuple(size):
            self.canvas.size = size
            # vispy's EGL backend does not announce a new size; its Qt backend does
            self.canvas.events.resize(size=self.canvas.size, physical_size=self.canvas.physical_size)

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt override
        painter = QPainter(self)
        if self.image is None:
            painter.fillRect(self.rect(), Qt.GlobalColor.white)
            self.request_render()
        else:
            painter.drawImage(QPointF(0, 0), self.image)
        painter.end()

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        self.request_render()

    def showEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().showEvent(event)
        self.request_render()

    # input: the same calls vispy's Qt backend makes -------------------------------
    def _pos(self, event) -> tuple[float, float]:
        ratio = self.devicePixelRatioF()
        p = event.position()
        return p.x() * ratio, p.y() * ratio

    def mousePressEvent(self, event) -> None:  # noqa: N802 - Qt override
        self.canvas._backend._vispy_mouse_press(native=event, pos=self._pos(event),
                                                button=_BUTTONS.get(event.button(), 0),
                                                buttons=_buttons(event), modifiers=_modifiers(event))

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802 - Qt override
        self.canvas._backend._vispy_mouse_release(native=event, pos=self._pos(event),
                                                  button=_BUTTONS.get(event.button(), 0),
                                                  buttons=_buttons(event), modifiers=_modifiers(event))

    def mouseDoubleClickEvent(self, event) -> None:  # noqa: N802 - Qt override
        self.canvas._backend._vispy_mouse_double_click(native=event, pos=self._pos(event),
                                                       button=_BUTTONS.get(event.button(), 0),
                                                       buttons=_buttons(event), modifiers=_modifiers(event))

    def mouseMoveEvent(self, event) -> None:  # noqa: N802 - Qt override
        self.canvas._backend._vispy_mouse_move(native=event, pos=self._pos(event), buttons=_buttons(event),
                                               modifiers=_modifiers(event))

    def wheelEvent(self, event) -> None:  # noqa: N802 - Qt override
        delta = event.angleDelta()
        self.canvas.events.mouse_wheel(native=event, delta=(delta.x() / 120.0, delta.y() / 120.0),
                                       pos=self._pos(event), buttons=_buttons(event), modifiers=_modifiers(event))
