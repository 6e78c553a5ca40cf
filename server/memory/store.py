"""Agent memories in SQLite under the data dir: text, creation time, source session.

Every query is filtered by agent: a memory belongs to the agent that saved it
and no other agent can read or forget it. FTS5 finds memories by their words;
when embeddings are configured, each memory also keeps a vector.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS memories (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    agent TEXT NOT NULL,
    text TEXT NOT NULL,
    session TEXT,
    created REAL NOT NULL,
    vector BLOB,
    embedder TEXT  -- which model made the vector: another model's vectors are not comparable
);
CREATE INDEX IF NOT EXISTS memories_agent ON memories(agent, created);
CREATE VIRTUAL TABLE IF NOT EXISTS memories_fts USING fts5(
    text, content='memories', content_rowid='id', tokenize='porter unicode61 remove_diacritics 2'
);
CREATE TRIGGER IF NOT EXISTS memories_ai AFTER INSERT ON memories BEGIN
    INSERT INTO memories_fts(rowid, text) VALUES (new.id, new.text);
END;
CREATE TRIGGER IF NOT EXISTS memories_ad AFTER DELETE ON memories BEGIN
    INSERT INTO memories_fts(memories_fts, rowid, text) VALUES ('delete', old.id, old.text);
END;
"""
COLUMNS = "id, agent, text, session, created"


class MemoryNotFound(KeyError):
    """No memory with that id belongs to that agent."""


@dataclass(frozen=True, slots=True)
class Memory:
    """One thing an agent remembers."""

    id: int
    agent: str
    text: str
    session: str | None  # the conversation it was saved in; None for an ephemeral one
    created: float  # epoch seconds


def memory_path(data_dir: Path) -> Path:
    return data_dir / "memory.sqlite3"


class MemoryStore:
    """All agents' memories in one SQLite file (thread-safe)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None

    @classmethod
    def in_data_dir(cls, data_dir: Path) -> MemoryStore:
        return cls(memory_path(data_dir))

    def open(self) -> MemoryStore:
        with self._lock:
            if self._db is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA busy_timeout=5000")
                db.executescript(SCHEMA)
                self._db = db
        return self

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    @contextmanager
    def _conn(self) -> Iterator[sqlite3.Connection]:
        self.open()
        with self._lock:
            assert self._db is not None
            yield self._db

    def add(self, agent: str, text: str, session: str | None = None) -> Memory:
        """Save a memory; saving the same text again returns the existing one."""
        text = " ".join(text.split())
        with self._conn() as db:
            row = db.execute(
                f"SELECT {COLUMNS} FROM memories WHERE agent=? AND lower(text)=lower(?)",
                (agent, text),
            ).fetchone()
            if row is not None:
                return Memory(*row)
            created = time.time()
            cursor = db.execute(
                "INSERT INTO memories(agent, text, session, created) VALUES (?, ?, ?, ?)",
                (agent, text, session, created),
            )
            assert cursor.lastrowid is not None
            return Memory(cursor.lastrowid, agent, text, session, created)

    def memories(self, agent: str, limit: int | None = None) -> list[Memory]:
        """The agent's memories, newest first."""
        with self._conn() as db:
            rows = db.execute(
                f"SELECT {COLUMNS} FROM memories WHERE agent=? ORDER BY created DESC, id DESC"
                " LIMIT ?",
                (agent, -1 if limit is None else limit),
            )
            return [Memory(*row) for row in rows]

    def count(self, agent: str) -> int:
        with self._conn() as db:
            return db.execute("SELECT count(*) FROM memories WHERE agent=?", (agent,)).fetchone()[0]

    def get(self, agent: str, memory_ids: list[int]) -> list[Memory]:
        """These memories of the agent, in the order given (others' ids are ignored)."""
        if not memory_ids:
            return []
        marks = ",".join("?" * len(memory_ids))
        with self._conn() as db:
            rows = db.execute(
                f"SELECT {COLUMNS} FROM memories WHERE agent=? AND id IN ({marks})",
                (agent, *memory_ids),
            )
            found = {row[0]: Memory(*row) for row in rows}
        return [found[i] for i in memory_ids if i in found]

    def forget(self, agent: str, memory_id: int) -> Memory:
        """Delete one of the agent's memories; raises ``MemoryNotFound``."""
        with self._conn() as db:
            row = db.execute(
                f"SELECT {COLUMNS} FROM memories WHERE agent=? AND id=?", (agent, memory_id)
            ).fetchone()
            if row is None:
                raise MemoryNotFound(f"agent '{agent}' has no memory #{memory_id}")
            db.execute("DELETE FROM memories WHERE id=?", (memory_id,))
            return Memory(*row)

    def lexical(self, agent: str, match: str, limit: int) -> list[int]:
        """The agent's memory ids matching an FTS5 expression, best first."""
        with self._conn() as db:
            rows = db.execute(
                "SELECT m.id FROM memories_fts f JOIN memories m ON m.id = f.rowid"
                " WHERE memories_fts MATCH ? AND m.agent=? ORDER BY f.rank LIMIT ?",
                (match, agent, limit),
            )
            return [row[0] for row in rows]

    def vectors(self, agent: str, embedder: str) -> tuple[list[int], list[bytes]]:
        """The agent's memory vectors made by ``embedder``."""
        with self._conn() as db:
            rows = db.execute(
                "SELECT id, vector FROM memories WHERE agent=? AND embedder=?", (agent, embedder)
            ).fetchall()
        return [row[0] for row in rows], [row[1] for row in rows]

    def missing_vectors(self, agent: str, embedder: str, limit: int) -> list[tuple[int, str]]:
        """The agent's memories without a vector from ``embedder``, with their text."""
        with self._conn() as db:
            rows = db.execute(
                "SELECT id, text FROM memories WHERE agent=? AND embedder IS NOT ? LIMIT ?",
                (agent, embedder, limit),
            ).fetchall()
        return [(row[0], row[1]) for row in rows]

    def set_vectors(self, embedder: str, pairs: list[tuple[int, bytes]]) -> None:
        with self._conn() as db:
            db.executemany(
                "UPDATE memories SET vector=?, embedder=? WHERE id=?",
                [(vector, embedder, memory_id) for memory_id, vector in pairs],
            )
