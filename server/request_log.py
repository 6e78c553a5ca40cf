"""``RequestRecorder``: every ``/v1`` request in the status hub's Recent requests.

Runs report what they did (agent, session, tool calls, usage), but a request refused
before any run (401, 404 ``model_not_found``, 429, a malformed body) or one that never
runs an agent (``/v1/models``) would leave no trace, and those are the ones a person
setting up a chat app needs to see. This ASGI middleware makes one record per request,
puts it in ``CURRENT_REQUEST`` for the run to fill in, and hands it to the hub when the
response (or its stream) has ended, with the HTTP status and, for an error, the message
the client got.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.status import CURRENT_REQUEST, RequestRecord, StatusHub, client_kind

ERROR_BODY_LIMIT = 8192  # bytes of an error body read for its message


class RequestRecorder:
    def __init__(self, app: ASGIApp, hub: Callable[[], StatusHub]) -> None:
        self.app = app
        self._hub = hub

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope.get("path", "").startswith("/v1/"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        record = RequestRecord(
            time.time(), "", None, 0, 0.0, path=scope["path"], client=client_kind(headers)
        )
        started = time.monotonic()
        status = 0
        error_body = bytearray()

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body" and status >= 400:
                room = ERROR_BODY_LIMIT - len(error_body)
                if room > 0:
                    error_body.extend(message.get("body", b"")[:room])
            await send(message)

        token = CURRENT_REQUEST.set(record)
        try:
            await self.app(scope, receive, recording_send)
        finally:
            CURRENT_REQUEST.reset(token)
            record.latency_ms = (time.monotonic() - started) * 1000
            if not record.status:  # a run that failed mid-stream has set its own
                record.status = status or 500
            if record.status >= 400 and record.error is None:
                record.error = _message(bytes(error_body))
            self._hub().request_done(record)


def _message(body: bytes) -> str | None:
    """The error sentence of an OpenAI- or Anthropic-shaped error body."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    error = data.get("error") if isinstance(data, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    return message if isinstance(message, str) else None
