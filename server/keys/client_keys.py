"""Client API keys: created, matched, listed and revoked; a ``server.security.auth.KeySource``."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import os
import re
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from server.keys.backends import (
    BACKENDS,
    SECRET_FILE,
    Backend,
    KeyStoreError,
    Secrets,
    choose_backend,
)
from server.keys.file_backend import FileSecrets
from server.keys.files import file_lock, now_iso, read_json, write_json_atomic
from server.keys.keyring_backend import SERVICE, KeyringSecrets
from server.security.auth import KeyMatch, key_fingerprint, key_namespace

log = logging.getLogger(__name__)

META_FILE = "keys.json"
LOCK_FILE = "keys.lock"
RELOAD_CHECK_SECONDS = 0.5
TOUCH_INTERVAL_SECONDS = 60.0
MAX_LABEL = 64

_KEY_RE = re.compile(r"sk-tm-([0-9a-f]{12})-([A-Za-z0-9_-]{43})", re.ASCII)
_KEY_LENGTH = 62  # len("sk-tm-") + 12 + len("-") + 43
_ALG = "hmac-sha256"
_DUMMY_SALT = b"\x00" * 16
_DUMMY_DIGEST = b"\x00" * 32


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """What may be shown about a key: never the key itself."""

    id: str
    label: str
    created: str
    last_used: str | None
    fingerprint: str
    source: Backend | Literal["postgres"]
    owner: bool = False  # may decide tool approvals (``keys create --owner``)


# --- hashing ---------------------------------------------------------------------------


def parse_key(presented: object) -> str | None:
    """The public id of a well-formed key, else None (cheap: fixed length, ASCII)."""
    if not isinstance(presented, str) or len(presented) != _KEY_LENGTH:
        return None
    found = _KEY_RE.fullmatch(presented)
    return found.group(1) if found else None


def new_key(key_id: str) -> str:
    """A new client key with the public id ``key_id``: the shape ``parse_key`` reads."""
    return f"sk-tm-{key_id}-{secrets.token_urlsafe(32)}"


def key_digest(salt: bytes, key: str) -> bytes:
    return hmac.new(salt, key.encode("utf-8", "surrogatepass"), hashlib.sha256).digest()


def make_record(key: str) -> str:
    salt = secrets.token_bytes(16)
    return f"{_ALG}${salt.hex()}${key_digest(salt, key).hex()}"


def parse_record(record: str | None) -> tuple[bytes, bytes] | None:
    if not record:
        return None
    try:
        alg, salt, digest = record.split("$")
        if alg != _ALG:
            return None
        return bytes.fromhex(salt), bytes.fromhex(digest)
    except ValueError:
        return None


def verified(
    source: str,
    presented: str,
    entry: dict[str, Any] | None,
    record: tuple[bytes, bytes] | None,
) -> KeyMatch | None:
    """The match when ``presented`` hashes to ``record`` (its entry's hash), else None.

    The same work whether or not the key's id was known, so timing tells nothing."""
    salt, digest = record or (_DUMMY_SALT, _DUMMY_DIGEST)
    well_formed = parse_key(presented) is not None
    equal = hmac.compare_digest(key_digest(salt, presented if well_formed else ""), digest)
    if not (equal and record and entry):
        return None
    return KeyMatch(
        source=source,
        key_id=entry["label"],
        namespace=key_namespace(presented),
        owner=entry.get("owner") is True,
    )


def clean_label(label: str) -> str:
    label = label.strip()
    if not label or len(label) > MAX_LABEL or not label.isprintable():
        raise ValueError(f"a key label must be 1 to {MAX_LABEL} printable characters")
    if label.startswith("sk-"):
        raise ValueError("a key label must not start with 'sk-' (it would look like a key)")
    return label


def key_info(entry: dict[str, Any], last_used: str | None = None) -> KeyInfo:
    stored = entry.get("last_used")
    newest = max(filter(None, (stored, last_used)), default=None)
    return KeyInfo(
        id=entry["id"],
        label=entry["label"],
        created=entry["created"],
        last_used=newest,
        fingerprint=entry["fingerprint"],
        source=entry["backend"],
        owner=entry.get("owner") is True,
    )


class KeyStore:
    """Client keys of one backend; a ``server.security.auth.KeySource``. Thread-safe."""

    def __init__(self, data_dir: Path, backend: Backend = "keyring") -> None:
        if backend not in BACKENDS:
            raise ValueError(f"the keystore must be 'keyring' or 'file', not {backend!r}")
        self.data_dir = Path(data_dir)
        self.name: str = backend
        self._meta_path = self.data_dir / META_FILE
        self._lock_path = self.data_dir / LOCK_FILE
        self._secrets: Secrets = (
            KeyringSecrets() if backend == "keyring" else FileSecrets(self.data_dir)
        )
        self._lock = threading.RLock()
        self._checked_at = float("-inf")
        self._signature: tuple[int, int, int] | None = None
        self._entries: dict[str, dict[str, Any]] = {}  # own backend's keys by id
        self._records: dict[str, tuple[bytes, bytes] | None] = {}  # id -> (salt, digest)
        self._pending: dict[str, str] = {}  # id -> last_used not yet written
        self._due: set[str] = set()
        self._written_at: dict[str, float] = {}
        self._writer: threading.Thread | None = None

    @classmethod
    def open(cls, data_dir: Path, backend: str | None = None) -> KeyStore:
        """A store of the chosen backend; ``KeyringUnavailable`` if that keyring is unusable."""
        store = cls(data_dir, choose_backend(backend))
        if isinstance(store._secrets, KeyringSecrets):
            store._secrets.check()
        return store

    def describe_backend(self) -> str:
        return self._secrets.describe()

    # reading ------------------------------------------------------------------------

    def _stat(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self._meta_path)
        except OSError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def _read_doc(self) -> dict[str, Any]:
        doc = read_json(self._meta_path) or {}
        keys = doc.get("keys")
        doc["keys"] = [k for k in keys if isinstance(k, dict)] if isinstance(keys, list) else []
        return doc

    def _save_meta(self, keys: list[dict[str, Any]]) -> None:
        note = (
            "Non-secret metadata of Traymind client keys. The keys are not stored; "
            f"their salted hashes are in the OS keyring (service {SERVICE!r}) "
            f"or, for backend 'file', in {SECRET_FILE}."
        )
        write_json_atomic(self._meta_path, {"note": note, "version": 1, "keys": keys})

    def _refresh(self, force: bool = False) -> None:
        """Reload keys.json when it changed; at most one cheap stat per 0.5 s."""
        now = time.monotonic()
        if not force and now - self._checked_at < RELOAD_CHECK_SECONDS:
            return
        self._checked_at = now
        signature = self._stat()
        if signature == self._signature and not force:
            return
        try:
            doc = self._read_doc()
        except KeyStoreError as exc:
            log.error("cannot read client keys, accepting none: %s", exc)
            doc = {"keys": []}
        self._signature = signature
        self._entries = {
            e["id"]: e for e in doc["keys"] if e.get("backend") == self.name and "id" in e
        }
        # Hashes of ids still present never change; drop the rest and retry misses.
        self._records = {k: v for k, v in self._records.items() if v and k in self._entries}

    def _record(self, key_id: str) -> tuple[bytes, bytes] | None:
        if key_id not in self._records:
            try:
                self._records[key_id] = parse_record(self._secrets.get(key_id))
            except KeyStoreError as exc:
                log.error("cannot read a key hash, rejecting the key: %s", exc)
                return None
        return self._records[key_id]

    def has_keys(self) -> bool:
        with self._lock:
            self._refresh()
            return bool(self._entries)

    def match(self, presented: str) -> KeyMatch | None:
        key_id = parse_key(presented)
        with self._lock:
            self._refresh()
            entry = self._entries.get(key_id) if key_id else None
            record = self._record(key_id) if entry and key_id else None
        return verified(self.name, presented, entry, record)

    def list(self) -> list[KeyInfo]:
        with self._lock:
            self._refresh(force=True)
            infos = [key_info(e, self._pending.get(i)) for i, e in self._entries.items()]
        return sorted(infos, key=lambda i: (i.created, i.label))

    # writing ------------------------------------------------------------------------

    def create(self, label: str, *, owner: bool = False) -> tuple[KeyInfo, str]:
        """A new key: its info and the plaintext key, which is shown once and kept nowhere.

        ``owner``: the key of the machine's owner, which may also decide tool approvals."""
        label = clean_label(label)
        with self._lock, file_lock(self._lock_path):
            doc = self._read_doc()
            if any(e.get("label") == label for e in doc["keys"]):
                raise ValueError(f"a key labelled {label!r} already exists")
            taken = {e.get("id") for e in doc["keys"]}
            key_id = secrets.token_hex(6)
            while key_id in taken:
                key_id = secrets.token_hex(6)
            key = new_key(key_id)
            record = make_record(key)
            self._secrets.set(key_id, record)  # first: a listed key always has its hash
            entry = {
                "id": key_id,
                "label": label,
                "created": now_iso(),
                "last_used": None,
                "fingerprint": key_fingerprint(key),
                "backend": self.name,
            }
            if owner:
                entry["owner"] = True
            doc["keys"].append(entry)
            try:
                self._save_meta(doc["keys"])
            except BaseException:
                with contextlib.suppress(Exception):
                    self._secrets.delete(key_id)
                raise
            self._records[key_id] = parse_record(record)
            self._refresh(force=True)
        return key_info(entry), key

    def revoke(self, label_or_id: str) -> KeyInfo:
        """Remove a key by label (or id). It stops matching everywhere within two seconds."""
        with self._lock, file_lock(self._lock_path):
            doc = self._read_doc()
            own = [e for e in doc["keys"] if e.get("backend") == self.name]
            entry = next((e for e in own if e.get("label") == label_or_id), None) or next(
                (e for e in own if e.get("id") == label_or_id), None
            )
            if entry is None:
                if label_or_id.startswith("sk-"):
                    raise KeyError("no key has that label or id (give its label, not the key)")
                raise KeyError(f"no key labelled {label_or_id!r} in the {self.name} keystore")
            doc["keys"].remove(entry)
            self._save_meta(doc["keys"])  # first: the key stops matching now
            self._records.pop(entry["id"], None)
            self._pending.pop(entry["id"], None)
            self._refresh(force=True)
            try:
                self._secrets.delete(entry["id"])
            except KeyStoreError as exc:
                log.warning("key %s revoked; its hash stays behind: %s", entry["label"], exc)
        return key_info(entry)

    def touch(self, key_id: str) -> None:
        """Note a key's use (label or id); written in the background, at most once a minute."""
        stamp, now = now_iso(), time.monotonic()
        with self._lock:
            entry = next(
                (e for e in self._entries.values() if key_id in (e["label"], e["id"])), None
            )
            if entry is None:
                return
            kid = entry["id"]
            self._pending[kid] = stamp
            if now - self._written_at.get(kid, float("-inf")) < TOUCH_INTERVAL_SECONDS:
                return
            self._written_at[kid] = now
            self._due.add(kid)
            if self._writer is None or not self._writer.is_alive():
                self._writer = threading.Thread(
                    target=self._write_due, name="traymind-key-usage", daemon=True
                )
                self._writer.start()

    def flush(self) -> None:
        """Write every pending ``last_used`` now (at shutdown; tests)."""
        writer = self._writer
        if writer is not None:
            writer.join()
        with self._lock:
            batch, self._pending = dict(self._pending), {}
            self._due.clear()
        self._write_usage(batch)

    def _write_due(self) -> None:
        while True:
            with self._lock:
                batch = {k: self._pending.pop(k) for k in self._due if k in self._pending}
                self._due.clear()
            if not batch:
                return
            try:
                self._write_usage(batch)
            except Exception as exc:
                log.warning("could not record key use in %s: %s", self._meta_path, exc)

    def _write_usage(self, batch: dict[str, str]) -> None:
        if not batch:
            return
        with file_lock(self._lock_path):
            doc = self._read_doc()
            changed = False
            for entry in doc["keys"]:  # only keys still present: a revoke is never undone
                when = batch.get(entry.get("id", ""))
                if when and (entry.get("last_used") or "") < when:
                    entry["last_used"] = when
                    changed = True
            if changed:
                self._save_meta(doc["keys"])
