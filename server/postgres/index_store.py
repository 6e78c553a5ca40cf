"""A knowledge base's index in PostgreSQL: indexed by one replica, searched by all.

The same contract as ``server.knowledge.store.IndexStore``, for every base in four
tables keyed by the base's name. Words are found with PostgreSQL's full-text search:
a generated ``tsvector`` of the heading (weight A), the text (B) and the path's words
(C), ranked by ``ts_rank`` with the weights of SQLite's bm25 columns (heading twice the
text, the path half). Vectors are kept beside the text and ranked in each replica's
memory, as with SQLite, cached until the base's version (bumped by every write) moves.

Only the replica holding the base's lease writes: a session-level advisory lock taken
with ``take_lease()`` on the writing connection. A replica that dies loses its
connection and with it the lease, so another takes it on its next try; a write on a
connection that is not the one holding the lease (the first was lost and replaced) is
refused with ``IndexLeaseLost`` rather than written by a second indexer.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from server.embeddings.vectors import VectorMatrix
from server.knowledge.service import index_path
from server.knowledge.store import (
    FileRecord,
    FileUpdate,
    IndexLeaseLost,
    IndexStore,
    KnowledgeIndex,
    StoredPassage,
    embedding_text,
)
from server.postgres.database import Database

# ts_rank's weights, in the order {D, C, B, A}: path 0.25, text 0.5, heading 1.0
WEIGHTS = "{0.1, 0.25, 0.5, 1.0}"
PASSAGE = "id, path, span_start, span_end, unit, heading, text"
LEASE = "SELECT pg_try_advisory_lock(hashtextextended(%s, 0))"
UNLEASE = "SELECT pg_advisory_unlock(hashtextextended(%s, 0))"
SET_META = (
    "INSERT INTO knowledge_meta VALUES (%s, %s, %s) "
    "ON CONFLICT (base, key) DO UPDATE SET value = excluded.value"
)


def _text(value: str) -> str:
    """PostgreSQL's text cannot hold NUL: an extracted text never needs one."""
    return value.replace("\x00", "")


class PostgresIndexStore:
    """One knowledge base's index in the shared database (thread-safe)."""

    shared = True

    def __init__(self, url: str, base: str) -> None:
        self.base = base
        # searches never queue behind an indexing transaction: a connection each
        self._writer = Database(url, "knowledge", saved="Knowledge indexes are saved.")
        self._reader = Database(url, "knowledge", saved="Knowledge indexes are searched.")
        self.path = f"PostgreSQL at {self._writer.where}"
        self._lease_name = json.dumps(["knowledge", base])
        self._leased_on: Any = None  # the writer connection that holds the lease
        self._matrix: tuple[int, VectorMatrix] | None = None

    def open(self) -> PostgresIndexStore:
        self._writer.open()
        self._reader.open()
        return self

    def close(self) -> None:
        """Close both connections; the lease, if held, is released first, so another
        replica can take it at once (closing alone would release it too, a moment later)."""
        leased = self._leased_on
        if leased is not None:  # on the connection that holds it; never connect to say goodbye
            self._writer.run_if_connected(
                lambda db: db.execute(UNLEASE, (self._lease_name,)) if db is leased else None
            )
        self._writer.close()
        self._reader.close()
        self._leased_on = None
        self._matrix = None

    # The lease

    def take_lease(self) -> bool:
        """Whether this store may write the base: it holds the lease, or just took it."""

        def work(db: Any) -> bool:
            if db is self._leased_on:
                return True
            taken = bool(db.execute(LEASE, (self._lease_name,)).fetchone()[0])
            if taken:
                self._leased_on = db
            return taken

        return self._writer.run(work)

    def ask_rebuild(self) -> None:
        """Ask the lease holder (whichever replica) to rebuild the base from scratch."""
        self._writer.run(lambda db: db.execute(SET_META, (self.base, "rebuild", str(time.time()))))

    def _write(self, work: Callable[[Any], None], *, passages: bool = True) -> None:
        """``work`` in one transaction, by the lease holder only; one that changes
        ``passages`` also moves the base's version (the replicas' vector caches)."""

        def guarded(db: Any) -> None:
            if db is not self._leased_on:
                self._leased_on = None
                raise IndexLeaseLost(f"this replica no longer holds the lease of '{self.base}'")
            with db.transaction():
                work(db)
                if not passages:
                    return
                db.execute(
                    "INSERT INTO knowledge_bases VALUES (%s, 1) ON CONFLICT (base) "
                    "DO UPDATE SET version = knowledge_bases.version + 1",
                    (self.base,),
                )

        self._writer.run(guarded)

    def _read(self, sql: str, args: Sequence[Any] = ()) -> list[Any]:
        return self._reader.run(lambda db: db.execute(sql, args).fetchall())

    # Meta

    def meta(self, key: str) -> str | None:
        rows = self._read(
            "SELECT value FROM knowledge_meta WHERE base = %s AND key = %s", (self.base, key)
        )
        return rows[0][0] if rows else None

    def set_meta(self, **values: str | None) -> None:
        def work(db: Any) -> None:
            for key, value in values.items():
                if value is None:
                    db.execute(
                        "DELETE FROM knowledge_meta WHERE base = %s AND key = %s", (self.base, key)
                    )
                else:
                    db.execute(SET_META, (self.base, key, value))

        self._write(work, passages=False)

    # Files

    def files(self) -> dict[str, FileRecord]:
        rows = self._read(
            "SELECT path, hash, size, mtime_ns, chunks, error, indexed_at "
            "FROM knowledge_files WHERE base = %s",
            (self.base,),
        )
        return {row[0]: FileRecord(*row[1:]) for row in rows}

    def counts(self) -> tuple[int, int]:
        """How many files and passages the index holds."""
        row = self._read(
            "SELECT (SELECT count(*) FROM knowledge_files WHERE base = %s), "
            "(SELECT count(*) FROM knowledge_chunks WHERE base = %s)",
            (self.base, self.base),
        )[0]
        return int(row[0]), int(row[1])

    def touch_file(self, rel: str, size: int, mtime_ns: int) -> None:
        self._write(
            lambda db: db.execute(
                "UPDATE knowledge_files SET size = %s, mtime_ns = %s WHERE base = %s AND path = %s",
                (size, mtime_ns, self.base, rel),
            ),
            passages=False,  # no passage changed: the replicas keep their vectors
        )

    def replace_files(self, updates: Sequence[FileUpdate]) -> None:
        """Swap files' passages for new ones, in one transaction."""
        now = time.time()

        def work(db: Any) -> None:
            with db.cursor() as cursor:
                for u in updates:
                    blobs = list(u.vectors) if u.vectors is not None else [None] * len(u.chunks)
                    cursor.execute(
                        "DELETE FROM knowledge_chunks WHERE base = %s AND path = %s",
                        (self.base, u.rel),
                    )
                    cursor.executemany(
                        "INSERT INTO knowledge_chunks (base, path, ordinal, span_start, "
                        "span_end, unit, heading, text, vector) "
                        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                        [
                            (self.base, u.rel, i, c.start, c.end, u.unit,
                             _text(c.heading or ""), _text(c.text), blob)
                            for i, (c, blob) in enumerate(zip(u.chunks, blobs, strict=True))
                        ],
                    )  # fmt: skip
                    cursor.execute(
                        "INSERT INTO knowledge_files VALUES (%s, %s, %s, %s, %s, %s, %s, %s) "
                        "ON CONFLICT (base, path) DO UPDATE SET hash = excluded.hash, "
                        "size = excluded.size, mtime_ns = excluded.mtime_ns, "
                        "chunks = excluded.chunks, error = excluded.error, "
                        "indexed_at = excluded.indexed_at",
                        (self.base, u.rel, u.digest, u.size, u.mtime_ns, len(u.chunks),
                         u.error, now),
                    )  # fmt: skip

        self._write(work)

    def remove_files(self, rels: Iterable[str]) -> None:
        paths = list(rels)

        def work(db: Any) -> None:
            args = (self.base, paths)
            db.execute("DELETE FROM knowledge_chunks WHERE base = %s AND path = ANY(%s)", args)
            db.execute("DELETE FROM knowledge_files WHERE base = %s AND path = ANY(%s)", args)

        self._write(work)

    def clear(self) -> None:
        """Forget every file and passage of the base (meta stays)."""

        def work(db: Any) -> None:
            db.execute("DELETE FROM knowledge_chunks WHERE base = %s", (self.base,))
            db.execute("DELETE FROM knowledge_files WHERE base = %s", (self.base,))

        self._write(work)

    # Vectors

    def missing_vectors(self, limit: int) -> list[tuple[int, str]]:
        """Passages without a vector yet, with the text to embed (heading and body)."""
        rows = self._read(
            "SELECT id, heading, text FROM knowledge_chunks "
            "WHERE base = %s AND vector IS NULL ORDER BY id LIMIT %s",
            (self.base, limit),
        )
        return [(row[0], embedding_text(row[1], row[2])) for row in rows]

    def set_vectors(self, pairs: Iterable[tuple[int, bytes]]) -> None:
        values = [(vector, self.base, chunk_id) for chunk_id, vector in pairs]

        def work(db: Any) -> None:
            with db.cursor() as cursor:
                cursor.executemany(
                    "UPDATE knowledge_chunks SET vector = %s WHERE base = %s AND id = %s", values
                )

        self._write(work)

    def clear_vectors(self) -> None:
        self._write(
            lambda db: db.execute(
                "UPDATE knowledge_chunks SET vector = NULL WHERE base = %s AND vector IS NOT NULL",
                (self.base,),
            )
        )

    def vector_matrix(self) -> VectorMatrix:
        """All stored vectors, cached until the base changes (on any replica)."""

        def work(db: Any) -> VectorMatrix:
            row = db.execute(
                "SELECT version FROM knowledge_bases WHERE base = %s", (self.base,)
            ).fetchone()
            version = row[0] if row else 0
            if self._matrix is None or self._matrix[0] != version:
                rows = db.execute(
                    "SELECT id, vector FROM knowledge_chunks "
                    "WHERE base = %s AND vector IS NOT NULL",
                    (self.base,),
                ).fetchall()
                matrix = VectorMatrix([r[0] for r in rows], [bytes(r[1]) for r in rows])
                self._matrix = (version, matrix)
            return self._matrix[1]

        return self._reader.run(work)

    def has_vectors(self) -> bool:
        return bool(
            self._read(
                "SELECT 1 FROM knowledge_chunks WHERE base = %s AND vector IS NOT NULL LIMIT 1",
                (self.base,),
            )
        )

    # Search

    def lexical(self, words: Sequence[str], limit: int) -> list[tuple[int, float]]:
        """(passage id, minus its ts_rank) of passages with any of ``words``; lower is better."""
        if not words:
            return []
        rows = self._read(
            "SELECT id, ts_rank(%s, words, q) AS score "
            "FROM knowledge_chunks, to_tsquery('english', %s) AS q "
            "WHERE base = %s AND words @@ q ORDER BY score DESC, id LIMIT %s",
            (WEIGHTS, " | ".join(words), self.base, limit),  # \w+ words: valid tsquery terms
        )
        return [(row[0], -float(row[1])) for row in rows]

    def passages(self, ids: Sequence[int]) -> list[StoredPassage]:
        """The passages with these ids, in the order given."""
        if not ids:
            return []
        rows = self._read(
            f"SELECT {PASSAGE} FROM knowledge_chunks WHERE base = %s AND id = ANY(%s)",
            (self.base, list(ids)),
        )
        found = {row[0]: StoredPassage(*row) for row in rows}
        return [found[i] for i in ids if i in found]


def index_of(name: str, data_dir: Path, storage_url: str | None) -> KnowledgeIndex:
    """Base ``name``'s index, not opened: shared in PostgreSQL with a storage URL (the
    replicas'), else this machine's SQLite file in the data dir."""
    if storage_url:
        return PostgresIndexStore(storage_url, name)
    return IndexStore(index_path(data_dir, name))
