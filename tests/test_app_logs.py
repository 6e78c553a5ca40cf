"""The Logs window: the real app's log file, followed live, filtered by level."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import logging

import pytest

from app.logs_window import line_levels
from app.settings import Settings
from server.logging_setup import FORMAT

pytest_plugins = ("tests.app_conftest",)
pytestmark = pytest.mark.gui

DONE = Settings(welcome_completed=True)


def test_the_log_is_shown_live_and_filtered_by_level(make_app, qtbot, tray_env) -> None:
    harness = make_app(settings=DONE)
    log_file = harness.app.controller.logs_dir() / "traymind.log"
    log_file.parent.mkdir(parents=True, exist_ok=True)
    writer = logging.getLogger("traymind.test.logs")  # writes the file as the app's log does
    handler = logging.FileHandler(log_file, encoding="utf-8")
    handler.setFormatter(logging.Formatter(FORMAT))
    writer.addHandler(handler)
    writer.setLevel(logging.INFO)
    writer.propagate = False
    try:
        writer.warning("a provider failed: connection refused")
        harness.menu_action("Logs…").trigger()
        window = harness.app.logs_window
        assert window is not None and window.isVisible()
        qtbot.waitUntil(lambda: "connection refused" in window.text.toPlainText(), timeout=5_000)
        writer.info("later news arrives")
        qtbot.waitUntil(lambda: "later news arrives" in window.text.toPlainText(), timeout=5_000)
        window.level.setCurrentIndex(2)  # warnings and errors
        text = window.text.toPlainText()
        assert "connection refused" in text and "later news arrives" not in text
        window.level.setCurrentIndex(3)  # errors only
        assert "connection refused" not in window.text.toPlainText()
        window.open_button.click()
        assert harness.opened == [log_file]
    finally:
        writer.removeHandler(handler)
        handler.close()


def test_a_traceback_keeps_the_level_of_its_line() -> None:
    lines = [
        "2026-12-03 15:00:00,001 ERROR server.x: boom",
        "Traceback (most recent call last):",
        '  File "x.py", line 1',
        "2026-12-03 15:00:01,002 INFO server.y: fine",
    ]
    assert [level for level, _ in line_levels(lines)] == [40, 40, 40, 20]
