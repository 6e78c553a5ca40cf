"""Client keys in PostgreSQL: every replica honours a key the moment any of them sees it.

With ``storage.url`` set, the OS keyring (one desktop's store) cannot serve several
machines, so a key's metadata and its salted hash live in one row of ``client_keys``
(the key itself is never stored, as with the other stores). Each replica keeps the
rows in memory and re-reads them every half second on a thread of its own, so
``match`` (called for every request, on the event loop) never waits for the database:
a key created or revoked through any replica, or ``traymind keys``, takes effect
everywhere within a second. While the database cannot be reached the last rows read
stay in force, and the status says so.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any

from server.keys.backends import KeyStoreError
from server.keys.client_keys import (
    TOUCH_INTERVAL_SECONDS,
    KeyInfo,
    clean_label,
    key_info,
    make_record,
    new_key,
    parse_key,
    parse_record,
    verified,
)
from server.keys.files import now_iso
from server.postgres.database import CONNECT_TIMEOUT, describe, liveness
from server.postgres.schema import migrate
from server.security.auth import KeyMatch, key_fingerprint

log = logging.getLogger(__name__)

REFRESH_SECONDS = 0.5
COLUMNS = "id, label, created, last_used, fingerprint, owner, record"


class PostgresKeyStore:
    """Client keys of every replica, in ``client_keys``; a ``KeySource``. Thread-safe."""

    name = "postgres"

    def __init__(self, url: str, *, refresh_seconds: float = REFRESH_SECONDS) -> None:
        self.url = url
        self.where = describe(url)
        self._refresh_seconds = refresh_seconds
        self._lock = threading.Lock()  # the connection
        self._db: Any = None
        self._entries: dict[str, dict[str, Any]] = {}  # id -> row, as last read
        self._read_once = False
        self._failing = False
        self._written_at: dict[str, float] = {}
        self.report: Callable[[str, str], None] | None = None  # the status hub's "keystore"
        self._stop = threading.Event()
        self._poller: threading.Thread | None = None

    @classmethod
    def open(cls, url: str) -> PostgresKeyStore:
        """Connected, migrated and read once; ``KeyStoreError`` when the database is away."""
        store = cls(url)
        store.refresh(strict=True)
        return store

    def describe_backend(self) -> str:
        return f"PostgreSQL at {self.where} (shared by every replica)"

    # --- the connection ----------------------------------------------------------------

    def _run(self, work: Any) -> Any:
        import psycopg

        with self._lock:
            try:
                if self._db is None or self._db.closed:
                    self._db = psycopg.connect(
                        self.url,
                        autocommit=True,
                        connect_timeout=CONNECT_TIMEOUT,
                        application_name="traymind-keys",
                        **liveness(self.url),
                    )
                    migrate(self._db)
                return work(self._db)
            except psycopg.Error as exc:
                if self._db is not None:
                    with contextlib.suppress(Exception):
                        self._db.close()
                    self._db = None
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise KeyStoreError(
                    f"The key database (PostgreSQL at {self.where}) cannot be used: {first}"
                ) from None

    def close(self) -> None:
        self._stop.set()
        poller = self._poller
        if poller is not None and poller is not threading.current_thread():
            poller.join(5)
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    # --- reading -----------------------------------------------------------------------

    def refresh(self, *, strict: bool = False) -> None:
        """Read every row now; on failure keep the last rows (``strict``: raise instead)."""
        try:
            rows = self._run(lambda db: db.execute(f"SELECT {COLUMNS} FROM client_keys").fetchall())
        except KeyStoreError as exc:
            if strict:
                raise
            if not self._failing:
                log.error("%s; the keys read last stay in force", exc)
                self._tell("error", f"{exc}. The keys read last stay in force until it is back.")
            self._failing = True
            return
        if self._failing:
            log.info("the key database at %s answers again", self.where)
            self._tell("ok", self.describe_backend())
        self._failing = False
        names = COLUMNS.split(", ")
        self._entries = {row[0]: dict(zip(names, row, strict=True)) for row in rows}
        self._read_once = True

    def _tell(self, state: str, message: str) -> None:
        if self.report is not None:
            self.report(state, message)

    def _ensure_polling(self) -> None:
        if self._poller is None and not self._stop.is_set():
            self._poller = threading.Thread(
                target=self._poll, name="traymind-keys-postgres", daemon=True
            )
            self._poller.start()

    def _poll(self) -> None:
        while not self._stop.wait(self._refresh_seconds):
            self.refresh()

    def has_keys(self) -> bool:
        self._ensure_polling()
        if not self._read_once:
            self.refresh()
        return bool(self._entries)

    def match(self, presented: str) -> KeyMatch | None:
        self._ensure_polling()
        key_id = parse_key(presented)
        entry = self._entries.get(key_id) if key_id else None
        record = parse_record(entry["record"]) if entry else None
        return verified(self.name, presented, entry, record)

    def list(self) -> list[KeyInfo]:
        self.refresh(strict=True)
        infos = [key_info({**e, "backend": self.name}) for e in self._entries.values()]
        return sorted(infos, key=lambda i: (i.created, i.label))

    # --- writing -----------------------------------------------------------------------

    def create(self, label: str, *, owner: bool = False) -> tuple[KeyInfo, str]:
        """A new key: its info and the plaintext key, which is shown once and kept nowhere."""
        import psycopg

        label = clean_label(label)
        key_id = secrets.token_hex(6)
        key = new_key(key_id)
        entry = {
            "id": key_id,
            "label": label,
            "created": now_iso(),
            "last_used": None,
            "fingerprint": key_fingerprint(key),
            "owner": owner,
            "record": make_record(key),
        }

        def insert(db: Any) -> bool:
            try:
                db.execute(
                    f"INSERT INTO client_keys ({COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                    [entry[c] for c in COLUMNS.split(", ")],
                )
            except psycopg.errors.UniqueViolation:
                return False
            return True

        if not self._run(insert):
            raise ValueError(f"a key labelled {label!r} already exists")
        self.refresh()
        return key_info({**entry, "backend": self.name}), key

    def revoke(self, label_or_id: str) -> KeyInfo:
        """Remove a key by label (or id); every replica stops honouring it within a second."""
        row = self._run(
            lambda db: db.execute(
                f"DELETE FROM client_keys WHERE id = (SELECT id FROM client_keys "
                "WHERE label = %s OR id = %s ORDER BY label = %s DESC LIMIT 1) "
                f"RETURNING {COLUMNS}",
                (label_or_id, label_or_id, label_or_id),
            ).fetchone()
        )
        if row is None:
            if label_or_id.startswith("sk-"):
                raise KeyError("no key has that label or id (give its label, not the key)")
            raise KeyError(f"no key labelled {label_or_id!r} in {self.describe_backend()}")
        entry = dict(zip(COLUMNS.split(", "), row, strict=True))
        self._entries.pop(entry["id"], None)
        return key_info({**entry, "backend": self.name})

    def touch(self, key_id: str) -> None:
        """Note a key's use (label or id), at most once a minute per key, off the caller."""
        entry = next((e for e in self._entries.values() if key_id in (e["label"], e["id"])), None)
        if entry is None:
            return
        now = time.monotonic()
        if now - self._written_at.get(entry["id"], float("-inf")) < TOUCH_INTERVAL_SECONDS:
            return
        self._written_at[entry["id"]] = now
        stamp, kid = now_iso(), entry["id"]

        def write() -> None:
            try:
                self._run(
                    lambda db: db.execute(
                        "UPDATE client_keys SET last_used = %s WHERE id = %s", (stamp, kid)
                    )
                )
            except KeyStoreError as exc:
                log.warning("could not record key use: %s", exc)

        threading.Thread(target=write, name="traymind-key-usage", daemon=True).start()

    def flush(self) -> None:
        """Stop polling (at shutdown); usage writes are already on their way."""
        self.close()
