"""One indexing pass over a knowledge base folder: only what changed is read again.

A file is re-read when its size or time differs from the index, and re-indexed
only when its content hash differs too (a ``touch`` or a Git checkout that
rewrites identical files costs a hash, not a re-chunk and re-embed). Passes can
be stopped between files; a stopped pass leaves a consistent, partial index.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from server.embeddings.client import Embedder, EmbeddingError
from server.embeddings.vectors import pack
from server.knowledge.chunking import Chunk, chunk
from server.knowledge.extract import UnreadableFile, extract
from server.knowledge.files import FileFilter, FileStat, content_hash, read_inside, scan
from server.knowledge.store import FileUpdate, KnowledgeIndex, embedding_text

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
BACKFILL_BATCH = 128
BATCH_FILES = 32  # files written per transaction (FTS5 pays per commit)
BATCH_SECONDS = 0.5  # ... or at least this often, so searches see progress


@dataclass(slots=True)
class PassResult:
    """What one pass did, file by file."""

    indexed: list[str] = field(default_factory=list)  # read, chunked and stored again
    unchanged: list[str] = field(default_factory=list)  # time changed, content did not
    removed: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # unreadable files and why
    embedding_error: str | None = None
    complete: bool = False  # False when the pass was stopped before the end


class Indexer:
    """Keeps one index (``KnowledgeIndex``) in step with one folder."""

    def __init__(
        self,
        root: Path,
        filter_: FileFilter,
        store: KnowledgeIndex,
        embedder: Embedder | None = None,
    ) -> None:
        self.root = root
        self.filter = filter_
        self.store = store
        self.embedder = embedder
        self.last_scan: dict[str, FileStat] = {}
        self._pending: list[FileUpdate] = []
        self._flushed = 0.0

    def scan(self) -> dict[str, FileStat]:
        """The folder's wanted files now (raises ``FileNotFoundError`` if it is gone)."""
        if not self.root.is_dir():
            raise FileNotFoundError(f"the folder {self.root} does not exist")
        return scan(self.root, self.filter)

    def run(
        self,
        *,
        rebuild: bool = False,
        should_stop: Callable[[], bool] = lambda: False,
        progress: Progress | None = None,
    ) -> PassResult:
        """Bring the index up to date with the folder (from scratch when ``rebuild``)."""
        self._check_identity(rebuild)
        current = self.scan()
        known = self.store.files()
        result = PassResult()
        result.removed = [rel for rel in known if rel not in current]
        todo = [
            stat
            for rel, stat in sorted(current.items())
            if (record := known.get(rel)) is None
            or (record.size, record.mtime_ns) != (stat.size, stat.mtime_ns)
        ]
        report = progress or (lambda done, total: None)
        report(0, len(todo))
        if result.removed:
            self.store.remove_files(result.removed)
        self._flushed = time.monotonic()
        try:
            for done, stat in enumerate(todo, start=1):
                if should_stop():
                    self._flush()
                    return result
                record = known.get(stat.rel)
                self._index_file(stat, record.hash if record else None, result)
                if len(self._pending) >= BATCH_FILES or self._due():
                    self._flush()
                report(done, len(todo))
            self._flush()
        finally:
            self._pending = []  # a batch that failed is not written by a later pass
        self.last_scan = current
        if self.embedder is not None and result.embedding_error is None:
            result.embedding_error = self.backfill(should_stop)
        result.complete = not should_stop()
        if result.complete:
            self.store.set_meta(complete="1")
        return result

    def _check_identity(self, rebuild: bool) -> None:
        """Start over when asked, or when the folder moved; drop vectors of another model."""
        root = str(self.root)
        stored_root = self.store.meta("root")
        if rebuild or stored_root != root:
            if stored_root is not None and stored_root != root:
                log.warning("the index was made from %s, not %s: starting over", stored_root, root)
            self.store.set_meta(complete=None)  # first: a crash between the two is not "ready"
            self.store.clear()
            self.store.set_meta(root=root)
        identity = self.embedder.identity if self.embedder else None
        stored = self.store.meta("embedder")
        if identity is not None and stored != identity:
            self.store.clear_vectors()
            self.store.set_meta(embedder=identity)

    def _index_file(self, stat: FileStat, old_hash: str | None, result: PassResult) -> None:
        try:
            data = read_inside(self.root, stat.rel)
        except FileNotFoundError:
            self.store.remove_files([stat.rel])
            result.removed.append(stat.rel)
            return
        except OSError as exc:
            data, error = b"", f"cannot read ({exc.strerror or exc})"
        else:
            error = None
        digest = content_hash(data)
        if digest == old_hash and error is None:
            self.store.touch_file(stat.rel, stat.size, stat.mtime_ns)
            result.unchanged.append(stat.rel)
            return
        unit, chunks = "line", []
        if error is None:
            try:
                extracted = extract(stat.rel, data)
                unit, chunks = extracted.unit, chunk(extracted)
            except UnreadableFile as exc:
                error = str(exc)
        vectors = self._vectors(chunks, result) if chunks else None
        self._pending.append(
            FileUpdate(stat.rel, digest, stat.size, stat.mtime_ns, unit, chunks, vectors, error)
        )
        if error is not None:
            result.failed[stat.rel] = error
        else:
            result.indexed.append(stat.rel)

    def _due(self) -> bool:
        return time.monotonic() - self._flushed >= BATCH_SECONDS

    def _flush(self) -> None:
        if self._pending:
            self.store.replace_files(self._pending)
            self._pending = []
        self._flushed = time.monotonic()

    def _vectors(self, chunks: list[Chunk], result: PassResult) -> list[bytes | None] | None:
        """Vectors for a file's passages; after one failure, none for the rest of the pass."""
        if self.embedder is None or result.embedding_error is not None:
            return None
        try:
            texts = [embedding_text(c.heading or "", c.text) for c in chunks]
            return [pack(v) for v in self.embedder.embed(texts)]
        except EmbeddingError as exc:
            log.warning("embeddings failed; passages are stored for lexical search: %s", exc)
            result.embedding_error = str(exc)
            return None

    def backfill(self, should_stop: Callable[[], bool] = lambda: False) -> str | None:
        """Embed passages stored without a vector; the error, if the endpoint failed."""
        if self.embedder is None:
            return None
        while not should_stop():
            missing = self.store.missing_vectors(BACKFILL_BATCH)
            if not missing:
                return None
            try:
                vectors = self.embedder.embed([text for _, text in missing])
            except EmbeddingError as exc:
                return str(exc)
            self.store.set_vectors(
                (chunk_id, pack(v)) for (chunk_id, _), v in zip(missing, vectors, strict=True)
            )
        return None
