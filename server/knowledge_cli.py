"""``traymind kb`` and ``traymind memory``: rebuild and try knowledge bases, correct memories.

These run in their own process, on the same index and memory files the server
uses (SQLite in WAL mode allows both at once). Results go to stdout; progress
and notes go to stderr so that output can be piped.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from server.config import Config, ConfigError, KnowledgeBaseConfig, load_config, locate_config
from server.knowledge import git_sync
from server.knowledge.embeddings import Embedder, embedder_from_config
from server.knowledge.files import FileFilter
from server.knowledge.indexer import Indexer
from server.knowledge.search import format_passages, rank, to_passage
from server.knowledge.service import index_path
from server.knowledge.store import IndexStore
from server.memory import MemoryNotFound, MemoryStore, memory_path
from server.paths import resolve_data_dir

EXIT_OK = 0
EXIT_FAILED = 1


def _common(parser: argparse.ArgumentParser, *, config: bool = True) -> None:
    if config:
        parser.add_argument("--config", metavar="PATH", help="config.yaml to use")
    parser.add_argument("--data-dir", metavar="DIR", help="data dir (default: $TRAYMIND_DATA_DIR)")


def add_kb_parser(subparsers: Any) -> None:
    """Add ``kb`` with ``reindex [NAME]`` and ``search NAME QUERY``."""
    kb = subparsers.add_parser("kb", help="rebuild or search knowledge bases")
    actions = kb.add_subparsers(dest="kb_command", metavar="ACTION", required=True)
    reindex = actions.add_parser("reindex", help="rebuild a knowledge base's index (or all)")
    reindex.add_argument("name", nargs="?", metavar="NAME", help="a key under knowledge_bases")
    _common(reindex)
    search = actions.add_parser("search", help="print the passages a query finds")
    search.add_argument("name", metavar="NAME", help="a key under knowledge_bases")
    search.add_argument("query", metavar="QUERY", help="what to look for")
    search.add_argument("-k", "--top-k", type=int, default=5, help="passages to show (5)")
    _common(search)


def add_memory_parser(subparsers: Any) -> None:
    """Add ``memory`` with ``list AGENT`` and ``forget AGENT ID``."""
    memory = subparsers.add_parser("memory", help="see or correct what agents remember")
    actions = memory.add_subparsers(dest="memory_command", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="list an agent's memories, newest first")
    listing.add_argument("agent", metavar="AGENT", help="the agent's id")
    _common(listing, config=False)
    forget = actions.add_parser("forget", help="delete one memory")
    forget.add_argument("agent", metavar="AGENT", help="the agent's id")
    forget.add_argument("memory_id", metavar="ID", type=int, help="the memory's id (see list)")
    _common(forget, config=False)


def _note(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# kb


def run_kb(args: argparse.Namespace) -> int:
    """Run a ``kb`` action; 0 done, 1 failed (unknown base, bad config, sync or index error)."""
    try:
        config = load_config(locate_config(args.config))
    except ConfigError as exc:
        _note(str(exc))
        return EXIT_FAILED
    data_dir = resolve_data_dir(args.data_dir)
    names = [args.name] if args.name else list(config.knowledge_bases)
    unknown = [n for n in names if n not in config.knowledge_bases]
    if unknown:
        known = ", ".join(config.knowledge_bases) or "none"
        _note(f"traymind kb: unknown knowledge base '{unknown[0]}' (configured: {known})")
        return EXIT_FAILED
    if not names:
        _note("traymind kb: the config has no knowledge_bases")
        return EXIT_FAILED
    embedder = _embedder(config)
    if args.kb_command == "search":
        return _search(args.name, config, data_dir, args.query, args.top_k, embedder)
    failed = [name for name in names if not _reindex(name, config, data_dir, embedder)]
    return EXIT_FAILED if failed else EXIT_OK


def _embedder(config: Config) -> Embedder | None:
    try:
        return embedder_from_config(config)
    except ValueError as exc:
        _note(f"note: semantic search is off: {exc}")
        return None


def _reindex(name: str, config: Config, data_dir: Path, embedder: Embedder | None) -> bool:
    base: KnowledgeBaseConfig = config.knowledge_bases[name]
    root = Path(base.path)
    if base.git is not None:
        _note(f"{name}: syncing {base.git.repo_url} ({base.git.branch})")
        try:
            git_sync.sync(base.git.repo_url, base.git.branch, root)
        except git_sync.GitSyncError as exc:
            _note(f"{name}: sync failed: {exc}")
            if not root.is_dir():
                return False
            _note(f"{name}: indexing the last checkout")
    if not root.is_dir():
        _note(f"{name}: the folder {root} does not exist")
        return False
    store = IndexStore(index_path(data_dir, name)).open()
    started = time.monotonic()
    try:
        result = Indexer(root, FileFilter(base.include, base.exclude), store, embedder).run(
            rebuild=True, progress=_progress_printer(name)
        )
        files, chunks = store.counts()
    finally:
        store.close()
    notes = [f"{len(result.failed)} unreadable"] if result.failed else []
    for rel, why in sorted(result.failed.items()):
        _note(f"{name}: skipped {rel}: {why}")
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
    name: str, config: Config, data_dir: Path, query: str, top_k: int, embedder: Embedder | None
) -> int:
    path = index_path(data_dir, name)
    if not path.exists():
        _note(
            f"traymind kb: '{name}' has no index yet; run `traymind kb reindex {name}` "
            "or start the server"
        )
        return EXIT_FAILED
    store = IndexStore(path).open()
    try:
        passages = [to_passage(name, p) for p in rank(store, query, max(1, top_k), embedder)]
        if store.meta("complete") != "1":
            _note(f"note: '{name}' is still being indexed; results may be incomplete")
    finally:
        store.close()
    if not passages:
        _note(f"No passages in '{name}' match {query!r}.")
        return EXIT_OK
    print(format_passages(passages))
    return EXIT_OK


# memory


def run_memory(args: argparse.Namespace) -> int:
    """Run a ``memory`` action; 0 done, 1 failed (no such memory)."""
    path = memory_path(resolve_data_dir(args.data_dir))
    if not path.exists():
        _note(f"No memories yet (no {path}).")
        return EXIT_OK if args.memory_command == "list" else EXIT_FAILED
    store = MemoryStore(path).open()
    try:
        if args.memory_command == "list":
            return _list_memories(store, args.agent)
        memory = store.forget(args.agent, args.memory_id)
        _note(f"Forgot memory #{memory.id} of '{args.agent}': {memory.text}")
        return EXIT_OK
    except MemoryNotFound as exc:
        _note(f"traymind memory: {exc.args[0]}")
        return EXIT_FAILED
    finally:
        store.close()


def _list_memories(store: MemoryStore, agent: str) -> int:
    memories = store.memories(agent)
    if not memories:
        _note(f"Agent '{agent}' remembers nothing yet.")
        return EXIT_OK
    rows = [("ID", "CREATED", "SESSION", "MEMORY")] + [
        (
            str(m.id),
            time.strftime("%Y-%m-%d %H:%M", time.localtime(m.created)),
            (m.session or "-")[:24],
            m.text,
        )
        for m in memories
    ]
    widths = [max(len(row[c]) for row in rows) for c in range(3)]
    for row in rows:
        padded = [cell.ljust(w) for cell, w in zip(row[:3], widths, strict=True)]
        print("  ".join([*padded, row[3]]))
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    """Standalone entry (``python -m server.knowledge_cli kb ...``) until the main CLI wires it."""
    parser = argparse.ArgumentParser(prog="traymind")
    commands = parser.add_subparsers(dest="command", required=True)
    add_kb_parser(commands)
    add_memory_parser(commands)
    args = parser.parse_args(argv)
    return run_kb(args) if args.command == "kb" else run_memory(args)


if __name__ == "__main__":
    sys.exit(main())
