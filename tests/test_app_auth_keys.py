"""The tray's auth toggle and API keys dialog, against a real embedded server and real clients."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import json

import httpx
import openai
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QMessageBox

from app.settings import Settings
from app.tray import ALLOW_UNAUTHENTICATED
from tests.harness import agent_config
from tests.upstream import Reply, Upstream

pytest_plugins = ("tests.app_conftest",)
pytestmark = pytest.mark.gui


def models_status(harness, key: str | None = None) -> int:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    with harness.http() as h:
        return h.get("/v1/models", headers=headers).status_code


def test_toggling_unauthenticated_access_applies_at_once_and_persists(make_app, qtbot) -> None:
    harness = make_app()
    assert models_status(harness) == 401  # no keys, toggle off: locked
    toggle = harness.menu_action(ALLOW_UNAUTHENTICATED)
    assert toggle.isCheckable() and not toggle.isChecked() and toggle.isEnabled()

    # Click it in the real menu, as a person would.
    menu = harness.app.menu.menu
    menu.popup(QPoint(10, 10))
    qtbot.waitUntil(menu.isVisible)
    toggle = harness.app.menu.action(ALLOW_UNAUTHENTICATED)
    qtbot.mouseClick(menu, Qt.MouseButton.LeftButton, pos=menu.actionGeometry(toggle).center())
    assert models_status(harness) == 200  # the very next request, no restart
    assert json.loads(harness.settings_file.path.read_text())["allow_unauthenticated"] is True
    assert harness.menu_action(ALLOW_UNAUTHENTICATED).isChecked()
    assert harness.app.controller.auth_mode() == "unauthenticated local"

    harness.menu_action(ALLOW_UNAUTHENTICATED).trigger()
    assert models_status(harness) == 401
    assert harness.settings_file.load().allow_unauthenticated is False
    assert harness.app.controller.auth_mode() == "locked"


def test_saved_toggle_applies_at_the_next_start(make_app) -> None:
    harness = make_app(settings=Settings(allow_unauthenticated=True))
    assert harness.menu_action(ALLOW_UNAUTHENTICATED).isChecked()
    assert models_status(harness) == 200


def test_toggle_is_disabled_when_listening_beyond_loopback(make_app, tmp_path) -> None:
    harness = make_app(
        options={"host": "0.0.0.0"},
        settings=Settings(allow_unauthenticated=True),  # saved, but refused beyond loopback
        env={"OPENAI_COMPAT_API_KEYS": "sk-test-env-key"},  # beyond loopback needs a key
    )
    assert harness.app.controller.phase == "running"
    toggle = harness.menu_action(ALLOW_UNAUTHENTICATED)
    assert not toggle.isEnabled() and not toggle.isChecked()
    assert "0.0.0.0" in toggle.toolTip() and "API key" in toggle.toolTip()
    url = f"http://127.0.0.1:{harness.app.controller.handle.port}/v1/models"
    assert httpx.get(url, trust_env=False).status_code == 401  # even from loopback
    ok = httpx.get(url, headers={"Authorization": "Bearer sk-test-env-key"}, trust_env=False)
    assert ok.status_code == 200
    environment, store = harness.app.controller.key_sources()
    assert environment == "environment (OPENAI_COMPAT_API_KEYS)"
    assert store.endswith("(not the OS keyring): 0 keys")


def test_beyond_loopback_without_keys_fails_until_a_key_exists(make_app, qtbot, tmp_path) -> None:
    harness = make_app(options={"host": "0.0.0.0"})
    controller = harness.app.controller
    assert controller.phase == "error"
    assert harness.menu_texts()[0].startswith("Error: Listening on 0.0.0.0")
    harness.menu_action("API keys…").trigger()  # keys can be made while the server is down
    dialog = harness.app.keys_dialog
    qtbot.waitUntil(lambda: not dialog.busy and dialog.new_button.isEnabled())
    dialog.label_edit.setText("lan")
    dialog.create_key()
    qtbot.waitUntil(lambda: controller.phase == "running")  # it tries again by itself
    key = dialog.new_key.text()
    url = f"http://127.0.0.1:{controller.handle.port}/v1/models"
    headers = {"Authorization": f"Bearer {key}"}
    assert httpx.get(url, headers=headers, trust_env=False).status_code == 200


def test_new_key_lets_a_real_client_in_and_revoking_shuts_it_out(
    make_app, qtbot, upstream: Upstream
) -> None:
    harness = make_app(agent_config(upstream.base_url))
    harness.menu_action("API keys…").trigger()
    dialog = harness.app.keys_dialog
    assert dialog is not None and dialog.isVisible()
    qtbot.waitUntil(lambda: not dialog.busy and dialog.new_button.isEnabled())
    assert dialog.model.rows() == []
    assert not dialog.banner.isVisible()

    qtbot.keyClicks(dialog.label_edit, "laptop")
    qtbot.mouseClick(dialog.new_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.new_key.isVisible() and len(dialog.model.rows()) == 1)
    key = dialog.new_key.text()
    assert key.startswith("sk-") and len(key) > 40
    assert QGuiApplication.clipboard().text() == key  # copied for the user
    [row] = dialog.model.rows()
    assert row[0] == "laptop" and row[2] == "never" and len(row[3]) == 8
    assert all(key not in cell for cell in row)

    upstream.script(Reply.text("Hello from the stand-in"))
    client = openai.OpenAI(base_url=harness.url, api_key=key, max_retries=0, timeout=20)
    assert "general" in [m.id for m in client.models.list().data]
    reply = client.chat.completions.create(
        model="general", messages=[{"role": "user", "content": "Hi"}]
    )
    assert reply.choices[0].message.content == "Hello from the stand-in"
    assert harness.app.controller.auth_mode() == "keys from file"

    dialog.close()  # the key is shown once: gone from the dialog when it closes
    harness.menu_action("API keys…").trigger()
    assert dialog.new_key.text() == "" and not dialog.new_key.isVisible()
    qtbot.waitUntil(lambda: not dialog.busy)

    assert dialog.select_label("laptop")
    qtbot.mouseClick(dialog.revoke_button, Qt.MouseButton.LeftButton)
    box = dialog.confirm_box
    assert box is not None and box.isVisible()
    qtbot.mouseClick(box.button(QMessageBox.StandardButton.Yes), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.model.rows() == [])
    assert "Revoked" in dialog.message.text()
    with pytest.raises(openai.AuthenticationError):
        client.models.list()


def test_cancelled_revoke_keeps_the_key(make_app, qtbot) -> None:
    harness = make_app()
    harness.app.show_keys()
    dialog = harness.app.keys_dialog
    qtbot.waitUntil(lambda: not dialog.busy)
    dialog.label_edit.setText("ci")
    dialog.create_key()
    qtbot.waitUntil(lambda: len(dialog.model.rows()) == 1)
    key = dialog.new_key.text()
    dialog.select_label("ci")
    dialog.ask_revoke()
    qtbot.mouseClick(
        dialog.confirm_box.button(QMessageBox.StandardButton.Cancel), Qt.MouseButton.LeftButton
    )
    qtbot.wait(200)
    assert not dialog.busy and len(dialog.model.rows()) == 1
    assert models_status(harness, key) == 200


def test_no_keyring_says_so_plainly_and_the_file_fallback_is_one_setting(
    make_app, qtbot, tmp_path
) -> None:
    harness = make_app(
        env={"TRAYMIND_KEYSTORE": "", "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
    )
    harness.menu_action("API keys…").trigger()
    dialog = harness.app.keys_dialog
    qtbot.waitUntil(lambda: dialog.banner.isVisible())
    text = dialog.banner.text()
    assert "No usable OS keyring" in text and "not the OS keyring" in text
    assert "Keep key hashes in a file" in text
    assert not dialog.new_button.isEnabled()
    status = harness.app.status_window
    status.refresh()
    assert "No usable OS keyring" in status.banner.text()

    dialog.settings_button.click()  # the banner's way out: the Settings checkbox
    settings = harness.app.settings_dialog
    assert settings is not None and settings.keystore_file.isEnabled()
    settings.keystore_file.setChecked(True)
    settings.save_button.click()
    assert harness.settings_file.load().keystore_file is True
    qtbot.waitUntil(lambda: harness.app.controller.phase == "running")
    assert harness.app.controller.options.keystore == "file"

    harness.app.show_keys()
    qtbot.waitUntil(lambda: not dialog.banner.isVisible() and dialog.new_button.isEnabled())
    assert "not the OS keyring" in dialog.where.text()
    dialog.label_edit.setText("fallback")
    dialog.create_key()
    qtbot.waitUntil(lambda: dialog.new_key.isVisible())
    assert models_status(harness, dialog.new_key.text()) == 200
