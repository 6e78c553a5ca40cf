"""One Responses request: the chat service's turn, answered and stored as a response."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any

from server.agents.events import RunDone, RunEvent
from server.chat.service import Caller, ChatService, StartedTurn
from server.chat.turn_task import Interrupted
from server.errors import InvalidRequest, NotFound, TraymindError
from server.responses.encoding import ResponseEvents, ResponseShell, response_id
from server.responses.request import Previous, ResponsesTurn, parse_responses

if TYPE_CHECKING:
    from server.state import ServerState

log = logging.getLogger(__name__)


class ResponsesService:
    def __init__(self, state: ServerState) -> None:
        self._state = state
        self._chat = ChatService(state)

    async def create(
        self, body: dict[str, Any], caller: Caller, headers: Mapping[str, str]
    ) -> dict[str, Any] | AsyncIterator[bytes]:
        previous = await self._previous(body.get("previous_response_id"), caller)
        limit = self._state.generation.config.server.max_image_bytes
        request = parse_responses(body, previous, limit)
        resp_id = response_id()
        turn = request.turn
        if request.store and turn.user_session is None:
            turn = dataclasses.replace(turn, user_session=f"responses:{resp_id}")
        started = await self._chat.start(turn, caller, headers)
        shell = ResponseShell(resp_id, started.model_id, body)
        if turn.stream:
            first = await self._chat.first_event(started)
            return self._stream(started, first, shell, request, caller)
        try:
            answer = await self._collect(started, shell)
        finally:
            await self._chat.finish(started)
        await self._keep(request, caller, started, answer)
        return answer

    async def retrieve(self, resp_id: str, caller: Caller) -> dict[str, Any]:
        row = await asyncio.to_thread(self._state.store.response, caller.namespace, resp_id)
        if row is None:
            raise NotFound(f"No response with id '{resp_id}' is stored.", param="response_id")
        return json.loads(row[2])

    async def _previous(self, previous_id: object, caller: Caller) -> Previous | None:
        if previous_id is None:
            return None
        if not isinstance(previous_id, str) or not previous_id:
            raise InvalidRequest(
                "'previous_response_id' must be a response id.", param="previous_response_id"
            )
        row = await asyncio.to_thread(self._state.store.response, caller.namespace, previous_id)
        if row is None:
            raise NotFound(
                f"Previous response with id '{previous_id}' not found.",
                param="previous_response_id",
            )
        session, prompt_json, stored = row
        calls = [
            i for i in json.loads(stored).get("output", []) if i.get("type") == "function_call"
        ]
        return Previous(session, prompt_json, calls)

    async def _keep(
        self,
        request: ResponsesTurn,
        caller: Caller,
        started: StartedTurn,
        answer: dict[str, Any],
    ) -> None:
        """Store a response that ``previous_response_id`` or a GET may name later."""
        if not request.store or started.session is None:
            return
        try:
            await asyncio.to_thread(
                self._state.store.save_response,
                caller.namespace,
                answer["id"],
                started.session.session_id,
                request.prompt_json,
                json.dumps(answer, ensure_ascii=False),
            )
        except TraymindError as exc:  # the client has its answer; only the chaining is lost
            log.warning("response %s not stored: %s", answer["id"], exc.message)

    async def _collect(self, started: StartedTurn, shell: ResponseShell) -> dict[str, Any]:
        events = ResponseEvents(shell, show_tools=started.show_tool_calls)
        tokens = (0, 0)
        while (event := await started.task.next()) is not None:
            if isinstance(event, Interrupted):
                raise TraymindError(f"The answer was interrupted: {event.reason}.")
            if isinstance(event, RunDone):
                tokens = (event.input_tokens, event.output_tokens)
            else:
                events.add(event)
        return events.completed(tokens)[1]

    async def _stream(
        self,
        started: StartedTurn,
        first: RunEvent | Interrupted | None,
        shell: ResponseShell,
        request: ResponsesTurn,
        caller: Caller,
    ) -> AsyncIterator[bytes]:
        events = ResponseEvents(shell, show_tools=started.show_tool_calls)
        pending = [events.start()]
        tokens = (0, 0)
        final: dict[str, Any] | None = None
        try:
            event = first
            while event is not None:
                if isinstance(event, Interrupted):
                    closing, final = events.failed(f"The answer was interrupted: {event.reason}.")
                    pending.append(closing)
                    break
                if isinstance(event, RunDone):
                    tokens = (event.input_tokens, event.output_tokens)
                else:
                    pending.append(events.add(event))
                if pending and not started.task.ready():
                    yield b"".join(pending)
                    pending = []
                try:
                    event = await started.task.next()
                except TraymindError as exc:
                    closing, final = events.failed(exc.message)
                    pending.append(closing)
                    break
            if final is None:
                closing, final = events.completed(tokens)
                pending.append(closing)
            yield b"".join(pending)
        finally:
            await self._chat.finish(started)
        if final["status"] == "completed":
            await self._keep(request, caller, started, final)
