"""Agent memories in PostgreSQL: what one replica remembers, every replica recalls.

The same contract as ``server.memory.MemoryStore`` (``MemoryService`` cannot tell them
apart): every query filtered by agent and namespace, the same text saved once per
key (a unique index, so two replicas saving it at once keep one row), words found
with PostgreSQL's full-text search (a generated ``tsvector`` column, the ``english``
configuration: stemmed like SQLite's porter tokenizer), vectors kept beside the text
for the service to rank.
"""

from __future__ import annotations

import time
from typing import Any

from server.knowledge.search import query_words
from server.memory.store import NOAUTH, Memory, MemoryNotFound
from server.postgres.database import Database

COLUMNS = "id, agent, text, session, created, namespace"


def _namespace(namespace: str | None) -> tuple[str, tuple[str, ...]]:
    """The namespace filter: None (the CLI, an admin) means every namespace."""
    return ("", ()) if namespace is None else (" AND namespace = %s", (namespace,))


class PostgresMemoryStore:
    """All agents' memories in one PostgreSQL database (thread-safe)."""

    def __init__(self, url: str) -> None:
        self.database = Database(url, "memory", saved="Memories are saved.")
        self.path = f"PostgreSQL at {self.database.where}"

    @property
    def report(self) -> Any:
        return self.database.report

    @report.setter
    def report(self, value: Any) -> None:
        self.database.report = value

    def open(self) -> PostgresMemoryStore:
        self.database.open()
        return self

    def close(self) -> None:
        self.database.close()

    def add(
        self, agent: str, text: str, session: str | None = None, namespace: str = NOAUTH
    ) -> Memory:
        """Save a memory; saving the same text again (same key) returns the existing one."""
        text = " ".join(text.split())

        def work(db: Any) -> Memory:
            row = db.execute(
                f"INSERT INTO memories (agent, namespace, text, session, created) "
                f"VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING {COLUMNS}",
                (agent, namespace, text, session, time.time()),
            ).fetchone()
            if row is None:  # saved before, by this replica or another
                row = db.execute(
                    f"SELECT {COLUMNS} FROM memories "
                    "WHERE agent = %s AND namespace = %s AND lower(text) = lower(%s)",
                    (agent, namespace, text),
                ).fetchone()
            return Memory(*row)

        return self.database.run(work)

    def memories(
        self, agent: str, limit: int | None = None, namespace: str | None = None
    ) -> list[Memory]:
        where, args = _namespace(namespace)
        rows = self.database.run(
            lambda db: db.execute(
                f"SELECT {COLUMNS} FROM memories WHERE agent = %s{where} "
                "ORDER BY created DESC, id DESC LIMIT %s",
                (agent, *args, limit),
            ).fetchall()
        )
        return [Memory(*row) for row in rows]

    def count(self, agent: str, namespace: str | None = None) -> int:
        where, args = _namespace(namespace)
        row = self.database.run(
            lambda db: db.execute(
                f"SELECT count(*) FROM memories WHERE agent = %s{where}", (agent, *args)
            ).fetchone()
        )
        return int(row[0])

    def get(self, agent: str, memory_ids: list[int], namespace: str | None = None) -> list[Memory]:
        if not memory_ids:
            return []
        where, args = _namespace(namespace)
        rows = self.database.run(
            lambda db: db.execute(
                f"SELECT {COLUMNS} FROM memories WHERE agent = %s{where} AND id = ANY(%s)",
                (agent, *args, memory_ids),
            ).fetchall()
        )
        found = {row[0]: Memory(*row) for row in rows}
        return [found[i] for i in memory_ids if i in found]

    def forget(self, agent: str, memory_id: int, namespace: str | None = None) -> Memory:
        where, args = _namespace(namespace)
        row = self.database.run(
            lambda db: db.execute(
                f"DELETE FROM memories WHERE agent = %s{where} AND id = %s RETURNING {COLUMNS}",
                (agent, *args, memory_id),
            ).fetchone()
        )
        if row is None:
            raise MemoryNotFound(f"agent '{agent}' has no memory #{memory_id}")
        return Memory(*row)

    def lexical(self, agent: str, query: str, limit: int, namespace: str = NOAUTH) -> list[int]:
        """The agent's memory ids (of one namespace) sharing words with ``query``, best first."""
        words = query_words(query)
        if not words:
            return []
        expression = " | ".join(words)  # \\w+ words: always valid tsquery terms
        rows = self.database.run(
            lambda db: db.execute(
                "SELECT id FROM memories, to_tsquery('english', %s) AS q "
                "WHERE words @@ q AND agent = %s AND namespace = %s "
                "ORDER BY ts_rank(words, q) DESC, created DESC LIMIT %s",
                (expression, agent, namespace, limit),
            ).fetchall()
        )
        return [row[0] for row in rows]

    def vectors(
        self, agent: str, embedder: str, namespace: str = NOAUTH
    ) -> tuple[list[int], list[bytes]]:
        rows = self.database.run(
            lambda db: db.execute(
                "SELECT id, vector FROM memories "
                "WHERE agent = %s AND namespace = %s AND embedder = %s",
                (agent, namespace, embedder),
            ).fetchall()
        )
        return [row[0] for row in rows], [bytes(row[1]) for row in rows]

    def missing_vectors(self, agent: str, embedder: str, limit: int) -> list[tuple[int, str]]:
        rows = self.database.run(
            lambda db: db.execute(
                "SELECT id, text FROM memories WHERE agent = %s "
                "AND embedder IS DISTINCT FROM %s LIMIT %s",
                (agent, embedder, limit),
            ).fetchall()
        )
        return [(row[0], row[1]) for row in rows]

    def set_vectors(self, embedder: str, pairs: list[tuple[int, bytes]]) -> None:
        def work(db: Any) -> None:
            with db.cursor() as cursor:
                cursor.executemany(
                    "UPDATE memories SET vector = %s, embedder = %s WHERE id = %s",
                    [(vector, embedder, memory_id) for memory_id, vector in pairs],
                )

        self.database.run(work)
