"""MCP over streamable HTTP: the test server as a real process on a loopback port."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from server.config.schema import Config
from server.mcp.manager import McpManager
from tests.mcp_servers.harness import SERVER, agent_for, offered_tools, run, system_text
from tests.upstream import Reply, Upstream

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def mcp_url() -> Iterator[str]:
    process = subprocess.Popen(
        [sys.executable, str(SERVER), "http"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("PORT "), line
        yield f"http://127.0.0.1:{line.split()[1]}/mcp"
    finally:
        process.kill()
        process.wait(10)


def config_for(url: str, **server: object) -> Config:
    return Config.model_validate(
        {
            "mcp_servers": {"web": {"url": url, **server}},
            "agents": {"a": {"tools": [{"mcp": {"server": "web", "allow": ["shout", "header"]}}]}},
        }
    )


def test_an_agent_calls_a_tool_over_http_with_configured_headers(
    mcp_url: str, upstream: Upstream
) -> None:
    config = config_for(mcp_url, headers={"X-Team": "${TRAYMIND_TEST_TEAM}"})
    upstream.script(
        Reply.tool_calls([("shout", {"text": "hello"})]),
        Reply.text("HELLO"),
        Reply.tool_calls([("header", {"name": "x-team"})]),
        Reply.text("done"),
    )

    async def main() -> tuple[list[Any], list[Any], dict[str, Any]]:
        manager = McpManager(config)
        try:
            agent = agent_for(config, manager, upstream)
            return await run(agent), await run(agent), manager.status()
        finally:
            await manager.stop()

    os.environ["TRAYMIND_TEST_TEAM"] = "blue"
    try:
        shouted, header, status = asyncio.run(main())
    finally:
        del os.environ["TRAYMIND_TEST_TEAM"]
    assert shouted == [("call", "shout", {"text": "hello"}), ("result", "shout", "HELLO")]
    assert offered_tools(upstream, 0) == {"shout", "header"}
    assert upstream.chat_requests[1].body["messages"][-1]["content"] == "HELLO"
    assert header[1] == ("result", "header", "blue")
    assert status["web"] == {
        "transport": "http",
        "state": "running",
        "error": None,
        "restarts": 0,
        "retry_in_seconds": None,
    }


def test_an_unreachable_server_is_reported_and_the_agent_runs_without_it(
    upstream: Upstream,
) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = config_for(f"http://127.0.0.1:{port}/mcp")
    upstream.script(Reply.text("Sorry, that is unavailable."))

    async def main() -> tuple[str, dict[str, Any]]:
        manager = McpManager(config, start_timeout=10)
        try:
            result = await agent_for(config, manager, upstream).run("shout hello")
            return result.output, manager.status()
        finally:
            await manager.stop()

    output, status = asyncio.run(main())
    assert output == "Sorry, that is unavailable."
    assert offered_tools(upstream, 0) == set()
    assert "The MCP server 'web' failed to start" in system_text(upstream, 0)
    assert status["web"]["state"] == "failed"
    assert status["web"]["error"].startswith("failed to start: ")
