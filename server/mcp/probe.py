"""Trying an MCP server once: start it, list its tools, stop it.

The Agents window's Test button (and anyone else who wants to know whether a server
entry works before an agent relies on it) calls ``probe_server`` off the event loop
of the server: it runs its own loop, through the same ``McpConnection`` the runtime
uses, so a server that starts here starts for agents too, and a failure reads the
same (with the tail of the server's stderr).
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from server.config.schema import McpServerConfig
from server.mcp.connection import McpConnection

PROBE_TIMEOUT_SECONDS = 20.0


@dataclass(frozen=True, slots=True)
class McpTool:
    """One tool an MCP server offers."""

    name: str
    description: str


class McpProbeFailed(Exception):
    """The server entry is invalid, or the server did not start or list its tools: a sentence."""


def server_config(values: Mapping[str, object], base_dir: Path | None = None) -> McpServerConfig:
    """``mcp_servers.<name>`` values as the config loader reads them, else ``McpProbeFailed``."""
    try:
        context = {"base_dir": base_dir} if base_dir is not None else None
        return McpServerConfig.model_validate(dict(values), context=context)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        message = str(first["msg"]).removeprefix("Value error, ")
        raise McpProbeFailed(f"{where}: {message}" if where else message) from None


def probe_server(
    name: str, config: McpServerConfig, timeout: float = PROBE_TIMEOUT_SECONDS
) -> list[McpTool]:
    """Start server ``name``, list its tools and stop it; blocking (run it off the GUI thread)."""
    with tempfile.TemporaryDirectory(prefix="traymind-mcp-probe-") as folder:
        return asyncio.run(_probe(name, config, Path(folder), timeout))


async def _probe(name: str, config: McpServerConfig, folder: Path, timeout: float) -> list[McpTool]:
    connection = McpConnection(name, config, log_dir=lambda: folder, start_timeout=timeout)
    try:
        if not await connection.ensure_running() or connection.toolset is None:
            raise McpProbeFailed(f"MCP server {name} {connection.error or 'did not start'}")
        try:
            async with asyncio.timeout(timeout):
                tools = await connection.toolset.client.list_tools()
        except Exception as exc:
            text = str(exc) or type(exc).__name__
            failed = f"MCP server {name} started but did not list its tools: {text}"
            raise McpProbeFailed(failed) from None
        return [McpTool(tool.name, (tool.description or "").strip()) for tool in tools]
    finally:
        await connection.close()
