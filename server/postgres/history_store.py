"""The session store on PostgreSQL: the same turns, routes and responses as the SQLite one.

Same contract as ``server.sessions.HistoryStore`` (the chat service cannot tell them
apart): one row per complete turn, written in one transaction, so a replica killed
mid-turn leaves whole turns only; reads walk turns newest first within the character
budget. Appends to one session are serialised across replicas by a transaction-level
advisory lock on the session, so two replicas never number a turn alike.

A lost database (a restart, a network cut) is a 503 with a sentence, and nothing is
written half; the next call connects again, so the replica recovers when the database
returns. One connection, used under a lock: the store's calls come from worker threads.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any

from server.postgres.schema import migrate
from server.sessions.ids import SessionRef
from server.sessions.store import StorageError, within_budget

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 5


class DatabaseUnavailable(StorageError):
    status = 503
    code = "database_unavailable"


def describe(url: str) -> str:
    """``host:port/db`` of a URL, for the status and the log (never a password)."""
    from psycopg.conninfo import conninfo_to_dict

    info = conninfo_to_dict(url)
    host = info.get("host") or "localhost"
    port = info.get("port") or "5432"
    return f"{host}:{port}/{info.get('dbname') or ''}"


class PostgresHistoryStore:
    """Stored turns per (namespace, session, agent), in a PostgreSQL database."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.where = describe(url)
        self.path = f"PostgreSQL at {self.where}"  # what messages name, like the SQLite path
        self._lock = threading.Lock()
        self._db: Any = None
        self.report: Any = None  # the server sets it: the status hub's "storage"
        self._failing = False

    # --- connection --------------------------------------------------------------------

    def open(self) -> None:
        with self._lock:
            self._connect()

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def _connect(self) -> Any:
        import psycopg

        if self._db is not None and not self._db.closed:
            return self._db
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
            log.info("the session store reaches %s again", self.where)
            self._tell("ok", "Conversations are saved.")
        return db

    def _unavailable(self, exc: BaseException) -> DatabaseUnavailable:
        message = (
            f"The conversation database (PostgreSQL at {self.where}) cannot be reached; "
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

    def _run(self, work: Any) -> Any:
        """``work(connection)`` under the lock; a lost database becomes a 503."""
        import psycopg

        with self._lock:
            db = self._connect()
            try:
                return work(db)
            except psycopg.OperationalError as exc:
                raise self._unavailable(exc) from None
            except psycopg.Error as exc:
                log.error("session store query failed on %s: %s", self.where, exc)
                raise StorageError(f"The conversation database refused a query: {exc}") from None

    # --- the store's contract ----------------------------------------------------------

    def has_history(self, ref: SessionRef) -> bool:
        def work(db: Any) -> bool:
            row = db.execute(
                "SELECT 1 FROM turns WHERE namespace=%s AND session=%s AND agent=%s LIMIT 1",
                (ref.namespace, ref.session_id, ref.agent),
            ).fetchone()
            return row is not None

        return bool(self._run(work))

    def recent_turns(self, ref: SessionRef, char_budget: int) -> list[bytes]:
        """The newest turns whose total size fits ``char_budget`` (at least one), oldest first."""

        def work(db: Any) -> list[bytes]:
            with db.cursor() as cursor:
                cursor.execute(
                    "SELECT messages, chars FROM turns WHERE namespace=%s AND session=%s "
                    "AND agent=%s ORDER BY seq DESC",
                    (ref.namespace, ref.session_id, ref.agent),
                )
                return within_budget(cursor, char_budget)

        return list(self._run(work))

    def append_turn(self, ref: SessionRef, messages: bytes) -> int:
        """Store one complete turn atomically; the session's number of turns now."""

        def work(db: Any) -> int:
            with db.transaction():
                db.execute(
                    "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                    (json.dumps([ref.namespace, ref.session_id, ref.agent]),),
                )
                (seq,) = db.execute(
                    "SELECT COALESCE(MAX(seq), 0) + 1 FROM turns "
                    "WHERE namespace=%s AND session=%s AND agent=%s",
                    (ref.namespace, ref.session_id, ref.agent),
                ).fetchone()
                db.execute(
                    "INSERT INTO turns VALUES (%s, %s, %s, %s, %s, %s, %s)",
                    (
                        ref.namespace,
                        ref.session_id,
                        ref.agent,
                        seq,
                        messages,
                        len(messages),
                        time.time(),
                    ),
                )
            return int(seq)

        return int(self._run(work))

    def turn_count(self, ref: SessionRef) -> int:
        def work(db: Any) -> int:
            (count,) = db.execute(
                "SELECT COUNT(*) FROM turns WHERE namespace=%s AND session=%s AND agent=%s",
                (ref.namespace, ref.session_id, ref.agent),
            ).fetchone()
            return int(count)

        return int(self._run(work))

    def route(self, namespace: str, session_id: str) -> tuple[str, list[str]] | None:
        def work(db: Any) -> tuple[str, list[str]] | None:
            row = db.execute(
                "SELECT agent, recent FROM routes WHERE namespace=%s AND session=%s",
                (namespace, session_id),
            ).fetchone()
            return (row[0], json.loads(row[1])) if row else None

        return self._run(work)  # type: ignore[no-any-return]

    def set_route(self, namespace: str, session_id: str, agent: str, recent: list[str]) -> None:
        self._run(
            lambda db: db.execute(
                "INSERT INTO routes VALUES (%s, %s, %s, %s, %s) ON CONFLICT (namespace, session) "
                "DO UPDATE SET agent=EXCLUDED.agent, recent=EXCLUDED.recent, "
                "updated=EXCLUDED.updated",
                (namespace, session_id, agent, json.dumps(recent[-3:]), time.time()),
            )
        )

    def save_response(
        self, namespace: str, response_id: str, session_id: str, prompt: str, body: str
    ) -> None:
        self._run(
            lambda db: db.execute(
                "INSERT INTO responses VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (namespace, id) "
                "DO UPDATE SET session=EXCLUDED.session, prompt=EXCLUDED.prompt, "
                "body=EXCLUDED.body, created=EXCLUDED.created",
                (namespace, response_id, session_id, prompt, body, time.time()),
            )
        )

    def response(self, namespace: str, response_id: str) -> tuple[str, str, str] | None:
        def work(db: Any) -> tuple[str, str, str] | None:
            row = db.execute(
                "SELECT session, prompt, body FROM responses WHERE namespace=%s AND id=%s",
                (namespace, response_id),
            ).fetchone()
            return (row[0], row[1], row[2]) if row else None

        return self._run(work)  # type: ignore[no-any-return]
