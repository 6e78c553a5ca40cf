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
