"""Issue 14's walkthrough bugs in Models…: each driven through the real dialog and server.

Bugs 1, 2, 6, 7 and 10: the dialog opens on what was saved, a blank key field keeps the
stored key (and only for that provider), the reloading line ends, an invalid config.yaml
is described as the status window describes it, and typing a key moves nothing under
the pointer.
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import openai
import pytest
import yaml
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QLineEdit

from app.model_setup import PRESETS
from app.models_dialog import ModelsDialog
from app.settings import Settings
from server.keys.provider_keys import get_provider_key
from tests.upstream import Reply, Upstream

pytest_plugins = ("tests.app_conftest",)
pytestmark = pytest.mark.gui

OPEN = Settings(allow_unauthenticated=True)
AGENTS_ONLY = "# my agents\nagents:\n  general: {}  # the helper\n"
KEY = "sk-typed-once-in-models-4c3b2a1f0e9d"
OTHER = next(i for i, p in enumerate(PRESETS) if p.name.startswith("Other"))


def open_models(harness, qtbot) -> ModelsDialog:
    harness.menu_action("Models…").trigger()
    dialog = harness.app.models_dialog
    assert dialog is not None and dialog.isVisible()
    qtbot.waitUntil(lambda: not dialog.busy)
    return dialog


def connect(dialog: ModelsDialog, qtbot, url: str, key: str | None = None) -> None:
    dialog.preset.setCurrentIndex(OTHER)
    dialog.base_url.setText(url)
    if key:
        qtbot.keyClicks(dialog.api_key, key)
    dialog.test_button.click()
    qtbot.waitUntil(lambda: dialog.models.count() > 1 or "Connected" in dialog.message.text())


def pick(dialog: ModelsDialog, model_id: str) -> None:
    [item] = [
        dialog.models.item(i)
        for i in range(dialog.models.count())
        if dialog.models.item(i).text() == model_id
    ]
    dialog.models.setCurrentItem(item)


def save(dialog: ModelsDialog, harness, qtbot) -> None:
    with qtbot.waitSignal(harness.app.controller.reloaded, timeout=5000):
        dialog.save_button.click()


def restarted(make_app, first):
    """The same config.yaml and data folder, in a new app (as after quitting and relaunching)."""
    first.app.quit()
    options = {"config": str(first.config_path), "data_dir": first.app.controller.options.data_dir}
    return make_app(options=options, settings=OPEN)


def default_model(harness) -> dict[str, str]:
    return yaml.safe_load(harness.app.controller.config_path().read_text())["models"]["default"]


def shown_texts(dialog: ModelsDialog) -> list[str]:
    """Every text the dialog shows: labels, fields (as typed), list items."""
    texts = [w.text() for w in dialog.findChildren(QLabel) + dialog.findChildren(QLineEdit)]
    texts += [w.placeholderText() for w in dialog.findChildren(QLineEdit)]
    return texts + [dialog.models.item(i).text() for i in range(dialog.models.count())]


def test_bug1_models_reopens_on_the_saved_provider_url_and_model_after_a_restart(
    make_app, qtbot, upstream: Upstream
) -> None:
    first = make_app(AGENTS_ONLY, settings=OPEN)
    dialog = open_models(first, qtbot)
    upstream.models = ["small-model", "large-model"]
    connect(dialog, qtbot, upstream.base_url)
    pick(dialog, "large-model")
    save(dialog, first, qtbot)

    second = restarted(make_app, first)
    dialog = open_models(second, qtbot)
    assert dialog.preset.currentText() == "Other OpenAI-compatible server"
    assert dialog.base_url.text() == upstream.base_url and dialog.base_url.isEnabled()
    assert dialog.key_env.text() == ""
    assert dialog.models.currentItem().text() == "large-model"
    assert "large-model" in dialog.message.text()

    dialog.test_button.click()  # its other models, with the saved one still chosen
    qtbot.waitUntil(lambda: dialog.models.count() == 2)
    assert dialog.models.currentItem().text() == "large-model"


def test_bug1_a_saved_local_server_reopens_on_its_preset(make_app, qtbot) -> None:
    harness = make_app(
        "models:\n  default:\n    provider: openai\n    id: qwen2.5\n"
        "    base_url: http://127.0.0.1:1234/v1/\n    api_key_env: LMSTUDIO_KEY\n"
        "agents:\n  general: {}\n",
        settings=OPEN,
    )
    dialog = open_models(harness, qtbot)
    assert dialog.preset.currentText() == "LM Studio (this computer)"
    assert dialog.base_url.text() == "http://127.0.0.1:1234/v1/"
    assert dialog.key_env.text() == "LMSTUDIO_KEY"
    assert [dialog.models.item(i).text() for i in range(dialog.models.count())] == ["qwen2.5"]


def test_bug2_saving_again_with_the_key_field_blank_keeps_the_stored_key(
    make_app, qtbot, upstream: Upstream
) -> None:
    first = make_app(AGENTS_ONLY, settings=OPEN)
    dialog = open_models(first, qtbot)
    upstream.models = ["model-a", "model-b"]
    connect(dialog, qtbot, upstream.base_url, key=KEY)
    pick(dialog, "model-a")
    save(dialog, first, qtbot)
    assert default_model(first)["api_key_keyring"] == "default"

    second = restarted(make_app, first)
    data_dir = second.app.controller.data_dir()
    dialog = open_models(second, qtbot)
    assert dialog.api_key.text() == ""
    assert "a key is stored" in dialog.api_key.placeholderText()
    assert "A key is stored for this provider" in dialog.key_note.text()
    assert all(KEY not in text for text in shown_texts(dialog))  # stored, never shown

    dialog.test_button.click()  # blank: the stored key is the one tested
    qtbot.waitUntil(lambda: dialog.models.count() == 2)
    listing = [r for r in upstream.requests if r.path.endswith("/models")][-1]
    assert listing.headers["authorization"] == f"Bearer {KEY}"
    pick(dialog, "model-b")
    save(dialog, second, qtbot)
    assert default_model(second) == {
        "provider": "openai",
        "id": "model-b",
        "base_url": upstream.base_url,
        "api_key_keyring": "default",
    }
    assert get_provider_key("default", backend="file", data_dir=data_dir) == KEY

    upstream.script(Reply.text("answered with the kept key"))
    client = openai.OpenAI(base_url=second.url, api_key="unused", max_retries=0, timeout=20)
    reply = client.chat.completions.create(
        model="general", messages=[{"role": "user", "content": "Hi"}]
    )
    assert reply.choices[0].message.content == "answered with the kept key"
    assert upstream.chat_requests[-1].headers["authorization"] == f"Bearer {KEY}"


def test_bug2_another_provider_never_gets_the_stored_key_and_none_is_orphaned(
    make_app, qtbot, upstream: Upstream
) -> None:
    harness = make_app(AGENTS_ONLY, settings=OPEN)
    data_dir = harness.app.controller.data_dir()
    dialog = open_models(harness, qtbot)
    upstream.models = ["keyed"]
    connect(dialog, qtbot, upstream.base_url, key=KEY)
    save(dialog, harness, qtbot)
    assert get_provider_key("default", backend="file", data_dir=data_dir) == KEY

    with Upstream() as other:
        other.models = ["local-a", "local-b"]
        dialog.base_url.setText(other.base_url)  # another server: the key is not its key
        assert "a key is stored" not in dialog.api_key.placeholderText()
        dialog.test_button.click()
        qtbot.waitUntil(lambda: dialog.models.count() == 2)
        listing = [r for r in other.requests if r.path.endswith("/models")][-1]
        assert "authorization" not in listing.headers
        pick(dialog, "local-b")
        save(dialog, harness, qtbot)
    assert default_model(harness) == {
        "provider": "openai",
        "id": "local-b",
        "base_url": other.base_url,
    }
    assert get_provider_key("default", backend="file", data_dir=data_dir) is None
    qtbot.waitUntil(lambda: "Saved and reloaded" in dialog.message.text())
    assert "removed" in dialog.message.text()


def test_bug6_the_reloading_line_ends_when_the_reload_is_done(
    make_app, qtbot, upstream: Upstream
) -> None:
    harness = make_app(AGENTS_ONLY, settings=OPEN)
    dialog = open_models(harness, qtbot)
    upstream.models = ["small-model", "large-model"]
    connect(dialog, qtbot, upstream.base_url)
    pick(dialog, "large-model")
    dialog.save_button.click()
    qtbot.waitUntil(lambda: "reloading" not in dialog.message.text() and not dialog.busy)
    assert dialog.message.text() == "Saved and reloaded: agents now answer with large-model."
    assert harness.app.controller.failure is None


def test_bug7_saving_over_an_invalid_config_says_what_the_status_window_says(
    make_app, qtbot, upstream: Upstream
) -> None:
    harness = make_app(AGENTS_ONLY, settings=OPEN)
    controller = harness.app.controller
    dialog = open_models(harness, qtbot)
    upstream.models = ["small-model", "large-model"]
    connect(dialog, qtbot, upstream.base_url)
    broken = "agents:\n  general: {}\n   bad: [\n"
    harness.config_path.write_text(broken)
    qtbot.waitUntil(lambda: controller.failure is not None, timeout=8000)  # the watcher saw it
    window = harness.app.status_window
    window.refresh()
    banner_problem = controller.failure.headline
    assert (
        banner_problem.startswith("config.yaml: line ") and banner_problem in window.banner.text()
    )

    pick(dialog, "large-model")
    dialog.save_button.click()
    qtbot.waitUntil(lambda: not dialog.busy)
    text = dialog.message.text()
    assert text.startswith("Not saved: config.yaml cannot be loaded as it is")
    assert banner_problem in text
    assert "<unicode string>" not in text and "^" not in text  # not PyYAML's own message
    assert harness.config_path.read_text() == broken


def test_bug10_typing_a_key_moves_nothing_under_the_pointer(
    make_app, qtbot, upstream: Upstream
) -> None:
    harness = make_app(AGENTS_ONLY, settings=OPEN)
    dialog = open_models(harness, qtbot)
    upstream.models = [f"model-{n}" for n in range(6)]
    connect(dialog, qtbot, upstream.base_url)
    assert not dialog.key_note.isVisible()
    aimed = dialog.models.item(3)
    where = dialog.models.visualItemRect(aimed).center()
    before = dialog.models.viewport().mapTo(dialog, where)

    qtbot.keyClicks(dialog.api_key, KEY)  # the hint about where the key is kept appears
    qtbot.waitUntil(dialog.key_note.isVisible)
    qtbot.wait(50)  # let the layout settle, as it would before the next click
    assert dialog.models.viewport().mapTo(dialog, where) == before
    pointer = dialog.models.viewport().mapFrom(dialog, before)  # where the pointer still is
    qtbot.mouseClick(dialog.models.viewport(), Qt.MouseButton.LeftButton, pos=pointer)
    assert dialog.models.currentItem().text() == "model-3"
