"""One PostgreSQL connection of a store, and what a lost database means for it.

The stores (sessions, memory) call ``run(work)`` from worker threads: the work gets
the connection under a lock (connected and migrated on first need, and again after
a loss; a connection the server closed while idle, as a restart does, is noticed
before the work and replaced). A database that cannot be reached is
``DatabaseUnavailable``, a 503 with a sentence naming what could not be saved, and
the status says so until a call reaches it again; a refused query is a
``StorageError``.
"""

from __future__ import annotations

import logging
import select
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from server.postgres.schema import migrate
from server.sessions.store import StorageError

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 5
T = TypeVar("T")


class DatabaseUnavailable(StorageError):
    status = 503
    code = "database_unavailable"


def describe(url: str) -> str:
    """``host:port/db`` of a URL, for the status and the log (never a password);
    ``StorageError`` without the URL (it may hold one) when it cannot be read."""
    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    try:
        info = conninfo_to_dict(url)
    except psycopg.Error:
        raise StorageError(
            "The storage URL cannot be read: give it as postgresql://user@host:port/database."
        ) from None
    host = info.get("host") or "localhost"
    port = info.get("port") or "5432"
    return f"{host}:{port}/{info.get('dbname') or ''}"


class Database:
    """A store's connection; ``what`` names it in sentences ("conversation", "memory")."""

    def __init__(self, url: str, what: str, *, saved: str) -> None:
        self.url = url
        self.where = describe(url)
        self.what = what
        self.saved = saved  # the sentence the status shows once it works again
        self.report: Callable[[str, str], None] | None = None  # the status hub's "storage"
        self._lock = threading.Lock()
        self._db: Any = None
        self._failing = False

    def open(self) -> None:
        with self._lock:
            self._connect()

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def run(self, work: Callable[[Any], T]) -> T:
        """``work(connection)`` under the lock; a lost database becomes a 503."""
        import psycopg

        with self._lock:
            db = self._connect()
            try:
                return work(db)
            except psycopg.OperationalError as exc:
                raise self._unavailable(exc) from None
            except psycopg.Error as exc:
                log.error("%s store query failed on %s: %s", self.what, self.where, exc)
                raise StorageError(f"The {self.what} database refused a query: {exc}") from None

    def _connect(self) -> Any:
        import psycopg

        if self._db is not None and not self._db.closed:
            if not connection_dropped(self._db):
                return self._db
            self._db.close()  # the server went away (a restart): connect again, before work
            self._db = None
        try:
            db = psycopg.connect(
                self.url,
                autocommit=True,
                connect_timeout=CONNECT_TIMEOUT,
                application_name="traymind",
            )
            migrate(db)
        except psycopg.Error as exc:
            raise self._unavailable(exc) from None
        self._db = db
        if self._failing:
            self._failing = False
            log.info("the %s store reaches %s again", self.what, self.where)
            self._tell("ok", self.saved)
        return db

    def _unavailable(self, exc: BaseException) -> DatabaseUnavailable:
        message = (
            f"The {self.what} database (PostgreSQL at {self.where}) cannot be reached; "
            "nothing was stored. Try again once it is back."
        )
        log.error("%s (%s)", message, str(exc).strip().splitlines()[0] if str(exc) else exc)
        if self._db is not None:
            try:
                self._db.close()
            finally:
                self._db = None
        self._failing = True
        self._tell("error", message)
        return DatabaseUnavailable(message)

    def _tell(self, state: str, message: str) -> None:
        if self.report is not None:
            self.report(state, message)


def connection_dropped(db: Any) -> bool:
    """Whether an idle connection was closed by the server: its socket is readable (the
    server's goodbye, or end of file) while no query runs. No round trip is spent."""
    try:
        readable, _, _ = select.select([db.fileno()], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)
