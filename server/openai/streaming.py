"""The SSE response: a byte stream that is always closed, however the client leaves,
and that never falls silent for long.

Starlette does not promise to close an async iterator it stops reading (a client
that disconnects between two chunks), and closing it is what cancels the agent
run and releases the session, so this response closes it itself.

A run can wait minutes between two events (a tool call waiting for the user's
approval, a slow tool); proxies and clients drop a connection that says nothing
for a minute or so. After ``keepalive`` seconds without a chunk, the response
sends an SSE comment (``: keep-alive``), which every SSE parser skips.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.types import Receive, Scope, Send

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
KEEPALIVE_SECONDS = 15.0
KEEPALIVE = b": keep-alive\n\n"


class EventStreamResponse(StreamingResponse):
    def __init__(self, body: AsyncIterator[bytes], keepalive: float = KEEPALIVE_SECONDS) -> None:
        super().__init__(body, media_type="text/event-stream", headers=SSE_HEADERS)
        self._body = body
        self._keepalive = keepalive

    async def stream_response(self, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        loop = asyncio.get_running_loop()
        sending = asyncio.Lock()
        last = [loop.time()]

        async def keep_alive() -> None:
            wait = self._keepalive
            while True:
                await asyncio.sleep(wait)
                idle = loop.time() - last[0]
                if idle < self._keepalive:
                    wait = self._keepalive - idle
                    continue
                async with sending:
                    await send({"type": "http.response.body", "body": KEEPALIVE, "more_body": True})
                last[0], wait = loop.time(), self._keepalive

        beat = loop.create_task(keep_alive())
        try:
            async for chunk in self._body:
                async with sending:
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                last[0] = loop.time()
        finally:
            beat.cancel()
            with contextlib.suppress(asyncio.CancelledError, OSError, RuntimeError):
                await beat  # a send that failed there fails the next chunk's too
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            aclose = getattr(self._body, "aclose", None)
            if aclose is not None:
                await aclose()


def json_or_stream(
    result: dict[str, Any] | AsyncIterator[bytes], keepalive: float = KEEPALIVE_SECONDS
) -> Response:
    """A service's answer as HTTP: a whole JSON body, or its SSE stream."""
    if isinstance(result, AsyncIterator):
        return EventStreamResponse(result, keepalive)
    return JSONResponse(result)
