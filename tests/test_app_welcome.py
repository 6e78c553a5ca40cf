"""The welcome window: first launch, its four skippable steps, against a real app and server."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import httpx
import pytest
import yaml
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication

from app.welcome_steps import fill_key
from app.welcome_window import TITLE, WelcomeWindow, needs_welcome
from tests.harness import agent_config
from tests.upstream import Reply, Upstream

pytest_plugins = ("tests.app_conftest",)
pytestmark = pytest.mark.gui

CLICK = Qt.MouseButton.LeftButton


def welcome_at_start(harness, qtbot) -> WelcomeWindow:
    qtbot.waitUntil(lambda: harness.app.first_run.settled, timeout=8000)
    window = harness.app.welcome_window
    assert window is not None and window.isVisible()
    return window


def no_welcome_at_start(harness, qtbot) -> None:
    qtbot.waitUntil(lambda: harness.app.first_run.settled, timeout=8000)
    assert harness.app.welcome_window is None


def models_status(harness, key: str | None = None) -> int:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    with harness.http() as h:
        return h.get("/v1/models", headers=headers).status_code


def test_who_sees_the_welcome_at_start() -> None:
    assert needs_welcome(False, False, False, False)  # nothing set up
    assert needs_welcome(False, True, False, False)  # a model, but no way in for a chat app
    assert needs_welcome(False, False, True, False)  # a key, but no model
    assert not needs_welcome(False, True, True, False)  # set up by hand
    assert not needs_welcome(False, True, False, True)
    assert not needs_welcome(True, False, False, False)  # completed: never again by itself


def test_first_launch_opens_it_and_finishing_it_keeps_it_closed_next_time(make_app, qtbot) -> None:
    harness = make_app()  # no model, no key, never completed
    window = welcome_at_start(harness, qtbot)
    assert window.windowTitle() == TITLE == "Welcome to Traymind"
    assert window.current == 0 and window.next_button.text() == "Skip"
    qtbot.waitUntil(lambda: "No model is connected yet" in window.model_step.state.text())
    assert harness.settings_file.load().welcome_completed is False

    window.go_to(3)
    assert window.next_button.text() == "Finish"
    qtbot.mouseClick(window.next_button, CLICK)
    assert not window.isVisible()
    saved = harness.settings_file.load()
    assert saved.welcome_completed is True

    again = make_app(settings=saved)  # the next launch
    no_welcome_at_start(again, qtbot)
    again.menu_action("Welcome…").trigger()  # still there from the menu
    assert again.app.welcome_window is not None and again.app.welcome_window.isVisible()


def test_closing_it_unfinished_shows_it_again_at_the_next_start(make_app, qtbot) -> None:
    harness = make_app()
    welcome_at_start(harness, qtbot).close()
    assert harness.settings_file.load().welcome_completed is False
    next_launch = make_app(settings=harness.settings_file.load())
    welcome_at_start(next_launch, qtbot)


def test_not_shown_to_someone_who_set_everything_up_by_hand(
    make_app, qtbot, upstream: Upstream
) -> None:
    harness = make_app(
        agent_config(upstream.base_url), env={"OPENAI_COMPAT_API_KEYS": "sk-by-hand"}
    )
    no_welcome_at_start(harness, qtbot)


def test_every_step_can_be_skipped_and_nothing_changes(make_app, qtbot) -> None:
    harness = make_app()
    config_before = harness.config_path.read_text()
    window = welcome_at_start(harness, qtbot)
    for step in range(3):
        assert window.current == step and window.next_button.text() == "Skip"
        qtbot.mouseClick(window.next_button, CLICK)
    assert window.current == 3 and window.step_list.currentRow() == 3
    qtbot.mouseClick(window.back_button, CLICK)
    assert window.current == 2
    qtbot.mouseClick(window.next_button, CLICK)
    qtbot.mouseClick(window.next_button, CLICK)  # Finish
    assert not window.isVisible() and harness.settings_file.load().welcome_completed
    assert harness.config_path.read_text() == config_before
    assert harness.app.controller.keystore().list() == []
    assert not harness.app.controller.allow_unauthenticated
    assert models_status(harness) == 401


def test_a_created_key_is_shown_once_and_filled_into_every_snippet(make_app, qtbot) -> None:
    harness = make_app()
    window = welcome_at_start(harness, qtbot)
    qtbot.mouseClick(window.next_button, CLICK)
    step = window.access_step
    assert window.current == 1 and not step.key_field.isVisible()
    step.label_edit.setText("librechat")
    qtbot.mouseClick(step.create_button, CLICK)
    qtbot.waitUntil(lambda: step.key_field.isVisible())
    key = step.key
    assert key is not None and key.startswith("sk-")
    assert QGuiApplication.clipboard().text() == key
    assert models_status(harness, key) == 200  # a real key of the server
    assert [i.label for i in harness.app.controller.keystore().list()] == ["librechat"]
    assert window.next_button.text() == "Next" and window.step_list.item(1).text().endswith("✓")

    qtbot.mouseClick(window.next_button, CLICK)
    connect = window.connect_step
    tabs = [connect.tabs.tabText(i) for i in range(connect.tabs.count())]
    assert "Docker" not in tabs and {"LibreChat", "Open WebUI", "OpenAI SDK"} <= set(tabs)
    for name in tabs:
        text = connect.texts[name].toPlainText()
        # Claude Code's Messages API lives at the server's root, not under /v1.
        url = harness.url.removesuffix("/v1") if name == "Claude Code" else harness.url
        assert key in text and url in text, name
    assert "sk-tm-..." not in connect.texts["OpenAI SDK"].toPlainText()
    assert f'api_key="{key}"' in connect.texts["OpenAI SDK"].toPlainText()
    connect.docker.setChecked(True)
    assert "Docker" in [connect.tabs.tabText(i) for i in range(connect.tabs.count())]
    port = harness.app.controller.handle.port
    assert f"http://host.docker.internal:{port}/v1" in connect.texts["LibreChat"].toPlainText()

    window.close()  # shown once: gone from the window when it closes
    assert step.key is None and key not in connect.texts["OpenAI SDK"].toPlainText()


def test_fill_key_puts_the_key_where_each_snippet_wants_it() -> None:
    assert fill_key("OpenAI SDK", 'api_key="sk-tm-..."', "sk-tm-real") == 'api_key="sk-tm-real"'
    assert (
        fill_key("Other", "no placeholder here", "k1") == "no placeholder here\nYour API key: k1\n"
    )
    assert fill_key("Docker", "about networks", "k1") == "about networks"
    assert fill_key("OpenAI SDK", 'api_key="sk-tm-..."', None) == 'api_key="sk-tm-..."'


def test_try_it_with_unauthenticated_local_access_streams_an_answer(
    make_app, qtbot, upstream: Upstream
) -> None:
    harness = make_app(agent_config(upstream.base_url))  # a model, but no way in yet
    window = welcome_at_start(harness, qtbot)
    qtbot.waitUntil(
        lambda: "Connected: agents answer with test-model" in window.model_step.state.text()
    )
    assert window.next_button.text() == "Next"  # step 1 is done already
    qtbot.mouseClick(window.next_button, CLICK)
    qtbot.mouseClick(window.access_step.open_button, CLICK)
    assert models_status(harness) == 200 and harness.settings_file.load().allow_unauthenticated
    qtbot.mouseClick(window.next_button, CLICK)
    qtbot.mouseClick(window.next_button, CLICK)  # step 3 skipped
    chat = window.chat
    assert window.current == 3 and chat.isVisible()
    qtbot.waitUntil(lambda: bool(chat.choices) and not chat.busy)
    upstream.script(Reply.deltas(["Hi", " there", "!"], delay=0.2))
    chat.select_model("general")
    qtbot.keyClicks(chat.input, "Hello")
    qtbot.mouseClick(chat.send_button, CLICK)
    qtbot.waitUntil(lambda: "Hi" in chat.view.toPlainText() and chat.busy)
    qtbot.waitUntil(lambda: not chat.busy, timeout=10_000)
    assert "general\nHi there!" in chat.view.toPlainText()
    assert window.step_list.item(3).text().endswith("✓")
    qtbot.mouseClick(window.next_button, CLICK)
    assert harness.settings_file.load().welcome_completed


def test_a_local_server_found_is_one_click_from_the_default_model(
    make_app, qtbot, upstream: Upstream
) -> None:
    upstream.models = ["llama3.2", "qwen2.5"]
    harness = make_app(env={"TRAYMIND_DETECT_URLS": upstream.base_url})
    window = welcome_at_start(harness, qtbot)  # detected, but no key: not set up yet
    step = window.model_step
    qtbot.waitUntil(lambda: upstream.base_url in step.use_buttons)
    assert step.found_box.isVisible()
    qtbot.mouseClick(step.use_buttons[upstream.base_url], CLICK)
    dialog = step.models
    qtbot.waitUntil(lambda: dialog.models.count() == 2)
    assert dialog.base_url.text() == upstream.base_url
    assert [dialog.models.item(i).text() for i in range(2)] == ["llama3.2", "qwen2.5"]
    dialog.models.setCurrentRow(1)
    qtbot.mouseClick(dialog.save_button, CLICK)
    qtbot.waitUntil(
        lambda: "qwen2.5" in step.state.text() and "(config)" in step.state.text(), timeout=8000
    )
    saved = yaml.safe_load(harness.config_path.read_text())["models"]["default"]
    assert saved == {"provider": "openai", "id": "qwen2.5", "base_url": upstream.base_url}
    assert all(
        b.text() != "Close" or not b.isVisible()
        for b in dialog.findChildren(type(window.next_button))
    )
    with httpx.Client(trust_env=False) as h:
        health = h.get(harness.url.removesuffix("/v1") + "/api/health").json()
    assert health["default_model"]["id"] == "qwen2.5"
