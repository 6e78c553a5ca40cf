"""Agent memories in SQLite under the data dir: text, creation time, source session.

Every query is filtered by agent and by namespace: a memory belongs to the agent
that saved it and to the client key it was saved with (the key's session
namespace, ``noauth`` for unauthenticated local use, ``SHARED`` for an agent whose
memory is ``shared``), so neither another agent nor another key can read or
forget it. FTS5 finds memories by their words; when embeddings are configured,
each memory also keeps a vector.

Files from before namespaces had no such column: opening one adds it, and the old
rows go to ``noauth``. They were saved when memory was one per agent, most likely
by the local user without a key; no key holder sees them, nothing is deleted, and
``traymind memory list`` still shows them.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from server.knowledge.search import match_expression
from server.paths import prepare_data_dir
from server.sessions.storage import FileIdentity, Report, lost_sentence

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS memories (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    agent TEXT NOT NULL,
    namespace TEXT NOT NULL DEFAULT 'noauth',  -- the client key's; see the module docstring
    text TEXT NOT NULL,
    session TEXT,
    created REAL NOT NULL,
    vector BLOB,
    embedder TEXT  -- which model made the vector: another model's vectors are not comparable
);
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
INDEXES = """
CREATE INDEX IF NOT EXISTS memories_agent ON memories(agent, created);
CREATE INDEX IF NOT EXISTS memories_namespace ON memories(agent, namespace, created);
"""
COLUMNS = "id, agent, text, session, created, namespace"
NOAUTH = "noauth"  # the session namespace of unauthenticated local use (server.security.auth)
SHARED = "*shared*"  # an agent's memory for every key; never a key hash (hex)


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
    namespace: str = NOAUTH  # the key it belongs to (``SHARED``: every key)


def memory_path(data_dir: Path) -> Path:
    return data_dir / "memory.sqlite3"


def _add_namespace_column(db: sqlite3.Connection) -> None:
    """Migrate a file from before namespaces: its rows go to ``noauth`` (module docstring)."""
    columns = {row[1] for row in db.execute("PRAGMA table_info(memories)")}
    if "namespace" not in columns:
        db.execute(f"ALTER TABLE memories ADD COLUMN namespace TEXT NOT NULL DEFAULT '{NOAUTH}'")


def _where(namespace: str | None) -> tuple[str, tuple[str, ...]]:
    """The namespace filter: None (the CLI, an admin on local files) means every namespace."""
    return ("", ()) if namespace is None else (" AND namespace=?", (namespace,))


class MemoryStore:
    """All agents' memories in one SQLite file (thread-safe)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self._identity: FileIdentity | None = None
        self.report: Report | None = None  # the server sets it: the status hub's "storage"

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
                _add_namespace_column(db)
                db.executescript(INDEXES)
                self._db = db
                self._identity = FileIdentity.of(self.path)
        return self

    def _file_lost(self) -> None:
        """The file was deleted under us (its data folder removed): start a new one there."""
        assert self._db is not None
        self._db.close()
        self._db, self._identity = None, None
        message = lost_sentence(self.path, "agent memory")
        log.error("%s (memory store %s)", message, self.path)
        if self.report is not None:
            self.report("error", message)
        prepare_data_dir(self.path.parent)

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    @contextmanager
    def _conn(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if self._db is not None and self._identity is not None and self._identity.gone():
                self._file_lost()
        self.open()
        with self._lock:
            assert self._db is not None
            yield self._db

    def add(
        self, agent: str, text: str, session: str | None = None, namespace: str = NOAUTH
    ) -> Memory:
        """Save a memory; saving the same text again (same key) returns the existing one."""
        text = " ".join(text.split())
        with self._conn() as db:
            row = db.execute(
                f"SELECT {COLUMNS} FROM memories"
                " WHERE agent=? AND namespace=? AND lower(text)=lower(?)",
                (agent, namespace, text),
            ).fetchone()
            if row is not None:
                return Memory(*row)
            created = time.time()
            cursor = db.execute(
                "INSERT INTO memories(agent, namespace, text, session, created)"
                " VALUES (?, ?, ?, ?, ?)",
                (agent, namespace, text, session, created),
            )
            assert cursor.lastrowid is not None
            return Memory(cursor.lastrowid, agent, text, session, created, namespace)

    def memories(
        self, agent: str, limit: int | None = None, namespace: str | None = None
    ) -> list[Memory]:
        """The agent's memories (of one namespace, or all with None), newest first."""
        where, args = _where(namespace)
        with self._conn() as db:
            rows = db.execute(
                f"SELECT {COLUMNS} FROM memories WHERE agent=?{where}"
                " ORDER BY created DESC, id DESC LIMIT ?",
                (agent, *args, -1 if limit is None else limit),
            )
            return [Memory(*row) for row in rows]

    def count(self, agent: str, namespace: str | None = None) -> int:
        where, args = _where(namespace)
        with self._conn() as db:
            return db.execute(
                f"SELECT count(*) FROM memories WHERE agent=?{where}", (agent, *args)
            ).fetchone()[0]

    def get(self, agent: str, memory_ids: list[int], namespace: str | None = None) -> list[Memory]:
        """These memories of the agent, in the order given (others' ids are ignored)."""
        if not memory_ids:
            return []
        marks = ",".join("?" * len(memory_ids))
        where, args = _where(namespace)
        with self._conn() as db:
            rows = db.execute(
                f"SELECT {COLUMNS} FROM memories WHERE agent=?{where} AND id IN ({marks})",
                (agent, *args, *memory_ids),
            )
            found = {row[0]: Memory(*row) for row in rows}
        return [found[i] for i in memory_ids if i in found]

    def forget(self, agent: str, memory_id: int, namespace: str | None = None) -> Memory:
        """Delete one of the agent's memories; raises ``MemoryNotFound``."""
        where, args = _where(namespace)
        with self._conn() as db:
            row = db.execute(
                f"SELECT {COLUMNS} FROM memories WHERE agent=?{where} AND id=?",
                (agent, *args, memory_id),
            ).fetchone()
            if row is None:
                raise MemoryNotFound(f"agent '{agent}' has no memory #{memory_id}")
            db.execute("DELETE FROM memories WHERE id=?", (memory_id,))
            return Memory(*row)

    def lexical(self, agent: str, query: str, limit: int, namespace: str = NOAUTH) -> list[int]:
        """The agent's memory ids (of one namespace) sharing words with ``query``, best first."""
        match = match_expression(query)
        if match is None:
            return []
        with self._conn() as db:
            rows = db.execute(
                "SELECT m.id FROM memories_fts f JOIN memories m ON m.id = f.rowid"
                " WHERE memories_fts MATCH ? AND m.agent=? AND m.namespace=?"
                " ORDER BY f.rank LIMIT ?",
                (match, agent, namespace, limit),
            )
            return [row[0] for row in rows]

    def vectors(
        self, agent: str, embedder: str, namespace: str = NOAUTH
    ) -> tuple[list[int], list[bytes]]:
        """The agent's memory vectors (of one namespace) made by ``embedder``."""
        with self._conn() as db:
            rows = db.execute(
                "SELECT id, vector FROM memories WHERE agent=? AND namespace=? AND embedder=?",
                (agent, namespace, embedder),
            ).fetchall()
        return [row[0] for row in rows], [row[1] for row in rows]

    def missing_vectors(self, agent: str, embedder: str, limit: int) -> list[tuple[int, str]]:
        """The agent's memories (every namespace) without a vector from ``embedder``."""
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
