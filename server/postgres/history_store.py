"""The session store on PostgreSQL: the same turns, routes and responses as the SQLite one.

Same contract as ``server.sessions.HistoryStore`` (the chat service cannot tell them
apart): one row per complete turn, written in one transaction, so a replica killed
mid-turn leaves whole turns only; reads walk turns newest first within the character
budget. Appends to one session are serialised across replicas by a transaction-level
advisory lock on the session, so two replicas never number a turn alike.

A lost database (a restart, a network cut) is a 503 with a sentence, and nothing is
written half; the next call connects again, so the replica recovers when the database
returns (``server.postgres.database``: one connection, used under a lock).
"""

from __future__ import annotations

import json
import time
from typing import Any

from server.postgres.database import Database
from server.sessions.ids import SessionRef
from server.sessions.store import within_budget


class PostgresHistoryStore:
    """Stored turns per (namespace, session, agent), in a PostgreSQL database."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.database = Database(url, "conversation", saved="Conversations are saved.")
        self.where = self.database.where
        self.path = f"PostgreSQL at {self.where}"  # what messages name, like the SQLite path

    @property
    def report(self) -> Any:
        return self.database.report

    @report.setter
    def report(self, value: Any) -> None:  # the server sets it: the status hub's "storage"
        self.database.report = value

    def open(self) -> None:
        self.database.open()

    def close(self) -> None:
        self.database.close()

    def _run(self, work: Any) -> Any:
        return self.database.run(work)

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
