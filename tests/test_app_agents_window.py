"""The Agents window, driven through its real widgets against a real embedded server.

Saving writes config.yaml through the editor core and the running server reloads it:
what a chat app sees is checked over real HTTP, and the file is compared whole.
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from collections.abc import Callable
from pathlib import Path

import openai
import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox, QWidget

from app.agents_window import AgentsWindow
from app.settings import Settings
from server.config import load_config
from tests.upstream import Upstream

pytest_plugins = ("tests.app_conftest",)
pytestmark = pytest.mark.gui

OPEN = Settings(allow_unauthenticated=True)
CONFIG = """\
# My agents
agents:
  # the helper
  general:
    display_name: GeneralAgent   # shown in chat apps
    role: Helper
    instructions:
      - Be kind.

models:
  default:   # the stand-in
    provider: openai
    id: test-model
    base_url: {url}
"""


def model_ids(harness) -> list[str]:
    with harness.http() as http:
        return [m["id"] for m in http.get("/v1/models").json()["data"]]


def open_agents(harness, qtbot) -> AgentsWindow:
    harness.menu_action("Agents…").trigger()
    window = harness.app.agents_window
    assert window is not None and window.isVisible()
    qtbot.waitUntil(lambda: window.editor is not None and not window.busy)
    return window


def when_modal(qtbot, act: Callable[[QWidget], None]) -> None:
    """Run ``act`` on the next modal dialog as soon as it is open (it blocks the click)."""
    done: list[bool] = []

    def poll() -> None:
        modal = QApplication.activeModalWidget()
        if modal is None:
            QTimer.singleShot(20, poll)
            return
        act(modal)
        done.append(True)

    QTimer.singleShot(0, poll)


def answer(qtbot, button_text: str) -> None:
    def click(box: QWidget) -> None:
        assert isinstance(box, QMessageBox)
        next(b for b in box.buttons() if b.text() == button_text).click()

    when_modal(qtbot, click)


def pick_folder(qtbot, folder: Path) -> None:
    def choose(dialog: QWidget) -> None:
        assert isinstance(dialog, QFileDialog)
        dialog.setDirectory(str(folder))
        dialog.accept()

    when_modal(qtbot, choose)


def save(window: AgentsWindow, qtbot) -> None:
    qtbot.mouseClick(window.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "the server now uses it" in window.message.text(), timeout=10_000)


def typed(qtbot, edit, text: str) -> None:
    edit.clear()
    qtbot.keyClicks(edit, text)


def test_the_menu_and_the_status_window_open_it(make_app, qtbot, upstream: Upstream) -> None:
    harness = make_app(CONFIG.format(url=upstream.base_url), settings=OPEN)
    assert "Agents…" in harness.menu_texts()
    harness.app.show_status()
    qtbot.mouseClick(harness.app.status_window.agents_button, Qt.MouseButton.LeftButton)
    window = harness.app.agents_window
    assert window is not None and window.isVisible()
    qtbot.waitUntil(lambda: window.editor is not None)
    texts = [window.entries.item(i).text() for i in range(window.entries.count())]
    assert texts == ["Agents", "general — GeneralAgent", "Teams"]


def test_a_new_agent_is_saved_and_served_at_once(
    make_app, qtbot, upstream: Upstream, tmp_path: Path
) -> None:
    harness = make_app(CONFIG.format(url=upstream.base_url), settings=OPEN)
    window = open_agents(harness, qtbot)
    assert model_ids(harness) == ["auto", "general"]
    notes = tmp_path / "notes"
    notes.mkdir()

    qtbot.mouseClick(window.new_agent_button, Qt.MouseButton.LeftButton)
    form = window.agent_form
    assert form.current_id() == "agent"
    typed(qtbot, form.id_edit, "writer")
    typed(qtbot, form.display_name, "Writer")
    typed(qtbot, form.role, "Writes drafts")
    form.instructions.setPlainText("Write short drafts.\nAsk before long ones.")
    form.tools.checks["calculator"].click()
    form.tools.checks["files"].click()
    pick_folder(qtbot, notes)
    qtbot.mouseClick(form.tools.options["files"].add_button, Qt.MouseButton.LeftButton)
    form.tools.options["files"].write.click()
    form.tools.checks["web_fetch"].click()
    form.tools.options["web_fetch"].allow_private.click()
    form.memory.click()
    save(window, qtbot)

    assert model_ids(harness) == ["auto", "general", "writer"]
    assert harness.config_path.read_text() == CONFIG.format(url=upstream.base_url).replace(
        "\nmodels:",
        f"""\
  writer:
    display_name: Writer
    role: Writes drafts
    instructions:
      - |
        Write short drafts.
        Ask before long ones.
    tools:
      - calculator
      - files:
          roots:
            - {notes}
          write: true
      - web_fetch:
          allow_private: true
    memory: true

models:""",
    )
    texts = [window.entries.item(i).text() for i in range(window.entries.count())]
    assert texts == ["Agents", "general — GeneralAgent", "writer — Writer", "Teams"]
    assert window.agent_form.mode == "edit" and not window.agent_form.dirty


def test_editing_instructions_keeps_the_comments_and_reaches_the_model(
    make_app, qtbot, upstream: Upstream
) -> None:
    harness = make_app(CONFIG.format(url=upstream.base_url), settings=OPEN)
    window = open_agents(harness, qtbot)
    window.select("agent", "general")
    form = window.agent_form
    assert form.instructions.toPlainText() == "Be kind."
    form.instructions.setPlainText("Be kind.\n\nAnswer in one sentence.")
    typed(qtbot, form.role, "Answers everything")
    save(window, qtbot)

    assert harness.config_path.read_text() == CONFIG.format(url=upstream.base_url).replace(
        "    role: Helper\n    instructions:\n      - Be kind.\n",
        "    role: Answers everything\n    instructions:\n      - Be kind.\n"
        "      - Answer in one sentence.\n",
    )
    client = openai.OpenAI(base_url=harness.url, api_key="unused", max_retries=0, timeout=30)
    client.chat.completions.create(model="general", messages=[{"role": "user", "content": "Hi"}])
    system = [m for m in upstream.chat_requests[-1].body["messages"] if m["role"] == "system"]
    assert "Be kind.\n\nAnswer in one sentence." in system[0]["content"]


def test_an_invalid_value_is_shown_beside_its_field_and_nothing_is_written(
    make_app, qtbot, upstream: Upstream
) -> None:
    text = CONFIG.format(url=upstream.base_url)
    harness = make_app(text, settings=OPEN)
    window = open_agents(harness, qtbot)
    qtbot.mouseClick(window.new_agent_button, Qt.MouseButton.LeftButton)
    form = window.agent_form
    typed(qtbot, form.id_edit, "auto")
    form.tools.checks["files"].click()  # and no folder chosen
    files_problem = {
        "tool:files": "option 'roots' of tool 'files': List should have at least 1 item after "
        "validation, not 0"
    }
    qtbot.waitUntil(lambda: form.errors() == files_problem)  # checked while typing
    assert form.tools.errors["files"].isVisible()

    qtbot.mouseClick(window.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.message.text().startswith("Not saved"))
    assert form.errors() == files_problem
    assert harness.config_path.read_text() == text

    form.tools.checks["files"].click()  # names are checked once the sections are valid
    reserved = "'auto' is reserved (it lets the router choose); pick another agent id"
    qtbot.waitUntil(lambda: form.errors() == {"id": reserved})
    assert form.fields["id"].error.isVisible() and not form.tools.errors["files"].isVisible()
    qtbot.mouseClick(window.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.message.text().startswith("Not saved"))
    assert harness.config_path.read_text() == text

    typed(qtbot, form.id_edit, "helper")
    qtbot.waitUntil(lambda: form.errors() == {})
    assert not form.fields["id"].error.isVisible()
    assert window.message.text() == ""  # the refusal went with the last red line


def test_an_agent_added_from_a_terminal_shows_in_the_open_windows(
    make_app, qtbot, upstream: Upstream
) -> None:
    from server.cli.main import main as cli

    harness = make_app(CONFIG.format(url=upstream.base_url), settings=OPEN)
    window = open_agents(harness, qtbot)
    harness.menu_action("Chat…").trigger()
    chat = harness.app.chat_window.chat
    qtbot.waitUntil(lambda: chat.models.count() > 0)
    assert cli(["agents", "--config", str(harness.config_path), "add", "fromcli"]) == 0

    def entries() -> list[str]:
        return [window.entries.item(i).text() for i in range(window.entries.count())]

    def chat_ids() -> list[str]:
        return [chat.models.itemData(i) for i in range(chat.models.count())]

    assert "fromcli" not in chat_ids()
    qtbot.waitUntil(lambda: "fromcli" in entries(), timeout=15_000)
    qtbot.waitUntil(lambda: "fromcli" in chat_ids(), timeout=15_000)


def test_a_change_made_elsewhere_is_not_overwritten(make_app, qtbot, upstream: Upstream) -> None:
    harness = make_app(CONFIG.format(url=upstream.base_url), settings=OPEN)
    window = open_agents(harness, qtbot)
    window.select("agent", "general")
    typed(qtbot, window.agent_form.role, "Mine")
    theirs = CONFIG.format(url=upstream.base_url) + "# edited by hand meanwhile\n"
    harness.config_path.write_text(theirs)
    qtbot.mouseClick(window.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.message.text().startswith("Not saved"))
    assert window.message.text() == (
        "Not saved: config.yaml changed on disk after Traymind read it (another program or "
        "window saved it), so nothing was written. Reload to see the new version, then make "
        "the change again."
    )
    assert harness.config_path.read_text() == theirs


def test_deleting_an_agent_asks_and_removes_it_from_the_server(
    make_app, qtbot, upstream: Upstream
) -> None:
    text = CONFIG.format(url=upstream.base_url).replace(
        "\nmodels:",
        "  # the coder\n  coder:\n    role: Codes\n\nteams:\n  duo:\n"
        "    agents: [general, coder]\n\nmodels:",
    )
    harness = make_app(text, settings=OPEN)
    assert model_ids(harness) == ["auto", "general", "coder", "team/duo"]
    window = open_agents(harness, qtbot)
    window.select("agent", "coder")
    answer(qtbot, "Cancel")
    qtbot.mouseClick(window.delete_button, Qt.MouseButton.LeftButton)
    assert harness.config_path.read_text() == text

    answer(qtbot, "Delete")
    with qtbot.waitSignal(window.controller.reloaded, timeout=10_000):
        qtbot.mouseClick(window.delete_button, Qt.MouseButton.LeftButton)
    assert model_ids(harness) == ["auto", "general", "team/duo"]
    assert harness.config_path.read_text() == text.replace(
        "  # the coder\n  coder:\n    role: Codes\n", ""
    ).replace("[general, coder]", "[general]")
    texts = [window.entries.item(i).text() for i in range(window.entries.count())]
    assert texts == ["Agents", "general — GeneralAgent", "Teams", "duo"]


def test_a_team_is_created_with_members_and_mode(make_app, qtbot, upstream: Upstream) -> None:
    text = CONFIG.format(url=upstream.base_url).replace(
        "\nmodels:", "  coder:\n    role: Codes\n\nmodels:"
    )
    harness = make_app(text, settings=OPEN)
    window = open_agents(harness, qtbot)
    qtbot.mouseClick(window.new_team_button, Qt.MouseButton.LeftButton)
    form = window.team_form
    typed(qtbot, form.id_edit, "crew")
    assert [form.members.item(i).text() for i in range(form.members.count())] == [
        "general",
        "coder",
    ]
    form.team_mode.setCurrentIndex(form.team_mode.findData("collaborate"))
    save(window, qtbot)
    assert model_ids(harness) == ["auto", "general", "coder", "team/crew"]
    assert harness.config_path.read_text() == (
        text + "\nteams:\n  crew:\n    agents: [general, coder]\n    mode: collaborate\n"
    )
    load_config(harness.config_path)


def test_duplicating_copies_the_agent_under_a_new_id(make_app, qtbot, upstream: Upstream) -> None:
    harness = make_app(CONFIG.format(url=upstream.base_url), settings=OPEN)
    window = open_agents(harness, qtbot)
    window.select("agent", "general")
    qtbot.mouseClick(window.duplicate_button, Qt.MouseButton.LeftButton)
    form = window.agent_form
    assert (form.mode, form.current_id(), form.display_name.text()) == (
        "duplicate",
        "general-copy",
        "GeneralAgent (copy)",
    )
    save(window, qtbot)
    assert model_ids(harness) == ["auto", "general", "general-copy"]
    assert harness.config_path.read_text() == CONFIG.format(url=upstream.base_url).replace(
        "\nmodels:",
        "  general-copy:\n"
        "    display_name: GeneralAgent (copy)   # shown in chat apps\n"
        "    role: Helper\n"
        "    instructions:\n"
        "      - Be kind.\n"
        "\nmodels:",
    )


def test_a_mindroom_config_is_shown_but_not_edited(make_app, qtbot, upstream: Upstream) -> None:
    text = CONFIG.format(url=upstream.base_url).replace(
        "    role: Helper\n", "    rooms: [lobby]\n"
    )
    harness = make_app(text, settings=OPEN)
    window = open_agents(harness, qtbot)
    assert window.banner.isVisible()
    assert window.banner.text().startswith("config.yaml is a MindRoom config (it has agents.")
    window.select("agent", "general")
    assert not window.agent_form.isEnabled()
    assert not window.save_button.isEnabled() and not window.new_agent_button.isEnabled()
    assert harness.config_path.read_text() == text


def test_open_webui_panels_and_client_tools_are_two_checkboxes(
    make_app, qtbot, upstream: Upstream
) -> None:
    harness = make_app(CONFIG.format(url=upstream.base_url), settings=OPEN)
    window = open_agents(harness, qtbot)
    window.select("agent", "general")
    form = window.agent_form
    assert not form.openwebui_panels.isChecked() and form.client_tools.isChecked()
    form.show_tool_calls.click()
    assert not form.openwebui_panels.isEnabled()  # no panels when nothing is shown
    form.show_tool_calls.click()
    form.openwebui_panels.click()
    form.client_tools.click()
    save(window, qtbot)
    agent = load_config(harness.config_path).agents["general"]
    assert (agent.tool_event_format, agent.client_tools) == ("openwebui", False)
    assert "# the helper" in harness.config_path.read_text()
    window.select("agent", "general")
    assert form.openwebui_panels.isChecked() and not form.client_tools.isChecked()


def test_ask_me_first_is_a_checkbox_that_writes_approval_only_when_it_differs(
    make_app, qtbot, upstream: Upstream
) -> None:
    harness = make_app(CONFIG.format(url=upstream.base_url), settings=OPEN)
    window = open_agents(harness, qtbot)
    window.select("agent", "general")
    tools = window.agent_form.tools
    assert not tools.asks["shell"].isEnabled()  # the tool is not ticked
    tools.checks["shell"].click()
    tools.checks["python"].click()
    assert tools.asks["shell"].isChecked() and tools.asks["python"].isChecked()  # defaults
    tools.asks["python"].click()  # this agent's Python runs without asking
    save(window, qtbot)
    refs = {r.name: r.options for r in load_config(harness.config_path).agents["general"].tools}
    assert refs["shell"].get("approval") is None  # the default, so not written
    assert refs["python"]["approval"] == "auto"
    window.select("agent", "general")
    assert tools.asks["shell"].isChecked() and not tools.asks["python"].isChecked()
    tools.asks["python"].click()  # set in the file already: written back as it now is
    save(window, qtbot)
    refs = {r.name: r.options for r in load_config(harness.config_path).agents["general"].tools}
    assert refs["python"]["approval"] == "ask"
    assert "# the helper" in harness.config_path.read_text()
