"""docs/tools.md cannot drift: every tool, option, model-visible function and
``mcp_servers`` key is documented, and nothing documented is gone."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from server.config.schema import McpServerConfig
from server.tools import TOOL_NAMES, TOOLS, ToolRef, build_tools

DOCS = Path(__file__).resolve().parent.parent / "docs" / "tools.md"
HEADING = re.compile(r"^## `([a-z_]+)`\s*$", re.MULTILINE)
TABLE_KEY = re.compile(r"^\| `([a-z_]+)` \|", re.MULTILINE)

# Options that let every function of a tool be built.
FULL_OPTIONS: dict[str, dict[str, object]] = {
    "files": {"roots": ["/tmp"], "write": True},
    "mcp": {"server": "any"},
}


def sections() -> dict[str, str]:
    text = DOCS.read_text(encoding="utf-8")
    parts = HEADING.split(text)
    return {name: body for name, body in zip(parts[1::2], parts[2::2], strict=True)}


def test_every_tool_has_a_section_and_nothing_else_does() -> None:
    assert set(sections()) == {*TOOL_NAMES, "mcp_servers"}


@pytest.mark.parametrize("name", TOOL_NAMES)
def test_every_option_is_documented(name: str) -> None:
    body = sections()[name]
    documented = TABLE_KEY.findall(body)
    options = list(TOOLS[name].options.model_fields)
    assert documented == options, f"docs/tools.md: the option table of `{name}`"
    if not options:
        assert "Takes no options." in body


@pytest.mark.parametrize("name", TOOL_NAMES)
def test_every_function_the_model_sees_is_named(name: str) -> None:
    body = sections()[name]
    tools = build_tools([ToolRef(name=name, options=FULL_OPTIONS.get(name, {}))])
    for tool in tools:
        assert f"`{tool.name}`" in body, f"docs/tools.md: `{name}` does not name `{tool.name}`"


def test_every_mcp_server_key_is_documented() -> None:
    documented = TABLE_KEY.findall(sections()["mcp_servers"])
    assert documented == list(McpServerConfig.model_fields)
