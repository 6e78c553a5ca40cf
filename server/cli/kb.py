"""``traymind kb``: rebuild and try knowledge bases.

These run in their own process, on the same indexes the server uses: SQLite files
in WAL mode allow both at once, and with a storage URL the PostgreSQL index the
replicas share (a rebuild then needs the base's lease, or asks its holder). Results
go to stdout; progress and notes go to stderr so that output can be piped.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from server.cli.common import EXIT_FAILED, EXIT_OK, add_data_dir, note, storage_url
from server.config import Config, ConfigError, KnowledgeBaseConfig, load_config, locate_config
from server.embeddings.client import Embedder, embedder_for
from server.knowledge import git_sync
from server.knowledge.files import FileFilter
from server.knowledge.indexer import Indexer
from server.knowledge.search import format_passages, rank, to_passage
from server.paths import resolve_data_dir
from server.postgres.index_store import index_of
from server.sessions.store import StorageError


def add_kb_parser(subparsers: Any) -> None:
    """Add ``kb`` with ``reindex [NAME]`` and ``search NAME QUERY``."""
    kb = subparsers.add_parser("kb", help="rebuild or search knowledge bases")
    actions = kb.add_subparsers(dest="kb_command", metavar="ACTION", required=True)
    reindex = actions.add_parser("reindex", help="rebuild a knowledge base's index (or all)")
    reindex.add_argument("name", nargs="?", metavar="NAME", help="a key under knowledge_bases")
    add_data_dir(reindex, keystore=True)
    search = actions.add_parser("search", help="print the passages a query finds")
    search.add_argument("name", metavar="NAME", help="a key under knowledge_bases")
    search.add_argument("query", metavar="QUERY", help="what to look for")
    search.add_argument("-k", "--top-k", type=int, default=5, help="passages to show (5)")
    add_data_dir(search, keystore=True)


def run_kb(args: argparse.Namespace) -> int:
    """Run a ``kb`` action; 0 done, 1 failed (unknown base, bad config, sync or index error)."""
    try:
        config = load_config(locate_config(args.config))
    except ConfigError as exc:
        note(str(exc))
        return EXIT_FAILED
    data_dir = resolve_data_dir(args.data_dir)
    names = [args.name] if args.name else list(config.knowledge_bases)
    unknown = [n for n in names if n not in config.knowledge_bases]
    if unknown:
        known = ", ".join(config.knowledge_bases) or "none"
        note(f"traymind kb: unknown knowledge base '{unknown[0]}' (configured: {known})")
        return EXIT_FAILED
    if not names:
        note("traymind kb: the config has no knowledge_bases")
        return EXIT_FAILED
    embedder = _embedder(config)
    try:
        shared = storage_url(args.config, args.data_dir, args.keystore)
        if args.kb_command == "search":
            return _search(args.name, data_dir, shared, args.query, args.top_k, embedder)
        failed = [name for name in names if not _reindex(name, config, data_dir, shared, embedder)]
    except StorageError as exc:
        note(f"traymind kb: {exc.message}")
        return EXIT_FAILED
    return EXIT_FAILED if failed else EXIT_OK


def _embedder(config: Config) -> Embedder | None:
    try:
        return embedder_for(config.embeddings_model)
    except ValueError as exc:
        note(f"note: semantic search is off: {exc}")
        return None


def _reindex(
    name: str, config: Config, data_dir: Path, shared: str | None, embedder: Embedder | None
) -> bool:
    base: KnowledgeBaseConfig = config.knowledge_bases[name]
    root = Path(base.path)
    store = index_of(name, data_dir, shared).open()
    started = time.monotonic()
    try:
        if not store.take_lease():  # before any sync: the holder may be reading the checkout
            note(
                f"{name}: a running replica indexes this base (it holds its lease); "
                "it was asked to rebuild it"
            )
            store.ask_rebuild()
            return True
        if base.git is not None:
            note(f"{name}: syncing {base.git.repo_url} ({base.git.branch})")
            try:
                git_sync.sync(base.git.repo_url, base.git.branch, root)
            except git_sync.GitSyncError as exc:
                note(f"{name}: sync failed: {exc}")
                if not root.is_dir():
                    return False
                note(f"{name}: indexing the last checkout")
        if not root.is_dir():
            note(f"{name}: the folder {root} does not exist")
            return False
        result = Indexer(root, FileFilter(base.include, base.exclude), store, embedder).run(
            rebuild=True, progress=_progress_printer(name)
        )
        files, chunks = store.counts()
    finally:
        store.close()
    notes = [f"{len(result.failed)} unreadable"] if result.failed else []
    for rel, why in sorted(result.failed.items()):
        note(f"{name}: skipped {rel}: {why}")
    if result.embedding_error:
        notes.append(f"no vectors: {result.embedding_error}")
    extra = f" ({'; '.join(notes)})" if notes else ""
    elapsed = time.monotonic() - started
    print(f"{name}: {_count(files, 'file')}, {_count(chunks, 'passage')} in {elapsed:.1f} s{extra}")
    return True


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" + ("" if number == 1 else "s")


def _progress_printer(name: str) -> Any:
    if not sys.stderr.isatty():
        return None

    def show(done: int, total: int) -> None:
        end = "\n" if done == total else ""
        print(f"\r{name}: indexing {done}/{total} files", end=end, file=sys.stderr, flush=True)

    return show


def _search(
    name: str,
    data_dir: Path,
    shared: str | None,
    query: str,
    top_k: int,
    embedder: Embedder | None,
) -> int:
    store = index_of(name, data_dir, shared)
    if not shared and not Path(store.path).exists():
        note(
            f"traymind kb: '{name}' has no index yet; run `traymind kb reindex {name}` "
            "or start the server"
        )
        return EXIT_FAILED
    store.open()
    try:
        passages = [to_passage(name, p) for p in rank(store, query, max(1, top_k), embedder)]
        if store.meta("complete") != "1":
            note(f"note: '{name}' is still being indexed; results may be incomplete")
    finally:
        store.close()
    if not passages:
        note(f"No passages in '{name}' match {query!r}.")
        return EXIT_OK
    print(format_passages(passages))
    return EXIT_OK


# memory
