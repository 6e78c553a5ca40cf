"""The Logs window: the end of ``traymind.log``, following it live, filtered by level.

Why in the app: the log is where a failing provider, an MCP server that died or a refused
request explains itself, and a person should not need a terminal or a file manager to read
it. The window reads the last 256 KB when it opens and then, twice a second while it is
visible, what was appended (a rotated or truncated file is read again from its start).
A line without a level of its own (a traceback's) keeps the level of the line above it.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtGui import QCloseEvent, QFontDatabase, QGuiApplication, QShowEvent, QTextCursor
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.icons import app_icon

TAIL_BYTES = 256 * 1024
POLL_MS = 500
MAX_LINES = 5000
LEVELS = (("All", 0), ("Info and above", 20), ("Warnings and errors", 30), ("Errors only", 40))
# FORMAT of server.logging_setup: "2026-12-03 15:43:54,123 WARNING server.x: message"
LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ (DEBUG|INFO|WARNING|ERROR|CRITICAL) ")


def line_levels(lines: list[str], previous: int = logging.INFO) -> list[tuple[int, str]]:
    """Each line with its level; continuation lines take the level above them."""
    out = []
    level = previous
    for line in lines:
        match = LINE.match(line)
        if match:
            level = logging.getLevelName(match.group(1))
        out.append((level, line))
    return out


class LogsWindow(QWidget):
    """``traymind.log`` as it grows, with a level filter, Copy and Open in editor."""

    def __init__(self, path: Path, open_file: Callable[[Path], None]) -> None:
        super().__init__()
        self.path = path
        self._open_file = open_file
        self._lines: list[tuple[int, str]] = []
        self._offset = 0
        self._inode: int | None = None
        self._partial = ""
        self.setWindowTitle("Traymind logs")
        self.setWindowIcon(app_icon())
        self.resize(900, 560)
        self.where = QLabel(str(path))
        self.where.setWordWrap(True)
        self.level = QComboBox()
        for label, value in LEVELS:
            self.level.addItem(label, value)
        self.level.setCurrentIndex(1)
        self.level.currentIndexChanged.connect(self._render)
        self.text = QPlainTextEdit()
        self.text.setReadOnly(True)
        self.text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.copy_button = QPushButton("Copy")
        self.copy_button.clicked.connect(
            lambda: QGuiApplication.clipboard().setText(self.text.toPlainText())
        )
        self.open_button = QPushButton("Open in editor")
        self.open_button.clicked.connect(lambda: self._open_file(self.path))
        close = QPushButton("Close")
        close.clicked.connect(self.close)
        top = QHBoxLayout()
        top.addWidget(QLabel("Show:"))
        top.addWidget(self.level)
        top.addStretch()
        bottom = QHBoxLayout()
        bottom.addWidget(self.copy_button)
        bottom.addWidget(self.open_button)
        bottom.addStretch()
        bottom.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.where)
        layout.addLayout(top)
        layout.addWidget(self.text, 1)
        layout.addLayout(bottom)
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self.follow)

    def showEvent(self, event: QShowEvent) -> None:
        self.follow()
        self._timer.start()
        super().showEvent(event)

    def closeEvent(self, event: QCloseEvent) -> None:
        self._timer.stop()
        super().closeEvent(event)

    def follow(self) -> None:
        """Read what the file gained since the last look (all of its tail the first time)."""
        try:
            info = os.stat(self.path)
        except OSError:
            if not self._lines:
                self.text.setPlainText(f"No log yet at {self.path}.")
            return
        if info.st_ino != self._inode or info.st_size < self._offset:  # new or rotated
            self._inode, self._lines, self._partial = info.st_ino, [], ""
            self._offset = max(0, info.st_size - TAIL_BYTES)
        if info.st_size == self._offset and self._lines:
            return
        try:
            with open(self.path, "rb") as handle:
                handle.seek(self._offset)
                data = handle.read()
        except OSError:
            return
        self._offset += len(data)
        text = self._partial + data.decode("utf-8", errors="replace")
        *complete, self._partial = text.split("\n")
        if self._offset - len(data) > 0 and not self._lines and complete:
            complete = complete[1:]  # the tail started mid-line
        previous = self._lines[-1][0] if self._lines else logging.INFO
        self._lines += line_levels(complete, previous)
        del self._lines[:-MAX_LINES]
        self._render()

    def _render(self) -> None:
        floor = self.level.currentData() or 0
        shown = [line for level, line in self._lines if level >= floor]
        bar = self.text.verticalScrollBar()
        at_end = bar.value() >= bar.maximum() - 2
        self.text.setPlainText("\n".join(shown))
        if at_end:
            self.text.moveCursor(QTextCursor.MoveOperation.End)
            bar.setValue(bar.maximum())
