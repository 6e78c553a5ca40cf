"""Config errors and reloads, the Settings dialog, start at login, and the pairing snippets."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import socket
from pathlib import Path

import httpx
import pytest
import yaml
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QPushButton

from app.chat_snippets import Pairing, librechat_yaml
from app.settings import Settings
from tests.harness import ROOT, agent_config

pytest_plugins = ("tests.app_conftest",)
pytestmark = pytest.mark.gui

BAD = "agents:\n  general:\n    modle: x\n"
OPEN = Settings(allow_unauthenticated=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def model_ids(harness) -> list[str]:
    with harness.http() as h:
        return [m["id"] for m in h.get("/v1/models").json()["data"]]


def test_a_bad_config_says_file_key_and_problem_and_opens_it(make_app, qtbot) -> None:
    harness = make_app(BAD)
    controller = harness.app.controller
    assert controller.phase == "error"
    problem = "config.yaml: agents.general.modle: unknown key; did you mean 'model'?"
    assert harness.menu_texts()[0] == f"Error: {problem}"
    window = harness.app.status_window
    window.refresh()
    assert problem in window.banner.text() and window.open_config_button.isVisible()
    window.open_config_button.click()
    harness.menu_action("Open config").trigger()
    assert harness.opened == [harness.config_path, harness.config_path]

    harness.config_path.write_text("agents:\n  general:\n    model: default\n")
    harness.menu_action("Reload config").trigger()
    qtbot.waitUntil(lambda: controller.phase == "running")
    assert controller.failure is None
    window.refresh()
    assert not window.open_config_button.isVisible()


def test_a_bad_reload_keeps_the_old_config_serving(make_app, qtbot) -> None:
    harness = make_app(settings=OPEN)
    controller = harness.app.controller
    assert "general" in model_ids(harness)
    harness.config_path.write_text(BAD)
    with qtbot.waitSignal(
        controller.problem, timeout=5000, check_params_cb=lambda p: p.kind == "reload"
    ) as problem:
        harness.menu_action("Reload config").trigger()
    assert problem.args[0].kind == "reload"
    assert "The previous config keeps running." in problem.args[0].message
    assert controller.phase == "running"
    texts = harness.menu_texts()
    assert texts[0].startswith("Running on")
    assert texts[1] == "⚠ config.yaml: agents.general.modle: unknown key; did you mean 'model'?"
    assert "general" in model_ids(harness)  # still served by the old config

    harness.config_path.write_text(
        yaml.safe_dump(agent_config(None, general={}, writer={"display_name": "Writer"}))
    )
    with qtbot.waitSignal(controller.reloaded, timeout=5000):
        harness.menu_action("Reload config").trigger()
    qtbot.waitUntil(lambda: "writer" in model_ids(harness))
    qtbot.waitUntil(lambda: len(controller.snapshot()["agents"]) == 2)
    assert controller.failure is None
    assert "· 2 agents ·" in harness.menu_texts()[0]


def test_settings_restart_the_server_in_place_and_persist(make_app, qtbot) -> None:
    first, second = free_port(), free_port()
    harness = make_app(options={"port": 8765}, settings=Settings(port=first))
    assert harness.url == f"http://127.0.0.1:{first}/v1"
    harness.menu_action("Settings…").trigger()
    dialog = harness.app.settings_dialog
    assert dialog.isVisible() and dialog.port.isEnabled() and dialog.port.value() == first
    assert not dialog.start_at_login.isChecked()
    dialog.port.setValue(second)
    dialog.start_at_login.setChecked(True)
    dialog.save_button.click()
    qtbot.waitUntil(lambda: harness.app.controller.url == f"http://127.0.0.1:{second}/v1")
    assert harness.settings_file.load() == Settings(port=second, start_at_login=True)
    entry = harness.autostart.path.read_text()
    assert "[Desktop Entry]" in entry and "Exec=" in entry and "Name=Traymind" in entry
    assert len(harness.server_threads()) == 1
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{first}/v1/models", trust_env=False, timeout=2)

    harness.app.show_settings()
    dialog = harness.app.settings_dialog
    assert dialog.start_at_login.isChecked()
    dialog.start_at_login.setChecked(False)
    dialog.save_button.click()
    assert not harness.autostart.path.exists()
    assert harness.app.controller.url == f"http://127.0.0.1:{second}/v1"  # no restart needed


def test_command_line_options_win_over_settings_and_say_so(make_app) -> None:
    harness = make_app(settings=Settings(port=1))  # the fixture passes --port 0
    assert harness.app.controller.phase == "running"
    harness.app.show_settings()
    dialog = harness.app.settings_dialog
    assert not dialog.port.isEnabled() and "--port" in dialog.port.toolTip()
    assert not dialog.config_path.isEnabled() and "--config" in dialog.config_path.toolTip()
    assert not dialog.browse_button.isEnabled()  # nor can a file be chosen for it
    assert not dialog.keystore_file.isEnabled()
    assert "TRAYMIND_KEYSTORE" in dialog.keystore_file.toolTip()
    said = dialog.decided.text()  # said in the window too, not only on hover
    assert dialog.decided.isVisible()
    assert said.startswith("Set for this run, so not changed here: Port by --port")
    assert "TRAYMIND_KEYSTORE" in said


def test_listening_on_all_interfaces_warns_that_keys_are_required(make_app) -> None:
    harness = make_app(options={"port": 8765}, settings=Settings(port=free_port()))
    harness.app.show_settings()
    dialog = harness.app.settings_dialog
    assert not dialog.warning.isVisible()
    dialog.host.setCurrentIndex(1)
    assert dialog.host_value() == "0.0.0.0"
    assert dialog.warning.isVisible()
    assert "needs an API key" in dialog.warning.text()
    assert "no API keys yet" in dialog.warning.text()
    dialog.config_path.setText("/nowhere/config.yaml")
    dialog.save_button.click()
    assert "There is no file at /nowhere/config.yaml" in dialog.error.text()
    assert dialog.isVisible()


def test_connect_a_chat_app_gives_ready_to_paste_setups(make_app, qtbot) -> None:
    harness = make_app(agent_config(None, general={}, code={}))
    url = harness.url
    port = harness.app.controller.handle.port
    harness.menu_action("Connect a chat app…").trigger()
    dialog = harness.app.connect_dialog
    assert dialog.isVisible()
    [endpoint] = yaml.safe_load(dialog.texts["LibreChat"].toPlainText())  # the entry alone
    whole = yaml.safe_load(dialog.texts["LibreChat (new file)"].toPlainText())
    assert whole == {"version": "1.2.1", "endpoints": {"custom": [endpoint]}}
    assert endpoint == {
        "name": "Traymind",
        "apiKey": "${TRAYMIND_API_KEY}",
        "baseURL": url,
        "models": {"default": ["general", "code"], "fetch": True},
        "titleConvo": True,
        "titleModel": "current_model",
        "modelDisplayLabel": "Traymind",
        "headers": {"X-Session-Id": "{{LIBRECHAT_BODY_CONVERSATIONID}}"},
        "dropParams": ["stop", "user", "frequency_penalty", "presence_penalty"],
    }
    webui = dialog.texts["Open WebUI"].toPlainText()
    assert f"URL:  {url}" in webui and "ENABLE_FORWARD_USER_INFO_HEADERS=true" in webui
    assert f'base_url="{url}"' in dialog.texts["OpenAI SDK"].toPlainText()
    docker = dialog.texts["Docker"].toPlainText()
    assert "host-gateway" in docker and "needs an API key" in docker
    assert "127.0.0.1 (this computer only)" in docker

    dialog.docker.setChecked(True)
    in_docker = f"http://host.docker.internal:{port}/v1"
    assert yaml.safe_load(dialog.texts["LibreChat"].toPlainText())[0]["baseURL"] == in_docker
    new_file = yaml.safe_load(dialog.texts["LibreChat (new file)"].toPlainText())
    assert new_file["endpoints"]["custom"][0]["baseURL"] == in_docker
    assert f"URL:  {in_docker}" in dialog.texts["Open WebUI"].toPlainText()
    buttons = dialog.findChildren(QPushButton)
    next(b for b in buttons if b.text() == "Copy Open WebUI setup").click()
    assert QGuiApplication.clipboard().text() == dialog.texts["Open WebUI"].toPlainText()


def test_librechat_endpoint_matches_the_readme() -> None:
    """The README's snippet and the dialog's agree (for the Docker URL)."""
    readme = (ROOT / "README.md").read_text()
    ours = librechat_yaml(Pairing("0.0.0.0", 8765, ("general",), docker=True))
    endpoint = yaml.safe_load(ours)["endpoints"]["custom"][0]
    assert f'baseURL: "{endpoint["baseURL"]}"' in readme
    assert f'X-Session-Id: "{endpoint["headers"]["X-Session-Id"]}"' in readme
    drop = ", ".join(f'"{p}"' for p in endpoint["dropParams"])
    assert f"dropParams: [{drop}]" in readme


def test_open_logs_folder_and_copy_base_url(make_app, tray_env) -> None:
    harness = make_app()
    harness.menu_action("Open logs folder").trigger()
    assert harness.opened == [Path(tray_env["TRAYMIND_LOG_DIR"])]
    assert harness.opened[0].is_dir()


def test_every_setting_is_documented() -> None:
    doc = (ROOT / "docs" / "tray.md").read_text()
    for name, label, _ in Settings.describe():
        assert f"`{name}`" in doc and label in doc, name


def test_an_edit_picked_up_by_the_servers_watcher_reaches_the_tray(make_app, qtbot) -> None:
    """No menu click: the server reloads config.yaml by itself and the tray follows."""
    harness = make_app(settings=OPEN)
    controller = harness.app.controller
    harness.config_path.write_text(BAD)
    with qtbot.waitSignal(
        controller.problem, timeout=8000, check_params_cb=lambda p: p.kind == "reload"
    ):
        pass
    assert harness.menu_texts()[1] == (
        "⚠ config.yaml: agents.general.modle: unknown key; did you mean 'model'?"
    )
    assert "general" in model_ids(harness)
    harness.config_path.write_text(
        yaml.safe_dump(agent_config(None, general={}, writer={"display_name": "Writer"}))
    )
    qtbot.waitUntil(lambda: controller.failure is None, timeout=8000)
    qtbot.waitUntil(lambda: "· 2 agents ·" in harness.menu_texts()[0], timeout=5000)
    assert "writer" in model_ids(harness)


def test_a_settings_dialog_left_open_does_not_undo_the_toggle_or_the_welcome(
    make_app, qtbot
) -> None:
    """The dialog opened first; the tray toggle and the Welcome's Finish came later."""
    harness = make_app(settings=Settings(port=free_port()))
    harness.app.show_settings()
    dialog = harness.app.settings_dialog
    harness.app.set_allow_unauthenticated(True)
    harness.app.show_welcome()
    harness.app.welcome_window.completed.emit()
    assert harness.settings_file.load().welcome_completed
    dialog.start_at_login.setChecked(True)
    dialog.save_button.click()
    saved = harness.settings_file.load()
    assert saved.start_at_login and saved.welcome_completed and saved.allow_unauthenticated
    assert harness.app.settings == saved


def test_one_click_makes_traymind_reachable_from_containers(make_app, qtbot) -> None:
    """Docker ticked, listening on loopback: the button moves the server, keys permitting."""
    harness = make_app(
        agent_config(None, general={}),
        settings=Settings(port=free_port(), allow_unauthenticated=True),
    )
    harness.menu_action("Connect a chat app…").trigger()
    dialog = harness.app.connect_dialog
    assert not dialog.listen_button.isVisibleTo(dialog)
    dialog.docker.setChecked(True)
    assert dialog.listen_button.isVisibleTo(dialog)

    dialog.listen_button.click()  # unauthenticated access is on: refused, with the reason
    assert "Turn off unauthenticated local access first" in dialog.note.text()
    assert harness.app.controller.options.host == "127.0.0.1"

    harness.app.set_allow_unauthenticated(False)
    dialog.listen_button.click()  # no key yet
    assert "Create an API key first" in dialog.note.text()
    assert harness.app.controller.options.host == "127.0.0.1"

    harness.menu_action("API keys…").trigger()
    keys = harness.app.keys_dialog
    qtbot.waitUntil(lambda: not keys.busy and keys.new_button.isEnabled())
    keys.label_edit.setText("docker")
    keys.create_key()
    qtbot.waitUntil(lambda: bool(keys.new_key.text()))
    dialog.listen_button.click()
    qtbot.waitUntil(lambda: harness.app.controller.options.host == "0.0.0.0", timeout=10_000)
    qtbot.waitUntil(lambda: harness.app.controller.phase == "running", timeout=10_000)
    assert harness.settings_file.load().host == "0.0.0.0"
    dialog.refresh()
    assert not dialog.listen_button.isVisibleTo(dialog)
    assert "Create an API key" not in dialog.note.text()


def test_the_welcome_offers_the_same_move_for_docker(make_app, qtbot) -> None:
    harness = make_app(
        agent_config(None, general={}),
        settings=Settings(port=free_port(), allow_unauthenticated=True),
    )
    harness.app.show_welcome()
    step = harness.app.welcome_window.connect_step
    assert not step.listen_button.isVisibleTo(step)
    step.docker.setChecked(True)
    assert step.listen_button.isVisibleTo(step)
    step.listen_button.click()
    assert "Turn off unauthenticated local access first" in step.note.text()
    assert "Docker" in [step.tabs.tabText(i) for i in range(step.tabs.count())]
