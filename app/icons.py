"""The tray icon and its state badges, drawn from one SVG in ``resources/``.

Why badges painted at run time instead of one SVG per state: the state set is
small and may grow, and the base artwork stays in one file.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor, QIcon, QImage, QPainter, QPixmap

from server.paths import resource

SIZE = 64
BADGES = {
    "error": "#e5484d",  # the server is not running because something went wrong
    "open": "#f5a524",  # running with unauthenticated local access on
}


def app_icon() -> QIcon:
    return QIcon(str(resource("traymind.svg")))


def _greyed(pixmap: QPixmap) -> QPixmap:
    image = pixmap.toImage().convertToFormat(QImage.Format.Format_ARGB32)
    for y in range(image.height()):
        for x in range(image.width()):
            color = image.pixelColor(x, y)
            grey = int(0.3 * color.red() + 0.59 * color.green() + 0.11 * color.blue())
            image.setPixelColor(x, y, QColor(grey, grey, grey, color.alpha()))
    return QPixmap.fromImage(image)


def state_icon(phase: str, unauthenticated: bool, problem: bool = False) -> QIcon:
    """The app icon for a server phase: grey when stopped, a red or orange dot as a badge
    (red: not running because of an error, or a problem while running)."""
    pixmap = app_icon().pixmap(SIZE, SIZE)
    if phase in ("stopped", "starting", "stopping"):
        pixmap = _greyed(pixmap)
    failed = phase == "error" or problem
    badge = "error" if failed else "open" if unauthenticated else None
    if badge is not None:
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor("#ffffff"))
        painter.drawEllipse(QPointF(SIZE - 14, SIZE - 14), 13, 13)
        painter.setBrush(QColor(BADGES[badge]))
        painter.drawEllipse(QPointF(SIZE - 14, SIZE - 14), 10, 10)
        painter.end()
    return QIcon(pixmap)
