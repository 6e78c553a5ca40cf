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
import time
from collections.abc import Callable, Collection
from functools import partial
from pathlib import Path
from typing import Any

from pydantic_ai.toolsets import AbstractToolset

from server.approvals.policy import split_approval
from server.config import AgentConfig, Config
from server.config.schema import MCP_TOOL, McpServerConfig
from server.mcp.connection import START_TIMEOUT_SECONDS, McpConnection
from server.mcp.pool import McpPool
from server.mcp.toolset import AgentMcpToolset, McpEntry
from server.tools import build_tools
from server.tools.mcp_entry import Options as McpEntryOptions

StatusListener = Callable[[dict[str, Any]], None]
Folder = Callable[[], Path]


class McpManager:
    """Owns one ``McpConnection`` per configured server; hands agents toolsets over them."""

    def __init__(
        self,
        config: Config,
        *,
        on_status: StatusListener | None = None,
        pool: McpPool | None = None,
        log_dir: Path | None = None,
        start_timeout: float = START_TIMEOUT_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``pool`` keeps connections across reloads (default: a private one, so ``stop``
        ends every server); ``log_dir`` keeps each stdio server's stderr (default: the
        pool's temporary folder); ``clock`` times the restart backoff."""
        self._config = config
        self._on_status = on_status
        self._own_pool = pool is None
        self._pool = McpPool(grace=0) if pool is None else pool

        def build(name: str, server: McpServerConfig, pool_folder: Folder) -> McpConnection:
            folder = pool_folder if log_dir is None else lambda: _made(log_dir)
            return McpConnection(
                name, server, log_dir=folder, clock=clock, start_timeout=start_timeout
            )

        self._connections: dict[str, McpConnection] = {}
        for name, server in config.mcp_servers.items():
            connection = self._pool.acquire(name, server, partial(build, name, server))
            connection.on_change = self._publish
            self._connections[name] = connection
        self._warmup: asyncio.Task[None] | None = None
        self._stopped = False

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

    async def stop(self, *, now: bool = False) -> None:
        """Let go of every server: the pool stops those no other manager holds (after its
        grace; ``now``, or with a private pool, at once, ending stdio processes)."""
        if self._stopped:
            return
        self._stopped = True
        if self._warmup is not None and (now or self._own_pool):
            self._warmup.cancel()  # a shared pool's starts finish: the next config uses them
            with contextlib.suppress(asyncio.CancelledError):
                await self._warmup
        closing = [self._pool.release(c, now=now) for c in self._connections.values()]
        if now or self._own_pool:
            await asyncio.gather(*(t for t in closing if t is not None))
        if self._own_pool:
            await self._pool.close_all()

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

    def _publish(self) -> None:
        # a stopped manager of a shared pool is an old config's: its report is stale
        if self._on_status is not None and (self._own_pool or not self._stopped):
            self._on_status(self.status())


def _made(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return folder
