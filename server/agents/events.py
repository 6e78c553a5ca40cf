"""What an agent run yields, independent of pydantic-ai (which is imported lazily)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from server.openai.client_tools import ClientCall


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
class ClientToolCalls:
    """The turn pauses here: the client runs these calls and sends their results back."""

    calls: tuple[ClientCall, ...]


@dataclass(frozen=True, slots=True)
class ApprovalRequests:
    """The turn pauses here: the client asks its user about these calls of the agent's own
    tools (Responses API ``mcp_approval_request``) and sends the answers back."""

    calls: tuple[ClientCall, ...]


@dataclass(frozen=True, slots=True)
class RunDone:
    """The run's end: summed usage and the new messages to store (pydantic-ai JSON).

    ``new_messages_json`` is None when the turn is not complete yet (it paused for the
    client's tools): nothing is stored until the turn ends.
    """

    input_tokens: int
    output_tokens: int
    new_messages_json: bytes | None


RunEvent = TextDelta | ToolStarted | ToolFinished | ClientToolCalls | ApprovalRequests | RunDone
