"""The tray's approval dialog: a real TraymindApp, its embedded server, the stand-in provider.

A chat app (the official client, over HTTP) asks an agent whose model calls ``run_shell``;
the dialog appears, and its buttons are clicked as a person would. What ran is checked
on disk; what the model was told, at the stand-in.
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import threading
from pathlib import Path
from typing import Any

import openai
import pytest
import yaml
from PySide6.QtCore import Qt

from app.approval_dialog import ApprovalPrompter
from app.settings import Settings
from server.approvals.broker import DENIED, UNANSWERED, arguments_text
from server.providers.tls import tls_context
from tests.upstream import Reply, Upstream

pytest_plugins = ("tests.app_conftest",)
pytestmark = pytest.mark.gui

DONE = Settings(welcome_completed=True)
KEY = "sk-test-tray-approvals"


def shell_config(upstream: Upstream, work: Path, **top: Any) -> dict[str, Any]:
    return {
        "models": {"default": {"provider": "openai", "id": "m", "base_url": upstream.base_url}},
        "agents": {
            "ops": {
                "display_name": "OpsAgent",
                "tools": [{"shell": {"cwd": str(work), "timeout_seconds": 10}}],
            }
        },
        **top,
    }


class Chat:
    """One chat completion from a chat app, in a thread (the GUI thread clicks meanwhile)."""

    def __init__(self, url: str) -> None:
        self.answer: str | None = None
        self.error: BaseException | None = None
        api = client_for(url)

        def run() -> None:
            try:
                reply = api.chat.completions.create(
                    model="ops",
                    messages=[{"role": "user", "content": "go"}],
                    extra_headers={"X-Session-Id": "tray-1"},
                )
                self.answer = reply.choices[0].message.content
            except BaseException as exc:
                self.error = exc

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def done(self) -> bool:
        return not self.thread.is_alive()


def client_for(url: str) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=url,
        api_key=KEY,
        max_retries=0,
        timeout=30,
        http_client=openai.DefaultHttpxClient(verify=tls_context()),
    )


def started(make_app, upstream: Upstream, tmp_path: Path, **top: Any):
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    upstream.script(
        Reply.tool_calls([("run_shell", {"command": "echo ran >> marker.txt"})]),
        Reply.text("over"),
    )
    harness = make_app(
        shell_config(upstream, work, **top), settings=DONE, env={"OPENAI_COMPAT_API_KEYS": KEY}
    )
    return harness, work


def test_allow_once_runs_the_command_once(make_app, qtbot, upstream: Upstream, tmp_path) -> None:
    harness, work = started(make_app, upstream, tmp_path)
    dialog = harness.app.approval_prompter.dialog
    chat = Chat(harness.url)
    qtbot.waitUntil(lambda: dialog.isVisible(), timeout=10_000)
    assert not (work / "marker.txt").exists()
    assert dialog.windowTitle() == "Allow this action?"
    assert dialog.fields["Agent"].text() == "OpsAgent (ops)"
    assert dialog.heading.text().startswith("<b>OpsAgent</b> wants to use <b>run_shell</b>")
    assert dialog.fields["Tool"].text() == "run_shell"
    assert dialog.fields["Client"].text() == "OpenAI SDK"
    assert dialog.fields["Session"].text() == "tray-1"
    assert dialog.arguments.toPlainText() == "command: echo ran >> marker.txt"
    assert "then it is denied" in dialog.fields["Time left"].text()
    assert dialog.deny_button.isDefault()
    qtbot.mouseClick(dialog.allow_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(chat.done, timeout=10_000)
    assert chat.error is None
    assert (work / "marker.txt").read_text() == "ran\n"
    assert not dialog.isVisible()
    status = harness.app.status_window
    status.refresh()
    rows = status.approvals.rows()
    assert [(r[1], r[2], r[3], r[4]) for r in rows] == [("ops", "run_shell", "allowed", "tray")]


def test_deny_never_runs_it_and_the_model_is_told(
    make_app, qtbot, upstream: Upstream, tmp_path
) -> None:
    harness, work = started(make_app, upstream, tmp_path)
    dialog = harness.app.approval_prompter.dialog
    chat = Chat(harness.url)
    qtbot.waitUntil(lambda: dialog.isVisible(), timeout=10_000)
    qtbot.mouseClick(dialog.deny_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(chat.done, timeout=10_000)
    assert not (work / "marker.txt").exists()
    assert upstream.chat_requests[1].body["messages"][-1]["content"] == DENIED
    assert chat.answer is not None and chat.answer.endswith("over")


def test_closing_the_dialog_denies(make_app, qtbot, upstream: Upstream, tmp_path) -> None:
    harness, work = started(make_app, upstream, tmp_path)
    dialog = harness.app.approval_prompter.dialog
    chat = Chat(harness.url)
    qtbot.waitUntil(lambda: dialog.isVisible(), timeout=10_000)
    dialog.close()
    qtbot.waitUntil(chat.done, timeout=10_000)
    assert not (work / "marker.txt").exists()
    assert upstream.chat_requests[1].body["messages"][-1]["content"] == DENIED


def test_always_allow_writes_the_config_and_asks_no_more(
    make_app, qtbot, upstream: Upstream, tmp_path
) -> None:
    harness, work = started(make_app, upstream, tmp_path)
    dialog = harness.app.approval_prompter.dialog
    chat = Chat(harness.url)
    qtbot.waitUntil(lambda: dialog.isVisible(), timeout=10_000)
    qtbot.mouseClick(dialog.always_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(chat.done, timeout=10_000)
    written = yaml.safe_load(harness.config_path.read_text())
    assert written["agents"]["ops"]["tools"] == [
        {"shell": {"cwd": str(work), "timeout_seconds": 10, "approval": "auto"}}
    ]
    upstream.script(
        Reply.tool_calls([("run_shell", {"command": "echo ran >> marker.txt"})]),
        Reply.text("again"),
    )
    second = Chat(harness.url)
    qtbot.waitUntil(second.done, timeout=10_000)
    assert second.answer is not None and second.answer.endswith("again")
    assert not dialog.isVisible()
    assert (work / "marker.txt").read_text() == "ran\nran\n"


def test_no_answer_in_time_denies_and_the_dialog_closes(
    make_app, qtbot, upstream: Upstream, tmp_path
) -> None:
    harness, work = started(make_app, upstream, tmp_path, approval_timeout_seconds=1)
    dialog = harness.app.approval_prompter.dialog
    chat = Chat(harness.url)
    qtbot.waitUntil(lambda: dialog.isVisible(), timeout=10_000)
    qtbot.waitUntil(chat.done, timeout=10_000)
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=5_000)
    assert not (work / "marker.txt").exists()
    assert upstream.chat_requests[1].body["messages"][-1]["content"] == UNANSWERED
    harness.app.status_window.refresh()
    (row,) = harness.app.status_window.approvals.rows()
    assert (row[3], row[4]) == ("denied", "timeout")


def test_one_notification_per_request_and_a_decision_elsewhere_closes_the_dialog(
    make_app, qtbot, upstream: Upstream, tmp_path
) -> None:
    harness, work = started(make_app, upstream, tmp_path)
    told: list[str] = []
    prompter = ApprovalPrompter(harness.app.controller, told.append)
    chat = Chat(harness.url)
    qtbot.waitUntil(lambda: prompter.dialog.isVisible(), timeout=10_000)
    for _ in range(3):
        prompter.refresh()  # more news about the same request
    assert told == ["OpsAgent asks to use run_shell. Allow it?"]
    (pending,) = harness.app.controller.approvals.pending()
    harness.app.controller.approvals.decide(pending.id, True, by="owner key 'me'")
    qtbot.waitUntil(lambda: not prompter.dialog.isVisible(), timeout=5_000)
    qtbot.waitUntil(chat.done, timeout=10_000)
    assert (work / "marker.txt").read_text() == "ran\n"
    prompter.dialog.deleteLater()


def test_arguments_are_shown_in_full() -> None:
    content = "line 1\n" + "x" * 5000
    text = arguments_text({"path": "a.txt", "content": content, "n": [1, 2]})
    assert text == f"path: a.txt\ncontent:\n{content}\nn: [\n  1,\n  2\n]"
