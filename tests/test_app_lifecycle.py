"""Starting, second launches, signals, quitting, and start-up failures of the tray app."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from PySide6.QtGui import QGuiApplication

from app.settings import Settings
from tests.harness import BASE_ENV, ROOT, agent_config, write_config

pytest_plugins = ("tests.app_conftest",)
pytestmark = pytest.mark.gui

SERVING = re.compile(r"Traymind serving (http://\S+)")


def app_process(tmp_path: Path, *args: str) -> subprocess.Popen[str]:
    """``traymind`` (the tray app, offscreen) as a real process with its own folders."""
    env = {
        **os.environ,
        **BASE_ENV,
        "QT_QPA_PLATFORM": "offscreen",
        "TRAYMIND_LOG_DIR": str(tmp_path / "logs"),
        "XDG_CONFIG_HOME": str(tmp_path / "xdg"),
        "TRAYMIND_CONFIG": "",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "app.cli", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_log(path: Path, pattern: re.Pattern[str], timeout: float = 20) -> re.Match[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and (found := pattern.search(path.read_text())):
            return found
        time.sleep(0.05)
    raise AssertionError(f"{pattern.pattern!r} not in {path}")


def test_sigterm_and_sigint_quit_the_app_cleanly(tmp_path: Path) -> None:
    config = write_config(tmp_path, agent_config(None))
    for signum in (signal.SIGTERM, signal.SIGINT):
        data = tmp_path / f"data-{signum}"
        proc = app_process(
            tmp_path, "--config", str(config), "--port", "0", "--data-dir", str(data)
        )
        try:
            url = wait_for_log(tmp_path / "logs" / "traymind.log", SERVING).group(1)
            health = httpx.get(url.removesuffix("/v1") + "/api/health", trust_env=False)
            assert health.status_code == 200
            proc.send_signal(signum)
            assert proc.wait(10) == 0, proc.stderr.read() if proc.stderr else ""
        finally:
            proc.kill()
            proc.wait()
        with pytest.raises(httpx.ConnectError):
            httpx.get(url + "/models", trust_env=False, timeout=2)
        (tmp_path / "logs" / "traymind.log").unlink()


def test_a_second_launch_brings_the_running_window_forward(make_app, qtbot, tmp_path) -> None:
    harness = make_app()
    window = harness.app.status_window
    window.hide()
    options = harness.app.controller.options
    proc = app_process(
        tmp_path,
        "--config",
        str(harness.config_path),
        "--port",
        "0",
        "--data-dir",
        str(options.data_dir),
    )
    try:
        qtbot.waitUntil(lambda: proc.poll() is not None, timeout=20_000)
        assert proc.returncode == 0
        assert "already running" in proc.stderr.read()
        qtbot.waitUntil(window.isVisible)
        assert not (tmp_path / "logs" / "traymind.log").read_text().count("Traymind serving")
    finally:
        proc.kill()
        proc.wait()
    assert len(harness.server_threads()) == 1  # only the first instance serves


def test_quit_stops_the_server_and_closes_the_windows(make_app, qtbot) -> None:
    harness = make_app()
    url = harness.url
    harness.app.show_connect()
    with qtbot.waitSignal(harness.app.finished, timeout=5000) as finished:
        harness.menu_action("Quit").trigger()
    assert finished.args == [0]
    assert harness.server_threads() == []
    assert not harness.app.status_window.isVisible()
    assert not harness.app.connect_dialog.isVisible()
    with pytest.raises(httpx.ConnectError):
        httpx.get(url + "/models", trust_env=False, timeout=2)


def test_without_a_tray_the_status_window_opens_and_says_why(make_app) -> None:
    harness = make_app()
    window = harness.app.status_window
    assert harness.app.tray is None  # offscreen: QSystemTrayIcon.isSystemTrayAvailable() is False
    assert window.isVisible() and window.banner.isVisible()
    assert "No system tray was found" in window.banner.text()
    assert "offscreen" in window.banner.text()
    assert window.menu_button.menu() is harness.app.menu.menu


def test_stop_and_start_from_the_menu(make_app, qtbot) -> None:
    harness = make_app()
    harness.menu_action("Stop server").trigger()
    qtbot.waitUntil(lambda: harness.app.controller.phase == "stopped")
    assert harness.menu_texts()[0] == "Stopped"
    assert harness.server_threads() == []
    assert not harness.menu_action("Copy base URL").isEnabled()
    harness.menu_action("Start server").trigger()
    qtbot.waitUntil(lambda: harness.app.controller.phase == "running")
    harness.menu_action("Copy base URL").trigger()
    assert QGuiApplication.clipboard().text() == harness.url


def test_port_in_use_offers_the_next_free_port_in_one_click(make_app, qtbot) -> None:
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen()
    port = blocker.getsockname()[1]
    try:
        harness = make_app(
            options={"port": 8765},  # the default: the saved port applies
            settings=Settings(port=port),
        )
        controller = harness.app.controller
        assert controller.phase == "error"
        first = harness.menu_texts()[0]
        assert first == f"Error: Port {port} on 127.0.0.1 is already in use by another program."
        offer = next(t for t in harness.menu_texts() if t.startswith("Use port "))
        free = int(offer.split()[2])
        assert free > port
        window = harness.app.status_window
        window.refresh()
        assert window.use_port_button.isVisible()
        assert window.use_port_button.text() == offer
        harness.menu_action(offer).trigger()
        qtbot.waitUntil(lambda: controller.phase == "running")
        assert harness.url == f"http://127.0.0.1:{free}/v1"
        assert harness.settings_file.load().port == free
        assert not window.use_port_button.isVisible()
    finally:
        blocker.close()
