"""One knowledge base kept current in its own thread: sync, index, watch, poll.

Chat never waits for this thread. It clones or pulls a Git base, runs indexing
passes, and then polls: the folder's file times every couple of seconds when
``watch`` is on, the Git remote every ``poll_interval_seconds``. What it is doing
is kept in a ``BaseStatus`` the service publishes to the status hub.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Literal

from server.config import KnowledgeBaseConfig
from server.embeddings.client import Embedder
from server.knowledge import git_sync
from server.knowledge.files import FileFilter
from server.knowledge.indexer import Indexer, PassResult
from server.knowledge.store import IndexLeaseLost, KnowledgeIndex
from server.sessions.store import StorageError

log = logging.getLogger(__name__)

State = Literal["syncing", "indexing", "ready", "error"]
WATCH_INTERVAL = 2.0  # seconds between two scans of a watched folder
PUBLISH_INTERVAL = 0.25  # progress is published at most this often
RETRY_SECONDS = 60.0  # a pass that failed (disk full, index locked) is retried this often
FOLLOW_INTERVAL = 2.0  # a replica without a shared base's lease looks again this often
SHARE_INTERVAL = 1.0  # the lease holder writes its progress for the others at most this often
STATES = ("syncing", "indexing", "ready", "error")


@dataclass(frozen=True, slots=True)
class BaseStatus:
    """A knowledge base's state as the status window shows it."""

    state: State = "indexing"
    message: str | None = "starting"
    done: int = 0
    total: int = 0
    files: int = 0
    chunks: int = 0
    last_sync: float | None = None  # epoch seconds: last Git sync, or last indexing pass
    searchable: bool = False  # a complete index exists (from this run or an earlier one)
    indexed_here: bool = True  # False: another replica holds the shared index's lease

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class BaseWorker:
    """The background thread of one knowledge base."""

    def __init__(
        self,
        name: str,
        config: KnowledgeBaseConfig,
        store: KnowledgeIndex,
        embedder: Embedder | None,
        on_status: Callable[[str], None],
        watch_interval: float = WATCH_INTERVAL,
    ) -> None:
        self.name = name
        self.config = config
        self.store = store
        self.indexer = Indexer(
            Path(config.path), FileFilter(config.include, config.exclude), store, embedder
        )
        self._on_status = on_status
        self._watch_interval = watch_interval
        self._lock = threading.Lock()
        # a shared base is someone else's until this replica takes its lease
        self._status = BaseStatus(indexed_here=not store.shared)
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._rebuild = False
        self._sync_error: str | None = None
        self._published = 0.0
        self._shared = 0.0  # when the holder last wrote its status for the other replicas
        self._holding = False  # this worker holds the base's lease (always, for SQLite)
        self._took_lease = False  # ... and took it since the last pass started
        self._retry_at: float | None = None  # set while the last pass failed
        self._thread: threading.Thread | None = None

    @property
    def status(self) -> BaseStatus:
        with self._lock:
            return self._status

    def start(self) -> None:
        try:
            self.store.open()
            files, chunks = self.store.counts()
            searchable = self.store.meta("complete") == "1"
            self._set(files=files, chunks=chunks, searchable=searchable)
        except StorageError as exc:  # a shared database away: the thread tries again
            self._set(state="error", message=exc.message)
        self._thread = threading.Thread(
            target=self._run, name=f"traymind-kb-{self.name}", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop after the file being indexed; closes the index."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("knowledge base %s is still busy; leaving it to exit", self.name)
                return
        self.store.close()

    def request_rebuild(self) -> None:
        """Rebuild from scratch soon (after a sync, for a Git base); on a replica that does
        not hold a shared base's lease, the holder is asked to."""
        if self.store.shared and not self.status.indexed_here:
            try:
                self.store.ask_rebuild()
            except StorageError as exc:
                log.warning("knowledge base %s: cannot ask for a rebuild: %s", self.name, exc)
            return
        with self._lock:
            self._rebuild = True
        self._wake.set()

    def _run(self) -> None:
        try:
            self._loop()
        finally:  # however the thread ends, a shared base's lease goes back with the index
            self.store.close()

    def _loop(self) -> None:
        first = True
        next_git = 0.0
        while not self._stop.is_set():
            try:
                next_git = self._step(first, next_git)
                first = False
                continue
            except StorageError as exc:
                # the shared database is away, and the lease with its connection: whoever
                # takes it next (this replica, once the database is back) passes again
                message = exc.message
            except Exception as exc:  # nothing may end the thread while it holds the index
                log.warning("knowledge base %s: %s", self.name, exc, exc_info=True)
                message = f"indexing failed: {exc}"
            self._holding = False
            self._set(state="error", message=message)
            self._wake.wait(FOLLOW_INTERVAL)
            self._wake.clear()

    def _step(self, first: bool, next_git: float) -> float:
        """One round: index what needs it (when this replica holds the base), then wait."""
        if not self._holds_lease():
            self._wake.wait(FOLLOW_INTERVAL)
            self._wake.clear()
            return next_git
        with self._lock:
            rebuild, self._rebuild = self._rebuild, False
        rebuild = self._asked_to_rebuild() or rebuild
        work = first or rebuild or self._took_lease  # a (re)taken lease starts with a pass
        self._took_lease = False
        git = self.config.git
        if git is not None and (work or time.monotonic() >= next_git):
            next_git = time.monotonic() + git.poll_interval_seconds
            work = self._sync(git.repo_url, git.branch) or work
        elif git is None and self.config.watch and not work:
            work = self._changed()
        if work and Path(self.config.path).is_dir():
            self._index(rebuild)
        elif work and self._sync_error is None:
            self._set(state="error", message=f"the folder {self.config.path} does not exist")
        self._wake.wait(self._timeout(next_git))
        self._wake.clear()
        return next_git

    def _timeout(self, next_git: float) -> float | None:
        if self.config.git is not None:
            timeout: float | None = max(0.05, next_git - time.monotonic())
        else:
            timeout = self._watch_interval if self.config.watch else None
        if self.store.shared:  # the holder also looks for other replicas' rebuild requests
            return min(timeout, FOLLOW_INTERVAL) if timeout is not None else FOLLOW_INTERVAL
        return timeout

    # Replicas sharing one index

    def _holds_lease(self) -> bool:
        """Whether this replica indexes the base; if not, show what the holder reports."""
        if self.store.take_lease():
            if not self._holding:
                self._holding = self._took_lease = True
                if self.store.shared:
                    log.info("knowledge base %s: this replica indexes it now", self.name)
                    self._set(indexed_here=True, message=None)
            return True
        self._holding = False
        self._follow()
        return False

    def _follow(self) -> None:
        files, chunks = self.store.counts()
        complete = self.store.meta("complete") == "1"
        try:
            holder = json.loads(self.store.meta("status") or "{}")
        except ValueError:
            holder = {}
        if not isinstance(holder, dict):
            holder = {}
        state = holder.get("state") if holder.get("state") in STATES else None
        said = holder.get("message")
        changes: dict[str, Any] = {
            "state": state or ("ready" if complete else "indexing"),
            "message": "indexed by another replica" + (f": {said}" if said else ""),
            "done": int(holder.get("done") or 0),
            "total": int(holder.get("total") or 0),
            "last_sync": holder.get("last_sync"),
            "files": files,
            "chunks": chunks,
            "searchable": complete,
            "indexed_here": False,
        }
        if replace(self.status, **changes) != self.status:
            self._set(**changes)

    def _asked_to_rebuild(self) -> bool:
        """Whether another replica asked for a rebuild (the request is then taken)."""
        if not self.store.shared:
            return False
        try:
            if self.store.meta("rebuild") is None:
                return False
            self.store.set_meta(rebuild=None)
        except (StorageError, IndexLeaseLost):
            return False
        return True

    def _share(self, status: BaseStatus, changed_state: bool) -> None:
        """The holder's status, for the replicas that search its index."""
        now = time.monotonic()
        if not changed_state and now - self._shared < SHARE_INTERVAL:
            return
        self._shared = now
        value = {k: getattr(status, k) for k in ("state", "message", "done", "total", "last_sync")}
        try:
            self.store.set_meta(status=json.dumps(value))
        except (StorageError, IndexLeaseLost) as exc:
            log.debug("knowledge base %s: status not shared: %s", self.name, exc)

    def _sync(self, repo_url: str, branch: str) -> bool:
        """Pull the branch; True when it succeeded (a pass then follows)."""
        self._set(state="syncing", message=f"syncing {repo_url} ({branch})")
        try:
            git_sync.sync(repo_url, branch, Path(self.config.path))
        except git_sync.GitSyncError as exc:
            log.warning("knowledge base %s: %s", self.name, exc)
            self._sync_error = str(exc)
            self._set(state="error", message=self._sync_message())
            return False
        self._sync_error = None
        self._set(last_sync=time.time())
        return True

    def _sync_message(self) -> str:
        kept = "; searching the last good index" if self.status.searchable else ""
        return f"sync failed: {self._sync_error}{kept}"

    def _changed(self) -> bool:
        if self._retry_at is not None:
            return time.monotonic() >= self._retry_at
        try:
            return self.indexer.scan() != self.indexer.last_scan
        except FileNotFoundError:
            return self.status.state != "error"  # once, so the pass reports it
        except OSError as exc:
            self._set(state="error", message=f"cannot scan {self.config.path}: {exc}")
            return False

    def _index(self, rebuild: bool) -> None:
        if rebuild:
            self._set(searchable=False)
        self._set(state="indexing", message="scanning files", done=0, total=0)
        try:
            result = self.indexer.run(
                rebuild=rebuild, should_stop=self._stop.is_set, progress=self._progress
            )
        except IndexLeaseLost:
            log.info("knowledge base %s: the index lease was lost; following", self.name)
            self._holding = False
            self._set(indexed_here=False, message="the index lease was lost")
            return
        except StorageError:
            raise  # the shared database went away mid-pass: the loop's to handle
        except Exception as exc:  # a broken folder or index must not end the thread
            log.warning("knowledge base %s: indexing failed", self.name, exc_info=True)
            self._retry_at = time.monotonic() + RETRY_SECONDS
            self._set(state="error", message=f"indexing failed: {exc}")
            return
        self._retry_at = None
        files, chunks = self.store.counts()
        self._set(files=files, chunks=chunks)
        if result.complete:
            self._finished(result)

    def _finished(self, result: PassResult) -> None:
        notes = []
        if result.failed:
            notes.append(f"{len(result.failed)} files could not be read")
        if result.embedding_error:
            notes.append(f"semantic search unavailable ({result.embedding_error})")
        if self._sync_error is not None:
            self._set(state="error", message=self._sync_message(), searchable=True)
            return
        last_sync = self.status.last_sync if self.config.git else time.time()
        self._set(
            state="ready",
            message="; ".join(notes) or None,
            searchable=True,
            last_sync=last_sync,
        )

    def _progress(self, done: int, total: int) -> None:
        message = f"indexing {done}/{total} files"
        now = time.monotonic()
        publish = done in (0, total) or now - self._published >= PUBLISH_INTERVAL
        self._set(publish=publish, message=message, done=done, total=total)

    def _set(self, *, publish: bool = True, **changes: Any) -> None:
        with self._lock:
            old, self._status = self._status, replace(self._status, **changes)
            status = self._status
        if self.store.shared and status.indexed_here:
            self._share(status, changed_state=status.state != old.state)
        if publish:
            self._published = time.monotonic()
            self._on_status(self.name)
