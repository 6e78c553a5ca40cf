"""Which tool calls wait for a person: the ``approval`` setting and its defaults.

A tool entry takes ``approval: auto`` (run, as before approvals existed) or
``approval: ask`` (wait for the person at the desktop). Left out, side-effect tools
ask and read-only ones run:

- ``shell``, ``python`` and ``claude_agent`` ask;
- ``files`` asks for ``write_file`` and ``edit_file`` (only offered with ``write: true``);
  reading, listing and searching run (``approval: ask`` makes them ask too);
- an ``mcp`` entry's tools run when the entry names them in ``allow`` (the user chose
  them), and ask otherwise. The entry's ``approval`` may also map tool names to a mode
  (``{read_file: auto, "*": ask}``; ``*`` is every other tool), and the server under
  ``mcp_servers`` may set a mode for all its tools. ``files`` takes the same mapping
  (``{write_file: auto}``: writes run, edits still ask), which is what "Always allow" for
  one of its tools writes.

The setting lives among the tool's options in YAML (``{shell: {approval: auto}}``)
because that is where a user looks for it; ``split_approval`` takes it out before the
tool's own options are validated.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, cast

Mode = Literal["auto", "ask"]
MODES: tuple[Mode, ...] = ("auto", "ask")
APPROVAL = "approval"  # the option key
OTHER_TOOLS = "*"  # in an mcp entry's mapping: the tools it does not name
MCP = "mcp"
MAPPED = frozenset({MCP, "files"})  # entries of several tools: approval may map tool names

# Built-in tools whose every call asks by default; for files, only its writing functions.
_ALWAYS_ASK = frozenset({"shell", "python", "claude_agent"})
_FILES_WRITING = frozenset({"write_file", "edit_file"})

Setting = Mode | dict[str, Mode] | None


@dataclass(frozen=True, slots=True)
class ApprovalRule:
    """Why a tool call asks, and where "Always allow for this agent" is written.

    ``entry`` is the tool entry in the agent's ``tools:`` list (``shell``, ``files``,
    ``mcp``); ``server`` names the MCP server for ``mcp`` entries.
    """

    entry: str
    server: str | None = None


def split_approval(name: str, options: Mapping[str, Any]) -> tuple[dict[str, Any], Setting]:
    """The tool's own options, and its validated ``approval`` setting (None: the default).

    Raises ``ValueError`` with a sentence for a bad setting.
    """
    rest = dict(options)
    if APPROVAL not in rest:
        return rest, None
    value = rest.pop(APPROVAL)
    if value is None:
        return rest, None
    if isinstance(value, str) and value in MODES:
        return rest, cast(Mode, value)
    if isinstance(value, Mapping) and name in MAPPED:
        modes: dict[str, Mode] = {}
        for tool, mode in value.items():
            if not isinstance(tool, str) or mode not in MODES:
                raise ValueError(
                    f"approval of {'an' if name == MCP else 'a'} {name} entry maps tool "
                    "names to 'auto' or 'ask'; "
                    f"got {tool!r}: {mode!r}"
                )
            modes[tool] = cast(Mode, mode)
        return rest, modes
    shape = (
        "'auto', 'ask' or a mapping of tool names to them" if name in MAPPED else "'auto' or 'ask'"
    )
    raise ValueError(f"option 'approval' of tool '{name}' must be {shape}, not {value!r}")


def builtin_asks(entry: str, setting: Setting, tool_name: str) -> bool:
    """Whether a call of ``tool_name`` (built by the ``entry`` tool) waits for a person."""
    if isinstance(setting, dict):  # files: {write_file: auto, "*": ask}
        mode = setting.get(tool_name) or setting.get(OTHER_TOOLS)
        if mode is not None:
            return mode == "ask"
        setting = None
    if setting is not None:
        return setting == "ask"  # set by the user: every tool of the entry
    if entry in _ALWAYS_ASK:
        return True
    return entry == "files" and tool_name in _FILES_WRITING


def mcp_asks(
    setting: Setting, server_setting: Mode | None, allow_listed: bool, tool_name: str
) -> bool:
    """Whether a call of an MCP tool waits: the entry's setting (per tool, then ``*``), the
    server's, then the default (allow-listed tools run, the others ask)."""
    if isinstance(setting, dict):
        mode = setting.get(tool_name) or setting.get(OTHER_TOOLS)
        if mode is not None:
            return mode == "ask"
    elif setting is not None:
        return setting == "ask"
    if server_setting is not None:
        return server_setting == "ask"
    return not allow_listed


def always_allowed(setting: Setting, rule: ApprovalRule, tool_name: str) -> Setting:
    """The entry's new setting once the user chose "Always allow" for ``tool_name``: only
    that tool, so an entry of several tools (an MCP server, ``files``) gets a mapping.

    Raises ``ValueError`` for a tool named ``*``, which would stand for every tool."""
    if tool_name == OTHER_TOOLS:
        raise ValueError("a tool named '*' cannot be always allowed")
    if rule.entry not in MAPPED:
        return "auto"
    modes = dict(setting) if isinstance(setting, dict) else {}
    if isinstance(setting, str):
        modes.setdefault(OTHER_TOOLS, setting)
    modes[tool_name] = "auto"
    return modes
