"""MCP end to end through Traymind: a chat over HTTP whose agent calls a stdio MCP server.

Needs the runtime to pass ``McpManager.toolsets_for`` to its agents (the
integration of issue 9); until then the test is skipped, and it runs by itself
once that is in.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from server.agents import runtime
from tests.harness import agent_config, client, http, running_server
from tests.mcp_servers.harness import NOTES
from tests.upstream import Reply, Upstream

KEY = "sk-test-mcp"

pytestmark = [
    pytest.mark.timeout(60),
    pytest.mark.skipif(
        "toolsets_for" not in inspect.getsource(runtime),
        reason="the runtime does not serve MCP toolsets yet (issue 9 integration)",
    ),
]


def test_a_chat_uses_an_mcp_tool_and_the_status_shows_the_server(
    tmp_path: Path, upstream: Upstream
) -> None:
    config = agent_config(
        upstream.base_url,
        general={"tools": ["calculator", {"mcp": {"server": "notes", "allow": ["shout"]}}]},
    )
    config["mcp_servers"] = {"notes": NOTES, "broken": {"command": str(tmp_path / "nothing")}}
    config["agents"]["other"] = {"tools": [{"mcp": {"server": "broken"}}]}
    upstream.script(Reply.tool_calls([("shout", {"text": "hi"})]), Reply.text("Done."))
    with running_server(tmp_path, config, env={"OPENAI_COMPAT_API_KEYS": KEY}) as handle:
        answer = client(handle, KEY).chat.completions.create(
            model="general", messages=[{"role": "user", "content": "shout hi"}]
        )
        with http(handle) as h:
            status = h.get("/api/status", headers={"Authorization": f"Bearer {KEY}"}).json()
    assert answer.choices[0].message.content == (
        '<tool id="1" state="start">shout(text=hi)</tool>'
        '<tool id="1" state="done">shout(text=hi)\nHI</tool>'
        "Done."
    )
    assert {t["function"]["name"] for t in upstream.chat_requests[0].body["tools"]} == {
        "calculator",
        "shout",
    }
    servers = status["mcp_servers"]
    assert servers["notes"]["state"] == "running"
    assert servers["broken"]["state"] == "failed"
    assert servers["broken"]["error"].startswith("failed to start: ")
