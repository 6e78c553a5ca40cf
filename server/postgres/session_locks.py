"""One lock per session across replicas: a PostgreSQL advisory lock held for the whole turn.

In one process ``SessionLocks`` already runs a conversation's turns one at a time. With
replicas, a second one could start a turn of the same session while the first still
runs it, each reading the history as it was. So a turn also holds a session-level
advisory lock on its own connection: a replica waiting for it waits in PostgreSQL, and
a replica that dies (SIGKILL, a network cut) loses its connection, which releases the
lock. Cancelling the turn cancels the wait (psycopg's async connection interrupts the
query).

Connections are kept for the next turns (up to ``IDLE_CONNECTIONS``): connecting costs
PostgreSQL a new backend process, about 3 ms a turn measured (``bench.storage``). A
connection goes back to the idle ones only after ``pg_advisory_unlock`` said the lock
was released; any error, a cancelled wait included, closes it instead, and closing
releases whatever it held.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from server.postgres.database import (
    DatabaseUnavailable,
    connection_dropped,
    describe,
    liveness,
    unavailable,
)
from server.sessions import SessionLocks

CONNECT_TIMEOUT = 5
IDLE_CONNECTIONS = 8
LOCK = "SELECT pg_advisory_lock(hashtextextended(%s, 0))"
UNLOCK = "SELECT pg_advisory_unlock(hashtextextended(%s, 0))"


class PostgresSessionLocks(SessionLocks):
    """``SessionLocks`` that also hold the session's advisory lock in the shared database."""

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url
        self._idle: list[Any] = []  # connections holding no lock, for the next turns
        self._closing = False
        self.report: Callable[[str, str], None] | None = None  # the status hub's "storage"
        self._failing = False

    async def aclose(self) -> None:
        """Close the idle connections (at shutdown); a turn that ends later closes its own."""
        self._closing = True
        idle, self._idle = self._idle, []
        for db in idle:
            await db.close()

    @asynccontextmanager
    async def hold(self, key: Any) -> AsyncIterator[None]:
        # in-process first: one connection per session per replica, at most
        async with super().hold(key), self._advisory(key):
            yield

    @asynccontextmanager
    async def _advisory(self, key: Any) -> AsyncIterator[None]:
        name = json.dumps(["turn", getattr(key, "namespace", ""), getattr(key, "session_id", ""),
                           getattr(key, "agent", str(key))])  # fmt: skip
        import psycopg

        db = await self._connection()
        released = False
        try:
            try:
                await db.execute(LOCK, (name,))
            except psycopg.OperationalError as exc:
                raise self._unreachable(exc) from None
            try:
                yield
            finally:
                try:
                    row = await (await db.execute(UNLOCK, (name,))).fetchone()
                    released = bool(row and row[0])
                except Exception:  # the connection broke: closing it below releases the lock
                    released = False
        finally:
            keep = released and not self._closing and not db.closed
            if keep and len(self._idle) < IDLE_CONNECTIONS:
                self._idle.append(db)
            else:
                await db.close()  # closing releases the lock, also after an error

    async def _connection(self) -> Any:
        import psycopg

        while self._idle:
            db = self._idle.pop()
            if not db.closed and not connection_dropped(db):
                return db
            await db.close()  # the server closed it while idle (a restart): a new one
        try:
            db = await psycopg.AsyncConnection.connect(
                self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT, **liveness(self.url)
            )
        except psycopg.Error as exc:
            raise self._unreachable(exc) from None
        if self._failing:
            self._failing = False
            self._tell("ok", "Conversations are saved.")
        return db

    def _unreachable(self, exc: BaseException) -> DatabaseUnavailable:
        message = unavailable(exc, "conversation", describe(self.url))
        self._failing = True
        self._tell("error", message)
        return DatabaseUnavailable(message)

    def _tell(self, state: str, message: str) -> None:
        if self.report is not None:
            self.report(state, message)
