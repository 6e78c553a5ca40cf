"""The Agents window's MCP servers and knowledge sources, against a real embedded server.

The MCP server is the test one (``tests/mcp_servers/notes_server.py``) run over stdio,
as a user's ``npx …`` server would be; the Test button really starts it.
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import shlex
import sys

import pytest
import yaml
from PySide6.QtCore import Qt

from app.agent_form_mcp import server_values
from tests.mcp_servers.harness import SERVER
from tests.test_app_agents_window import CONFIG, OPEN, open_agents, save, typed
from tests.test_knowledge_git import Remote
from tests.upstream import Reply, Upstream

pytest_plugins = ("tests.app_conftest",)
pytestmark = pytest.mark.gui

NOTES_TOOLS = ["add", "shout", "whoami", "calculator", "crash", "fail", "header"]


def click(qtbot, button) -> None:
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def tool_texts(box) -> list[str]:
    return [box.tools.item(i).data(Qt.ItemDataRole.UserRole) for i in range(box.tools.count())]


def untick(box, name: str) -> None:
    for i in range(box.tools.count()):
        item = box.tools.item(i)
        if item.data(Qt.ItemDataRole.UserRole) == name:
            item.setCheckState(Qt.CheckState.Unchecked)


def test_a_command_line_or_url_becomes_a_server_entry() -> None:
    assert server_values("npx -y @scope/server '/my notes'") == {
        "command": "npx",
        "args": ["-y", "@scope/server", "/my notes"],
    }
    assert server_values("  https://mcp.example.com/mcp ") == {"url": "https://mcp.example.com/mcp"}
    assert server_values("uvx tool") == {"command": "uvx", "args": ["tool"]}
    assert server_values("") == {}


def test_a_new_mcp_server_is_tested_limited_and_given_to_the_agent(
    make_app, qtbot, upstream: Upstream
) -> None:
    text = CONFIG.format(url=upstream.base_url)
    harness = make_app(text, settings=OPEN)
    window = open_agents(harness, qtbot)
    click(qtbot, window.new_agent_button)
    form = window.agent_form
    typed(qtbot, form.id_edit, "noter")
    box = form.mcp
    assert box.note.isVisible() and not box.test_button.isEnabled()

    click(qtbot, box.add_button)
    typed(qtbot, box.new_name, "notes")
    command = shlex.join([sys.executable, str(SERVER), "stdio"])
    typed(qtbot, box.new_command, command)
    click(qtbot, box.confirm_add)
    assert box.checked() == ["notes"] and box.selected() == "notes"
    assert "Test it to see its tools" in box.detail.text()

    click(qtbot, box.test_button)
    qtbot.waitUntil(lambda: box.tools.isVisible(), timeout=30_000)
    assert tool_texts(box) == NOTES_TOOLS
    assert "offers 7 tool(s)" in box.detail.text()
    untick(box, "crash")
    untick(box, "fail")
    save(window, qtbot)

    data = yaml.safe_load(harness.config_path.read_text())
    assert data["mcp_servers"] == {
        "notes": {"command": sys.executable, "args": [str(SERVER), "stdio"]}
    }
    allowed = [t for t in NOTES_TOOLS if t not in ("crash", "fail")]
    assert data["agents"]["noter"]["tools"] == [{"mcp": {"server": "notes", "allow": allowed}}]
    assert harness.config_path.read_text().startswith("# My agents\nagents:\n  # the helper\n")

    # a chat app's request reaches a model that is offered exactly the allowed tools
    upstream.script(Reply.text("I can add."))
    with harness.http() as http:
        reply = http.post(
            "/v1/chat/completions",
            json={"model": "noter", "messages": [{"role": "user", "content": "what can you do"}]},
            timeout=60,
        )
    assert reply.status_code == 200, reply.text
    offered = sorted(t["function"]["name"] for t in upstream.chat_requests[-1].body["tools"])
    assert offered == sorted(allowed)


def test_a_server_that_does_not_start_says_why(make_app, qtbot, upstream: Upstream) -> None:
    harness = make_app(CONFIG.format(url=upstream.base_url), settings=OPEN)
    window = open_agents(harness, qtbot)
    click(qtbot, window.new_agent_button)
    box = window.agent_form.mcp
    click(qtbot, box.add_button)
    typed(qtbot, box.new_name, "broken")
    script = "import sys; print('no such package: @scope/missing', file=sys.stderr); sys.exit(1)"
    typed(qtbot, box.new_command, shlex.join([sys.executable, "-c", script]))
    click(qtbot, box.confirm_add)
    click(qtbot, box.test_button)
    qtbot.waitUntil(lambda: "failed to start" in box.detail.text(), timeout=30_000)
    assert "no such package: @scope/missing" in box.detail.text()
    assert not box.tools.isVisible() and box.test_button.isEnabled()

    click(qtbot, box.add_button)
    typed(qtbot, box.new_name, "broken")  # the name is taken
    typed(qtbot, box.new_command, "https://mcp.example.com/mcp")
    click(qtbot, box.confirm_add)
    assert "exists already" in box.error.text()
    typed(qtbot, box.new_name, "two words")
    click(qtbot, box.confirm_add)
    assert box.error.text().startswith("Give the server a name")
    typed(qtbot, box.new_name, "remote")
    typed(qtbot, box.new_command, "npx 'unclosed")
    click(qtbot, box.confirm_add)
    assert box.error.text().startswith("The command line cannot be read")
    typed(qtbot, box.new_command, "localhost:9000/mcp")  # a URL without its scheme
    click(qtbot, box.confirm_add)
    assert box.error.text().startswith("localhost:9000/mcp looks like an address: give it as")
    assert box.checked() == ["broken"]  # nothing was added by the careless tries


def test_a_git_repository_becomes_a_knowledge_base_cloned_indexed_and_searched(
    make_app, qtbot, upstream: Upstream, tmp_path
) -> None:
    (tmp_path / "remote").mkdir()
    remote = Remote(tmp_path / "remote")
    remote.commit({"policies/leave.md": "# Leave\n\nEveryone gets 30 days of leave.\n"}, "first")
    text = CONFIG.format(url=upstream.base_url)
    harness = make_app(text, settings=OPEN)
    window = open_agents(harness, qtbot)
    click(qtbot, window.new_agent_button)
    form = window.agent_form
    typed(qtbot, form.id_edit, "hr")
    box = form.knowledge

    click(qtbot, box.add_git_button)
    typed(qtbot, box.git_url, "handbook")  # neither a URL nor an absolute path
    click(qtbot, box.confirm_git)
    assert box.error.text().startswith("Give the repository's URL")
    typed(qtbot, box.git_url, "https://")
    click(qtbot, box.confirm_git)
    assert box.error.text().startswith("Give the repository's URL")
    typed(qtbot, box.git_url, remote.url)
    typed(qtbot, box.git_branch, "no such branch")
    click(qtbot, box.confirm_git)
    assert box.error.text().startswith("“no such branch” is not a branch name")
    assert box.selected() == []
    typed(qtbot, box.git_branch, "")
    click(qtbot, box.confirm_git)  # branch left blank: main
    assert box.selected() == ["handbook"] and not box.error.isVisible()
    assert box.bases.item(0).text() == f"handbook — {remote.url} (main) (new)"
    save(window, qtbot)

    data = yaml.safe_load(harness.config_path.read_text())
    assert data["knowledge_bases"] == {
        "handbook": {
            "path": "knowledge/handbook",
            "git": {"repo_url": remote.url, "branch": "main"},
        }
    }
    assert data["agents"]["hr"]["knowledge_bases"] == ["handbook"]
    qtbot.waitUntil(lambda: box.bases.item(0).text().endswith("· ready"), timeout=20_000)
    assert box.bases.item(0).text() == f"handbook — {remote.url} (main) · ready"
    assert (harness.config_path.parent / "knowledge/handbook/policies/leave.md").is_file()

    # the agent's model can search it: the passage comes back as the tool's result
    upstream.script(
        Reply.tool_calls([("search_knowledge", {"query": "days of leave"})]), Reply.text("30.")
    )
    with harness.http() as http:
        reply = http.post(
            "/v1/chat/completions",
            json={"model": "hr", "messages": [{"role": "user", "content": "How much leave?"}]},
            timeout=60,
        )
    assert reply.status_code == 200, reply.text
    results = [m for m in upstream.chat_requests[-1].body["messages"] if m["role"] == "tool"]
    assert "30 days of leave" in results[-1]["content"]


def test_sources_show_their_live_state_and_unused_ones_can_be_removed(
    make_app, qtbot, upstream: Upstream, tmp_path
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_text("# A\n\nSome text.\n")
    notes = {"command": sys.executable, "args": [str(SERVER), "stdio"]}
    config = "# sources\n" + yaml.safe_dump(
        {
            "models": {"default": {"provider": "openai", "id": "m", "base_url": upstream.base_url}},
            "mcp_servers": {"notes": notes, "orphan": {"url": "http://127.0.0.1:9/mcp"}},
            "knowledge_bases": {"docs": {"path": str(docs)}, "old": {"path": str(docs)}},
            "agents": {
                "general": {
                    "tools": [{"mcp": {"server": "notes", "allow": ["add"]}}],
                    "knowledge_bases": ["docs"],
                },
                "second": {"knowledge_bases": ["docs"]},
            },
        },
        sort_keys=False,
    )
    harness = make_app(config, settings=OPEN)
    window = open_agents(harness, qtbot)
    window.select("agent", "general")
    form = window.agent_form

    def row(box_list, name: str):
        return next(
            box_list.item(i)
            for i in range(box_list.count())
            if box_list.item(i).data(Qt.ItemDataRole.UserRole) == name
        )

    qtbot.waitUntil(
        lambda: row(form.mcp.servers, "notes").text() == "notes · running", timeout=30_000
    )
    qtbot.waitUntil(
        lambda: row(form.knowledge.bases, "docs").text().endswith("· ready"), timeout=20_000
    )
    form.mcp.servers.setCurrentItem(row(form.mcp.servers, "notes"))
    assert "The agent may use only add." in form.mcp.detail.text()  # before any Test

    form.mcp.servers.setCurrentItem(row(form.mcp.servers, "orphan"))
    click(qtbot, form.mcp.remove_button)
    form.knowledge.bases.setCurrentItem(row(form.knowledge.bases, "old"))
    click(qtbot, form.knowledge.remove_button)
    save(window, qtbot)
    data = yaml.safe_load(harness.config_path.read_text())
    assert list(data["mcp_servers"]) == ["notes"] and list(data["knowledge_bases"]) == ["docs"]
    assert harness.config_path.read_text().startswith("# sources\n")

    before = harness.config_path.read_text()
    form.knowledge.bases.setCurrentItem(row(form.knowledge.bases, "docs"))
    click(qtbot, form.knowledge.remove_button)  # "second" still searches it
    qtbot.mouseClick(window.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "still used by second" in window.message.text(), timeout=10_000)
    assert window.message.text().startswith("Not saved")
    assert harness.config_path.read_text() == before
