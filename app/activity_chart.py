"""The status window's chart: requests per minute and their latency, over the last hour.

Drawn with QPainter from the hub's per-minute figures (``per_minute`` in the snapshot):
a bar per minute for the requests (its errors in red on top), and a line for the average
latency on its own scale. No chart library: this is sixty bars and a line.
"""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from app.status_text import plural

MINUTES = 60
BAR = QColor("#4c78a8")
ERROR = QColor("#e5484d")
LINE = QColor("#f5a524")


def chart_series(
    per_minute: list[dict[str, Any]], now: float | None = None
) -> list[dict[str, Any]]:
    """One entry per minute of the last hour, oldest first; minutes without requests are 0."""
    current = int((time.time() if now is None else now) // 60)
    by_minute = {int(m["minute"]) // 60: m for m in per_minute}
    empty = {"requests": 0, "errors": 0, "latency_ms_avg": 0.0, "latency_ms_max": 0.0}
    return [by_minute.get(minute, empty) for minute in range(current - MINUTES + 1, current + 1)]


def chart_caption(series: list[dict[str, Any]]) -> str:
    requests = sum(m["requests"] for m in series)
    errors = sum(m["errors"] for m in series)
    busiest = max((m["requests"] for m in series), default=0)
    slowest = max((m["latency_ms_avg"] for m in series), default=0.0)
    return (
        f"Last hour: {plural(requests, 'request')}, {plural(errors, 'error')}; "
        f"busiest minute {busiest}, "
        f"slowest minute {slowest:.0f} ms on average"
    )


class ActivityChart(QWidget):
    def __init__(self) -> None:
        super().__init__()
        self.series: list[dict[str, Any]] = chart_series([])
        self.setMinimumHeight(70)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def set_minutes(self, per_minute: list[dict[str, Any]]) -> None:
        series = chart_series(per_minute)
        if series != self.series:
            self.series = series
            self.setToolTip(chart_caption(series))
            self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        area = QRectF(self.rect()).adjusted(2, 14, -2, -2)
        painter.setPen(self.palette().mid().color())
        painter.drawText(
            QRectF(self.rect()).adjusted(4, 0, -4, 0),
            Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft,
            chart_caption(self.series),
        )
        painter.drawRect(area)
        most = max((m["requests"] for m in self.series), default=0) or 1
        slowest = max((m["latency_ms_avg"] for m in self.series), default=0.0) or 1.0
        width = area.width() / MINUTES
        points = []
        for i, minute in enumerate(self.series):
            x = area.left() + i * width
            height = area.height() * minute["requests"] / most
            failed = area.height() * minute["errors"] / most
            served = height - failed
            painter.fillRect(QRectF(x + 1, area.bottom() - served, width - 2, served), BAR)
            if failed:
                painter.fillRect(QRectF(x + 1, area.bottom() - height, width - 2, failed), ERROR)
            y = area.bottom() - area.height() * minute["latency_ms_avg"] / slowest
            points.append(QPointF(x + width / 2, y))
        painter.setPen(QPen(LINE, 1.5))
        painter.drawPolyline(points)
        painter.end()
