"""Driving the test MCP servers: configs, an agent built like the runtime builds it, runs.

The agent's model is at the loopback LLM stand-in (``tests.upstream``), so a run
is whole: the model is offered the allowed tools, calls one, the server answers,
the model reads the result.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic_ai import Agent
from pydantic_ai.messages import FunctionToolCallEvent, FunctionToolResultEvent

from server.config.schema import Config, ModelConfig
from server.mcp.manager import McpManager
from server.providers.models import build_model
from server.tools import build_tools
from tests.upstream import Upstream

SERVER = Path(__file__).resolve().parent / "notes_server.py"
NOTES = {"command": sys.executable, "args": [str(SERVER), "stdio"]}


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def config_with(tools: list[object], **servers: dict[str, object]) -> Config:
    return Config.model_validate(
        {"mcp_servers": servers or {"notes": NOTES}, "agents": {"a": {"tools": tools}}}
    )


def agent_for(config: Config, manager: McpManager, upstream: Upstream) -> Agent[None, str]:
    spec = config.agents["a"]
    model = build_model(ModelConfig(id="test-model", base_url=upstream.base_url)).model
    return Agent(
        model,
        name="a",
        instructions=["You are A."],
        tools=build_tools(spec.tools),
        toolsets=manager.toolsets_for("a", spec),
    )


async def run(agent: Agent[None, str], prompt: str = "go") -> list[tuple[str, str, Any]]:
    """The run's tool events: ("call", name, args) and ("result", name, content)."""
    seen: list[tuple[str, str, Any]] = []
    async with agent.run_stream_events(prompt) as events:
        async for event in events:
            if isinstance(event, FunctionToolCallEvent):
                seen.append(("call", event.part.tool_name, event.part.args_as_dict()))
            elif isinstance(event, FunctionToolResultEvent):
                seen.append(("result", event.part.tool_name, event.part.content))
    return seen


def with_manager(config: Config, test: Callable[[McpManager], Any], **options: Any) -> Any:
    async def main() -> Any:
        manager = McpManager(config, **options)
        try:
            return await test(manager)
        finally:
            await manager.stop()

    return asyncio.run(main())


def offered_tools(upstream: Upstream, index: int) -> set[str]:
    return {
        tool["function"]["name"] for tool in upstream.chat_requests[index].body.get("tools", [])
    }


def system_text(upstream: Upstream, index: int) -> str:
    messages = upstream.chat_requests[index].body["messages"]
    return "\n".join(m["content"] for m in messages if m["role"] == "system")


def alive(pid: int) -> bool:
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        try:
            if Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z":
                return False
        except OSError:
            return False
        time.sleep(0.05)
    return True
