"""What the config editor edits, as plain values: an agent and a team.

A spec is read from the file's entry as it is (not validated: the file may be half
fixed) and written back with ``updated``, which changes only the keys whose meaning
changed. A key already in the file is set even to its default (its line and comment
stay); a key the file lacks is added only when it differs from the default; a value
emptied (no text, no items) removes its key. Keys a spec does not know (MindRoom's,
``worker_scope``, ``private``...) are never touched.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from server.tools.ref import ToolRef

DEFAULT_MODEL = "default"
TEAM_MODES = ("coordinate", "collaborate")
PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n\s*")


def instructions_text(instructions: list[str]) -> str:
    """Instructions as one text: each one a paragraph (the model sees them joined the same way)."""
    return "\n\n".join(item.strip("\n") for item in instructions)


def instructions_from_text(text: str) -> list[str]:
    """One instruction per paragraph; a paragraph of several lines is kept whole, ending in a
    line break, so that config.yaml holds it as a literal block (``|``)."""
    paragraphs = [p.strip() for p in PARAGRAPH_BREAK.split(text.strip())]
    return [p + "\n" if "\n" in p else p for p in paragraphs if p]


def tool_entry(ref: ToolRef) -> str | dict[str, Any]:
    """A tool as config.yaml writes it: ``calculator`` or ``{files: {roots: [...]}}``."""
    return {ref.name: dict(ref.options)} if ref.options else ref.name


@dataclass
class AgentSpec:
    """``agents.<id>`` as the Agents window shows it."""

    id: str
    display_name: str = ""
    role: str = ""
    model: str = DEFAULT_MODEL
    instructions: list[str] = field(default_factory=list)
    tools: list[ToolRef] = field(default_factory=list)  # in the file's order; mcp entries too
    knowledge_bases: list[str] = field(default_factory=list)
    memory: bool = False
    memory_shared: bool = False
    show_tool_calls: bool = True
    tool_event_format: str = "traymind"  # "openwebui": Open WebUI's own tool panels
    client_tools: bool = True

    @classmethod
    def from_entry(cls, agent_id: str, entry: object) -> AgentSpec:
        """The spec of a file's entry; raises ``ValueError`` naming a tool entry it cannot read."""
        entry = entry if isinstance(entry, Mapping) else {}
        memory = entry.get("memory")
        return cls(
            id=agent_id,
            display_name=_text(entry.get("display_name")),
            role=_text(entry.get("role")),
            model=_text(entry.get("model")) or DEFAULT_MODEL,
            instructions=_instructions(entry.get("instructions")),
            tools=_tools(entry.get("tools")),
            knowledge_bases=[str(b) for b in _list(entry.get("knowledge_bases"))],
            memory=bool(memory) if not isinstance(memory, Mapping) else True,
            memory_shared=isinstance(memory, Mapping) and bool(memory.get("shared")),
            show_tool_calls=entry.get("show_tool_calls") is not False,
            tool_event_format=_text(entry.get("tool_event_format")) or "traymind",
            client_tools=entry.get("client_tools") is not False,
        )

    def updated(self, entry: object) -> dict[str, Any]:
        """``entry`` (the file's mapping for this agent) changed to say what this spec says."""
        entry = dict(entry) if isinstance(entry, Mapping) else {}
        was = AgentSpec.from_entry(self.id, entry)
        if self.display_name != was.display_name:
            _put(entry, "display_name", self.display_name, "")
        if self.role != was.role:
            _put(entry, "role", self.role, "")
        if self.model != was.model:
            _put(entry, "model", self.model, DEFAULT_MODEL)
        if _stripped(self.instructions) != _stripped(was.instructions):
            _put(entry, "instructions", _shaped(self.instructions, entry.get("instructions")), [])
        if self.tools != was.tools:
            _put(entry, "tools", _tool_entries(self.tools, entry.get("tools")), [])
        if self.knowledge_bases != was.knowledge_bases:
            _put(entry, "knowledge_bases", list(self.knowledge_bases), [])
        if (self.memory, self.memory and self.memory_shared) != (
            was.memory,
            was.memory and was.memory_shared,
        ):
            memory: object = {"shared": True} if self.memory and self.memory_shared else self.memory
            _put(entry, "memory", memory, False)
        if self.show_tool_calls != was.show_tool_calls:
            _put(entry, "show_tool_calls", self.show_tool_calls, True)
        if self.tool_event_format != was.tool_event_format:
            _put(entry, "tool_event_format", self.tool_event_format, "traymind")
        if self.client_tools != was.client_tools:
            _put(entry, "client_tools", self.client_tools, True)
        return entry


@dataclass
class TeamSpec:
    """``teams.<id>`` as the Agents window shows it."""

    id: str
    display_name: str = ""
    role: str = ""
    members: list[str] = field(default_factory=list)  # the ``agents:`` key
    mode: str = TEAM_MODES[0]
    model: str = DEFAULT_MODEL

    @classmethod
    def from_entry(cls, team_id: str, entry: object) -> TeamSpec:
        entry = entry if isinstance(entry, Mapping) else {}
        return cls(
            id=team_id,
            display_name=_text(entry.get("display_name")),
            role=_text(entry.get("role")),
            members=[str(m) for m in _list(entry.get("agents"))],
            mode=_text(entry.get("mode")) or TEAM_MODES[0],
            model=_text(entry.get("model")) or DEFAULT_MODEL,
        )

    def updated(self, entry: object) -> dict[str, Any]:
        entry = dict(entry) if isinstance(entry, Mapping) else {}
        was = TeamSpec.from_entry(self.id, entry)
        if self.display_name != was.display_name:
            _put(entry, "display_name", self.display_name, "")
        if self.role != was.role:
            _put(entry, "role", self.role, "")
        if self.members != was.members:
            entry["agents"] = list(self.members)  # required: even empty, so the schema says so
        if self.mode != was.mode:
            _put(entry, "mode", self.mode, TEAM_MODES[0])
        if self.model != was.model:
            _put(entry, "model", self.model, DEFAULT_MODEL)
        return entry


def _put(entry: dict[str, Any], key: str, value: object, default: object) -> None:
    if value in ("", []):
        entry.pop(key, None)
    elif key in entry or value != default:
        entry[key] = value


def _text(value: object) -> str:
    return "" if value is None else str(value)


def _list(value: object) -> list[Any]:
    return list(value) if isinstance(value, list) else []


def _instructions(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    return [str(item) for item in _list(value) if item is not None]


def _stripped(items: list[str]) -> list[str]:
    return [item.strip() for item in items]


def _shaped(instructions: list[str], current: object) -> str | list[str]:
    """A single text stays a single text (a literal block when it has several lines)."""
    if not isinstance(current, str) or not instructions:
        return list(instructions)
    joined = instructions_text(instructions)
    return joined + "\n" if "\n" in joined else joined


def _tools(value: object) -> list[ToolRef]:
    refs = []
    for index, entry in enumerate(_list(value)):
        try:
            refs.append(ToolRef.model_validate(entry))
        except ValidationError:
            raise ValueError(f"tools[{index}] is not a tool entry Traymind can read") from None
    return refs


def _tool_entries(refs: list[ToolRef], current: object) -> list[Any]:
    """The new ``tools:`` list, reusing the file's own entry for each tool that did not change."""
    written: list[tuple[ToolRef, object]] = []
    for entry in _list(current):
        try:
            written.append((ToolRef.model_validate(entry), entry))
        except ValidationError:
            continue
    return [next((e for r, e in written if r == ref), tool_entry(ref)) for ref in refs]
