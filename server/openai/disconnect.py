"""Work on a request that stops when its client leaves, for answers that are not streamed.

A streamed answer notices a client that left at its next write, which cancels the run.
A non-streamed one writes only at the end, so without this the run went on for a client
that gave up: a provider paid for nothing, or a tool call still waiting for approval
(and then run) after the chat app had closed. ``unless_disconnected`` races the work
with the ASGI ``http.disconnect`` message and cancels the work when the client goes.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from typing import TypeVar

from starlette.requests import Request

from server.errors import TraymindError

T = TypeVar("T")


class ClientGone(TraymindError):
    """The client disconnected before the answer; nobody reads this status."""

    status = 499
    type = "invalid_request_error"
    code = "client_closed_request"


async def unless_disconnected(request: Request, work: Awaitable[T]) -> T:
    """``work``'s result, or ``ClientGone`` (with the work cancelled) if the client leaves."""
    task = asyncio.ensure_future(work)

    async def disconnected() -> None:
        while (await request.receive())["type"] != "http.disconnect":
            pass

    watcher = asyncio.ensure_future(disconnected())
    try:
        await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        task.cancel()
        raise
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await watcher
    if task.done():
        return task.result()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
    raise ClientGone("The client disconnected before the answer was ready.")
