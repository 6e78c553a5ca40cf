"""The SSE response: a byte stream that is always closed, however the client leaves.

Starlette does not promise to close an async iterator it stops reading (a client
that disconnects between two chunks), and closing it is what cancels the agent
run and releases the session, so this response closes it itself.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.types import Receive, Scope, Send

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


class EventStreamResponse(StreamingResponse):
    def __init__(self, body: AsyncIterator[bytes]) -> None:
        super().__init__(body, media_type="text/event-stream", headers=SSE_HEADERS)
        self._body = body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            aclose = getattr(self._body, "aclose", None)
            if aclose is not None:
                await aclose()


def json_or_stream(result: dict[str, Any] | AsyncIterator[bytes]) -> Response:
    """A service's answer as HTTP: a whole JSON body, or its SSE stream."""
    if isinstance(result, AsyncIterator):
        return EventStreamResponse(result)
    return JSONResponse(result)
