"""One Messages request: the same turn chat completions run, encoded the Anthropic way."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any

from server.agents.events import ClientToolCalls, RunDone, RunEvent
from server.anthropic.encoding import MessageEvents, message, message_id
from server.anthropic.errors import error_type
from server.anthropic.request import parse_messages
from server.chat.service import Caller, ChatService, StartedTurn
from server.chat.turn_task import Interrupted
from server.errors import TraymindError
from server.openai.client_tools import ClientCall

if TYPE_CHECKING:
    from server.state import ServerState


class MessagesService:
    def __init__(self, state: ServerState) -> None:
        self._state = state
        self._chat = ChatService(state)

    async def create(
        self, body: dict[str, Any], caller: Caller, headers: Mapping[str, str]
    ) -> dict[str, Any] | AsyncIterator[bytes]:
        """The whole message, or its event stream once the first event is known."""
        turn = parse_messages(body, self._state.generation.config.server.max_image_bytes)
        started = await self._chat.start(turn, caller, headers)
        if turn.stream:
            first = await self._chat.first_event(started)
            return self._stream(started, first)
        try:
            return await self._collect(started)
        finally:
            await self._chat.finish(started)

    async def _collect(self, started: StartedTurn) -> dict[str, Any]:
        renderer = started.renderer()
        parts: list[str] = []
        calls: list[ClientCall] = []
        tokens = (0, 0)
        while (event := await started.task.next()) is not None:
            if isinstance(event, Interrupted):
                raise TraymindError(f"The answer was interrupted: {event.reason}.")
            if isinstance(event, RunDone):
                tokens = (event.input_tokens, event.output_tokens)
            elif isinstance(event, ClientToolCalls):
                calls += event.calls
            else:
                parts.append(renderer.render(event))
        return message(message_id(), started.model_id, "".join(parts), calls, *tokens)

    async def _stream(
        self, started: StartedTurn, first: RunEvent | Interrupted | None
    ) -> AsyncIterator[bytes]:
        renderer = started.renderer()
        events = MessageEvents(message_id(), started.model_id)
        pending = [events.start()]
        output_tokens, stop_reason = 0, "end_turn"
        try:
            event = first
            while event is not None:
                if isinstance(event, Interrupted):
                    pending.append(events.error("overloaded_error", event.reason))
                    yield b"".join(pending)
                    return
                if isinstance(event, RunDone):
                    output_tokens = event.output_tokens
                elif isinstance(event, ClientToolCalls):
                    pending.append(events.tool_calls(event.calls))
                    stop_reason = "tool_use"
                else:
                    text = renderer.render(event)
                    if text:
                        pending.append(events.text(text))
                if pending and not started.task.ready():
                    yield b"".join(pending)
                    pending = []
                try:
                    event = await started.task.next()
                except TraymindError as exc:
                    pending.append(events.error(error_type(exc.status), exc.message))
                    yield b"".join(pending)
                    return
            pending.append(events.finish(stop_reason, output_tokens))
            yield b"".join(pending)
        finally:
            await self._chat.finish(started)
