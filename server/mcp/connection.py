"""``McpConnection``: one configured MCP server, started on demand and kept alive.

The connection is pydantic-ai's ``MCPToolset`` (built on the FastMCP client),
entered once and held open, so agent runs reuse the same server process or HTTP
session. Before each run ``ensure_running`` checks the server with a ping; a
server that stopped is restarted, and one that keeps failing is retried with
exponential backoff (1 s doubling up to 60 s; a server that ran for a while is
restarted at once). ``close`` ends the session and, for stdio, the process.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from pydantic_ai.mcp import MCPToolset

    from server.config.schema import McpServerConfig

log = logging.getLogger(__name__)

State = Literal["idle", "starting", "running", "failed", "stopped"]

START_TIMEOUT_SECONDS = 30.0
PING_TIMEOUT_SECONDS = 5.0
BACKOFF_FIRST_SECONDS = 1.0
BACKOFF_MAX_SECONDS = 60.0
STABLE_SECONDS = 30.0  # a server that ran this long before stopping is restarted at once
STDERR_TAIL_CHARS = 300
_NO_ANSWER = frozenset({-32000, -32001})  # JSON-RPC: connection closed, request timed out
_CONNECTION_NUMBERS = itertools.count(1)
_ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def expand_env(value: str) -> str:
    """``value`` with each ``${VAR}`` replaced by that environment variable (empty if unset)."""
    return _ENV_REFERENCE.sub(lambda match: os.environ.get(match.group(1), ""), value)


class McpConnection:
    """One server under ``mcp_servers``: its state, its live toolset, its restarts."""

    def __init__(
        self,
        name: str,
        config: McpServerConfig,
        *,
        log_dir: Callable[[], Path],
        on_change: Callable[[], None] = lambda: None,
        clock: Callable[[], float] = time.monotonic,
        start_timeout: float = START_TIMEOUT_SECONDS,
    ) -> None:
        self.name = name
        self.config = config
        self.transport: Literal["stdio", "http"] = "stdio" if config.command else "http"
        self.state: State = "idle"
        self.error: str | None = None
        self.restarts = 0
        self.failures = 0  # in a row; sets the backoff
        self.toolset: MCPToolset[Any] | None = None
        self._log_dir = log_dir
        # one file per connection: an old config's process in its grace keeps its own
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", name)
        self._log_name = f"{safe}-{next(_CONNECTION_NUMBERS)}.stderr.log"
        self._log_file: Path | None = None
        self.on_change = on_change  # rebound when another manager takes the connection over
        self._clock = clock
        self._start_timeout = start_timeout
        self._retry_at = 0.0
        self._started_at = 0.0
        self.ever_started = False
        self._lock = asyncio.Lock()

    @property
    def running(self) -> bool:
        return self.state == "running" and self.toolset is not None

    def retry_in(self) -> float:
        """Seconds until the next start may be tried (0 when it may be tried now)."""
        return max(0.0, self._retry_at - self._clock()) if self.state == "failed" else 0.0

    def retry_now(self) -> None:
        """Forget the backoff of a failed server: the next ``ensure_running`` tries it."""
        if self.state == "failed":
            self.failures = 0
            self._retry_at = 0.0

    def status(self) -> dict[str, Any]:
        """What the status window shows for this server."""
        return {
            "transport": self.transport,
            "state": self.state,
            "error": self.error,
            "restarts": self.restarts,
            "retry_in_seconds": round(self.retry_in(), 1) or None,
        }

    async def ensure_running(self) -> bool:
        """Start the server if needed (or restart it if it stopped); True when it is usable."""
        async with self._lock:
            if self.state == "stopped":
                return False
            if self.toolset is not None:
                if await self._answers_ping():
                    return True
                await self._stopped_unexpectedly()
            if self.state == "failed" and self._clock() < self._retry_at:
                return False
            return await self._start()

    async def close(self) -> None:
        """End the session (and a stdio server's process); the connection stays stopped."""
        async with self._lock:
            await self._discard()
            self._set("stopped", None)

    async def _start(self) -> bool:
        from pydantic_ai.mcp import MCPToolset

        self._set("starting", None)
        toolset = MCPToolset(self._transport(), id=f"mcp-{self.name}", tool_error_behavior="failed")
        try:
            async with asyncio.timeout(self._start_timeout):
                await toolset.__aenter__()
        except BaseException as exc:  # anything a server can do wrong while starting
            await _close_transport(toolset)  # also when cancelled: no process is left behind
            if not isinstance(exc, Exception):
                raise
            self._failed(f"failed to start: {self._describe(exc)}")
            return False
        self.toolset = toolset
        self._started_at = self._clock()
        if self.ever_started:
            self.restarts += 1
        self.ever_started = True
        self._set("running", None)
        log.info("MCP server %s is running (%s)", self.name, self.transport)
        return True

    async def _answers_ping(self) -> bool:
        """Whether the server still answers; any answer counts (stateless MCP servers reply
        "method not found" to a ping)."""
        from fastmcp.exceptions import McpError

        assert self.toolset is not None
        try:
            async with asyncio.timeout(PING_TIMEOUT_SECONDS):
                await self.toolset.client.ping()
        except McpError as exc:  # an error the server sent back, or the client's "closed"
            return _error_code(exc) not in _NO_ANSWER
        except Exception:
            return False
        return True

    async def _stopped_unexpectedly(self) -> None:
        uptime = self._clock() - self._started_at
        await self._discard()
        if uptime >= STABLE_SECONDS:
            self.failures = 0  # it ran fine for a while: restart now
            self._set("failed", "stopped; restarting")
        else:
            self._failed("stopped shortly after starting")
        log.warning("MCP server %s stopped after %.0f s", self.name, uptime)

    async def _discard(self) -> None:
        toolset, self.toolset = self.toolset, None
        if toolset is None:
            return
        with contextlib.suppress(Exception):
            await toolset.__aexit__(None, None, None)
        await _close_transport(toolset)

    def _transport(self) -> Any:
        from fastmcp.client.transports import StdioTransport, StreamableHttpTransport

        config = self.config
        if config.url is not None:
            headers = {key: expand_env(value) for key, value in config.headers.items()}
            return StreamableHttpTransport(config.url, headers=headers or None)
        assert config.command is not None
        # The MCP SDK starts from a small safe environment (PATH, HOME...) and adds these.
        env = {key: expand_env(value) for key, value in config.env.items()} or None
        self._log_file = self._log_dir() / self._log_name
        self._log_file.write_text("")
        return StdioTransport(
            config.command,
            list(config.args),
            env=env,
            cwd=config.cwd,
            keep_alive=False,  # leaving the session ends the process
            log_file=self._log_file,
        )

    def _describe(self, exc: BaseException) -> str:
        while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
            exc = exc.exceptions[0]
        text = str(exc) or type(exc).__name__
        if isinstance(exc, TimeoutError):
            text = f"no answer within {self._start_timeout:g} seconds"
        stderr = self._stderr_tail()
        return f"{text} (stderr: {stderr})" if stderr else text

    def _stderr_tail(self) -> str:
        if self._log_file is None:
            return ""
        try:
            text = self._log_file.read_text(encoding="utf-8", errors="replace").strip()
        except OSError:
            return ""
        return " ".join(text[-STDERR_TAIL_CHARS:].split())

    def _failed(self, message: str) -> None:
        self.failures += 1
        delay = min(BACKOFF_MAX_SECONDS, BACKOFF_FIRST_SECONDS * 2 ** (self.failures - 1))
        self._retry_at = self._clock() + delay
        self._set("failed", message)
        log.warning("MCP server %s %s; next try in %.0f s", self.name, message, delay)

    def _set(self, state: State, error: str | None) -> None:
        self.state, self.error = state, error
        self.on_change()


def _error_code(exc: BaseException) -> int | None:
    error = getattr(exc, "error", None)  # ErrorData on both MCP SDK generations
    code = getattr(error, "code", None)
    return code if isinstance(code, int) else None


async def _close_transport(toolset: MCPToolset[Any]) -> None:
    with contextlib.suppress(Exception):
        await toolset.client.close()
