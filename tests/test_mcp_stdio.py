"""MCP over stdio: an agent calls a real server process (tests/mcp_servers/notes_server.py),
with an allow-list, one process reused across runs, errors shown to the model."""

from __future__ import annotations

import os
import sys
from typing import Any

import pytest

from server.mcp.manager import McpManager
from tests.mcp_servers.harness import (
    agent_for,
    alive,
    config_with,
    offered_tools,
    run,
    with_manager,
)
from tests.upstream import Reply, Upstream

pytestmark = pytest.mark.timeout(60)


def test_an_agent_calls_an_allowed_tool_and_reuses_the_process(upstream: Upstream) -> None:
    config = config_with(["calculator", {"mcp": {"server": "notes", "allow": ["add", "whoami"]}}])
    upstream.script(
        Reply.tool_calls([("add", {"a": 2, "b": 3})]),
        Reply.text("5"),
        Reply.tool_calls([("whoami", {})]),
        Reply.text("first"),
        Reply.tool_calls([("whoami", {})]),
        Reply.text("second"),
    )

    async def test(manager: McpManager) -> list[list[tuple[str, str, Any]]]:
        agent = agent_for(config, manager, upstream)
        return [await run(agent), await run(agent), await run(agent)]

    added, first, second = with_manager(config, test)
    assert added == [("call", "add", {"a": 2, "b": 3}), ("result", "add", 5)]
    assert offered_tools(upstream, 0) == {"calculator", "add", "whoami"}
    assert upstream.chat_requests[1].body["messages"][-1] == {
        "role": "tool",
        "tool_call_id": "call_1",
        "content": "5",
    }
    first_pid, second_pid = first[1][2], second[1][2]
    assert first_pid == second_pid  # one process served both runs
    assert not alive(int(first_pid))  # and stop() ended it


def test_a_clashing_name_stays_with_the_builtin_and_tool_errors_reach_the_model(
    upstream: Upstream,
) -> None:
    config = config_with(["calculator", {"mcp": {"server": "notes"}}])
    upstream.script(
        Reply.tool_calls([("calculator", {"expression": "6*7"})]),
        Reply.text("42"),
        Reply.tool_calls([("fail", {})]),
        Reply.text("it failed"),
    )

    async def test(manager: McpManager) -> tuple[list[tuple[str, str, Any]], str]:
        agent = agent_for(config, manager, upstream)
        return await run(agent), (await agent.run("go")).output

    calculated, failed = with_manager(config, test)
    assert calculated[1] == ("result", "calculator", "42")  # the built-in answered
    assert {"add", "shout", "calculator", "crash", "fail"} <= offered_tools(upstream, 0)
    assert failed == "it failed"  # the run went on
    tool_message = upstream.chat_requests[3].body["messages"][-1]
    assert tool_message["role"] == "tool"
    assert "Error executing tool fail" in tool_message["content"]


def test_configured_env_reaches_the_server_with_variables_expanded(upstream: Upstream) -> None:
    script = "import os, sys; sys.exit('GOT ' + os.environ['GREETING'])"
    os.environ["TRAYMIND_TEST_NAME"] = "world"  # a variable of this test process, not patched
    try:
        config = config_with(
            [{"mcp": {"server": "echo"}}],
            echo={
                "command": sys.executable,
                "args": ["-c", script],
                "env": {"GREETING": "hello ${TRAYMIND_TEST_NAME}"},
            },
        )

        async def test(manager: McpManager) -> str | None:
            await manager.connection("echo").ensure_running()
            return manager.connection("echo").error

        error = with_manager(config, test, start_timeout=10)
    finally:
        del os.environ["TRAYMIND_TEST_NAME"]
    assert error is not None and "GOT hello world" in error
