"""The load generator: raw HTTP/1.1 keep-alive connections on asyncio, parsed by httptools.

It does as little as a client can: requests are prebuilt bytes, responses are
parsed by httptools' C parser, and an SSE event is classified by two substring
tests. Every event is stamped with the time its bytes arrived. ``bench.overhead``
measures this generator against a null server, so its own cost is on record.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httptools

REQUEST_TIMEOUT = 120.0
CONTENT = b'"content":"'
EMPTY_CONTENT = b'"content":""'
DONE_EVENT = b"data: [DONE]"


@dataclass(slots=True)
class Exchange:
    """One request and its response, with arrival times (``time.perf_counter``)."""

    started: float
    status: int = 0
    first_byte: float | None = None
    token_times: list[float] = field(default_factory=list)  # each non-empty content event
    events: int = 0
    done: bool = False  # saw ``data: [DONE]``
    finished: float = 0.0
    body: bytes = b""
    error: str | None = None

    @property
    def total(self) -> float:
        return self.finished - self.started

    @property
    def ttft(self) -> float | None:
        return self.token_times[0] - self.started if self.token_times else None

    def gaps(self) -> list[float]:
        times = self.token_times
        return [b - a for a, b in itertools.pairwise(times)]


def chat_request(
    host: str,
    port: int,
    model: str,
    messages: list[dict[str, str]],
    *,
    stream: bool = False,
    headers: dict[str, str] | None = None,
) -> bytes:
    """A ``POST /v1/chat/completions`` as ready-to-send bytes."""
    payload: dict[str, object] = {"model": model, "messages": messages}
    if stream:
        payload["stream"] = True
    body = json.dumps(payload, separators=(",", ":")).encode()
    return post_bytes(host, port, "/v1/chat/completions", body, headers)


def post_bytes(
    host: str, port: int, path: str, body: bytes, headers: dict[str, str] | None = None
) -> bytes:
    lines = [
        f"POST {path} HTTP/1.1",
        f"Host: {host}:{port}",
        "Content-Type: application/json",
        "Accept: application/json",
        f"Content-Length: {len(body)}",
        *(f"{k}: {v}" for k, v in (headers or {}).items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def get_bytes(host: str, port: int, path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode()


class Connection(asyncio.Protocol):
    """One keep-alive connection; one request at a time."""

    def __init__(self) -> None:
        self._transport: asyncio.Transport | None = None
        self._parser = httptools.HttpResponseParser(self)
        self._exchange: Exchange | None = None
        self._future: asyncio.Future[Exchange] | None = None
        self._stream = False
        self._buffer = b""
        self._body: list[bytes] = []
        self._now = 0.0
        self.closed = True

    @classmethod
    async def open(cls, host: str, port: int) -> Connection:
        loop = asyncio.get_running_loop()
        _, protocol = await loop.create_connection(cls, host, port)
        return protocol

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]  # uvloop's is no subclass
        self.closed = False

    def data_received(self, data: bytes) -> None:
        self._now = time.perf_counter()
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(f"bad response: {exc}")
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail("connection lost")

    # httptools callbacks

    def on_headers_complete(self) -> None:
        if self._exchange is not None:
            self._exchange.status = self._parser.get_status_code()
            self._exchange.first_byte = self._now

    def on_body(self, data: bytes) -> None:
        exchange = self._exchange
        if exchange is None:
            return
        if not self._stream or exchange.status != 200:
            self._body.append(data)
            return
        events = (self._buffer + data).split(b"\n\n")
        self._buffer = events.pop()
        now = self._now
        for event in events:
            exchange.events += 1
            if CONTENT in event and EMPTY_CONTENT not in event:
                exchange.token_times.append(now)
            elif event == DONE_EVENT:
                exchange.done = True

    def on_message_complete(self) -> None:
        exchange, future = self._exchange, self._future
        if exchange is None or future is None:
            return
        exchange.finished = self._now
        exchange.body = b"".join(self._body)
        self._exchange = self._future = None
        if not future.done():
            future.set_result(exchange)

    # Requests

    async def request(self, data: bytes, *, stream: bool = False) -> Exchange:
        """Send prebuilt request bytes; the exchange has ``error`` set on failure."""
        assert self._transport is not None
        future: asyncio.Future[Exchange] = asyncio.get_running_loop().create_future()
        exchange = Exchange(started=time.perf_counter())
        self._exchange, self._future, self._stream = exchange, future, stream
        self._buffer, self._body = b"", []
        self._transport.write(data)
        try:
            return await asyncio.wait_for(future, REQUEST_TIMEOUT)
        except TimeoutError:
            self._fail("timeout")
            self.close()
            return exchange

    def _fail(self, reason: str) -> None:
        exchange, future = self._exchange, self._future
        self._exchange = self._future = None
        if exchange is not None and future is not None and not future.done():
            exchange.error = reason
            exchange.finished = time.perf_counter()
            future.set_result(exchange)

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
        self.closed = True


class Client:
    """A connection that reopens itself when the server closed it between requests."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._conn: Connection | None = None

    async def request(self, data: bytes, *, stream: bool = False) -> Exchange:
        if self._conn is None or self._conn.closed:
            try:
                self._conn = await Connection.open(self.host, self.port)
            except OSError as exc:
                now = time.perf_counter()
                return Exchange(started=now, finished=now, error=f"connect: {exc}")
        return await self._conn.request(data, stream=stream)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()


def check(exchange: Exchange, *, stream: bool, tokens: int | None = None) -> str | None:
    """Why an exchange counts as an error, or None when it is a good answer."""
    if exchange.error:
        return exchange.error
    if exchange.status != 200:
        return f"HTTP {exchange.status}: {exchange.body[:200]!r}"
    if stream:
        if not exchange.done:
            return "stream ended without [DONE]"
        if tokens is not None and len(exchange.token_times) != tokens:
            return f"{len(exchange.token_times)} content events, expected {tokens}"
    elif b'"choices"' not in exchange.body:
        return f"no choices in body: {exchange.body[:200]!r}"
    return None


def new_loop() -> asyncio.AbstractEventLoop:
    """uvloop where installed: the generator should be the cheapest process in the run."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run the generator's coroutine on its own (uv)loop."""
    with asyncio.Runner(loop_factory=new_loop) as runner:
        return runner.run(coro)
