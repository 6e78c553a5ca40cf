"""``McpManager``: the MCP servers of one config, shared by all of its agents.

The runtime makes one per config (in the server's event loop), passes
``toolsets_for(agent_id, agent)`` to each ``Agent(toolsets=...)``, calls
``start()`` once the loop runs (servers then start in the background, so a
failure shows in the status window early) and ``stop()`` at shutdown or when
a reloaded config replaces it. Servers no agent uses are never started.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
import time
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

from pydantic_ai.toolsets import AbstractToolset

from server.approvals.policy import split_approval
from server.config import AgentConfig, Config
from server.config.schema import MCP_TOOL
from server.mcp.connection import START_TIMEOUT_SECONDS, McpConnection
from server.mcp.toolset import AgentMcpToolset, McpEntry
from server.tools import build_tools
from server.tools.mcp_entry import Options as McpEntryOptions

StatusListener = Callable[[dict[str, Any]], None]


class McpManager:
    """Owns one ``McpConnection`` per configured server; hands agents toolsets over them."""

    def __init__(
        self,
        config: Config,
        *,
        on_status: StatusListener | None = None,
        log_dir: Path | None = None,
        start_timeout: float = START_TIMEOUT_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``log_dir`` keeps each stdio server's stderr (default: a temporary folder removed
        by ``stop``); ``clock`` times the restart backoff."""
        self._config = config
        self._on_status = on_status
        self._own_log_dir = log_dir is None
        self._log_dir = log_dir
        self._connections = {
            name: McpConnection(
                name,
                server,
                log_dir=self._stderr_folder,
                on_change=self._publish,
                clock=clock,
                start_timeout=start_timeout,
            )
            for name, server in config.mcp_servers.items()
        }
        self._warmup: asyncio.Task[None] | None = None

    def connection(self, name: str) -> McpConnection:
        return self._connections[name]

    def toolsets_for(
        self, agent_id: str, agent: AgentConfig, reserved: Collection[str] | None = None
    ) -> list[AbstractToolset[Any]]:
        """The toolsets for ``Agent(toolsets=...)``: one covering all of the agent's ``mcp``
        entries, or none. ``reserved``: tool names MCP tools must not take (default: the
        names of the agent's built-in tools)."""
        entries = self._entries(agent)
        if not entries:
            return []
        if reserved is None:
            reserved = [tool.name for tool in build_tools(agent.tools)]
        return [AgentMcpToolset(agent_id, entries, reserved)]

    def prompt_notes_for(self, agent: AgentConfig) -> list[str]:
        """Lines for the agent's instructions about its servers that are down (the toolset
        from ``toolsets_for`` already adds them to each run's instructions)."""
        return AgentMcpToolset("", self._entries(agent)).notes()

    async def start(self) -> None:
        """Start, in the background, every server some agent uses."""
        used = {
            entry.connection.name
            for a in self._config.agents.values()
            for entry in self._entries(a)
        }
        if used and self._warmup is None:
            self._warmup = asyncio.create_task(self._start_all(sorted(used)))
        self._publish()

    async def stop(self) -> None:
        """Stop every server (ending stdio processes) and forget the log folder."""
        if self._warmup is not None:
            self._warmup.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._warmup
        await asyncio.gather(*(c.close() for c in self._connections.values()))
        if self._own_log_dir and self._log_dir is not None:
            shutil.rmtree(self._log_dir, ignore_errors=True)
            self._log_dir = None

    def status(self) -> dict[str, dict[str, Any]]:
        """Each server's transport, state, last error and restarts, by name."""
        return {name: c.status() for name, c in self._connections.items()}

    async def _start_all(self, names: list[str]) -> None:
        await asyncio.gather(*(self._connections[n].ensure_running() for n in names))

    def _entries(self, agent: AgentConfig) -> list[McpEntry]:
        entries = []
        for ref in agent.tools:
            if ref.name != MCP_TOOL:
                continue
            own, approval = split_approval(ref.name, ref.options)
            options = McpEntryOptions.model_validate(own)
            allow = None if options.allow is None else frozenset(options.allow)
            server = self._config.mcp_servers[options.server]
            entries.append(
                McpEntry(self._connections[options.server], allow, approval, server.approval)
            )
        return entries

    def _stderr_folder(self) -> Path:
        """Where stdio servers' stderr goes; a temporary folder is made on first need."""
        if self._log_dir is None:
            self._log_dir = Path(tempfile.mkdtemp(prefix="traymind-mcp-"))
        self._log_dir.mkdir(parents=True, exist_ok=True)
        return self._log_dir

    def _publish(self) -> None:
        if self._on_status is not None:
            self._on_status(self.status())
