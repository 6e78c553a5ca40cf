"""The stand-in's ASGI application: routes, recording, scripted chat answers."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from . import anthropic_wire, wire
from .replies import Reply
from .state import RecordedRequest, UpstreamState

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

JSON_HEADERS = [(b"content-type", b"application/json")]
SSE_HEADERS = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]


class ResponseSender:
    """Wraps ASGI `send`, remembering whether the response has started."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self.started = False

    async def start(self, status: int, headers: list[tuple[bytes, bytes]]) -> None:
        """Send the status line and headers."""
        self.started = True
        await self._send({"type": "http.response.start", "status": status, "headers": headers})

    async def body(self, data: bytes, *, more: bool = False) -> None:
        """Send part of the body; the last part has `more=False`."""
        await self._send({"type": "http.response.body", "body": data, "more_body": more})

    async def json(
        self, status: int, value: Any, headers: list[tuple[bytes, bytes]] | None = None
    ) -> None:
        """A whole JSON response (`headers` may override its content type)."""
        data = wire.dumps(value)
        headers = [*(headers or []), (b"content-length", str(len(data)).encode())]
        if not any(name == b"content-type" for name, _ in headers):
            headers = [*JSON_HEADERS, *headers]
        await self.start(status, headers)
        await self.body(data)


class UpstreamApp:
    """Serves the OpenAI-compatible routes from an `UpstreamState`."""

    def __init__(self, state: UpstreamState) -> None:
        self.state = state
        self.closing = asyncio.Event()
        """Set (from the server's loop) when the server stops: every pending answer ends."""

    async def __call__(self, scope: Message, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        record = RecordedRequest(
            method=scope["method"],
            path=scope["path"],
            headers={k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]},
            body=None,
            raw=b"",
            started_at=time.monotonic(),
            query=scope.get("query_string", b"").decode("latin-1"),
        )
        try:
            record.raw, complete = await _read_body(receive)
            record.body = _parse_json(record.raw)
            self.state.record(record)
            if not complete:
                record.disconnected = True
                return
            await self._route(record, receive, ResponseSender(send))
        finally:
            record.finished_at = time.monotonic()

    async def _route(self, record: RecordedRequest, receive: Receive, out: ResponseSender) -> None:
        method, path = record.method, record.path.rstrip("/")
        if path == "/v1/chat/completions" and method == "POST":
            await self._chat(record, receive, out)
        elif path == "/v1/messages" and method == "POST":
            await self._messages(record, receive, out)
        elif path == "/v1/models" and method == "GET":
            await out.json(200, wire.models_body(self.state.models))
        elif path.startswith("/v1/models/") and method == "GET":
            model = path.removeprefix("/v1/models/")
            if model in self.state.models:
                await out.json(200, wire.model_body(model))
            else:
                await out.json(404, wire.error_body(404, f"The model '{model}' does not exist"))
        elif path == "/v1/embeddings" and method == "POST":
            if not isinstance(record.body, dict):
                await out.json(400, wire.error_body(400, "Request body must be a JSON object"))
            else:
                await out.json(200, wire.embeddings_body(record.body))
        else:
            await out.json(404, wire.error_body(404, f"Unknown request URL: {method} {path}"))

    async def _chat(self, record: RecordedRequest, receive: Receive, out: ResponseSender) -> None:
        body = record.body
        if not isinstance(body, dict):
            await out.json(400, wire.error_body(400, "Request body must be a JSON object"))
            return
        reply = record.reply = self.state.next_reply(body)
        streaming = body.get("stream") is True
        if streaming:
            self.state.stream_opened()
        try:
            outcome = await self._race(self._answer(reply, body, out), receive)
            if outcome == "disconnect":
                record.disconnected = True
                if streaming:
                    self.state.count_cancelled()
            elif outcome == "closing" and not out.started:
                await out.json(503, wire.error_body(503, "Upstream stand-in is stopping"))
        finally:
            if streaming:
                self.state.stream_closed()

    async def _messages(
        self, record: RecordedRequest, receive: Receive, out: ResponseSender
    ) -> None:
        """Anthropic's Messages API: text and tool-call replies, whole or streamed."""
        body = record.body
        if not isinstance(body, dict):
            await out.json(400, anthropic_wire.error_body(400, "Body must be a JSON object"))
            return
        reply = record.reply = self.state.next_reply()
        outcome = await self._race(self._anthropic_answer(reply, body, out), receive)
        if outcome == "disconnect":
            record.disconnected = True

    async def _anthropic_answer(
        self, reply: Reply, body: dict[str, Any], out: ResponseSender
    ) -> None:
        if reply.kind == "error":
            headers = [(k.lower().encode(), v.encode()) for k, v in reply.headers]
            error = anthropic_wire.error_body(reply.status, reply.message)
            await out.json(reply.status, error, headers)
            return
        message_id, model = f"msg_{self.state.next_id()}", str(body.get("model", ""))
        if body.get("stream") is not True:
            await out.json(200, anthropic_wire.message_body(reply, message_id, model))
            return
        await out.start(200, SSE_HEADERS)
        for pause, event in anthropic_wire.stream_events(reply, message_id, model):
            await _pause(pause)
            await out.body(event, more=True)
        await out.body(b"")

    async def _race(self, answer: Awaitable[None], receive: Receive) -> str:
        """Run `answer` until it ends ("done"), the client leaves or the server stops."""
        tasks = {
            "done": asyncio.ensure_future(answer),
            "disconnect": asyncio.ensure_future(_wait_disconnect(receive)),
            "closing": asyncio.ensure_future(self.closing.wait()),
        }
        try:
            done, _ = await asyncio.wait(tasks.values(), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks.values():
                task.cancel()
            await asyncio.gather(*tasks.values(), return_exceptions=True)
        for outcome, task in tasks.items():  # "done" first: a finished answer wins ties
            if task in done:
                if outcome == "done":
                    task.result()
                return outcome
        raise AssertionError("unreachable")

    async def _answer(self, reply: Reply, body: dict[str, Any], out: ResponseSender) -> None:
        streaming = body.get("stream") is True
        if reply.kind == "hang":
            await asyncio.sleep(reply.seconds)
            reply = reply.then or self.state.default
        if reply.kind == "error":
            await _send_error(reply, out)
            return
        if reply.kind == "garbage":
            await _send_garbage(streaming, out)
            return
        env = wire.Envelope(
            id=self.state.next_id(), model=str(body.get("model", "")), created=int(time.time())
        )
        if not streaming:
            await asyncio.sleep(reply.delay * max(0, len(reply.pieces) - 1))
            if reply.kind == "broken_stream":
                await _send_truncated(wire.dumps(wire.completion_body(reply, env)), out)
            else:
                await out.json(200, wire.completion_body(reply, env))
            return
        options = body.get("stream_options") or {}
        include_usage = isinstance(options, dict) and options.get("include_usage") is True
        writer = wire.ChunkWriter(env, include_usage=include_usage)
        await out.start(200, SSE_HEADERS)
        if reply.kind == "broken_stream":
            for pause, event in wire.content_events(reply, writer):
                await _pause(pause)
                await out.body(event, more=True)
            return  # returning mid-response makes the server drop the connection
        for pause, event in wire.stream_events(reply, writer):
            await _pause(pause)
            await out.body(event, more=True)
        await out.body(b"")


async def _pause(seconds: float) -> None:
    if seconds > 0:
        await asyncio.sleep(seconds)


async def _send_error(reply: Reply, out: ResponseSender) -> None:
    headers = [(k.lower().encode(), v.encode()) for k, v in reply.headers]
    if reply.body is None:
        await out.json(reply.status, wire.error_body(reply.status, reply.message), headers)
        return
    if not any(name == b"content-type" for name, _ in headers):
        headers.append((b"content-type", b"text/plain; charset=utf-8"))
    await out.start(reply.status, headers)
    await out.body(reply.body)


async def _send_truncated(data: bytes, out: ResponseSender) -> None:
    """Announce the whole body, send half of it, and drop the connection."""
    await out.start(200, [*JSON_HEADERS, (b"content-length", str(len(data)).encode())])
    await out.body(data[: len(data) // 2], more=True)


async def _send_garbage(streaming: bool, out: ResponseSender) -> None:
    if not streaming:
        await out.start(200, JSON_HEADERS)
        await out.body(wire.GARBAGE_BODY)
        return
    await out.start(200, SSE_HEADERS)
    for event in wire.GARBAGE_EVENTS:
        await out.body(event, more=True)
    await out.body(b"")


async def _read_body(receive: Receive) -> tuple[bytes, bool]:
    """The whole request body, and False if the client left before sending all of it."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"".join(chunks), False
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks), True


async def _wait_disconnect(receive: Receive) -> None:
    """Return once the client has gone away (or the response is complete)."""
    while (await receive())["type"] != "http.disconnect":
        pass


def _parse_json(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None
