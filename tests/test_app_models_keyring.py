"""The Models… dialog keeps a typed provider key in the keystore, never in config.yaml."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest
import yaml
from PySide6.QtWidgets import QLineEdit

from app.model_setup import PRESETS
from app.settings import Settings
from server.keys.provider_keys import PROVIDER_FILE, get_provider_key
from tests.upstream import Upstream

pytest_plugins = ("tests.app_conftest",)
pytestmark = pytest.mark.gui

KEY = "sk-typed-in-the-dialog-9f8e7d6c5b4a"


def test_a_typed_key_is_stored_and_only_named_in_config(
    make_app, qtbot, upstream: Upstream
) -> None:
    harness = make_app(
        "# my agents\nagents:\n  general: {}  # the helper\n",
        settings=Settings(allow_unauthenticated=True),
    )
    controller = harness.app.controller
    qtbot.waitUntil(lambda: controller.phase in ("running", "error"))
    harness.menu_action("Models…").trigger()
    dialog = harness.app.models_dialog
    qtbot.waitUntil(lambda: not dialog.busy)
    assert dialog.keyring_usable  # TRAYMIND_KEYSTORE=file: the file fallback is usable
    assert dialog.api_key.echoMode() == QLineEdit.EchoMode.Password

    other = next(i for i, p in enumerate(PRESETS) if p.name.startswith("Other"))
    dialog.preset.setCurrentIndex(other)
    dialog.base_url.setText(upstream.base_url)
    dialog.api_key.setText(KEY)
    upstream.models = ["keyed-model"]
    dialog.test_button.click()
    qtbot.waitUntil(lambda: dialog.models.count() == 1)
    listing = [r for r in upstream.requests if r.path.endswith("/models")][-1]
    assert listing.headers["authorization"] == f"Bearer {KEY}"  # the typed key is tested

    dialog.models.setCurrentRow(0)
    with qtbot.waitSignal(controller.reloaded, timeout=5000):
        dialog.save_button.click()
    text = harness.config_path.read_text()
    assert KEY not in text
    assert "# my agents" in text and "# the helper" in text
    assert yaml.safe_load(text)["models"]["default"] == {
        "provider": "openai",
        "id": "keyed-model",
        "base_url": upstream.base_url,
        "api_key_keyring": "default",
    }
    data_dir = controller.data_dir()
    assert get_provider_key("default", backend="file", data_dir=data_dir) == KEY
    assert (data_dir / PROVIDER_FILE).stat().st_mode & 0o077 == 0
    assert dialog.api_key.text() == ""


def test_a_second_named_model_gets_its_own_key_and_an_agent_answers_with_it(
    make_app, qtbot, upstream: Upstream
) -> None:
    config = (
        "# two models\n"
        "models:\n"
        "  default:  # the local one\n"
        f"    provider: openai\n    id: test-model\n    base_url: {upstream.base_url}\n"
        "agents:\n  general: {}\n"
    )
    harness = make_app(config, settings=Settings(allow_unauthenticated=True))
    controller = harness.app.controller
    qtbot.waitUntil(lambda: controller.phase == "running")
    harness.menu_action("Models…").trigger()
    dialog = harness.app.models_dialog
    qtbot.waitUntil(lambda: not dialog.busy)
    names = [dialog.model_name.itemText(i) for i in range(dialog.model_name.count())]
    assert names == ["default", "New model…"]
    assert dialog.save_button.text() == "Save as default model"

    dialog.model_name.setCurrentIndex(1)
    assert dialog.new_name.isVisible() and dialog.models.count() == 0
    dialog.new_name.setText("bad name!")
    other = next(i for i, p in enumerate(PRESETS) if p.name.startswith("Other"))
    dialog.preset.setCurrentIndex(other)
    dialog.base_url.setText(upstream.base_url)
    dialog.api_key.setText(KEY)
    upstream.models = ["big-model"]
    dialog.test_button.click()
    qtbot.waitUntil(lambda: dialog.models.count() == 1)
    dialog.save_button.click()
    assert dialog.message.text().startswith("Give the new model a name")
    assert harness.config_path.read_text() == config  # nothing written

    dialog.new_name.setText("big")
    assert dialog.save_button.text() == "Save model “big”"
    with qtbot.waitSignal(controller.reloaded, timeout=5000):
        dialog.save_button.click()
    text = harness.config_path.read_text()
    assert text.startswith(config.split("agents:")[0])  # default and its comments untouched
    models = yaml.safe_load(text)["models"]
    assert models["big"] == {
        "provider": "openai",
        "id": "big-model",
        "base_url": upstream.base_url,
        "api_key_keyring": "big",
    }
    assert models["default"]["id"] == "test-model"
    assert get_provider_key("big", backend="file", data_dir=controller.data_dir()) == KEY
    qtbot.waitUntil(lambda: "Saved and reloaded" in dialog.message.text())
    assert "“big” is big-model" in dialog.message.text()
    names = [dialog.model_name.itemText(i) for i in range(dialog.model_name.count())]
    assert names == ["default", "big", "New model…"] and dialog.model_name.currentText() == "big"

    # an agent that names it answers with it, with its key
    harness.config_path.write_text(text.replace("general: {}", "general: {model: big}"))
    with qtbot.waitSignal(controller.reloaded, timeout=5000):
        controller.reload_config()
    with harness.http() as http:
        reply = http.post(
            "/v1/chat/completions",
            json={"model": "general", "messages": [{"role": "user", "content": "Hi"}]},
        )
    assert reply.status_code == 200, reply.text
    sent = upstream.chat_requests[-1]
    assert sent.body["model"] == "big-model"
    assert sent.headers["authorization"] == f"Bearer {KEY}"

    # reopened on default, then on big: each shows what was saved for it
    dialog.close()
    harness.menu_action("Models…").trigger()
    assert dialog.model_name.currentText() == "big" and dialog.models.item(0).text() == "big-model"
    dialog.model_name.setCurrentIndex(0)
    assert dialog.models.item(0).text() == "test-model"
    assert dialog.save_button.text() == "Save as default model"


def test_a_listed_model_must_come_from_the_url_being_saved(
    make_app, qtbot, upstream: Upstream
) -> None:
    harness = make_app("agents:\n  general: {}\n", settings=Settings(allow_unauthenticated=True))
    controller = harness.app.controller
    qtbot.waitUntil(lambda: controller.phase in ("running", "error"))
    harness.menu_action("Models…").trigger()
    dialog = harness.app.models_dialog
    qtbot.waitUntil(lambda: not dialog.busy)
    assert "key file" in dialog.api_key.placeholderText()  # TRAYMIND_KEYSTORE=file here
    other = next(i for i, p in enumerate(PRESETS) if p.name.startswith("Other"))
    dialog.preset.setCurrentIndex(other)
    dialog.base_url.setText(upstream.base_url)
    upstream.models = ["tested-model"]
    dialog.test_button.click()
    qtbot.waitUntil(lambda: dialog.models.count() == 1)
    before = harness.config_path.read_text()

    qtbot.keyClicks(dialog.base_url, "x")  # the user edits the URL after testing
    assert dialog.models.count() == 0
    assert dialog.message.text().startswith("The URL changed")
    dialog.save_button.click()
    assert dialog.message.text().startswith("Test the connection and choose a model first")

    dialog.base_url.setText(upstream.base_url.removeprefix("http://"))
    dialog.test_button.click()
    assert dialog.message.text().startswith("The base URL must start with http://")
    assert harness.config_path.read_text() == before

    dialog.model_name.setCurrentIndex(dialog.model_name.count() - 1)  # New model…
    dialog.new_name.setText("Default")  # "default" in other letters
    dialog.base_url.setText(upstream.base_url)
    dialog.test_button.click()
    qtbot.waitUntil(lambda: dialog.models.count() == 1)
    dialog.save_button.click()
    assert dialog.message.text() == "A model named “default” exists already: choose it above."
    assert harness.config_path.read_text() == before
