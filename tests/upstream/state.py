"""What the stand-in shares between its server thread and the test thread."""

from __future__ import annotations

import itertools
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .replies import Reply

DEFAULT_REPLY = Reply.text("Hello from upstream")
DEFAULT_MODELS = ("test-model",)


@dataclass
class RecordedRequest:
    """One request the stand-in received, as it arrived."""

    method: str
    path: str
    headers: dict[str, str]
    """Lower-case header names (a repeated header keeps its last value)."""
    body: Any
    """The parsed JSON body, or None when empty or not JSON."""
    raw: bytes
    started_at: float
    """`time.monotonic()` when the request arrived."""
    finished_at: float | None = None
    """`time.monotonic()` when the response ended or the client went away."""
    query: str = ""
    disconnected: bool = False
    """True when the client went away before the response was complete."""
    reply: Reply | None = field(default=None, repr=False)
    """The scripted reply this chat request consumed."""


class UpstreamState:
    """Scripted replies, records and counters behind one lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: deque[Reply] = deque()
        self._records: list[RecordedRequest] = []
        self._ids = itertools.count(1)
        self._cancelled = 0
        self._active_streams = 0
        self.default: Reply = DEFAULT_REPLY
        self.models: list[str] = list(DEFAULT_MODELS)
        # With nothing scripted, a reply chosen from the request (``agentic.respond``).
        self.responder: Callable[[dict[str, Any], Reply], Reply] | None = None

    def script(self, replies: tuple[Reply, ...]) -> None:
        """Queue replies for the next chat requests."""
        with self._lock:
            self._queue.extend(replies)

    def next_reply(self, body: object = None) -> Reply:
        """The next scripted reply, else the responder's for ``body``, else the default."""
        with self._lock:
            if self._queue:
                return self._queue.popleft()
            responder = self.responder
        if responder is not None and isinstance(body, dict):
            return responder(body, self.default)
        return self.default

    def pending(self) -> int:
        """How many scripted replies are still queued."""
        with self._lock:
            return len(self._queue)

    def record(self, request: RecordedRequest) -> None:
        """Keep a received request."""
        with self._lock:
            self._records.append(request)

    def records(self) -> list[RecordedRequest]:
        """A snapshot of the recorded requests."""
        with self._lock:
            return list(self._records)

    def next_id(self) -> str:
        """A fresh completion id."""
        with self._lock:
            return f"chatcmpl-up-{next(self._ids)}"

    @property
    def cancelled(self) -> int:
        """Streams whose client went away before they finished."""
        return self._cancelled

    @property
    def active_streams(self) -> int:
        """Streams being answered right now."""
        return self._active_streams

    def count_cancelled(self) -> None:
        """Count one stream abandoned by its client."""
        with self._lock:
            self._cancelled += 1

    def stream_opened(self) -> None:
        """A streaming request began."""
        with self._lock:
            self._active_streams += 1

    def stream_closed(self) -> None:
        """A streaming request ended, however it ended."""
        with self._lock:
            self._active_streams -= 1

    def clear(self) -> None:
        """Forget queued replies, records and the cancelled count."""
        with self._lock:
            self._queue.clear()
            self._records.clear()
            self._cancelled = 0
