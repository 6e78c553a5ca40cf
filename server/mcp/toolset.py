"""``AgentMcpToolset``: the MCP tools one agent may use, as one pydantic-ai toolset.

It covers every ``{mcp: {server, allow}}`` entry of the agent. Entering it (at
the start of each run) makes sure the servers are up; it never owns them, so
the connection outlives the run. Only allowed tools are offered; a tool whose
name a built-in tool or an earlier entry already uses is left out (pydantic-ai
would otherwise refuse the whole run). A server that is down contributes no
tools and one line to the instructions, and the run goes on without it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic_ai import RunContext
from pydantic_ai.exceptions import ApprovalRequired, CallDeferred, ModelRetry, ToolFailed
from pydantic_ai.toolsets import AbstractToolset, ToolsetTool

from server.approvals.policy import MCP, OTHER_TOOLS, ApprovalRule, Mode, Setting, mcp_asks
from server.mcp.connection import McpConnection

log = logging.getLogger(__name__)

# Raised on purpose by pydantic-ai and the MCP toolset: the model sees these as tool results.
_TOOL_OUTCOMES = (ToolFailed, CallDeferred, ApprovalRequired)


@dataclass(frozen=True, slots=True)
class McpEntry:
    """One ``mcp`` tool entry: a server and the tools allowed from it (None: all)."""

    connection: McpConnection
    allow: frozenset[str] | None
    approval: Setting = None  # the entry's ``approval``
    server_approval: Mode | None = None  # the server's, under ``mcp_servers``

    def allows(self, tool_name: str) -> bool:
        return self.allow is None or tool_name in self.allow

    def approval_rule(self, tool_name: str) -> ApprovalRule | None:
        """The rule when a call of this tool asks for approval, else None."""
        listed = self.allow is not None and tool_name in self.allow
        if mcp_asks(self.approval, self.server_approval, listed, tool_name):
            return ApprovalRule(MCP, self.connection.name)
        return None


def unavailable_note(connection: McpConnection) -> str:
    """The line an agent's instructions get while a server is down (no server-written text)."""
    verb = "stopped" if connection.ever_started else "failed to start"
    return (
        f"The MCP server '{connection.name}' {verb}, so its tools are unavailable right now. "
        "If the user asks for something that needs them, say so."
    )


class AgentMcpToolset(AbstractToolset[Any]):
    """An agent's allowed MCP tools, served through shared, long-lived connections."""

    def __init__(
        self, agent_id: str, entries: Sequence[McpEntry], reserved: Collection[str] = ()
    ) -> None:
        self._agent_id = agent_id
        self._entries = tuple(entries)
        self._reserved = frozenset(reserved)
        self._routes: dict[str, McpConnection] = {}
        self._entry_of: dict[str, McpEntry] = {}

    @property
    def id(self) -> str:
        return f"mcp-tools-{self._agent_id}"

    @property
    def label(self) -> str:
        return f"MCP tools of agent {self._agent_id!r}"

    async def __aenter__(self) -> AgentMcpToolset:
        await asyncio.gather(*(entry.connection.ensure_running() for entry in self._entries))
        return self

    async def __aexit__(self, *args: object) -> bool | None:
        return None  # the connections stay open for the next run

    async def get_instructions(self, ctx: RunContext[Any]) -> str | None:
        notes = self.notes()
        return "\n".join(notes) if notes else None

    def notes(self) -> list[str]:
        """One line per server of this agent that is down."""
        return [
            unavailable_note(entry.connection)
            for entry in self._unique_entries()
            if not entry.connection.running
        ]

    async def get_tools(self, ctx: RunContext[Any]) -> dict[str, ToolsetTool[Any]]:
        offered: dict[str, ToolsetTool[Any]] = {}
        for entry in self._entries:
            for name, tool in (await self._server_tools(entry.connection, ctx)).items():
                if not entry.allows(name) or name in offered:
                    continue
                if name == OTHER_TOOLS:  # it would stand for every tool in approval settings
                    log.warning(
                        "agent %s: MCP server %s offers a tool named '*'; it is left out",
                        self._agent_id, entry.connection.name,
                    )  # fmt: skip
                    continue
                if name in self._reserved:
                    log.warning(
                        "agent %s: MCP tool %s of server %s is hidden by a built-in tool",
                        self._agent_id, name, entry.connection.name,
                    )  # fmt: skip
                    continue
                offered[name] = dataclasses.replace(tool, toolset=self)
                self._routes[name] = entry.connection
                self._entry_of[name] = entry
        return offered

    def approval_rule(self, tool_name: str) -> ApprovalRule | None:
        """Whether a call of an offered tool asks (its entry decides); None: it runs."""
        entry = self._entry_of.get(tool_name)
        return entry.approval_rule(tool_name) if entry is not None else None

    async def call_tool(
        self, name: str, tool_args: dict[str, Any], ctx: RunContext[Any], tool: ToolsetTool[Any]
    ) -> Any:
        connection = self._routes.get(name)
        toolset = connection.toolset if connection is not None else None
        if connection is None or toolset is None:
            server = connection.name if connection else "?"
            return f"Error: the MCP server '{server}' is not running"
        try:
            return await toolset.call_tool(name, tool_args, ctx, tool)
        except ModelRetry as exc:
            # Protocol errors ("Connection closed" when the server died, bad arguments) come as
            # retries; as text they reach the model without spending the run's retry budget.
            return f"Error: {exc.message}"
        except _TOOL_OUTCOMES:
            raise
        except Exception as exc:  # the connection broke: the next run pings and restarts it
            log.warning("MCP server %s failed during %s: %s", connection.name, name, exc)
            return f"Error: the MCP server '{connection.name}' failed: {exc or type(exc).__name__}"

    async def _server_tools(
        self, connection: McpConnection, ctx: RunContext[Any]
    ) -> dict[str, ToolsetTool[Any]]:
        toolset = connection.toolset
        if not connection.running or toolset is None:
            return {}
        try:
            return await toolset.get_tools(ctx)
        except Exception as exc:
            log.warning("MCP server %s did not list its tools: %s", connection.name, exc)
            return {}

    def _unique_entries(self) -> list[McpEntry]:
        seen: set[str] = set()
        unique = []
        for entry in self._entries:
            if entry.connection.name not in seen:
                seen.add(entry.connection.name)
                unique.append(entry)
        return unique
