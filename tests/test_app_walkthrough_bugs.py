"""Issue 14's walkthrough bugs outside Models…, each driven through the real app and server.

Bugs 3, 4, 5, 8, 9, 11, 12 and 13, and the line ``traymind`` prints saying where it is.
(Models… bugs 1, 2, 6, 7 and 10 are in ``test_app_walkthrough_models.py``.)
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import importlib.metadata
import re
import selectors
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication, QLabel, QLineEdit, QMessageBox, QPushButton

from app.application import TraymindApp
from app.autostart import Autostart
from app.chat_snippets import Pairing, openwebui_text
from app.settings import Settings, SettingsFile
from app.single_instance import SingleInstance, instance_name
from server.config.yaml_file import YamlProblem, read_yaml
from server.paths import resolve_data_dir, user_config_dir
from server.runner import ServeOptions
from tests.harness import BASE_ENV, ROOT, agent_config, write_config
from tests.upstream import Reply, Upstream

pytest_plugins = ("tests.app_conftest",)
pytestmark = pytest.mark.gui

OPEN = Settings(allow_unauthenticated=True)
OPEN_FIELDS = {"allow_unauthenticated": True}
EXISTING_LIBRECHAT = """\
version: 1.2.1
cache: true
endpoints:
  custom:
    - name: Ollama
      apiKey: ollama
      baseURL: http://host.docker.internal:11434/v1
      models:
        default: [llama3.2]
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def status_of(url: str, key: str | None = None) -> int:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.get(f"{url}/models", headers=headers, trust_env=False, timeout=5).status_code


def trigger(app: TraymindApp, text: str) -> None:
    """Click ``text`` in the menu as it is when opened now."""
    app.menu.menu.aboutToShow.emit()
    action = app.menu.action(text)
    assert action is not None, [a.text() for a in app.menu.menu.actions()]
    action.trigger()


# --- bug 3: Open config / Open logs folder without a program to open them -------------


@pytest.fixture
def app_without_opener(
    qtbot, qapp: QApplication, tmp_path: Path, tray_env
) -> Iterator[tuple[TraymindApp, list[Path], Path]]:
    """A running app whose desktop has no program for files or folders (the opener says no)."""
    from tests.app_conftest import START_TIMEOUT_MS, server_threads  # loaded as a plugin first

    asked: list[Path] = []

    def no_program(path: Path) -> bool:
        asked.append(path)
        return False

    root = tmp_path / "no-opener"
    root.mkdir()
    config_path = write_config(root, agent_config(None))
    options = ServeOptions(config=str(config_path), port=0, data_dir=str(root / "data"))
    instance = SingleInstance(instance_name(resolve_data_dir(options.data_dir)))
    assert instance.claim()
    app = TraymindApp(
        qapp,
        options,
        settings_file=SettingsFile(root / "settings.json"),
        autostart=Autostart(root / "autostart"),
        opener=no_program,
        instance=instance,
    )
    app.start()
    qtbot.waitUntil(lambda: app.controller.phase == "running", timeout=START_TIMEOUT_MS)
    yield app, asked, config_path
    app.quit()
    assert server_threads() == []


def test_bug3_open_config_and_logs_without_a_program_show_the_path_copy_and_a_view(
    app_without_opener, qtbot, tray_env
) -> None:
    app, asked, config_path = app_without_opener
    trigger(app, "Open config")
    assert asked == [config_path]
    dialog = app.path_dialog
    assert dialog is not None and dialog.isVisible()
    assert "No program on this desktop opens config.yaml" in dialog.sentence.text()
    assert dialog.path.text() == str(config_path)
    dialog.copy_button.click()
    assert QGuiApplication.clipboard().text() == str(config_path)
    assert dialog.view.toPlainText() == config_path.read_text()
    assert dialog.view.isReadOnly()
    dialog.action_buttons["Models…"].click()
    assert app.models_dialog is not None and app.models_dialog.isVisible()

    logs = Path(tray_env["TRAYMIND_LOG_DIR"])
    logs.mkdir(parents=True, exist_ok=True)
    (logs / "traymind.log").write_text("".join(f"log line {n}\n" for n in range(1, 301)))
    trigger(app, "Open logs folder")
    assert asked[-1] == logs
    dialog = app.path_dialog
    assert dialog.isVisible() and dialog.path.text() == str(logs)
    view = dialog.view.toPlainText().splitlines()
    assert view[0] == "log line 101" and view[-1] == "log line 300"  # the last 200 lines
    dialog.action_buttons["Status…"].click()
    assert app.status_window.isVisible()


# --- bug 4: a revoked key must not stay on screen --------------------------------------


def test_bug4_revoking_the_key_just_shown_takes_it_off_the_screen(make_app, qtbot) -> None:
    harness = make_app()
    harness.menu_action("API keys…").trigger()
    dialog = harness.app.keys_dialog
    qtbot.waitUntil(lambda: not dialog.busy and dialog.new_button.isEnabled())

    def create(label: str) -> str:
        dialog.label_edit.setText(label)
        dialog.new_button.click()
        qtbot.waitUntil(lambda: not dialog.busy and any(r[0] == label for r in dialog.model.rows()))
        return dialog.new_key.text()

    def revoke(label: str) -> None:
        assert dialog.select_label(label)
        dialog.revoke_button.click()
        dialog.confirm_box.button(QMessageBox.StandardButton.Yes).click()
        qtbot.waitUntil(lambda: not dialog.busy and all(r[0] != label for r in dialog.model.rows()))

    create("old")
    key = create("laptop")
    assert dialog.new_key.isVisible() and QGuiApplication.clipboard().text() == key
    revoke("old")  # another key: the one just shown stays, to be pasted
    assert dialog.new_key.isVisible() and dialog.new_key.text() == key

    revoke("laptop")
    assert not dialog.new_key.isVisible() and not dialog.copy_button.isVisible()
    assert not dialog.new_key_note.isVisible()
    shown = [w.text() for w in dialog.findChildren(QLineEdit) + dialog.findChildren(QLabel)]
    assert all(key not in text for text in shown)
    assert QGuiApplication.clipboard().text() != key
    assert "It was the key shown here" in dialog.message.text()
    assert status_of(harness.url, key) == 401


# --- bug 5: a port in use must not stop the working server -----------------------------


@pytest.fixture
def taken_port() -> Iterator[socket.socket]:
    """A port another program listens on."""
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen()
    yield blocker
    blocker.close()


def test_bug5_settings_check_the_port_and_change_nothing_when_it_is_in_use(
    make_app, qtbot, taken_port
) -> None:
    first, taken = free_port(), taken_port.getsockname()[1]
    saved = Settings(port=first, allow_unauthenticated=True)
    harness = make_app(options={"port": 8765}, settings=saved)
    url, handle = harness.url, harness.app.controller.handle
    harness.menu_action("Settings…").trigger()
    dialog = harness.app.settings_dialog
    dialog.port.setValue(taken)
    dialog.save_button.click()
    assert dialog.isVisible()
    assert dialog.error.text() == (
        f"Port {taken} on 127.0.0.1 is already in use by another program: choose another "
        "port. Nothing was changed; Traymind keeps serving where it is."
    )
    qtbot.wait(300)
    assert harness.settings_file.load() == saved
    assert harness.app.controller.phase == "running" and harness.app.controller.handle is handle
    assert status_of(url) == 200


def test_bug5_the_old_server_serves_until_the_new_one_listens(make_app, qtbot, taken_port) -> None:
    """Past the dialog's check (the port was taken meanwhile): the old server never stops."""
    first, taken = free_port(), taken_port.getsockname()[1]
    harness = make_app(options={"port": 8765}, settings=Settings(port=first, **OPEN_FIELDS))
    controller = harness.app.controller
    url, handle = harness.url, controller.handle

    def the_port(found) -> bool:  # not the "no model is connected" probe's problem
        return found.kind == "port_in_use"

    with qtbot.waitSignal(controller.problem, timeout=5000, check_params_cb=the_port) as problem:
        harness.app.apply_settings(Settings(port=taken, **OPEN_FIELDS))
        assert status_of(url) == 200  # serving while the new one is tried
    assert problem.args[0].message == (
        f"Port {taken} on 127.0.0.1 is already in use by another program. "
        f"Traymind keeps serving on {url}."
    )
    assert controller.phase == "running" and controller.handle is handle and harness.url == url
    assert handle.running and status_of(url) == 200
    assert controller.options.port == first
    assert len(harness.server_threads()) == 1
    window = harness.app.status_window
    window.refresh()
    assert problem.args[0].message in window.banner.text()

    taken_port.close()  # the other program is gone: now the move happens
    harness.app.apply_settings(Settings(port=taken, **OPEN_FIELDS))
    qtbot.waitUntil(lambda: controller.url == f"http://127.0.0.1:{taken}/v1")
    assert controller.failure is None and not handle.running
    assert status_of(controller.url) == 200
    assert len(harness.server_threads()) == 1
    with pytest.raises(httpx.ConnectError):
        status_of(url)
    assert controller.snapshot()["server"]["state"] == "running"
    assert controller.snapshot()["server"]["listen"] == f"127.0.0.1:{taken}"


# --- bug 8: turns after a restart -------------------------------------------------------


def test_bug8_sessions_count_the_stored_turns_after_a_restart(
    make_app, qtbot, upstream: Upstream
) -> None:
    def chat(url: str) -> None:
        upstream.script(Reply.text("ok"))
        client = openai.OpenAI(
            base_url=url,
            api_key="unused",
            max_retries=0,
            timeout=20,
            default_headers={"X-Session-Id": "conv-8"},
        )
        client.chat.completions.create(
            model="general", messages=[{"role": "user", "content": "Hi"}]
        )

    def turns(harness) -> str:
        window = harness.app.status_window
        window.refresh()
        [row] = window.sessions.rows()
        assert row[0].endswith("/conv-8")
        return row[4]

    first = make_app(agent_config(upstream.base_url), settings=OPEN)
    for _ in range(3):
        chat(first.url)
    qtbot.waitUntil(lambda: len(first.app.status_window.sessions.rows()) == 1)
    assert turns(first) == "3"
    first.app.quit()

    options = {"config": str(first.config_path), "data_dir": first.app.controller.options.data_dir}
    second = make_app(options=options, settings=OPEN)
    chat(second.url)
    qtbot.waitUntil(lambda: len(second.app.status_window.sessions.rows()) == 1)
    assert turns(second) == "4"
    assert len(upstream.chat_requests[-1].body["messages"]) > 2  # the stored turns were sent


# --- bug 9: Open WebUI and Docker -------------------------------------------------------


def test_bug9_open_webui_shows_docker_only_for_docker_and_says_loopback_only(make_app) -> None:
    harness = make_app()
    port = harness.app.controller.handle.port
    harness.menu_action("Connect a chat app…").trigger()
    dialog = harness.app.connect_dialog
    local = dialog.texts["Open WebUI"].toPlainText()
    assert f"URL:  http://127.0.0.1:{port}/v1" in local
    assert "docker run" not in local and "host.docker.internal" not in local
    assert "ENABLE_FORWARD_USER_INFO_HEADERS=true open-webui serve" in local

    dialog.docker.setChecked(True)
    in_docker = dialog.texts["Open WebUI"].toPlainText()
    assert f"URL:  http://host.docker.internal:{port}/v1" in in_docker
    assert "docker run -d -p 3000:8080" in in_docker
    assert "Traymind listens on 127.0.0.1 only" in in_docker
    assert "0.0.0.0" in in_docker and "Settings…" in in_docker

    beyond = openwebui_text(Pairing("0.0.0.0", port, ("general",), docker=True))
    assert "listens on 0.0.0.0 only" not in beyond and "127.0.0.1 only" not in beyond
    assert "Traymind listens on 0.0.0.0, so containers can reach it" in beyond


# --- bug 11: what "locked" means --------------------------------------------------------


def test_bug11_locked_says_no_keys_yet_and_unauthenticated_access_off(make_app) -> None:
    harness = make_app()
    window = harness.app.status_window
    window.refresh()
    assert harness.app.controller.auth_mode() == "locked"
    assert window.fields["Auth"].text() == (
        "locked: no API keys yet, and unauthenticated local access is off, so nothing gets in. "
        "Create a key in API keys…, or turn on “Allow unauthenticated local access” in the menu."
    )
    harness.app.set_allow_unauthenticated(True)
    window.refresh()
    assert window.fields["Auth"].text() == "unauthenticated local"


# --- bug 12: the LibreChat snippet pastes into an existing librechat.yaml ---------------


def test_bug12_librechat_gives_an_entry_to_paste_and_a_whole_file(make_app) -> None:
    harness = make_app(agent_config(None, general={}, code={}))
    url = harness.url
    harness.menu_action("Connect a chat app…").trigger()
    dialog = harness.app.connect_dialog
    entry = dialog.texts["LibreChat"].toPlainText()
    [endpoint] = read_yaml(entry)
    assert endpoint["name"] == "Traymind" and endpoint["baseURL"] == url
    assert endpoint["models"] == {"default": ["general", "code"], "fetch": True}

    pasted = read_yaml(EXISTING_LIBRECHAT + entry)  # under custom:, at the end of the file
    assert pasted["version"] == "1.2.1" and pasted["cache"] is True
    assert [e["name"] for e in pasted["endpoints"]["custom"]] == ["Ollama", "Traymind"]
    assert pasted["endpoints"]["custom"][1] == endpoint

    whole = dialog.texts["LibreChat (new file)"].toPlainText()
    assert read_yaml(whole) == {"version": "1.2.1", "endpoints": {"custom": [endpoint]}}
    with pytest.raises(YamlProblem, match="duplicate key"):
        read_yaml(EXISTING_LIBRECHAT + whole)  # why the whole file is only for a new one
    copy = next(b for b in dialog.findChildren(QPushButton) if b.text() == "Copy LibreChat setup")
    copy.click()
    assert QGuiApplication.clipboard().text() == entry


# --- bug 13: the version, and About -----------------------------------------------------


def test_bug13_version_from_the_package_metadata_and_an_about_window(
    make_app, qtbot, tray_env
) -> None:
    expected = importlib.metadata.version("traymind")
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", "--version"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, f"traymind {expected}\n", "")
    assert 'VERSION = "' not in (ROOT / "server" / "api.py").read_text()

    harness = make_app()
    with harness.http() as h:
        assert h.get("/api/health").json()["version"] == expected
    harness.menu_action("About…").trigger()
    about = harness.app.about_dialog
    assert about is not None and about.isVisible()
    controller = harness.app.controller
    shown = {name: label.text() for name, label in about.fields.items()}
    assert shown == {
        "Version": expected,
        "License": importlib.metadata.metadata("traymind")["License"],
        "Config file": str(harness.config_path),
        "Config folder": str(user_config_dir()),
        "Data folder": str(controller.data_dir()),
        "Log file": str(Path(tray_env["TRAYMIND_LOG_DIR"]) / "traymind.log"),
    }
    assert shown["License"] == "MIT"
    about.findChildren(QPushButton)[0].click()  # Copy details
    copied = QGuiApplication.clipboard().text()
    assert all(f"{name}: {value}" in copied for name, value in shown.items())


# --- `traymind` says where it is --------------------------------------------------------

WHERE = re.compile(r"Traymind is running in its status window \(no system tray found\): (\S+)$")


def test_traymind_prints_one_line_saying_where_it_is(tmp_path: Path) -> None:
    config = write_config(tmp_path, agent_config(None))
    env = {
        **os.environ,
        **BASE_ENV,
        "QT_QPA_PLATFORM": "offscreen",  # no tray here: the status window opens instead
        "TRAYMIND_LOG_DIR": str(tmp_path / "logs"),
        "XDG_CONFIG_HOME": str(tmp_path / "xdg"),
        "TRAYMIND_CONFIG": "",
    }
    args = ["--config", str(config), "--port", "0", "--data-dir", str(tmp_path / "data")]
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        chooser = selectors.DefaultSelector()
        chooser.register(proc.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + 30
        line = ""
        while not line and time.monotonic() < deadline:
            if chooser.select(timeout=0.5):
                line = proc.stdout.readline()
        found = WHERE.match(line.rstrip("\n"))
        assert found, (line, proc.stderr.read() if proc.poll() is not None else "")
        url = found.group(1)
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/v1", url) and not url.endswith(":0/v1")
        assert (
            httpx.get(url.removesuffix("/v1") + "/api/health", trust_env=False).status_code == 200
        )
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
        assert proc.stdout.read() == ""  # one line, and only one
    finally:
        proc.kill()
        proc.wait()

    from app.main import where_line  # with a tray (none offscreen), the same line says so

    assert (
        where_line("http://127.0.0.1:8765/v1", in_tray=True)
        == "Traymind is running in your system tray: http://127.0.0.1:8765/v1"
    )
