"""The Chat window: a real TraymindApp, its real embedded server, the stand-in provider.

The window talks to the server over HTTP like any chat app; what it shows is read
from its real widgets, and what the server passed on is read from the stand-in.
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import logging
import socket

import httpx
import pytest
import yaml
from PySide6.QtCore import Qt

from app.chat_client import ChatError, Connection, list_models
from app.chat_window import ChatWidget
from app.settings import Settings
from app.tool_blocks import Text, ToolBlock, parse
from tests.upstream import Reply, Upstream

pytest_plugins = ("tests.app_conftest",)
pytestmark = pytest.mark.gui

DONE = Settings(welcome_completed=True)  # these tests are about the chat, not the welcome


def chat_config(upstream: Upstream) -> dict[str, object]:
    url = upstream.base_url
    return {
        "models": {
            "default": {"provider": "openai", "id": "agent-model", "base_url": url},
            "routing": {"provider": "openai", "id": "router-model", "base_url": url},
        },
        "router": {"model": "routing"},
        "agents": {
            "general": {"display_name": "GeneralAgent", "role": "Everyday questions"},
            "code": {
                "display_name": "CodeAgent",
                "role": "Programming help",
                "tools": ["calculator"],
            },
        },
        "teams": {
            "pair": {
                "display_name": "Pair",
                "role": "Both of them",
                "agents": ["general", "code"],
                "mode": "coordinate",
            }
        },
    }


def open_chat(harness, qtbot) -> ChatWidget:
    harness.menu_action("Chat…").trigger()
    window = harness.app.chat_window
    assert window is not None and window.isVisible()
    chat = window.chat
    qtbot.waitUntil(lambda: bool(chat.choices) and not chat.busy)
    return chat


def send(qtbot, chat: ChatWidget, text: str, model: str | None = None) -> None:
    if model is not None:
        assert chat.select_model(model), [c.id for c in chat.choices]
    qtbot.keyClicks(chat.input, text)
    qtbot.mouseClick(chat.send_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not chat.busy, timeout=15_000)


def shown(chat: ChatWidget) -> str:
    return chat.view.toPlainText()


def user_texts(request) -> list[str]:
    return [m["content"] for m in request.body["messages"] if m["role"] == "user"]


def test_the_answer_streams_in_through_the_real_api_even_when_the_server_is_locked(
    make_app, qtbot, upstream: Upstream
) -> None:
    harness = make_app(chat_config(upstream), settings=DONE)
    with harness.http() as h:  # no key, unauthenticated access off: locked for clients
        assert h.get("/v1/models").status_code == 401
    chat = open_chat(harness, qtbot)
    assert [c.id for c in chat.choices] == ["auto", "general", "code", "team/pair"]
    assert chat.models.itemText(2) == "code (CodeAgent: Programming help)"

    upstream.script(Reply.deltas(["Hello", " from", " the", " stand-in."], delay=0.3))
    chat.select_model("general")
    qtbot.keyClicks(chat.input, "Say hello")
    qtbot.keyClick(chat.input, Qt.Key.Key_Return)  # Enter sends
    # the GUI thread stays free while the answer streams: part of it shows first
    qtbot.waitUntil(lambda: "Hello" in shown(chat) and chat.busy, timeout=10_000)
    assert "stand-in." not in shown(chat)
    assert not chat.send_button.isEnabled() and chat.stop_button.isEnabled()
    qtbot.waitUntil(lambda: not chat.busy, timeout=10_000)

    assert "You\nSay hello" in shown(chat)
    assert "general\nHello from the stand-in." in shown(chat)
    assert chat.agent_label.text() == "Answered by general"
    assert chat.input.toPlainText() == "" and chat.send_button.isEnabled()
    assert not chat.message.isVisible()
    [request] = upstream.chat_requests
    assert user_texts(request) == ["Say hello"]
    assert harness.app.controller.auth_mode() == "locked"  # the window unlocked nothing
    [session] = harness.app.controller.snapshot()["sessions"]
    assert session["key"].endswith("/" + chat.session_id) and session["key_source"] == "this app"


def test_a_tool_call_is_a_block_with_name_arguments_and_result(
    make_app, qtbot, upstream: Upstream
) -> None:
    harness = make_app(chat_config(upstream), settings=DONE)
    chat = open_chat(harness, qtbot)
    upstream.script(
        Reply.tool_calls([("calculator", {"expression": "6*7"})]), Reply.text("It is 42.")
    )
    send(qtbot, chat, "What is 6*7?", model="code")

    [turn] = chat.turns
    assert turn.answer.startswith('<tool id="1" state="start">calculator(expression=6*7)</tool>')
    assert parse(turn.answer) == [
        ToolBlock(1, "calculator", "expression=6*7", "42", "done"),
        Text("It is 42."),
    ]
    text = shown(chat)
    assert "<tool" not in text and "&lt;" not in text
    for expected in ("Tool: calculator (done)", "Arguments: expression=6*7", "Result:", "42"):
        assert expected in text, text
    assert text.index("Tool: calculator") < text.index("It is 42.")
    assert "<table" in chat.view.toHtml()
    second = upstream.chat_requests[1].body["messages"]
    assert second[-1] == {"role": "tool", "tool_call_id": "call_1", "content": "42"}


def test_auto_shows_the_agent_it_chose_and_the_usage_of_the_whole_run(
    make_app, qtbot, upstream: Upstream
) -> None:
    harness = make_app(chat_config(upstream), settings=DONE)
    chat = open_chat(harness, qtbot)
    route = Reply.tool_calls([("final_result", {"agent": "code", "reason": "code"})], usage=(40, 6))
    upstream.script(route, Reply.text("def f(): pass", usage=(10, 5)))
    send(qtbot, chat, "Write a function", model="auto")

    assert chat.turns[0].agent == "code"
    assert chat.agent_label.text() == "Answered by code (chosen by auto)"
    assert "code (chosen by auto)\ndef f(): pass" in shown(chat)
    assert chat.usage_label.text() == "Tokens: 50 prompt + 11 completion = 61 tokens"
    assert "50 prompt + 11 completion = 61 tokens" in shown(chat)
    assert [r.body["model"] for r in upstream.chat_requests] == ["router-model", "agent-model"]


def test_each_answer_shows_its_own_usage(make_app, qtbot, upstream: Upstream) -> None:
    harness = make_app(chat_config(upstream), settings=DONE)
    chat = open_chat(harness, qtbot)
    upstream.script(Reply.text("One", usage=(12, 3)), Reply.text("Two", usage=(30, 7)))
    send(qtbot, chat, "first", model="general")
    assert chat.usage_label.text() == "Tokens: 12 prompt + 3 completion = 15 tokens"
    send(qtbot, chat, "second")
    assert chat.usage_label.text() == "Tokens: 30 prompt + 7 completion = 37 tokens"
    text = shown(chat)
    assert text.index("15 tokens") < text.index("Two") < text.index("37 tokens")


def test_new_conversation_sends_a_new_session_id(make_app, qtbot, upstream: Upstream) -> None:
    harness = make_app(chat_config(upstream), settings=DONE)
    chat = open_chat(harness, qtbot)
    first_session = chat.session_id
    upstream.script(
        Reply.text("Nice to meet you, Ada."), Reply.text("You are Ada."), Reply.text("No idea.")
    )
    send(qtbot, chat, "My name is Ada.", model="general")
    send(qtbot, chat, "Who am I?")
    assert user_texts(upstream.chat_requests[1]) == ["My name is Ada.", "Who am I?"]

    qtbot.mouseClick(chat.new_button, Qt.MouseButton.LeftButton)
    assert chat.session_id != first_session and chat.turns == []
    assert shown(chat).strip() == "" and chat.usage_label.text() == ""
    send(qtbot, chat, "Who am I?")
    # A new session: the server has no history for it, so the stand-in sees only this
    # question (with the old id the server would have sent the stored turns along).
    third = upstream.chat_requests[2].body["messages"]
    assert user_texts(upstream.chat_requests[2]) == ["Who am I?"]
    assert all("Ada" not in str(m["content"]) for m in third)
    sessions = {s["key"].split("/")[1]: s for s in harness.app.controller.snapshot()["sessions"]}
    assert set(sessions) == {first_session, chat.session_id}
    assert (sessions[first_session]["turns"], sessions[chat.session_id]["turns"]) == (2, 1)


def test_a_provider_error_is_a_sentence(make_app, qtbot, upstream: Upstream) -> None:
    harness = make_app(chat_config(upstream), settings=DONE)
    chat = open_chat(harness, qtbot)
    upstream.script(Reply.error(500, "the GPU caught fire"))
    send(qtbot, chat, "Hello?", model="general")
    message = chat.message.text()
    assert chat.message.isVisible()
    assert message.startswith("The model provider failed (502). ")
    assert upstream.base_url in message and "Traceback" not in message
    assert message in shown(chat) and chat.turns[0].state == "failed"
    assert chat.send_button.isEnabled()  # and the next message goes through
    upstream.script(Reply.text("Better now."))
    send(qtbot, chat, "Again?")
    assert "Better now." in shown(chat) and not chat.message.isVisible()


def test_a_provider_that_is_down_is_a_sentence(make_app, qtbot, upstream: Upstream) -> None:
    harness = make_app(chat_config(upstream), settings=DONE)
    chat = open_chat(harness, qtbot)
    upstream.stop()
    send(qtbot, chat, "Anyone there?", model="general")
    message = chat.message.text()
    assert message.startswith("The model provider failed (502). "), message
    assert "Traceback" not in message


def test_rate_limits_say_when_to_try_again(make_app, qtbot, upstream: Upstream) -> None:
    harness = make_app(chat_config(upstream), settings=DONE)
    chat = open_chat(harness, qtbot)
    upstream.script(Reply.error(429, "slow down", headers={"Retry-After": "7"}))
    send(qtbot, chat, "Hi", model="general")
    message = chat.message.text()
    assert message.startswith("Too many requests right now (429). ")
    assert message.endswith("Try again in 7 seconds.")


def test_an_agent_removed_from_the_config_is_a_sentence_and_leaves_the_list(
    make_app, qtbot, upstream: Upstream
) -> None:
    harness = make_app(chat_config(upstream), settings=DONE)
    chat = open_chat(harness, qtbot)
    chat.select_model("code")
    config = chat_config(upstream)
    del config["agents"]["code"], config["teams"]
    harness.config_path.write_text(yaml.safe_dump(config))  # the server's watcher reloads it
    qtbot.waitUntil(
        lambda: [a["id"] for a in harness.app.controller.snapshot()["agents"]] == ["general"],
        timeout=8000,
    )
    assert chat.selected_model() == "code"  # the window has not heard of it yet
    send(qtbot, chat, "Still there?")
    assert chat.message.text().startswith("There is no agent “code” any more (404)")
    qtbot.waitUntil(lambda: [c.id for c in chat.choices] == ["auto", "general"])
    assert upstream.chat_requests == []


def test_a_stopped_server_is_a_sentence_and_a_restarted_one_works_again(
    make_app, qtbot, upstream: Upstream
) -> None:
    harness = make_app(chat_config(upstream), settings=DONE)
    chat = open_chat(harness, qtbot)
    controller = harness.app.controller
    harness.menu_action("Stop server").trigger()
    qtbot.waitUntil(lambda: controller.phase == "stopped")
    assert (
        chat.message.text()
        == "Traymind's server is not running: choose “Start server” in the menu."
    )
    assert not chat.send_button.isEnabled()
    harness.menu_action("Start server").trigger()  # a new server: the window gets in again
    qtbot.waitUntil(lambda: controller.phase == "running" and bool(chat.choices) and not chat.busy)
    upstream.script(Reply.text("Back again."))
    send(qtbot, chat, "Hello", model="general")
    assert "Back again." in shown(chat) and not chat.message.isVisible()


def test_stop_keeps_what_arrived_and_drops_the_rest(make_app, qtbot, upstream: Upstream) -> None:
    harness = make_app(chat_config(upstream), settings=DONE)
    chat = open_chat(harness, qtbot)
    upstream.script(Reply.deltas(["First", " second", " third"], delay=0.5))
    chat.select_model("general")
    qtbot.keyClicks(chat.input, "Count")
    qtbot.mouseClick(chat.send_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "First" in shown(chat))
    qtbot.mouseClick(chat.stop_button, Qt.MouseButton.LeftButton)
    assert not chat.busy and chat.send_button.isEnabled()
    qtbot.wait(1500)
    assert chat.turns[0].state == "stopped" and "third" not in shown(chat)
    assert "(stopped)" in shown(chat)


def test_the_credential_is_refused_when_wrong_and_never_logged(
    make_app, qtbot, upstream: Upstream, caplog
) -> None:
    caplog.set_level(logging.DEBUG)
    harness = make_app(chat_config(upstream), settings=DONE)
    chat = open_chat(harness, qtbot)
    upstream.script(Reply.text("ok"))
    send(qtbot, chat, "hi", model="general")
    connection = harness.app.chat_access.connection()
    assert connection is not None and connection.authorization is not None
    token = connection.authorization.removeprefix("Bearer ")
    assert token not in repr(connection) and token not in caplog.text
    assert token not in harness.settings_file.path.read_text()
    assert token not in harness.config_path.read_text()

    with pytest.raises(ChatError) as refused:
        list_models(Connection(connection.base_url, "Bearer tm-app-not-the-real-one"))
    assert str(refused.value).startswith("Traymind refused the chat window's credentials (401).")
    assert "has no API keys" in str(refused.value)  # the server's own sentence
    with httpx.Client(trust_env=False) as h:
        ok = h.get(f"{connection.base_url}/models", headers={"Authorization": f"Bearer {token}"})
    assert ok.status_code == 200


def test_no_model_connected_is_a_sentence_that_says_where_to_connect_one(make_app, qtbot) -> None:
    harness = make_app(settings=DONE)  # an agent, but no model configured or detected
    chat = open_chat(harness, qtbot)
    send(qtbot, chat, "Hello", model="general")
    message = chat.message.text()
    assert message.startswith("No model is connected (503). ")
    assert message.endswith("Choose “Models…” in the menu to connect one.")


def test_a_server_that_does_not_answer_is_a_sentence() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens there once closed
    url = f"http://127.0.0.1:{port}/v1"
    with pytest.raises(ChatError) as failed:
        list_models(Connection(url, "Bearer x"))
    assert str(failed.value) == (
        f"Traymind's server does not answer at {url}: start it from the menu."
    )
