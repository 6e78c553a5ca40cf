"""Agent memory for the server: saving, finding what matters for a message, and agent wiring.

The memories put in an agent's context each turn are all of them while there
are few (a preference like "use metric units" matters to questions that share
no word with it), and the most relevant ones by words and, with embeddings, by
meaning once there are many, topped up with the most recent.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from server.config.schema import ModelConfig
from server.embeddings.client import EmbeddingError, HttpEmbedder, embedder_for
from server.embeddings.vectors import VectorMatrix, fuse, pack
from server.knowledge.search import embed_query
from server.memory.store import NOAUTH, Memory, MemoryStore

if TYPE_CHECKING:
    from server.embeddings.client import Embedder
    from server.postgres.memory_store import PostgresMemoryStore

    AnyMemoryStore = MemoryStore | PostgresMemoryStore

log = logging.getLogger(__name__)

CONTEXT_MEMORIES = 8  # memories put in the context each turn
MAX_MEMORY_CHARS = 1000
EMBED_BATCH = 32


def _embedder_for(model: ModelConfig | None) -> HttpEmbedder | None:
    try:
        return embedder_for(model)
    except ValueError as exc:
        log.warning("memory ranks by words only: %s", exc)
        return None


class MemoryService:
    """Memories of every agent, over one ``MemoryStore``."""

    def __init__(self, store: AnyMemoryStore, embedder: Embedder | None = None) -> None:
        self.store = store
        self.embedder = embedder

    @classmethod
    def open(
        cls,
        data_dir: Path,
        embeddings: ModelConfig | None = None,
        store: AnyMemoryStore | None = None,
    ) -> MemoryService:
        """The memory of a data dir (or of ``store``: the PostgreSQL one replicas share),
        with semantic ranking when an ``embeddings`` model is given.

        The store is opened on first use, so a server that fails to start leaks nothing.
        """
        chosen = store if store is not None else MemoryStore.in_data_dir(data_dir)
        return cls(chosen, _embedder_for(embeddings))

    def update(self, embeddings: ModelConfig | None) -> None:
        """Adopt a reloaded config's embeddings model (the memories themselves stay)."""
        old, self.embedder = self.embedder, _embedder_for(embeddings)
        if isinstance(old, HttpEmbedder):
            old.close()

    def close(self) -> None:
        self.store.close()
        if isinstance(self.embedder, HttpEmbedder):
            self.embedder.close()

    def remember(
        self, agent: str, text: str, session: str | None = None, namespace: str = NOAUTH
    ) -> Memory:
        """Save a memory under the caller's namespace (and embed memories lacking a vector)."""
        text = text.strip()
        if not text:
            raise ValueError("there is nothing to remember in an empty text")
        memory = self.store.add(agent, text[:MAX_MEMORY_CHARS], session, namespace)
        self._embed_missing(agent)
        return memory

    def _embed_missing(self, agent: str) -> None:
        if self.embedder is None:
            return
        missing = self.store.missing_vectors(agent, self.embedder.identity, EMBED_BATCH)
        if not missing:
            return
        try:
            vectors = self.embedder.embed([text for _, text in missing])
        except EmbeddingError as exc:
            log.warning("memory embeddings failed; words still find memories: %s", exc)
            return
        self.store.set_vectors(
            self.embedder.identity,
            [(memory_id, pack(v)) for (memory_id, _), v in zip(missing, vectors, strict=True)],
        )

    def recall(
        self, agent: str, query: str, limit: int = 5, namespace: str = NOAUTH
    ) -> list[Memory]:
        """The agent's memories in ``namespace`` that match ``query``, best first (may be empty)."""
        lexical = self.store.lexical(agent, query, limit * 2, namespace)
        semantic: list[int] = []
        if self.embedder is not None:
            ids, blobs = self.store.vectors(agent, self.embedder.identity, namespace)
            vector = embed_query(self.embedder, query) if ids else None
            if vector is not None:
                semantic = [i for i, _ in VectorMatrix(ids, blobs).nearest(vector, limit * 2)]
        return self.store.get(agent, fuse([lexical, semantic])[:limit], namespace)

    def relevant(
        self, agent: str, message: str, limit: int = CONTEXT_MEMORIES, namespace: str = NOAUTH
    ) -> list[Memory]:
        """What to put in the context for ``message``: all when few, else best then newest."""
        recent = self.store.memories(agent, limit=limit + 1, namespace=namespace)
        if len(recent) <= limit:
            return recent
        chosen = self.recall(agent, message, limit, namespace)
        seen = {m.id for m in chosen}
        newest = self.store.memories(agent, limit=limit * 2, namespace=namespace)
        chosen += [m for m in newest if m.id not in seen]
        return chosen[:limit]

    def memories(self, agent: str, namespace: str = NOAUTH) -> list[Memory]:
        return self.store.memories(agent, namespace=namespace)

    def forget(self, agent: str, memory_id: int, namespace: str = NOAUTH) -> Memory:
        return self.store.forget(agent, memory_id, namespace)
