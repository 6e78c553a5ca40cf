"""Limits on connections before anyone is authenticated: header size, slow clients, how many.

An unauthenticated peer must not be able to make the server hold memory or file
descriptors. uvicorn's parser (httptools) buffers a header line for as long as
it does not end and keeps a silent connection open for ever, so this subclass
of its protocol adds, per connection:

- at most ``max_header_bytes`` of request line and headers (431 beyond);
- headers complete within ``header_timeout`` of the connection (or of the
  request's first byte), a body within ``body_timeout`` of its headers (408);

and, per server, at most ``max_connections`` open at once: past that the
oldest connection still waiting for its headers is closed to make room, so a
flood of idle sockets cannot keep health checks and chats out.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import sys
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from server.openai.errors import error_json

log = logging.getLogger(__name__)

RESERVED_FDS = 256  # for the database, provider connections, tool pipes, config files
MAX_CONNECTIONS_CEILING = 16384
MACOS_OPEN_MAX = 10240  # setrlimit refuses RLIM_INFINITY for open files on macOS


@dataclass(slots=True)
class ConnectionLimits:
    """The limits, and the connections still waiting for their headers (oldest first)."""

    max_header_bytes: int = 64 * 1024
    header_timeout: float = 5.0
    body_timeout: float = 30.0
    max_connections: int = 1024
    waiting: OrderedDict[int, GuardedHttpToolsProtocol] = field(default_factory=OrderedDict)
    connections: int = 0

    def protocol_class(self) -> type[GuardedHttpToolsProtocol]:
        """A protocol class bound to these limits, for ``uvicorn.Config(http=...)``."""
        return type("TraymindHttpProtocol", (GuardedHttpToolsProtocol,), {"limits": self})


def raise_open_file_limit() -> int:
    """Raise the soft ``RLIMIT_NOFILE`` to the hard limit; returns the soft limit in force.

    Desktops often start programs with 1024 (macOS: 256) although far more is
    allowed; every connection is a file descriptor.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard
    if sys.platform == "darwin":
        target = min(hard, MACOS_OPEN_MAX)
    if target == resource.RLIM_INFINITY:
        target = max(soft, MAX_CONNECTIONS_CEILING * 4)
    if soft != resource.RLIM_INFINITY and target > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError) as exc:
            log.info("could not raise the open file limit from %d: %s", soft, exc)
    return soft


def connection_cap(open_file_limit: int) -> int:
    """How many connections to keep open at most: below the file limit, with room to spare."""
    return max(32, min(MAX_CONNECTIONS_CEILING, open_file_limit - RESERVED_FDS))


def _error_response(status: int, reason: str, message: str, code: str) -> bytes:
    body = error_json(status, message, code=code)
    head = (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


HEADERS_TOO_LARGE = _error_response(
    431,
    "Request Header Fields Too Large",
    "The request line and headers are too large.",
    "headers_too_large",
)
REQUEST_TIMEOUT = _error_response(
    408, "Request Timeout", "The request was not received in time.", "request_timeout"
)


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the limits above (``limits`` is set per server)."""

    limits: ConnectionLimits

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._awaiting_headers = True
        self._header_bytes = 0
        self._deadline: asyncio.TimerHandle | None = None
        self._refused = False
        self._counted = False

    # Connection lifetime
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        limits = self.limits
        limits.connections += 1
        self._counted = True
        if limits.connections > limits.max_connections:
            self._make_room()
        if transport.is_closing():
            return
        self._wait_for_headers()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._counted:
            self.limits.connections -= 1
            self._counted = False
        self._stop_waiting()
        self._cancel_deadline()
        super().connection_lost(exc)

    def _make_room(self) -> None:
        """Over the cap: close the oldest connection that has not sent its headers yet."""
        waiting = self.limits.waiting
        victim = next(iter(waiting.values()), None) if waiting else None
        if victim is None:
            self.transport.abort()  # every connection is busy with a request: refuse this one
            return
        victim._stop_waiting()
        victim.transport.abort()

    def _wait_for_headers(self) -> None:
        self._awaiting_headers = True
        self._header_bytes = 0
        self.limits.waiting[id(self)] = self
        if self._deadline is None:
            self._set_deadline(self.limits.header_timeout)

    def _stop_waiting(self) -> None:
        self.limits.waiting.pop(id(self), None)

    def _set_deadline(self, seconds: float) -> None:
        self._cancel_deadline()
        self._deadline = self.loop.call_later(seconds, self._deadline_passed)

    def _cancel_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _deadline_passed(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        if self.cycle is None or not self.cycle.response_started:
            self.transport.write(REQUEST_TIMEOUT)
        self._refuse()

    def _refuse(self, response: bytes | None = None) -> None:
        self._refused = True
        self._stop_waiting()
        self._cancel_deadline()
        if response is not None:
            self.transport.write(response)
        self.transport.close()

    # Parsing
    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        if self._awaiting_headers:
            self._header_bytes += len(data)
        super().data_received(data)
        if self._awaiting_headers and self._header_bytes > self.limits.max_header_bytes:
            self._refuse(HEADERS_TOO_LARGE)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if not self._awaiting_headers:
            self._wait_for_headers()

    def on_headers_complete(self) -> None:
        size = len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)
        self._awaiting_headers = False
        self._header_bytes = 0
        self._stop_waiting()
        self._cancel_deadline()
        if size > self.limits.max_header_bytes:
            self._refuse(HEADERS_TOO_LARGE)
            return
        super().on_headers_complete()
        if not self.transport.is_closing():
            self._set_deadline(self.limits.body_timeout)

    def on_message_complete(self) -> None:
        self._cancel_deadline()
        if not self._refused:
            super().on_message_complete()

    def on_body(self, body: bytes) -> None:
        if self._refused:
            return
        super().on_body(body)
