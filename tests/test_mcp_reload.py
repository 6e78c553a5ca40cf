"""A config reload keeps the MCP servers whose entries did not change, over real HTTP.

Editing an agent in the tray reloads config.yaml; a stdio server (an ``npx`` one, in
real life) must not be restarted for that, and a turn of the old config still in
flight must keep its tools. A server whose entry changed is started afresh, and
shutdown ends every server process.
"""

from __future__ import annotations

import copy
import os
import time
from pathlib import Path

import pytest

from tests.harness import agent_config, client, running_server, write_config
from tests.mcp_servers.harness import NOTES
from tests.upstream import Reply, Upstream

KEY = "sk-test-mcp-reload"
pytestmark = pytest.mark.timeout(90)


def server_pid(handle, upstream: Upstream) -> int:
    """Ask the agent to call ``whoami``; the tool's answer is the server's process id."""
    upstream.script(Reply.tool_calls([("whoami", {})]), Reply.text("Done."))
    before = len(upstream.chat_requests)
    client(handle, KEY).chat.completions.create(
        model="general", messages=[{"role": "user", "content": "who are you"}]
    )
    result = [m for m in upstream.chat_requests[before + 1].body["messages"] if m["role"] == "tool"]
    return int(result[-1]["content"])


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def reload_with(handle, directory: Path, config: dict) -> None:
    write_config(directory, config)
    handle.reload()
    time.sleep(0.3)  # the swap runs on the server's loop


def test_an_unchanged_server_survives_a_reload_and_a_changed_one_restarts(
    tmp_path: Path, upstream: Upstream
) -> None:
    config = agent_config(
        upstream.base_url, general={"tools": [{"mcp": {"server": "notes", "allow": ["whoami"]}}]}
    )
    config["mcp_servers"] = {"notes": NOTES}
    with running_server(tmp_path, config, env={"OPENAI_COMPAT_API_KEYS": KEY}) as handle:
        first = server_pid(handle, upstream)

        edited = copy.deepcopy(config)
        edited["agents"]["general"]["instructions"] = ["Be brief."]  # the server is untouched
        reload_with(handle, tmp_path, edited)
        assert server_pid(handle, upstream) == first
        assert "Be brief." in upstream.chat_requests[-1].body["messages"][0]["content"]

        changed = copy.deepcopy(edited)
        changed["mcp_servers"]["notes"] = {**NOTES, "env": {"NOTES_MODE": "changed"}}
        reload_with(handle, tmp_path, changed)
        second = server_pid(handle, upstream)
        assert second != first
        assert alive(first)  # the old config's, kept for its grace (its turns may still run)
    deadline = time.monotonic() + 10
    while (alive(first) or alive(second)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(first) and not alive(second)  # shutdown ends both, grace or not


def test_a_reload_while_a_server_starts_does_not_start_it_twice(tmp_path: Path) -> None:
    import asyncio

    from server.config.schema import Config
    from server.mcp.manager import McpManager
    from server.mcp.pool import McpPool

    starts = tmp_path / "starts.log"
    slow = {**NOTES, "env": {"NOTES_STARTS_LOG": str(starts), "NOTES_START_DELAY": "2"}}
    config = Config.model_validate(
        {"mcp_servers": {"notes": slow}, "agents": {"a": {"tools": [{"mcp": {"server": "notes"}}]}}}
    )

    async def scenario() -> None:
        pool = McpPool()
        old = McpManager(config, pool=pool)
        await old.start()
        for _ in range(100):  # until the process runs (and sleeps its slow start)
            if starts.exists() and starts.read_text().strip():
                break
            await asyncio.sleep(0.05)
        assert old.connection("notes").state == "starting"
        new = McpManager(config, pool=pool)  # the reloaded config, same entry
        await old.stop()  # what a reload does with the old generation
        await new.start()
        connection = new.connection("notes")
        for _ in range(150):
            if connection.running:
                break
            await asyncio.sleep(0.1)
        assert connection.running and connection.restarts == 0
        await new.stop(now=True)
        await pool.close_all()

    asyncio.run(scenario())
    assert len(starts.read_text().split()) == 1  # one process, started once
