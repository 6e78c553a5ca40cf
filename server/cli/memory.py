"""``traymind memory``: see or correct what agents remember.

Runs in its own process on the memory file the server uses (SQLite in WAL mode), or
on the shared PostgreSQL database when ``TRAYMIND_STORAGE_URL`` is set (or ``--config``
names a config with ``storage.url``).
"""

from __future__ import annotations

import argparse
import time
from typing import TYPE_CHECKING, Any

from server.cli.common import EXIT_FAILED, EXIT_OK, add_data_dir, note, storage_url
from server.config import ConfigError
from server.memory import MemoryNotFound, MemoryStore, memory_path
from server.paths import resolve_data_dir
from server.sessions.store import StorageError

if TYPE_CHECKING:
    from server.postgres.memory_store import PostgresMemoryStore


def add_memory_parser(subparsers: Any) -> None:
    """Add ``memory`` with ``list AGENT`` and ``forget AGENT ID``."""
    memory = subparsers.add_parser("memory", help="see or correct what agents remember")
    actions = memory.add_subparsers(dest="memory_command", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="list an agent's memories, newest first")
    listing.add_argument("agent", metavar="AGENT", help="the agent's id")
    add_data_dir(listing, keystore=True)
    forget = actions.add_parser("forget", help="delete one memory")
    forget.add_argument("agent", metavar="AGENT", help="the agent's id")
    forget.add_argument("memory_id", metavar="ID", type=int, help="the memory's id (see list)")
    add_data_dir(forget, keystore=True)


def run_memory(args: argparse.Namespace) -> int:
    """Run a ``memory`` action; 0 done, 1 failed (no such memory)."""
    try:
        url = storage_url(args.config, args.data_dir, args.keystore)
    except (ConfigError, StorageError) as exc:
        note(f"traymind memory: {exc}")
        return EXIT_FAILED
    store: MemoryStore | PostgresMemoryStore
    if url:
        from server.postgres.memory_store import PostgresMemoryStore

        try:
            store = PostgresMemoryStore(url).open()
        except StorageError as exc:
            note(f"traymind memory: {exc}")
            return EXIT_FAILED
    else:
        path = memory_path(resolve_data_dir(args.data_dir))
        if not path.exists():
            note(f"No memories yet (no {path}).")
            return EXIT_OK if args.memory_command == "list" else EXIT_FAILED
        store = MemoryStore(path).open()
    try:
        if args.memory_command == "list":
            return _list_memories(store, args.agent)
        memory = store.forget(args.agent, args.memory_id)
        note(f"Forgot memory #{memory.id} of '{args.agent}': {memory.text}")
        return EXIT_OK
    except MemoryNotFound as exc:
        note(f"traymind memory: {exc.args[0]}")
        return EXIT_FAILED
    finally:
        store.close()


def _list_memories(store: MemoryStore | PostgresMemoryStore, agent: str) -> int:
    memories = store.memories(agent)
    if not memories:
        note(f"Agent '{agent}' remembers nothing yet.")
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
