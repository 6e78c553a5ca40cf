"""Which tool calls ask: the ``approval`` settings, their defaults and their mistakes.

The config is validated by the server's own loader (``check-config``'s messages), and
MCP tools are asked through a real stdio MCP server in the last test.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from server.approvals.policy import (
    ApprovalRule,
    always_allowed,
    builtin_asks,
    mcp_asks,
    split_approval,
)
from server.config import ConfigError, load_config
from server.keys.client_keys import KeyStore
from tests.harness import agent_config, client, http, running_server, write_config
from tests.mcp_servers.harness import NOTES
from tests.upstream import Reply, Upstream


@pytest.mark.parametrize(
    ("entry", "setting", "tool", "asks"),
    [
        ("shell", None, "run_shell", True),
        ("python", None, "run_python", True),
        ("claude_agent", None, "claude_agent", True),
        ("files", None, "write_file", True),
        ("files", None, "edit_file", True),
        ("files", None, "read_file", False),
        ("files", None, "search_files", False),
        ("calculator", None, "calculator", False),
        ("web_fetch", None, "web_fetch", False),
        ("shell", "auto", "run_shell", False),
        ("files", "auto", "write_file", False),
        ("files", "ask", "read_file", True),
        ("calculator", "ask", "calculator", True),
    ],
)
def test_builtin_defaults_and_settings(
    entry: str, setting: str | None, tool: str, asks: bool
) -> None:
    assert builtin_asks(entry, setting, tool) is asks  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("setting", "server", "listed", "asks"),
    [
        (None, None, False, True),  # not in an allow-list: asks
        (None, None, True, False),  # the user listed it: runs
        (None, "auto", False, False),
        (None, "ask", True, True),
        ("auto", "ask", False, False),  # the entry wins over the server
        ({"shout": "auto"}, "ask", False, False),
        ({"other": "auto"}, None, False, True),
        ({"*": "auto"}, None, False, False),
        ({"shout": "ask", "*": "auto"}, None, True, True),
    ],
)
def test_mcp_defaults_and_settings(
    setting: object, server: str | None, listed: bool, asks: bool
) -> None:
    assert mcp_asks(setting, server, listed, "shout") is asks  # type: ignore[arg-type]


def test_always_allowed_keeps_the_rest_of_an_mcp_setting() -> None:
    mcp = ApprovalRule("mcp", "notes")
    assert always_allowed(None, ApprovalRule("shell"), "run_shell") == "auto"
    assert always_allowed(None, mcp, "shout") == {"shout": "auto"}
    assert always_allowed("ask", mcp, "shout") == {"*": "ask", "shout": "auto"}
    assert always_allowed({"add": "ask"}, mcp, "shout") == {"add": "ask", "shout": "auto"}


def test_split_approval_takes_it_out_of_the_options() -> None:
    assert split_approval("shell", {"cwd": "/x", "approval": "auto"}) == ({"cwd": "/x"}, "auto")
    assert split_approval("shell", {"cwd": "/x"}) == ({"cwd": "/x"}, None)
    assert split_approval("mcp", {"server": "s", "approval": {"a": "ask"}}) == (
        {"server": "s"},
        {"a": "ask"},
    )


@pytest.mark.parametrize(
    ("tool", "message"),
    [
        (
            {"shell": {"approval": "sometimes"}},
            "option 'approval' of tool 'shell' must be 'auto' or 'ask', not 'sometimes'",
        ),
        (
            {"shell": {"approval": {"run_shell": "auto"}}},
            "option 'approval' of tool 'shell' must be 'auto' or 'ask', not {'run_shell': 'auto'}",
        ),
        (
            {"mcp": {"server": "notes", "approval": {"shout": "never"}}},
            "approval of an mcp entry maps tool names to 'auto' or 'ask'; got 'shout': 'never'",
        ),
        (
            {"calculator": {"aproval": "auto"}},
            "unknown option 'aproval' for tool 'calculator' (its only option is 'approval')",
        ),
        (
            {"shell": {"aproval": "auto"}},
            "unknown option 'aproval' for tool 'shell'; did you mean 'approval'?",
        ),
    ],
)
def test_a_bad_setting_is_a_config_error(tmp_path: Path, tool: object, message: str) -> None:
    config = {
        "agents": {"ops": {"tools": [tool]}},
        "mcp_servers": {"notes": {"command": "true"}},
    }
    with pytest.raises(ConfigError) as caught:
        load_config(write_config(tmp_path, config))
    assert str(caught.value).splitlines()[-1] == f"config.yaml: agents.ops.tools[0]: {message}"


def test_a_bad_server_setting_and_timeout_are_config_errors(tmp_path: Path) -> None:
    config = {
        "mcp_servers": {"notes": {"command": "true", "approval": "maybe"}},
        "approval_timeout_seconds": 0,
    }
    with pytest.raises(ConfigError) as caught:
        load_config(write_config(tmp_path, config))
    lines = str(caught.value).splitlines()
    assert any(line.startswith("config.yaml: approval_timeout_seconds:") for line in lines)
    assert any(line.startswith("config.yaml: mcp_servers.notes.approval:") for line in lines)


def test_an_mcp_tool_outside_the_allow_list_asks_and_the_listed_one_runs(
    tmp_path: Path, upstream: Upstream
) -> None:
    _, owner = KeyStore.open(tmp_path / "data", "file").create("me", owner=True)
    config = agent_config(
        upstream.base_url,
        general={
            "tools": [{"mcp": {"server": "notes", "allow": ["add"]}}, {"mcp": {"server": "loud"}}]
        },
    )
    config["mcp_servers"] = {"notes": NOTES, "loud": NOTES}
    upstream.script(
        Reply.tool_calls([("add", {"a": 2, "b": 3})]),
        Reply.tool_calls([("shout", {"text": "hi"})]),
        Reply.text("Done."),
    )
    key = "sk-test-mcp-approval"
    with running_server(tmp_path, config, env={"OPENAI_COMPAT_API_KEYS": key}) as handle:
        answers: list[str] = []
        chat = client(handle, key)
        thread = threading.Thread(
            target=lambda: answers.append(
                chat.chat.completions.create(
                    model="general", messages=[{"role": "user", "content": "go"}]
                )
                .choices[0]
                .message.content
                or ""
            ),
            daemon=True,
        )
        thread.start()
        api = http(handle)
        api.headers["Authorization"] = f"Bearer {owner}"
        deadline = time.monotonic() + 20
        pending: list[dict[str, object]] = []
        while not pending and time.monotonic() < deadline:
            pending = api.get("/api/approvals").json()["data"]
            time.sleep(0.02)
        (asked,) = pending
        assert (asked["tool"], asked["arguments"]) == ("shout", {"text": "hi"})
        add_result = upstream.chat_requests[1].body["messages"][-1]["content"]
        assert add_result == "5"  # the allow-listed tool ran without asking
        api.post(f"/api/approvals/{asked['id']}", json={"allow": True, "always": True})
        thread.join(20)
    assert upstream.chat_requests[2].body["messages"][-1]["content"] == "HI"
    written = load_config(tmp_path / "config.yaml")
    loud = written.agents["general"].tools[1]
    assert loud.options == {"server": "loud", "approval": {"shout": "auto"}}
    assert answers and answers[0].endswith("Done.")
