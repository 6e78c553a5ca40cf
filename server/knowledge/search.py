"""Ranking passages for a query: BM25 always, fused with vector similarity when available.

Queries are free text from a model or a person, never FTS5 syntax: they are cut
into words, each quoted, and OR-ed, so punctuation cannot break the query and a
passage matching more of the words ranks higher.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from server.embeddings.client import Embedder, EmbeddingError
from server.embeddings.vectors import fuse
from server.knowledge.store import KnowledgeIndex, StoredPassage, fts5_expression

log = logging.getLogger(__name__)

WORD = re.compile(r"\w+", re.UNICODE)
CANDIDATES = 40  # per ranking, before fusion
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "can",
        "do",
        "does",
        "for",
        "from",
        "how",
        "i",
        "in",
        "is",
        "it",
        "me",
        "my",
        "of",
        "on",
        "or",
        "our",
        "please",
        "should",
        "so",
        "tell",
        "that",
        "the",
        "their",
        "there",
        "this",
        "to",
        "us",
        "was",
        "we",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "you",
        "your",
    ]
)


@dataclass(frozen=True, slots=True)
class Passage:
    """A search hit: which base and file it comes from, where in it, and its text."""

    base: str
    path: str
    location: str
    heading: str
    text: str


def to_passage(base: str, stored: StoredPassage) -> Passage:
    return Passage(base, stored.path, stored.location, stored.heading, stored.text)


def format_passages(passages: Sequence[Passage], notes: Sequence[str] = ()) -> str:
    """Passages as the tool and ``traymind kb search`` show them: a source line, then text."""
    blocks = [
        f"[{i}] source: {p.path} ({p.location}, knowledge base `{p.base}`)"
        + (f"\nsection: {p.heading}" if p.heading else "")
        + f"\n{p.text}"
        for i, p in enumerate(passages, start=1)
    ]
    return "\n\n".join([*notes, *blocks])


def query_words(query: str) -> list[str]:
    """The words a search looks for: lower-cased, stop words dropped, at most 32."""
    words = [w.lower() for w in WORD.findall(query)]
    kept = [w for w in words if w not in STOPWORDS] or words
    return list(dict.fromkeys(kept))[:32]


def match_expression(query: str) -> str | None:
    """An FTS5 expression matching any of the query's words (stop words dropped)."""
    unique = query_words(query)
    return fts5_expression(unique) if unique else None


def rank_many(
    stores: Mapping[str, KnowledgeIndex],
    query: str,
    limit: int,
    embedder: Embedder | None = None,
    query_vector: list[float] | None = None,
) -> list[tuple[str, StoredPassage]]:
    """The best ``limit`` passages across several bases, with the base each comes from.

    Lexical hits of all bases are ordered by BM25 together, semantic hits by cosine
    together (one embedding model, so one scale), and the two orders are fused.
    """
    lexical: list[tuple[tuple[str, int], float]] = []
    words = query_words(query)
    for base, store in stores.items():
        lexical += [((base, i), score) for i, score in store.lexical(words, CANDIDATES)]
    lexical.sort(key=lambda hit: hit[1])  # lower is better (bm25(), or minus ts_rank)
    semantic: list[tuple[tuple[str, int], float]] = []
    if embedder is not None or query_vector is not None:
        matrices = {base: store.vector_matrix() for base, store in stores.items()}
        if any(len(matrix) for matrix in matrices.values()):
            vector = query_vector or embed_query(embedder, query)
            for base, matrix in matrices.items():
                if vector is not None:
                    semantic += [((base, i), sim) for i, sim in matrix.nearest(vector, CANDIDATES)]
    semantic.sort(key=lambda hit: -hit[1])
    keys = fuse([[key for key, _ in lexical], [key for key, _ in semantic]])[:limit]
    found: dict[tuple[str, int], StoredPassage] = {}
    for base, store in stores.items():
        ids = [i for b, i in keys if b == base]
        found.update(((base, p.id), p) for p in store.passages(ids))
    return [(key[0], found[key]) for key in keys if key in found]


def rank(
    store: KnowledgeIndex,
    query: str,
    limit: int,
    embedder: Embedder | None = None,
    query_vector: list[float] | None = None,
) -> list[StoredPassage]:
    """The best ``limit`` passages of one base for ``query``."""
    return [p for _, p in rank_many({"": store}, query, limit, embedder, query_vector)]


def embed_query(embedder: Embedder | None, query: str) -> list[float] | None:
    """The query's vector, or None (lexical search still answers) when the endpoint fails."""
    if embedder is None or not query.strip():
        return None
    try:
        return embedder.embed([query], query=True)[0]
    except EmbeddingError as exc:
        log.warning("query embedding failed; searching lexically only: %s", exc)
        return None
