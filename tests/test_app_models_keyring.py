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
