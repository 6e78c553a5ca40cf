"""Knowledge base indexing throughput and search latency at about 10k passages.

``python -m bench.knowledge [--files N] [--dims D] [--queries Q]`` writes a
synthetic corpus of Markdown files (four sections each, so ``--files 2500``
gives about 10,000 passages) to a temporary folder and reports, each against a
baseline measured in the same run:

- indexing throughput (files and MB per second) against reading and hashing the
  same files (the floor any incremental indexer pays), without embeddings, with
  an in-process hashing embedder of ``--dims`` dimensions (vector storage and
  packing, no network), and over HTTP against the loopback stand-in (the cost of
  one ``/v1/embeddings`` request per file);
- a pass that finds nothing changed (a restart, or a watch poll with a change);
- search latency (p50, p95) against a bare FTS5 ``MATCH`` query on the same index:
  lexical ranking (``rank``), and hybrid ranking with ``--dims``-dimension vectors.

``--embeddings-url URL --embeddings-model ID`` adds a row with a real endpoint
(e.g. Ollama's ``http://127.0.0.1:11434/v1``). ``--postgres`` also indexes and searches
the same corpus in the PostgreSQL index replicas share (#18), on a cluster it starts in a
temporary folder (``tests/postgres_server.py``), beside the SQLite rows.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import random
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from server.embeddings.client import Embedder, HttpEmbedder
from server.knowledge.files import FileFilter
from server.knowledge.indexer import Indexer
from server.knowledge.search import match_expression, rank
from server.knowledge.store import BM25, IndexStore, KnowledgeIndex
from tests.upstream import Upstream

SECTIONS = 4
WORDS_PER_SECTION = 60
VOCABULARY = 6000
HTTP_FILES = 300  # the stand-in row indexes a slice: one request per file dominates
# On the asyncio loop the stand-in answers keep-alive requests ~40 ms late (uvloop: <1 ms),
# which would measure the stand-in rather than the indexer.
STAND_IN_LOOP = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"


class HashingEmbedder:
    """A real in-process embedder: words hashed into ``dims`` buckets (no model, no network)."""

    def __init__(self, dims: int) -> None:
        self.dims = dims

    @property
    def identity(self) -> str:
        return f"hashing-{self.dims}"

    def embed(self, texts: Sequence[str], *, query: bool = False) -> list[list[float]]:
        vectors = []
        for text in texts:
            vector = [0.0] * self.dims
            for word in text.lower().split():
                digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
                bucket = int.from_bytes(digest[:4], "little") % self.dims
                vector[bucket] += 1.0 if digest[4] & 1 else -1.0
            vectors.append(vector)
        return vectors


def make_corpus(root: Path, files: int, seed: int = 7) -> list[str]:
    """Write the corpus; returns the vocabulary (for queries)."""
    rng = random.Random(seed)
    vocabulary = [f"w{rng.getrandbits(40):x}" for _ in range(VOCABULARY)]
    weights = [1.0 / (rank + 1) for rank in range(VOCABULARY)]  # Zipf-like, as in prose
    for index in range(files):
        folder = root / f"part{index % 20:02}"
        folder.mkdir(parents=True, exist_ok=True)
        lines = [f"# Document {index}", ""]
        for section in range(SECTIONS):
            words = rng.choices(vocabulary, weights, k=WORDS_PER_SECTION)
            lines += [f"## Section {section}", "", " ".join(words) + ".", ""]
        (folder / f"doc{index:05}.md").write_text("\n".join(lines), encoding="utf-8")
    return vocabulary


def corpus_bytes(root: Path) -> int:
    return sum(path.stat().st_size for path in root.rglob("*.md"))


def read_and_hash(root: Path) -> float:
    """The baseline: read every file and hash it, as an incremental pass at least does."""
    started = time.perf_counter()
    for path in sorted(root.rglob("*.md")):
        hashlib.sha256(path.read_bytes()).hexdigest()
    return time.perf_counter() - started


def index(
    root: Path, db: Path | KnowledgeIndex, embedder: Embedder | None
) -> tuple[float, KnowledgeIndex]:
    store = (db if not isinstance(db, Path) else IndexStore(db)).open()
    assert store.take_lease()
    started = time.perf_counter()
    result = Indexer(root, FileFilter(None, []), store, embedder).run()
    elapsed = time.perf_counter() - started
    assert result.complete and not result.failed and result.embedding_error is None
    return elapsed, store


def latencies(run: Callable[[str], object], queries: Sequence[str]) -> tuple[float, float]:
    """p50 and p95 in milliseconds (after a warm-up query)."""
    run(queries[0])
    times = []
    for query in queries:
        started = time.perf_counter()
        run(query)
        times.append((time.perf_counter() - started) * 1000)
    ordered = sorted(times)
    return statistics.median(ordered), ordered[int(len(ordered) * 0.95) - 1]


def throughput_row(label: str, files: int, size: int, seconds: float) -> str:
    return (
        f"{label:<44} {seconds:8.2f} s {files / seconds:9.0f} files/s "
        f"{size / seconds / 1e6:7.2f} MB/s"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.knowledge", description=__doc__)
    parser.add_argument("--files", type=int, default=2500, help="files (4 passages each)")
    parser.add_argument("--dims", type=int, default=768, help="vector dimensions (768)")
    parser.add_argument("--queries", type=int, default=200, help="queries per latency row")
    parser.add_argument("--embeddings-url", help="a real /v1/embeddings endpoint to add")
    parser.add_argument("--embeddings-model", default="nomic-embed-text")
    parser.add_argument(
        "--postgres", action="store_true", help="also on PostgreSQL (a cluster it starts)"
    )
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="traymind-bench-") as tmp:
        root = Path(tmp) / "corpus"
        vocabulary = make_corpus(root, args.files)
        size = corpus_bytes(root)
        rng = random.Random(11)
        queries = [" ".join(rng.sample(vocabulary[:2000], 3)) for _ in range(args.queries)]
        print(f"corpus: {args.files} files, {size / 1e6:.1f} MB\n\nIndexing")
        print(throughput_row("baseline: read + sha256", args.files, size, read_and_hash(root)))

        seconds, lexical = index(root, Path(tmp) / "lexical.sqlite3", None)
        files, chunks = lexical.counts()
        print(throughput_row("index, words only", files, size, seconds))
        hashing = HashingEmbedder(args.dims)
        seconds, hybrid = index(root, Path(tmp) / "hybrid.sqlite3", hashing)
        print(throughput_row(f"index + {args.dims}-dim vectors (in-process)", files, size, seconds))
        http_root = Path(tmp) / "http-slice"
        http_root.mkdir()
        for path in sorted(root.rglob("*.md"))[:HTTP_FILES]:
            (http_root / path.name).write_bytes(path.read_bytes())
        with Upstream(loop=STAND_IN_LOOP) as upstream:
            stand_in = HttpEmbedder(upstream.base_url, "embed")
            seconds, store = index(http_root, Path(tmp) / "http.sqlite3", stand_in)
            store.close()
            stand_in.close()
        print(
            throughput_row(
                "index + /v1/embeddings (stand-in, 8 dims)",
                HTTP_FILES,
                corpus_bytes(http_root),
                seconds,
            )
        )
        if args.embeddings_url:
            real = HttpEmbedder(args.embeddings_url, args.embeddings_model)
            seconds, store = index(http_root, Path(tmp) / "real.sqlite3", real)
            store.close()
            real.close()
            print(
                throughput_row(
                    f"index + {args.embeddings_model}", HTTP_FILES, corpus_bytes(http_root), seconds
                )
            )
        started = time.perf_counter()
        Indexer(root, FileFilter(None, []), lexical).run()
        print(f"{'pass with nothing changed':<44} {time.perf_counter() - started:8.2f} s")

        print(f"\nSearch at {chunks} passages ({args.queries} queries, 3 words, top 5)")
        raw = sqlite3.connect(lexical.path)

        def bare_fts(query: str) -> object:
            expression = match_expression(query)
            return raw.execute(
                f"SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH ? ORDER BY {BM25} LIMIT 5",
                (expression,),
            ).fetchall()

        rows = [
            ("baseline: bare FTS5 MATCH + bm25", bare_fts),
            ("lexical rank (passages fetched)", lambda q: rank(lexical, q, 5)),
            (
                f"hybrid rank, {args.dims}-dim vectors",
                lambda q: rank(hybrid, q, 5, hashing),
            ),
        ]
        for label, run in rows:
            p50, p95 = latencies(run, queries)
            print(f"{label:<44} p50 {p50:7.2f} ms   p95 {p95:7.2f} ms")
        raw.close()
        lexical.close()
        hybrid.close()
        if args.postgres:
            on_postgres(root, size, queries, hashing)


def on_postgres(root: Path, size: int, queries: Sequence[str], hashing: HashingEmbedder) -> None:
    """The same corpus indexed and searched in PostgreSQL (the index replicas share)."""
    from server.postgres.index_store import PostgresIndexStore
    from tests.postgres_server import fresh_database, new_name, postgres_server

    with postgres_server() as cluster:
        database = fresh_database(cluster, new_name())
        print("\nPostgreSQL (loopback, fsync off), the same corpus")
        seconds, lexical = index(root, PostgresIndexStore(database, "words"), None)
        files, _ = lexical.counts()
        print(throughput_row("index, words only", files, size, seconds))
        seconds, hybrid = index(root, PostgresIndexStore(database, "hybrid"), hashing)
        print(
            throughput_row(f"index + {hashing.dims}-dim vectors (in-process)", files, size, seconds)
        )
        started = time.perf_counter()
        Indexer(root, FileFilter(None, []), lexical).run()
        print(f"{'pass with nothing changed':<44} {time.perf_counter() - started:8.2f} s")
        for label, run in (
            ("lexical rank (passages fetched)", lambda q: rank(lexical, q, 5)),
            ("hybrid rank, vectors", lambda q: rank(hybrid, q, 5, hashing)),
        ):
            p50, p95 = latencies(run, queries)
            print(f"{label:<44} p50 {p50:7.2f} ms   p95 {p95:7.2f} ms")
        lexical.close()
        hybrid.close()


if __name__ == "__main__":
    main()
