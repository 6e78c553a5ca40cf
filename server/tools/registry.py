"""The built-in tools by name: what config.yaml may list, and how each is built.

Config validation asks ``validate_tool_options`` so that a typo in a tool name
or option is reported when the config loads, not when the agent first runs.
Tools that keep something running (``claude_agent``'s Claude Code sessions) are
bound methods of an object with ``aclose()``; ``close_tools`` stops them.
"""

from __future__ import annotations

import asyncio
import difflib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from server.approvals.policy import APPROVAL, split_approval
from server.tools import (
    calculator,
    claude_agent,
    current_time,
    files,
    mcp_entry,
    python,
    shell,
    web_fetch,
)
from server.tools.ref import ToolRef

if TYPE_CHECKING:
    from pydantic_ai import Tool


@dataclass(frozen=True, slots=True)
class BuiltinTool:
    """One built-in tool: its options model validates config; ``build`` makes the tools."""

    name: str
    summary: str  # one line, for docs and UIs
    options: type[BaseModel]
    build: Callable[[Any], list[Tool]]


TOOLS: Mapping[str, BuiltinTool] = MappingProxyType(
    {
        tool.name: tool
        for tool in (
            BuiltinTool("calculator", calculator.SUMMARY, calculator.Options, calculator.build),
            BuiltinTool(
                "current_time", current_time.SUMMARY, current_time.Options, current_time.build
            ),
            BuiltinTool("files", files.SUMMARY, files.Options, files.build),
            BuiltinTool("shell", shell.SUMMARY, shell.Options, shell.build),
            BuiltinTool("web_fetch", web_fetch.SUMMARY, web_fetch.Options, web_fetch.build),
            BuiltinTool("python", python.SUMMARY, python.Options, python.build),
            BuiltinTool("mcp", mcp_entry.SUMMARY, mcp_entry.Options, mcp_entry.build),
            BuiltinTool(
                "claude_agent", claude_agent.SUMMARY, claude_agent.Options, claude_agent.build
            ),
        )
    }
)

TOOL_NAMES: tuple[str, ...] = tuple(TOOLS)


def validate_tool_options(name: str, options: Mapping[str, Any]) -> None:
    """Raise ``ValueError`` (with a did-you-mean hint) for an unknown tool or bad options."""
    _options_for(name, options)


def build_tools(refs: list[ToolRef]) -> list[Tool]:
    """The pydantic-ai tools for an agent's validated ``tools:`` list.

    ``mcp`` entries build nothing here: their tools come from ``server.mcp.McpManager``.
    """
    return [tool for _, built in build_tools_by_entry(refs) for tool in built]


def build_tools_by_entry(refs: list[ToolRef]) -> list[tuple[ToolRef, list[Tool]]]:
    """Each entry with the tools it built (an entry such as ``files`` builds several)."""
    return [(ref, TOOLS[ref.name].build(_options_for(ref.name, ref.options))) for ref in refs]


async def close_tools(tools: Iterable[Tool]) -> None:
    """Stop what built tools keep running (e.g. Claude Code sessions); the rest need nothing."""
    owners: dict[int, Any] = {}
    for tool in tools:
        owner = getattr(tool.function, "__self__", None)
        if callable(getattr(owner, "aclose", None)):
            owners[id(owner)] = owner
    await asyncio.gather(*(owner.aclose() for owner in owners.values()))


def _options_for(name: str, options: Mapping[str, Any]) -> BaseModel:
    tool = TOOLS.get(name)
    if tool is None:
        raise ValueError(f"unknown tool '{name}'{_hint(name, TOOL_NAMES, 'available')}")
    own, _ = split_approval(name, options)  # approval is every tool's option, checked there
    try:
        return tool.options.model_validate(own)
    except ValidationError as exc:
        raise ValueError(_option_problems(tool, exc)) from None


def _option_problems(tool: BuiltinTool, exc: ValidationError) -> str:
    own = tuple(tool.options.model_fields)
    problems: list[str] = []
    for error in exc.errors():
        option = ".".join(str(part) for part in error["loc"]) or "options"
        if error["type"] == "extra_forbidden":
            hint = (
                _hint(option, (*own, APPROVAL), "options")
                if own
                else f" (its only option is '{APPROVAL}')"
            )
            problems.append(f"unknown option '{option}' for tool '{tool.name}'{hint}")
        else:
            problems.append(f"option '{option}' of tool '{tool.name}': {error['msg']}")
    return "; ".join(problems)


def _hint(word: str, candidates: tuple[str, ...], label: str) -> str:
    close = difflib.get_close_matches(word, candidates, n=1)
    if close:
        return f"; did you mean '{close[0]}'?"
    return f" ({label}: {', '.join(candidates)})"
