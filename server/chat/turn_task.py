"""One agent turn running in its own task, its events handed over through a queue.

The task owns the session: it takes the session lock, reads the history, runs the
agent and stores the turn, and releases the lock however it ends (success,
error, a client that went away, or a server shutting down). The response only
reads the queue, so closing the response cancels the run and, with it, the
upstream call.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from server.agents.events import RunEvent
from server.errors import TraymindError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Interrupted:
    """The run was stopped from outside (shutdown) before it finished."""

    reason: str


_END = object()


class TurnTask:
    """A producer task feeding run events into a queue for one response."""

    def __init__(self, produce: Callable[[asyncio.Queue[object]], Awaitable[None]]) -> None:
        self._queue: asyncio.Queue[object] = asyncio.Queue()
        self._produce = produce
        self._task: asyncio.Task[None] | None = None
        self._interrupt_reason: str | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        try:
            await self._produce(self._queue)
            self._queue.put_nowait(_END)
        except asyncio.CancelledError:
            self._queue.put_nowait(Interrupted(self._interrupt_reason or "cancelled"))
            raise
        except TraymindError as exc:
            self._queue.put_nowait(exc)
        except Exception:  # a bug, not the provider: log it and still end the response cleanly
            log.exception("agent turn failed")
            self._queue.put_nowait(TraymindError("Traymind hit an internal error; see its log."))

    async def next(self) -> RunEvent | Interrupted | None:
        """The next event; None at the end; raises the run's ``TraymindError``."""
        item = await self._queue.get()
        if item is _END:
            return None
        if isinstance(item, TraymindError):
            raise item
        return item  # type: ignore[return-value]

    def ready(self) -> bool:
        """An event is waiting: ``next()`` will not block."""
        return not self._queue.empty()

    def interrupt(self, reason: str) -> None:
        """Stop the run from outside, e.g. when the server shuts down."""
        if self._task is not None and not self._task.done():
            self._interrupt_reason = reason
            self._task.cancel()

    async def close(self) -> None:
        """Cancel the run if still going and wait until it has released everything."""
        task = self._task
        if task is None:
            return
        if not task.done():
            task.cancel()
        await asyncio.wait({task})
