"""Conversation history in SQLite under the data dir.

One row per completed turn (the turn's messages as pydantic-ai JSON), written in
one transaction: a crash, a disconnect or an error leaves either the whole turn or
none of it. WAL mode lets readers run beside the one writer and survives SIGKILL.
Reads walk turns newest first and stop at the character budget, so a turn's cost
does not grow with the stored history beyond what the model can take.

A failed write says its cause (a full disk) and leaves the connection usable, so the
next turn is stored once space is freed. A database file deleted under the running
server (its data folder removed) is noticed at its next use: the folder and file are
made again, the loss is logged and shown in the status, and the turn goes on from
the client's own copy of the conversation.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

from server.errors import TraymindError
from server.paths import prepare_data_dir
from server.sessions.ids import SessionRef
from server.sessions.storage import FileIdentity, Report, lost_sentence, storage_cause

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS turns (
    namespace TEXT NOT NULL,
    session TEXT NOT NULL,
    agent TEXT NOT NULL,
    seq INTEGER NOT NULL,
    messages BLOB NOT NULL,
    chars INTEGER NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (namespace, session, agent, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS routes (
    namespace TEXT NOT NULL,
    session TEXT NOT NULL,
    agent TEXT NOT NULL,
    recent TEXT NOT NULL,
    updated REAL NOT NULL,
    PRIMARY KEY (namespace, session)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS responses (
    namespace TEXT NOT NULL,
    id TEXT NOT NULL,
    session TEXT NOT NULL,
    prompt TEXT NOT NULL,
    body TEXT NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (namespace, id)
) WITHOUT ROWID;
"""


class SessionStore(Protocol):
    """What the chat service needs of a session store: SQLite's (this module) or
    PostgreSQL's (``server.postgres.history_store``)."""

    report: Report | None

    def open(self) -> None: ...
    def close(self) -> None: ...
    def has_history(self, ref: SessionRef) -> bool: ...
    def recent_turns(self, ref: SessionRef, char_budget: int) -> list[bytes]: ...
    def append_turn(self, ref: SessionRef, messages: bytes) -> int: ...
    def turn_count(self, ref: SessionRef) -> int: ...
    def route(self, namespace: str, session_id: str) -> tuple[str, list[str]] | None: ...
    def set_route(self, namespace: str, session_id: str, agent: str, recent: list[str]) -> None: ...
    def save_response(
        self, namespace: str, response_id: str, session_id: str, prompt: str, body: str
    ) -> None: ...
    def response(self, namespace: str, response_id: str) -> tuple[str, str, str] | None: ...


class StorageError(TraymindError):
    status = 500
    type = "server_error"
    code = "storage_error"


class HistoryStore:
    """Stored turns per (namespace, session, agent)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self._identity: FileIdentity | None = None
        self.report: Report | None = None  # the server sets it: the status hub's "storage"
        self._lost: str | None = None  # the sentence telling that history was lost, once it was
        self._failing = False  # the last write failed (and was reported)

    def open(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA busy_timeout=5000")
            db.executescript(SCHEMA)
        except (sqlite3.Error, OSError) as exc:
            raise StorageError(
                f"Cannot open the session store at {self.path}: {storage_cause(exc)}."
            ) from exc
        self._db = db
        self._identity = FileIdentity.of(self.path)

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    @property
    def db(self) -> sqlite3.Connection:
        """The connection (called under the lock); a new file if the old one was deleted."""
        if self._db is not None and self._identity is not None and self._identity.gone():
            self._file_lost()
        if self._db is None:
            self.open()
        assert self._db is not None
        return self._db

    def _file_lost(self) -> None:
        """The database file was deleted or replaced: make the folder and a new file again."""
        assert self._db is not None
        self._db.close()
        self._db, self._identity = None, None
        self._lost = lost_sentence(self.path, "conversation history")
        log.error("%s (session store %s)", self._lost, self.path)
        self._tell("error", self._lost)
        try:
            prepare_data_dir(self.path.parent)
        except OSError as exc:
            raise StorageError(
                f"The data folder {self.path.parent} was deleted and cannot be made again: "
                f"{storage_cause(exc)}."
            ) from exc

    def _tell(self, state: str, message: str) -> None:
        if self.report is not None:
            self.report(state, message)

    def _write_failed(self, what: str, exc: BaseException) -> StorageError:
        """The client's one sentence for a failed write, also logged and shown in the status."""
        message = f"Could not save {what}: {storage_cause(exc)}."
        log.error("%s (%s: %s)", message, self.path, exc)
        self._failing = True
        self._tell("error", message)
        return StorageError(message)

    def _write_worked(self) -> None:
        if self._failing:
            self._failing = False
            log.info("the session store at %s saves again", self.path)
            if self._lost:
                self._tell("error", self._lost)
            else:
                self._tell("ok", "Conversations are saved.")

    def has_history(self, ref: SessionRef) -> bool:
        with self._lock:
            row = self.db.execute(
                "SELECT 1 FROM turns WHERE namespace=? AND session=? AND agent=? LIMIT 1",
                (ref.namespace, ref.session_id, ref.agent),
            ).fetchone()
        return row is not None

    def recent_turns(self, ref: SessionRef, char_budget: int) -> list[bytes]:
        """The newest turns whose total size fits ``char_budget`` (at least one), oldest first."""
        with self._lock:
            cursor = self.db.execute(
                "SELECT messages, chars FROM turns WHERE namespace=? AND session=? AND agent=? "
                "ORDER BY seq DESC",
                (ref.namespace, ref.session_id, ref.agent),
            )
            picked = within_budget(cursor, char_budget)
            cursor.close()
        return picked

    def append_turn(self, ref: SessionRef, messages: bytes) -> int:
        """Store one complete turn atomically; the session's number of turns now."""
        try:
            with self._lock:
                db = self.db
                db.execute("BEGIN IMMEDIATE")
                try:
                    (seq,) = db.execute(
                        "SELECT COALESCE(MAX(seq), 0) + 1 FROM turns "
                        "WHERE namespace=? AND session=? AND agent=?",
                        (ref.namespace, ref.session_id, ref.agent),
                    ).fetchone()
                    db.execute(
                        "INSERT INTO turns VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (
                            ref.namespace,
                            ref.session_id,
                            ref.agent,
                            seq,
                            messages,
                            len(messages),
                            time.time(),
                        ),
                    )
                    db.execute("COMMIT")
                except BaseException as exc:
                    _roll_back(db, exc)
                    raise
                self._write_worked()
        except (sqlite3.Error, OSError) as exc:
            raise self._write_failed("the conversation turn", exc) from exc
        return int(seq)  # turns are numbered 1, 2, ... and never deleted

    def turn_count(self, ref: SessionRef) -> int:
        with self._lock:
            (count,) = self.db.execute(
                "SELECT COUNT(*) FROM turns WHERE namespace=? AND session=? AND agent=?",
                (ref.namespace, ref.session_id, ref.agent),
            ).fetchone()
        return int(count)

    def route(self, namespace: str, session_id: str) -> tuple[str, list[str]] | None:
        """The agent ``auto`` last routed this session to, and its recent user messages."""
        with self._lock:
            row = self.db.execute(
                "SELECT agent, recent FROM routes WHERE namespace=? AND session=?",
                (namespace, session_id),
            ).fetchone()
        if row is None:
            return None
        return row[0], json.loads(row[1])

    def set_route(self, namespace: str, session_id: str, agent: str, recent: list[str]) -> None:
        try:
            with self._lock:
                self.db.execute(
                    "INSERT OR REPLACE INTO routes VALUES (?, ?, ?, ?, ?)",
                    (namespace, session_id, agent, json.dumps(recent[-3:]), time.time()),
                )
                self._write_worked()
        except (sqlite3.Error, OSError) as exc:
            raise self._write_failed("the session's route", exc) from exc

    def save_response(
        self, namespace: str, response_id: str, session_id: str, prompt: str, body: str
    ) -> None:
        """A stored Responses API response: its session (for ``previous_response_id``),
        the user message it answered (chat form, JSON) and the response object (JSON)."""
        try:
            with self._lock:
                self.db.execute(
                    "INSERT OR REPLACE INTO responses VALUES (?, ?, ?, ?, ?, ?)",
                    (namespace, response_id, session_id, prompt, body, time.time()),
                )
                self._write_worked()
        except (sqlite3.Error, OSError) as exc:
            raise self._write_failed("the response", exc) from exc

    def response(self, namespace: str, response_id: str) -> tuple[str, str, str] | None:
        """(session, prompt, body) of a stored response in this namespace, or None."""
        with self._lock:
            row = self.db.execute(
                "SELECT session, prompt, body FROM responses WHERE namespace=? AND id=?",
                (namespace, response_id),
            ).fetchone()
        return (row[0], row[1], row[2]) if row else None


def within_budget(newest_first: Iterable[tuple[bytes, int]], char_budget: int) -> list[bytes]:
    """Turns (messages, chars), newest first, taken while they fit the budget (at least
    one), oldest first: a read stops early, so its cost does not grow with the history."""
    picked: list[bytes] = []
    used = 0
    for messages, chars in newest_first:
        if picked and used + chars > char_budget:
            break
        picked.append(bytes(messages))
        used += chars
    picked.reverse()
    return picked


def _roll_back(db: sqlite3.Connection, cause: BaseException) -> None:
    """Undo a failed transaction without hiding why it failed.

    SQLite rolls back by itself on some errors (a full disk): a second ROLLBACK would
    raise "no transaction is active" and replace the real cause.
    """
    if not db.in_transaction:
        return
    try:
        db.execute("ROLLBACK")
    except sqlite3.Error as exc:
        log.warning("rollback after %r failed too: %s", cause, exc)
