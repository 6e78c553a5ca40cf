"""One knowledge base's index: an SQLite file with passages, FTS5 and vectors.

The index is a cache of the folder: it can always be rebuilt, so a schema
change simply starts it over. WAL mode lets searches read while the indexer
writes, and each file is replaced in one transaction, so a search sees a file's
old passages or its new ones, never half of each. Writes and reads use separate
connections: a search never queues behind an indexing transaction.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from server.embeddings.vectors import VectorMatrix
from server.knowledge.chunking import Chunk

SCHEMA_VERSION = "1"
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY,
    hash TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    chunks INTEGER NOT NULL,
    error TEXT,
    indexed_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL,
    ordinal INTEGER NOT NULL,
    start INTEGER NOT NULL,
    end INTEGER NOT NULL,
    unit TEXT NOT NULL,
    heading TEXT NOT NULL,
    text TEXT NOT NULL,
    vector BLOB
);
CREATE INDEX IF NOT EXISTS chunks_path ON chunks(path);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(
    text, heading, path, content='chunks', content_rowid='id',
    tokenize='porter unicode61 remove_diacritics 2'
);
CREATE TRIGGER IF NOT EXISTS chunks_ai AFTER INSERT ON chunks BEGIN
    INSERT INTO chunks_fts(rowid, text, heading, path)
    VALUES (new.id, new.text, new.heading, new.path);
END;
CREATE TRIGGER IF NOT EXISTS chunks_ad AFTER DELETE ON chunks BEGIN
    INSERT INTO chunks_fts(chunks_fts, rowid, text, heading, path)
    VALUES ('delete', old.id, old.text, old.heading, old.path);
END;
"""
DROP = """
DROP TABLE IF EXISTS chunks_fts; DROP TABLE IF EXISTS chunks;
DROP TABLE IF EXISTS files; DROP TABLE IF EXISTS meta;
"""
# bm25 column weights: text, heading, path. A heading naming the query counts double.
BM25 = "bm25(chunks_fts, 1.0, 2.0, 0.5)"


@dataclass(frozen=True, slots=True)
class FileRecord:
    """What the index knows of one file."""

    hash: str
    size: int
    mtime_ns: int
    chunks: int
    error: str | None
    indexed_at: float


@dataclass(frozen=True, slots=True)
class FileUpdate:
    """A file's new content in the index: its passages (and their vectors, if any)."""

    rel: str
    digest: str
    size: int
    mtime_ns: int
    unit: str
    chunks: Sequence[Chunk]
    vectors: Sequence[bytes | None] | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class StoredPassage:
    """A passage as stored: where it is in which file, and its text."""

    id: int
    path: str
    start: int
    end: int
    unit: str
    heading: str
    text: str

    @property
    def location(self) -> str:
        """``lines 12-30``, ``line 4``, ``page 3`` or ``pages 3-4``."""
        if self.start == self.end:
            return f"{self.unit} {self.start}"
        return f"{self.unit}s {self.start}-{self.end}"


class IndexLeaseLost(RuntimeError):
    """A write to a shared index by a replica that no longer holds the base's lease."""


class KnowledgeIndex(Protocol):
    """What the indexer, the worker and search need of an index: ``IndexStore`` (SQLite,
    this machine's) or ``PostgresIndexStore`` (shared by replicas)."""

    shared: bool  # replicas share it: only the lease holder writes
    path: Path | str  # where it is, for people: a file, or "PostgreSQL at host:port/db"

    def open(self) -> KnowledgeIndex: ...
    def close(self) -> None: ...
    def take_lease(self) -> bool: ...
    def ask_rebuild(self) -> None: ...
    def meta(self, key: str) -> str | None: ...
    def set_meta(self, **values: str | None) -> None: ...
    def files(self) -> dict[str, FileRecord]: ...
    def counts(self) -> tuple[int, int]: ...
    def touch_file(self, rel: str, size: int, mtime_ns: int) -> None: ...
    def replace_files(self, updates: Sequence[FileUpdate]) -> None: ...
    def remove_files(self, rels: Iterable[str]) -> None: ...
    def clear(self) -> None: ...
    def missing_vectors(self, limit: int) -> list[tuple[int, str]]: ...
    def set_vectors(self, pairs: Iterable[tuple[int, bytes]]) -> None: ...
    def clear_vectors(self) -> None: ...
    def vector_matrix(self) -> VectorMatrix: ...
    def has_vectors(self) -> bool: ...
    def lexical(self, words: Sequence[str], limit: int) -> list[tuple[int, float]]: ...
    def passages(self, ids: Sequence[int]) -> list[StoredPassage]: ...


def fts5_expression(words: Sequence[str]) -> str:
    """An FTS5 expression matching any of ``words``, each quoted (never FTS5 syntax)."""
    return " OR ".join('"' + w.replace('"', '""') + '"' for w in words)


def _connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA busy_timeout=10000")
    return db


class IndexStore:
    """The SQLite index of one knowledge base (thread-safe)."""

    shared = False  # this machine's file: its one server always indexes it

    def __init__(self, path: Path) -> None:
        self.path = path
        self._write_lock = threading.Lock()
        self._read_lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self._reader: sqlite3.Connection | None = None
        self._matrix: tuple[int, VectorMatrix] | None = None

    def open(self) -> IndexStore:
        if self._db is not None:
            return self
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = _connect(self.path)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        version = self._schema_version(db)
        if version not in (None, SCHEMA_VERSION):
            db.executescript(DROP)
        db.executescript(SCHEMA)
        db.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('schema', ?)", (SCHEMA_VERSION,))
        self._db, self._reader = db, _connect(self.path)
        return self

    def take_lease(self) -> bool:
        """Always True: no other replica writes this file."""
        return True

    def ask_rebuild(self) -> None:
        """Nothing to ask: the worker that owns the file rebuilds it itself."""

    @staticmethod
    def _schema_version(db: sqlite3.Connection) -> str | None:
        try:
            row = db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
        except sqlite3.OperationalError:
            return None
        return row[0] if row else None

    def close(self) -> None:
        with self._write_lock, self._read_lock:
            for db in (self._db, self._reader):
                if db is not None:
                    db.close()
            self._db = self._reader = None
            self._matrix = None

    def _write(self) -> sqlite3.Connection:
        if self._db is None:
            self.open()
        assert self._db is not None
        return self._db

    def _read(self) -> sqlite3.Connection:
        if self._reader is None:
            self.open()
        assert self._reader is not None
        return self._reader

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._write_lock:
            db = self._write()
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    # Meta

    def meta(self, key: str) -> str | None:
        with self._read_lock:
            row = self._read().execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, **values: str | None) -> None:
        with self._transaction() as db:
            for key, value in values.items():
                if value is None:
                    db.execute("DELETE FROM meta WHERE key=?", (key,))
                else:
                    db.execute(
                        "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value)
                    )

    # Files

    def files(self) -> dict[str, FileRecord]:
        with self._read_lock:
            rows = self._read().execute(
                "SELECT path, hash, size, mtime_ns, chunks, error, indexed_at FROM files"
            )
            return {row[0]: FileRecord(*row[1:]) for row in rows}

    def counts(self) -> tuple[int, int]:
        """How many files and passages the index holds."""
        with self._read_lock:
            db = self._read()
            files = db.execute("SELECT count(*) FROM files").fetchone()[0]
            chunks = db.execute("SELECT count(*) FROM chunks").fetchone()[0]
        return files, chunks

    def touch_file(self, rel: str, size: int, mtime_ns: int) -> None:
        """The file's time changed but not its content: remember the new time only."""
        with self._transaction() as db:
            db.execute("UPDATE files SET size=?, mtime_ns=? WHERE path=?", (size, mtime_ns, rel))

    def replace_files(self, updates: Sequence[FileUpdate]) -> None:
        """Swap files' passages for new ones, in one transaction.

        Several files per transaction because FTS5 writes a segment at every commit:
        batching makes a first index of many small files about a third faster.
        """
        now = time.time()
        with self._transaction() as db:
            for u in updates:
                blobs = list(u.vectors) if u.vectors is not None else [None] * len(u.chunks)
                db.execute("DELETE FROM chunks WHERE path=?", (u.rel,))
                db.executemany(
                    "INSERT INTO chunks(path, ordinal, start, end, unit, heading, text, vector)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        (u.rel, i, c.start, c.end, u.unit, c.heading or "", c.text, blob)
                        for i, (c, blob) in enumerate(zip(u.chunks, blobs, strict=True))
                    ],
                )
                db.execute(
                    "INSERT OR REPLACE INTO files(path, hash, size, mtime_ns, chunks, error,"
                    " indexed_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (u.rel, u.digest, u.size, u.mtime_ns, len(u.chunks), u.error, now),
                )

    def remove_files(self, rels: Iterable[str]) -> None:
        with self._transaction() as db:
            for rel in rels:
                db.execute("DELETE FROM chunks WHERE path=?", (rel,))
                db.execute("DELETE FROM files WHERE path=?", (rel,))

    def clear(self) -> None:
        """Forget every file and passage (meta stays)."""
        with self._transaction() as db:
            db.execute("DELETE FROM files")
            db.execute("DELETE FROM chunks")
            db.execute("INSERT INTO chunks_fts(chunks_fts) VALUES ('rebuild')")

    # Vectors

    def missing_vectors(self, limit: int) -> list[tuple[int, str]]:
        """Passages without a vector yet, with the text to embed (heading and body)."""
        with self._read_lock:
            rows = self._read().execute(
                "SELECT id, heading, text FROM chunks WHERE vector IS NULL ORDER BY id LIMIT ?",
                (limit,),
            )
            return [(row[0], embedding_text(row[1], row[2])) for row in rows]

    def set_vectors(self, pairs: Iterable[tuple[int, bytes]]) -> None:
        with self._transaction() as db:
            db.executemany("UPDATE chunks SET vector=? WHERE id=?", [(v, i) for i, v in pairs])

    def clear_vectors(self) -> None:
        with self._write_lock:
            self._write().execute("UPDATE chunks SET vector=NULL WHERE vector IS NOT NULL")

    def vector_matrix(self) -> VectorMatrix:
        """All stored vectors, cached until the index changes (in any process)."""
        with self._read_lock:
            db = self._read()
            version = db.execute("PRAGMA data_version").fetchone()[0]
            if self._matrix is None or self._matrix[0] != version:
                rows = db.execute("SELECT id, vector FROM chunks WHERE vector IS NOT NULL")
                ids, blobs = [], []
                for row in rows:
                    ids.append(row[0])
                    blobs.append(row[1])
                self._matrix = (version, VectorMatrix(ids, blobs))
            return self._matrix[1]

    def has_vectors(self) -> bool:
        with self._read_lock:
            row = (
                self._read()
                .execute("SELECT 1 FROM chunks WHERE vector IS NOT NULL LIMIT 1")
                .fetchone()
            )
        return row is not None

    # Search

    def lexical(self, words: Sequence[str], limit: int) -> list[tuple[int, float]]:
        """(passage id, BM25 score) of passages with any of ``words``; lower is better."""
        if not words:
            return []
        with self._read_lock:
            rows = self._read().execute(
                f"SELECT rowid, {BM25} AS score FROM chunks_fts WHERE chunks_fts MATCH ?"
                " ORDER BY score LIMIT ?",
                (fts5_expression(words), limit),
            )
            return [(row[0], row[1]) for row in rows]

    def passages(self, ids: Sequence[int]) -> list[StoredPassage]:
        """The passages with these ids, in the order given."""
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        with self._read_lock:
            rows = self._read().execute(
                "SELECT id, path, start, end, unit, heading, text FROM chunks"
                f" WHERE id IN ({marks})",
                list(ids),
            )
            found = {row[0]: StoredPassage(*row) for row in rows}
        return [found[i] for i in ids if i in found]


def embedding_text(heading: str, text: str) -> str:
    """What a passage's vector is computed from: its headings give it context."""
    return f"{heading}\n\n{text}" if heading else text
