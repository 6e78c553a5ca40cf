"""MCP server lifecycle: restarts with backoff, failures reported, clean stops."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import pytest

from server.mcp.manager import McpManager
from tests.mcp_servers.harness import (
    NOTES,
    FakeClock,
    agent_for,
    alive,
    config_with,
    offered_tools,
    run,
    system_text,
    with_manager,
)
from tests.upstream import Reply, Upstream

pytestmark = pytest.mark.timeout(60)


def test_a_crashed_server_is_restarted_with_backoff(upstream: Upstream) -> None:
    config = config_with([{"mcp": {"server": "notes", "allow": ["crash", "whoami"]}}])
    clock = FakeClock()
    upstream.script(
        Reply.tool_calls([("whoami", {})]),
        Reply.text("before"),
        Reply.tool_calls([("crash", {})]),
        Reply.text("crashed"),
        Reply.text("without the server"),
        Reply.tool_calls([("whoami", {})]),
        Reply.text("after"),
    )

    async def test(manager: McpManager) -> dict[str, Any]:
        agent = agent_for(config, manager, upstream)
        notes = manager.connection("notes")
        before = await run(agent)
        crashed = await run(agent)
        await run(agent)  # found stopped: backoff (1 s) before the next start
        state_during_backoff = (notes.state, notes.error, notes.retry_in())
        clock.now += 1.5
        after = await run(agent)
        return {
            "before": before[1][2],
            "crashed": crashed[1][2],
            "during": state_during_backoff,
            "after": after[1][2],
            "status": manager.status()["notes"],
        }

    seen = with_manager(config, test, clock=clock)
    assert seen["crashed"] == "Error: Connection closed"
    assert seen["during"] == ("failed", "stopped shortly after starting", 1.0)
    assert offered_tools(upstream, 4) == set()
    assert "The MCP server 'notes' stopped, so its tools are unavailable" in system_text(
        upstream, 4
    )
    assert seen["after"] != seen["before"]
    assert seen["status"] == {
        "transport": "stdio",
        "state": "running",
        "error": None,
        "restarts": 1,
        "retry_in_seconds": None,
    }


def test_a_server_that_cannot_start_is_reported_and_the_agent_runs_without_it(
    upstream: Upstream, tmp_path: Path
) -> None:
    broken = {"command": sys.executable, "args": ["-c", "import sys; sys.exit('no config file')"]}
    config = config_with(
        ["calculator", {"mcp": {"server": "broken"}}, {"mcp": {"server": "missing"}}],
        broken=broken,
        missing={"command": str(tmp_path / "no-such-program")},
    )
    upstream.script(Reply.text("I can still calculate."))
    published: list[dict[str, Any]] = []

    async def test(manager: McpManager) -> str:
        await manager.start()
        output = (await agent_for(config, manager, upstream).run("hi")).output
        return output

    output = with_manager(config, test, on_status=published.append, start_timeout=10)
    assert output == "I can still calculate."
    assert offered_tools(upstream, 0) == {"calculator"}
    instructions = system_text(upstream, 0)
    assert "The MCP server 'broken' failed to start" in instructions
    assert "The MCP server 'missing' failed to start" in instructions
    failed = published[-3]  # the last report before stop()
    assert failed["broken"]["state"] == "failed"
    assert failed["broken"]["error"].startswith("failed to start: ")
    assert "no config file" in failed["broken"]["error"]  # the server's stderr
    assert failed["missing"]["error"].startswith("failed to start: ")
    assert "No such file or directory" in failed["missing"]["error"]
    assert published[-1]["broken"]["state"] == "stopped"


def test_servers_no_agent_uses_are_not_started(upstream: Upstream) -> None:
    config = config_with(["calculator"], notes=NOTES)

    async def test(manager: McpManager) -> dict[str, Any]:
        await manager.start()
        assert manager.toolsets_for("a", config.agents["a"]) == []
        return manager.status()

    assert with_manager(config, test)["notes"]["state"] == "idle"


def test_stopping_while_servers_start_leaves_no_process(tmp_path: Path) -> None:
    pid_file = tmp_path / "notes.pid"
    config = config_with(
        [{"mcp": {"server": "notes"}}], notes={**NOTES, "env": {"NOTES_PID_FILE": str(pid_file)}}
    )

    async def test(manager: McpManager) -> None:
        await manager.start()
        for _ in range(200):  # until the process exists, then stop at once
            if pid_file.exists() and pid_file.read_text():
                break
            await asyncio.sleep(0.01)
        await manager.stop()

    with_manager(config, test)
    assert pid_file.read_text(), "the server never started"
    assert not alive(int(pid_file.read_text()))
