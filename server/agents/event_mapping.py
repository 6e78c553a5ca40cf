"""pydantic-ai's stream events mapped to ours (text deltas and tool starts/ends)."""

from __future__ import annotations

from collections.abc import Container

from pydantic_ai.messages import (
    FunctionToolCallEvent,
    FunctionToolResultEvent,
    PartDeltaEvent,
    PartStartEvent,
    TextPart,
    TextPartDelta,
)

from server.agents.events import RunEvent, TextDelta, ToolFinished, ToolStarted


class EventMapper:
    """Maps one run's events; remembers each call's arguments for its done tag."""

    def __init__(self, *, text: bool = True, skip_tools: Container[str] = ()) -> None:
        self._text = text
        self._skip = skip_tools
        self._calls: dict[str, ToolStarted] = {}

    def map(self, event: object) -> RunEvent | None:
        if isinstance(event, PartStartEvent) and isinstance(event.part, TextPart):
            return TextDelta(event.part.content) if self._text and event.part.content else None
        if isinstance(event, PartDeltaEvent) and isinstance(event.delta, TextPartDelta):
            delta = event.delta.content_delta
            return TextDelta(delta) if self._text and delta else None
        if isinstance(event, FunctionToolCallEvent):
            part = event.part
            if part.tool_name in self._skip:
                return None
            try:
                args = part.args_as_dict()
            except ValueError:
                args = {"arguments": part.args}
            started = ToolStarted(part.tool_call_id, part.tool_name, args)
            self._calls[part.tool_call_id] = started
            return started
        if isinstance(event, FunctionToolResultEvent):
            result = event.part
            if result.tool_name in self._skip:
                return None
            started = self._calls.pop(result.tool_call_id, None)
            args = started.args if started else {}
            return ToolFinished(result.tool_call_id, result.tool_name, args, result.content)
        return None
