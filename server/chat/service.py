"""The chat completions service: request in, agent turn run, completion or stream out."""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING

from server.agents.events import ClientToolCalls, RunDone, RunEvent, TextDelta, ToolStarted
from server.chat.planning import Plan, Planner
from server.chat.rendering import TOOL_EVENT_FORMATS, ContentRenderer
from server.chat.turn_task import Interrupted, TurnTask
from server.errors import InvalidRequest, Overloaded, TraymindError
from server.openai.chat_request import ChatTurn, parse_chat_turn
from server.openai.sse import DONE, ChunkEncoder
from server.openai.wire import (
    AssistantMessage,
    ChatCompletion,
    Choice,
    FunctionCall,
    ToolCall,
    Usage,
)
from server.sessions import SessionRef, session_ref
from server.sessions.attachments import keep_out
from server.status import RunTicket, client_kind

if TYPE_CHECKING:
    from server.state import ServerState

log = logging.getLogger(__name__)

DEFAULT_CONTEXT_TOKENS = 32_768
CHARS_PER_TOKEN = 3  # a cautious estimate: trimming must leave room for the reply


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is asking: the session namespace of their key (``noauth`` without one)."""

    namespace: str
    key_source: str = "unauthenticated local"


@dataclass(frozen=True, slots=True)
class StartedTurn:
    """A turn that is running: what the response names and where its events come from."""

    model_id: str  # the resolved agent, ``team/x``, or the request's model
    show_tool_calls: bool
    task: TurnTask
    session: SessionRef | None
    tool_format: str = "traymind"  # "openwebui": tool calls as Open WebUI's details blocks

    def renderer(self) -> ContentRenderer:
        return ContentRenderer(show_tool_calls=self.show_tool_calls, tool_format=self.tool_format)


def _store_turn(state: ServerState, ref: SessionRef, turn_json: bytes) -> int:
    """Store a completed turn, its attachments as files beside the store (off the loop)."""
    return state.store.append_turn(ref, keep_out(turn_json, state.data_dir))


def requested_tool_format(headers: Mapping[str, str]) -> str | None:
    """``X-Tool-Event-Format`` when a client sends it (it wins over the agent's setting)."""
    asked = headers.get("x-tool-event-format")
    if asked is None:
        return None
    if asked.strip().lower() not in TOOL_EVENT_FORMATS:
        raise InvalidRequest(
            f"X-Tool-Event-Format must be one of {', '.join(TOOL_EVENT_FORMATS)}.",
            param="X-Tool-Event-Format",
        )
    return asked.strip().lower()


def completion_id() -> str:
    return "chatcmpl-" + secrets.token_hex(12)


def interrupted_sentence(reason: str) -> str:
    return f"\n\n[Traymind stopped this answer: {reason}.]"


class ChatService:
    """Runs one agent turn per request against the current config generation."""

    def __init__(self, state: ServerState) -> None:
        self._state = state

    async def complete(
        self, body: dict[str, object], caller: Caller, headers: Mapping[str, str]
    ) -> ChatCompletion | AsyncIterator[bytes]:
        """A whole completion, or an SSE byte stream whose first event is already known."""
        turn = parse_chat_turn(body, self._state.generation.config.server.max_image_bytes)
        started = await self.start(turn, caller, headers)
        renderer = started.renderer()
        if turn.stream:
            return await self._stream(turn, started, renderer)
        return await self._collect(started, renderer)

    async def start(
        self, turn: ChatTurn, caller: Caller, headers: Mapping[str, str]
    ) -> StartedTurn:
        """Plan and start one turn; every API surface (chat completions, Responses,
        Messages) reads its events and encodes them its own way, then calls ``finish``."""
        generation = self._state.generation
        target = generation.catalog.resolve(turn.model)
        if len(self._state.turns) >= self._state.max_turns:
            raise Overloaded(
                "Traymind is busy with too many requests; try again shortly.",
                headers={"Retry-After": "1"},
            )
        asked_format = requested_tool_format(headers)  # a bad header is refused before any run
        plan = await Planner(self._state, generation).plan(turn, target, caller.namespace, headers)
        ref = (
            session_ref(headers, caller.namespace, plan.history_key, turn.user_session)
            if plan.history_key
            else None
        )
        tool_format = asked_format or plan.tool_event_format
        task = self._start_turn(turn, plan, ref, headers, caller)
        return StartedTurn(plan.model_id, plan.show_tool_calls, task, ref, tool_format)

    async def first_event(self, started: StartedTurn) -> RunEvent | Interrupted | None:
        """A stream's first event, awaited before any byte so that early failures are plain
        HTTP errors; a failure finishes the turn."""
        try:
            return await started.task.next()
        except BaseException:
            await self.finish(started)
            raise

    async def finish(self, started: StartedTurn) -> None:
        """Release a started turn (cancelling it if it still runs); always call it."""
        # Synchronous bookkeeping first: under a cancelled scope every await raises again.
        self._state.turns.discard(started.task)
        await started.task.close()

    def _start_turn(
        self,
        turn: ChatTurn,
        plan: Plan,
        ref: SessionRef | None,
        headers: Mapping[str, str],
        caller: Caller,
    ) -> TurnTask:
        state = self._state
        budget = self._char_budget(plan.model_name)
        ticket = state.status.run_started(
            plan.model_id,
            turn.model,
            ref.short if ref else None,
            client_kind(headers),
            turn.stream,
            key_source=caller.key_source,
            namespace=caller.namespace,
        )
        extra_in, extra_out = plan.extra_usage

        async def produce(queue: asyncio.Queue[object]) -> None:
            status, error = 200, None
            try:
                async with state.locks.hold(ref) if ref else nullcontext(), state.run_slots:
                    stored = (
                        await asyncio.to_thread(state.store.recent_turns, ref, budget)
                        if ref is not None
                        else []
                    )
                    prior = [] if stored else turn.prior
                    async for event in plan.run(stored, prior):
                        if isinstance(event, RunDone):
                            if ref is not None and event.new_messages_json is not None:
                                ticket.stored_turns = await asyncio.to_thread(
                                    _store_turn, state, ref, event.new_messages_json
                                )
                            event = RunDone(
                                event.input_tokens + extra_in,
                                event.output_tokens + extra_out,
                                event.new_messages_json,
                            )
                        _noted(ticket, event)
                        queue.put_nowait(event)
            except asyncio.CancelledError:
                status, error = 499, "cancelled"
                raise
            except TraymindError as exc:
                status, error = exc.status, exc.message
                log.warning("%s failed (%d): %s", plan.model_id, exc.status, exc.message)
                raise
            finally:
                state.status.run_finished(ticket, status, error)

        task = TurnTask(produce)
        state.turns.add(task)
        task.start()
        return task

    def _char_budget(self, model_name: str) -> int:
        model = self._state.generation.config.models.get(model_name)
        tokens = (model.context_window if model else None) or DEFAULT_CONTEXT_TOKENS
        return tokens * CHARS_PER_TOKEN

    async def _collect(self, started: StartedTurn, renderer: ContentRenderer) -> ChatCompletion:
        task = started.task
        parts: list[str] = []
        calls: list[ToolCall] = []
        usage = Usage()
        try:
            while (event := await task.next()) is not None:
                if isinstance(event, Interrupted):
                    raise TraymindError(f"The answer was interrupted: {event.reason}.")
                if isinstance(event, RunDone):
                    usage = Usage.of(event.input_tokens, event.output_tokens)
                elif isinstance(event, ClientToolCalls):
                    calls += [
                        ToolCall(id=c.id, function=FunctionCall(name=c.name, arguments=c.arguments))
                        for c in event.calls
                    ]
                else:
                    parts.append(renderer.render(event))
        finally:
            await self.finish(started)
        return ChatCompletion(
            id=completion_id(),
            created=int(time.time()),
            model=started.model_id,
            choices=[
                Choice(
                    message=AssistantMessage(content="".join(parts) or None, tool_calls=calls)
                    if calls
                    else AssistantMessage(content="".join(parts)),
                    finish_reason="tool_calls" if calls else "stop",
                )
            ],
            usage=usage,
        )

    async def _stream(
        self, turn: ChatTurn, started: StartedTurn, renderer: ContentRenderer
    ) -> AsyncIterator[bytes]:
        first = await self.first_event(started)
        encoder = ChunkEncoder(
            completion_id(), int(time.time()), started.model_id, include_usage=turn.include_usage
        )
        return self._stream_body(first, started, renderer, encoder, turn.include_usage)

    async def _stream_body(
        self,
        first: RunEvent | Interrupted | None,
        started: StartedTurn,
        renderer: ContentRenderer,
        encoder: ChunkEncoder,
        include_usage: bool,
    ) -> AsyncIterator[bytes]:
        task = started.task
        usage: RunDone | None = None
        finish_reason = "stop"
        # Chunks already waiting go out in one write: under load, one send per chunk is what
        # delays every stream's next chunk.
        pending = [encoder.role()]
        try:
            event = first
            while event is not None:
                if isinstance(event, Interrupted):
                    pending.append(
                        encoder.content(
                            renderer.close_interrupted() + interrupted_sentence(event.reason)
                        )
                    )
                    break
                if isinstance(event, RunDone):
                    usage = event
                elif isinstance(event, ClientToolCalls):
                    pending.append(encoder.tool_calls(event.calls))
                    finish_reason = "tool_calls"
                elif isinstance(event, TextDelta):
                    pending.append(encoder.content(event.text))
                else:
                    text = renderer.render(event)
                    if text:
                        pending.append(encoder.content(text))
                if pending and not task.ready():
                    yield b"".join(pending)
                    pending = []
                try:
                    event = await task.next()
                except TraymindError as exc:
                    pending.append(
                        encoder.content(
                            renderer.close_interrupted() + f"\n\n[Traymind: {exc.message}]"
                        )
                    )
                    break
            pending.append(encoder.finish(finish_reason))
            if include_usage:
                pending.append(
                    encoder.usage(
                        usage.input_tokens if usage else 0, usage.output_tokens if usage else 0
                    )
                )
            pending.append(DONE)
            yield b"".join(pending)
        finally:
            await self.finish(started)


def _noted(ticket: RunTicket, event: RunEvent) -> None:
    """What the request's record shows of its run: first event, tool calls, usage."""
    record = ticket.record
    if record is None:
        return
    if record.first_event_ms is None:
        record.first_event_ms = round((time.time() - record.time) * 1000, 2)
    if isinstance(event, ToolStarted):
        record.tools.append(event.name)
    elif isinstance(event, RunDone):
        record.input_tokens, record.output_tokens = event.input_tokens, event.output_tokens
