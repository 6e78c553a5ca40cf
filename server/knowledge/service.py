"""The knowledge bases of one server: background upkeep, search, status, and agent wiring.

One ``KnowledgeService`` lives as long as the server. ``start()`` returns at
once: each base is synced and indexed by its own worker thread, and a base that
is not ready yet is simply searched as it is (the agent is told so). A config
reload calls ``update()``, which restarts only the bases whose settings changed.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from server.config import Config, KnowledgeBaseConfig
from server.embeddings.client import HttpEmbedder, embedder_for
from server.knowledge.search import Passage, rank_many, to_passage
from server.knowledge.store import IndexStore, KnowledgeIndex
from server.knowledge.worker import WATCH_INTERVAL, BaseStatus, BaseWorker
from server.status import StatusHub

log = logging.getLogger(__name__)

STATUS_KEY = "knowledge_bases"
MAX_TOP_K = 20


def _embedding_model(config: Config) -> object:
    """What semantic search depends on in a config (its model's settings, or None)."""
    return config.models.get(config.embeddings.model) if config.embeddings else None


def index_path(data_dir: Path, name: str) -> Path:
    """Where a base's index lives: ``<data dir>/knowledge/<name>.sqlite3``."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", name)
    if safe != name:  # keep two names that differ only in odd characters apart
        safe += "-" + hashlib.sha256(name.encode()).hexdigest()[:8]
    return data_dir / "knowledge" / f"{safe}.sqlite3"


class UnknownKnowledgeBase(KeyError):
    """A name that is not a key under ``knowledge_bases``."""


class KnowledgeService:
    """Every knowledge base of a config, kept current in the background."""

    def __init__(
        self,
        config: Config,
        data_dir: Path,
        status: StatusHub | None = None,
        *,
        watch_interval: float = WATCH_INTERVAL,
        indexes: Callable[[str], KnowledgeIndex] | None = None,
    ) -> None:
        self.data_dir = data_dir
        # a base's index, by name: the SQLite file in the data dir, unless the server
        # gives another (the PostgreSQL index replicas share)
        self._indexes = indexes or (lambda name: IndexStore(index_path(data_dir, name)))
        self._config = config
        self._status = status
        self._watch_interval = watch_interval
        self._lock = threading.Lock()
        self._workers: dict[str, BaseWorker] = {}
        self._embedder = self._make_embedder(config)

    @staticmethod
    def _make_embedder(config: Config) -> HttpEmbedder | None:
        try:
            return embedder_for(config.embeddings_model)
        except ValueError as exc:
            log.warning("semantic search is off: %s", exc)
            return None

    # Lifecycle

    def start(self) -> None:
        """Start every base's worker; returns at once (nothing is indexed yet)."""
        for name, base in self._config.knowledge_bases.items():
            self._start_worker(name, base)
        self._publish()

    def stop(self, timeout: float = 5.0) -> None:
        with self._lock:
            workers, self._workers = list(self._workers.values()), {}
        for worker in workers:
            worker.stop(timeout)
        if self._embedder is not None:
            self._embedder.close()

    def update(self, config: Config) -> None:
        """Adopt a reloaded config: only bases whose settings changed start over."""
        old = self._config
        self._config = config
        if _embedding_model(old) != _embedding_model(config):
            self.stop()
            self._embedder = self._make_embedder(config)
            self.start()
            return
        for name in list(self._workers):
            if config.knowledge_bases.get(name) != old.knowledge_bases.get(name):
                with self._lock:
                    worker = self._workers.pop(name)
                worker.stop()
        for name, base in config.knowledge_bases.items():
            if name not in self._workers:
                self._start_worker(name, base)
        self._publish()

    def _start_worker(self, name: str, base: KnowledgeBaseConfig) -> None:
        store = self._indexes(name)
        worker = BaseWorker(
            name, base, store, self._embedder, self._on_status, self._watch_interval
        )
        with self._lock:
            self._workers[name] = worker
        worker.start()

    # State

    @property
    def config(self) -> Config:
        return self._config

    def names(self) -> list[str]:
        """The bases that are running, in config order."""
        with self._lock:
            running = set(self._workers)
        return [name for name in self._config.knowledge_bases if name in running]

    def status(self, name: str) -> BaseStatus:
        return self._worker(name).status

    def wait_until_searchable(self, name: str, timeout: float) -> bool:
        """Block until ``name`` has a complete index (tests, the CLI); False on timeout."""
        deadline = time.monotonic() + timeout
        while not self.status(name).searchable:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

    def notice(self, name: str) -> str | None:
        """What an agent must be told about a base it cannot search fully yet, if anything."""
        status = self.status(name)
        if status.searchable:
            return None
        if status.state == "error":
            return (
                f"Note: knowledge base `{name}` is unavailable ({status.message}); "
                "do not claim to have searched it."
            )
        return f"Note: knowledge base `{name}` is still indexing; do not claim to have searched it."

    def reindex(self, name: str | None = None) -> None:
        """Rebuild one base (or all) from scratch in the background."""
        names = [name] if name is not None else list(self._workers)
        for each in names:
            self._worker(each).request_rebuild()

    def _worker(self, name: str) -> BaseWorker:
        with self._lock:
            worker = self._workers.get(name)
        if worker is None:
            raise UnknownKnowledgeBase(name)
        return worker

    def _on_status(self, name: str) -> None:
        self._publish()

    def _publish(self) -> None:
        if self._status is None:
            return
        with self._lock:
            workers = dict(self._workers)
        value: dict[str, Any] = {}
        for name, worker in workers.items():
            base = worker.config
            value[name] = {
                **worker.status.as_dict(),
                "path": base.path,
                "git": base.git.repo_url if base.git else None,
                "semantic": self._embedder is not None,
                "index": str(worker.store.path) if worker.store.shared else None,
            }
        self._status.set_extra(STATUS_KEY, value)

    # Search

    def search(
        self, query: str, bases: Sequence[str] | None = None, top_k: int = 5
    ) -> list[Passage]:
        """The best passages across ``bases`` (default: all), whatever their indexing state."""
        names = list(bases) if bases is not None else self.names()
        stores = {name: self._worker(name).store for name in names}
        top_k = max(1, min(MAX_TOP_K, top_k))
        hits = rank_many(stores, query, top_k, self._embedder)
        return [to_passage(base, hit) for base, hit in hits]

    async def asearch(
        self, query: str, bases: Sequence[str] | None = None, top_k: int = 5
    ) -> list[Passage]:
        """``search`` off the event loop."""
        return await asyncio.to_thread(self.search, query, bases, top_k)
