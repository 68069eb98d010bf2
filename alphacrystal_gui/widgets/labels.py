"""Labels and buttons whose text changes at run time must not set the window's width."""

from __future__ import annotations

import math

from PySide6 import QtGui
from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QResizeEvent, QTextDocument
from PySide6.QtWidgets import QLabel, QSizePolicy, QToolButton


def fitted(label: QLabel, wrap: bool = False) -> QLabel:
    """``label`` taking the width its panel gives it, never asking for more: a long
    message (a run's stage, a result's title) is cut (or wraps, ``wrap``, within the
    height the layout gives it: :class:`WrappedLabel` asks for the height it needs)
    instead of widening the window beyond the screen (a run's "best so far: ..." title
    once made the window 2,056 px wide)."""
    label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
    label.setWordWrap(wrap)
    label.setMinimumWidth(40)
    return label


class FittedToolButton(QToolButton):
    """A tool button whose text (a summary that grows with the choices made) is cut with "…"
    to the width its panel gives it, never widening the window; the whole text is
    :meth:`full_text` and ends its tooltip."""

    def __init__(self, tooltip: str = "") -> None:
        super().__init__()
        self._full = ""
        self._tooltip = tooltip
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.setMinimumWidth(40)

    def full_text(self) -> str:
        return self._full

    def set_full_text(self, text: str) -> None:
        self._full = text
        self.setToolTip(f"{self._tooltip}\n{text}" if self._tooltip else text)
        self._elide()

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        room = self.width() - self.iconSize().width() - 16  # the arrow and the margins
        self.setText(self.fontMetrics().elidedText(self._full, Qt.TextElideMode.ElideRight, max(room, 20)))


class WrappedLabel(QLabel):
    """A label that wraps to the width its panel gives it (never widening the window, as
    :func:`fitted`) and asks for the height its wrapped text needs at that width. Qt's
    layouts in dock widgets did not honour a wrapped label's height for its width: when
    the window was short, a two-line text got one line's height and the lines overlapped."""

    def __init__(self, text: str = "") -> None:
        super().__init__(text)
        fitted(self, wrap=True)
        self._fit()

    def setText(self, text: str) -> None:  # noqa: N802 - Qt's name
        super().setText(text)
        self._fit()

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self._fit()

    def _fit(self) -> None:
        needed = self._height_for(max(self.width(), self.minimumWidth()))
        if needed != self.minimumHeight():
            self.setMinimumHeight(needed)

    def _height_for(self, width: int) -> int:
        """Pixels the wrapped text takes at ``width``, laid out as QLabel lays it out (rich text
        in a text document, plain text by the font's metrics). Not ``heightForWidth``: QLabel's
        never returns less than the minimum height set here, so a shorter text kept the old height."""
        margins = self.contentsMargins()
        inner = max(width - margins.left() - margins.right() - 2 * self.margin(), 1)
        if self.textFormat() == Qt.TextFormat.RichText or (
                self.textFormat() == Qt.TextFormat.AutoText and QtGui.Qt.mightBeRichText(self.text())):
            document = QTextDocument()
            document.setDefaultFont(self.font())
            document.setDocumentMargin(0)
            document.setHtml(self.text())
            document.setTextWidth(inner)
            text_height = math.ceil(document.size().height())
        else:
            text_height = self.fontMetrics().boundingRect(
                QRect(0, 0, inner, 1 << 20), int(self.alignment()) | Qt.TextFlag.TextWordWrap, self.text()).height()
        return text_height + margins.top() + margins.bottom() + 2 * self.margin()
