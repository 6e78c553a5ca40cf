"""What an agent run yields, independent of pydantic-ai (which is imported lazily)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TextDelta:
    text: str


@dataclass(frozen=True, slots=True)
class ToolStarted:
    call_id: str
    name: str
    args: Mapping[str, object]


@dataclass(frozen=True, slots=True)
class ToolFinished:
    call_id: str
    name: str
    args: Mapping[str, object]
    result: object


@dataclass(frozen=True, slots=True)
class RunDone:
    """The run's end: summed usage and the new messages to store (pydantic-ai JSON)."""

    input_tokens: int
    output_tokens: int
    new_messages_json: bytes


RunEvent = TextDelta | ToolStarted | ToolFinished | RunDone
