"""The ``mcp`` tool entry: an agent's window onto one server under ``mcp_servers``.

``tools: [{mcp: {server: fs, allow: [read_file]}}]`` gives the agent the
listed tools of server ``fs`` (all of its tools when ``allow`` is left out).
The server's tools are not built here: ``server.mcp.McpManager`` keeps the
servers running and hands the runtime one toolset per entry, so ``build``
returns nothing. That the named server exists is checked with the whole config.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from pydantic_ai import Tool

SUMMARY = "Tools of an MCP server from mcp_servers, limited to an allow-list."


class Options(BaseModel):
    """``mcp`` options."""

    model_config = ConfigDict(extra="forbid")

    server: str = Field(min_length=1)
    """The name of a server under ``mcp_servers``."""
    allow: list[str] | None = None
    """The server's tools this agent may use; all of them when left out."""


def build(options: Options) -> list[Tool]:
    return []  # served as a toolset by server.mcp.McpManager
