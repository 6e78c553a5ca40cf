"""``McpPool``: the MCP server connections of one server process, kept across reloads.

Why: each config generation has its own ``McpManager``, and a reload used to stop every
server of the old one and start them again for the new one. Editing an agent's
instructions restarted an ``npx`` server, and a turn of the old generation still in
flight found its tools gone ("the MCP server stopped"). The pool hands a manager the
connection already running for a server whose entry did not change; a connection no
manager holds any more is closed after a short grace (so the new generation, which
loads just after the old one is released, picks it up), or at once at shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from server.config.schema import McpServerConfig
from server.mcp.connection import McpConnection

RELEASE_GRACE_SECONDS = 30.0


@dataclass(slots=True)
class _Held:
    connection: McpConnection
    holders: int = 0
    closing: asyncio.Task[None] | None = field(default=None, repr=False)


class McpPool:
    """Connections by server name and entry; see the module docstring."""

    def __init__(self, grace: float = RELEASE_GRACE_SECONDS) -> None:
        self.grace = grace
        self._held: dict[tuple[str, str], _Held] = {}
        self._closing: set[asyncio.Task[None]] = set()
        self._log_dir: Path | None = None

    def acquire(
        self,
        name: str,
        config: McpServerConfig,
        make: Callable[[Callable[[], Path]], McpConnection],
    ) -> McpConnection:
        """The connection for ``name`` with this entry: the pool's, or one ``make`` builds
        (given where its stderr goes)."""
        key = (name, config.model_dump_json())
        held = self._held.get(key)
        if held is None or held.connection.state == "stopped":
            held = self._held[key] = _Held(make(self.stderr_folder))
        if held.closing is not None:
            held.closing.cancel()
            held.closing = None
        held.holders += 1
        held.connection.retry_now()  # a new config (a fixed entry, say) tries a failed one now
        return held.connection

    def release(self, connection: McpConnection, *, now: bool = False) -> asyncio.Task[None] | None:
        """One holder fewer; the last one's release closes it after the grace (or ``now``).
        Returns the closing task when there is one, to await at shutdown."""
        found = next(((k, h) for k, h in self._held.items() if h.connection is connection), None)
        if found is None:
            return None
        key, held = found
        held.holders = max(0, held.holders - 1)
        if held.holders:
            return None
        if held.closing is not None:
            held.closing.cancel()
        task = asyncio.get_running_loop().create_task(
            self._close_later(key, held, 0.0 if now or self.grace <= 0 else self.grace)
        )
        held.closing = task
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)
        return task

    async def close_all(self) -> None:
        """Close every connection at once and remove the stderr folder (at shutdown)."""
        held, self._held = list(self._held.values()), {}
        for entry in held:  # still in their grace: closed here instead
            if entry.closing is not None:
                entry.closing.cancel()
        closing = [t for t in self._closing if not t.done()]
        await asyncio.gather(*(h.connection.close() for h in held))
        await asyncio.gather(*closing, return_exceptions=True)
        if self._log_dir is not None:
            shutil.rmtree(self._log_dir, ignore_errors=True)
            self._log_dir = None

    def stderr_folder(self) -> Path:
        """Where stdio servers' stderr goes: a temporary folder, made on first need."""
        if self._log_dir is None:
            self._log_dir = Path(tempfile.mkdtemp(prefix="traymind-mcp-"))
        self._log_dir.mkdir(parents=True, exist_ok=True)
        return self._log_dir

    async def _close_later(self, key: tuple[str, str], held: _Held, delay: float) -> None:
        if delay:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.sleep(delay)
            if held.closing is not asyncio.current_task():
                return  # acquired again (or closed by close_all) meanwhile
        if held.holders == 0 and self._held.get(key) is held:
            del self._held[key]
            await held.connection.close()
