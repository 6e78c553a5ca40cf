"""One lock per session across replicas: a PostgreSQL advisory lock held for the whole turn.

In one process ``SessionLocks`` already runs a conversation's turns one at a time. With
replicas, a second one could start a turn of the same session while the first still
runs it, each reading the history as it was. So a turn also holds a session-level
advisory lock on its own connection: a replica waiting for it waits in PostgreSQL, and
a replica that dies (SIGKILL, a network cut) loses its connection, which releases the
lock. The connection is made per turn and closed after it: a turn is seconds long,
connecting is milliseconds. Cancelling the turn cancels the wait (psycopg's async
connection interrupts the query).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from server.postgres.history_store import DatabaseUnavailable, describe
from server.sessions import SessionLocks

CONNECT_TIMEOUT = 5


class PostgresSessionLocks(SessionLocks):
    """``SessionLocks`` that also hold the session's advisory lock in the shared database."""

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url

    @asynccontextmanager
    async def hold(self, key: Any) -> AsyncIterator[None]:
        # in-process first: one connection per session per replica, at most
        async with super().hold(key), self._advisory(key):
            yield

    @asynccontextmanager
    async def _advisory(self, key: Any) -> AsyncIterator[None]:
        import psycopg

        name = json.dumps(["turn", getattr(key, "namespace", ""), getattr(key, "session_id", ""),
                           getattr(key, "agent", str(key))])  # fmt: skip
        try:
            db = await psycopg.AsyncConnection.connect(
                self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT
            )
        except psycopg.Error:
            raise DatabaseUnavailable(
                f"The conversation database (PostgreSQL at {describe(self.url)}) cannot be "
                "reached; nothing was stored. Try again once it is back."
            ) from None
        try:
            await db.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", (name,))
            yield
        finally:
            await db.close()  # closing releases the lock, also after an error
