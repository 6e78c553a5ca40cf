"""The server's inline ``<tool>`` tags, read back into text and tool blocks.

The server writes tool events into the answer's content (``server/agents/tool_tags.py``,
documented in docs/api.md):

    <tool id="1" state="start">calculator(expression=6*7)</tool>
    <tool id="1" state="done">calculator(expression=6*7)
    42</tool>

A start and its done tag share an id; the body is HTML-escaped; newlines inside values
were turned into spaces, so the first newline of a done body separates the call from
its result; a tool cut short reads ``(interrupted)``. This module turns (possibly still
streaming) content into ``Text`` and ``ToolBlock`` segments, one block per id, in the
order the calls started. No Qt here: the chat window renders the segments.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Literal

TAG = re.compile(r'<tool id="(\d+)" state="(start|done)">(.*?)</tool>', re.DOTALL)
OPENING = "<tool"
INTERRUPTED = "(interrupted)"

ToolState = Literal["running", "done", "interrupted"]


@dataclass(slots=True)
class Text:
    """Answer text between tool events, as the model wrote it."""

    text: str


@dataclass(slots=True)
class ToolBlock:
    """One tool call: its name, its arguments as the server showed them, and its result."""

    id: int
    name: str
    arguments: str
    result: str | None = None  # None while it runs
    state: ToolState = "running"


Segment = Text | ToolBlock


def split_call(call: str) -> tuple[str, str]:
    """``calculator(expression=6*7)`` -> ``("calculator", "expression=6*7")``."""
    name, paren, rest = call.partition("(")
    if not paren:
        return call.strip(), ""
    return name.strip(), rest[:-1] if rest.endswith(")") else rest


def pending_tail(text: str) -> int:
    """Where an unfinished tag may begin at the end of ``text`` (``len(text)`` if none).

    A stream can stop between the bytes of one tag; what could still become a tag is
    held back rather than shown as text for a moment.
    """
    start = text.rfind(OPENING)
    if start != -1:
        return start
    for size in range(len(OPENING) - 1, 0, -1):
        if text.endswith(OPENING[:size]):
            return len(text) - size
    return len(text)


def _apply(blocks: dict[int, ToolBlock], tool_id: int, state: str, body: str) -> ToolBlock | None:
    """Record one tag; returns the block when it is new (to be placed where it started)."""
    body = html.unescape(body)
    block = blocks.get(tool_id)
    if state == "start":
        name, arguments = split_call(body)
        if block is None:
            blocks[tool_id] = block = ToolBlock(tool_id, name, arguments)
            return block
        block.name, block.arguments = name, arguments
        return None
    if body == INTERRUPTED:
        result, new_state, call = INTERRUPTED, "interrupted", None
    else:
        call, _, result = body.partition("\n")
        new_state = "done"
    if block is None:  # a done tag whose start we never saw
        name, arguments = split_call(call or "")
        blocks[tool_id] = block = ToolBlock(tool_id, name, arguments)
        created = True
    else:
        created = False
        if call is not None:
            block.name, block.arguments = split_call(call)
    block.result, block.state = result, new_state
    return block if created else None


def parse(content: str, *, final: bool = True) -> list[Segment]:
    """Text and tool blocks of ``content``; ``final=False`` while it is still streaming."""
    segments: list[Segment] = []
    blocks: dict[int, ToolBlock] = {}
    position = 0
    for match in TAG.finditer(content):
        if match.start() > position:
            segments.append(Text(content[position : match.start()]))
        new = _apply(blocks, int(match.group(1)), match.group(2), match.group(3))
        if new is not None:
            segments.append(new)
        position = match.end()
    tail = content[position:]
    if not final:
        tail = tail[: pending_tail(tail)]
    if tail:
        segments.append(Text(tail))
    return _merge_text(segments)


def _merge_text(segments: list[Segment]) -> list[Segment]:
    merged: list[Segment] = []
    for segment in segments:
        if isinstance(segment, Text) and merged and isinstance(merged[-1], Text):
            merged[-1] = Text(merged[-1].text + segment.text)
        else:
            merged.append(segment)
    return merged
