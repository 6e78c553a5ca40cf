"""Client API keys kept as salted hashes in the OS keyring (or, when asked, a 0600 file).

Why this shape:

* A key is ``sk-tm-<id>-<secret>``. The short public ``id`` finds the one stored hash
  to check, so verification is a single HMAC and ``hmac.compare_digest``, not a scan.
* The secret part never touches disk: the keyring (service ``traymind``, username =
  key id) holds ``HMAC-SHA256(salt, key)`` and the salt. Keys carry 256 random bits, so
  a fast keyed hash is enough; a slow KDF would only slow every request down.
* Non-secret metadata lives in ``<data_dir>/keys.json`` so listings and the running
  server's reload check need no keyring round trip. A server notices another
  process's create or revoke through a cheap ``stat`` of that file (every 0.5 s).
* No silent fallback: an unusable keyring raises ``KeyringUnavailable``. The file
  store (``keys.secret.json``, mode 0600) is used only when chosen explicitly.

Provider API keys (the key Traymind sends to OpenAI, Anthropic, ...) are kept here too,
but as the key itself, since it must be sent: keyring service ``traymind-providers``,
username = the key's name (``set_provider_key``); with the file backend, in
``provider-keys.json`` (0600, plaintext, only because that fallback was chosen).

This is the only module of the project that imports ``keyring``.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, Protocol

from server.security.auth import KeyMatch, key_fingerprint, key_namespace

log = logging.getLogger(__name__)

SERVICE = "traymind"
ENV_VAR = "TRAYMIND_KEYSTORE"
BACKENDS = ("keyring", "file")
META_FILE = "keys.json"
SECRET_FILE = "keys.secret.json"
LOCK_FILE = "keys.lock"
RELOAD_CHECK_SECONDS = 0.5
TOUCH_INTERVAL_SECONDS = 60.0
MAX_LABEL = 64

Backend = Literal["keyring", "file"]

_KEY_RE = re.compile(r"sk-tm-([0-9a-f]{12})-([A-Za-z0-9_-]{43})", re.ASCII)
_KEY_LENGTH = 62  # len("sk-tm-") + 12 + len("-") + 43
_ALG = "hmac-sha256"
_DUMMY_SALT = b"\x00" * 16
_DUMMY_DIGEST = b"\x00" * 32
_FALLBACK_HINT = (
    "Traymind does not fall back silently; to keep the key hashes in a file with 0600 "
    f"permissions in the data dir instead ({SECRET_FILE}, not the OS keyring), "
    f"use --keystore file or set {ENV_VAR}=file."
)


class KeyStoreError(Exception):
    """A key store operation failed; the message never contains a key."""


class KeyringUnavailable(KeyStoreError):
    """The OS keyring cannot be used; the message says why and names the file fallback."""

    @classmethod
    def because(cls, reason: str) -> KeyringUnavailable:
        return cls(f"No usable OS keyring: {reason}. {_FALLBACK_HINT}")


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """What may be shown about a key: never the key itself."""

    id: str
    label: str
    created: str
    last_used: str | None
    fingerprint: str
    source: Backend


# --- hashing ---------------------------------------------------------------------------


def _parse_key(presented: object) -> str | None:
    """The public id of a well-formed key, else None (cheap: fixed length, ASCII)."""
    if not isinstance(presented, str) or len(presented) != _KEY_LENGTH:
        return None
    found = _KEY_RE.fullmatch(presented)
    return found.group(1) if found else None


def _digest(salt: bytes, key: str) -> bytes:
    return hmac.new(salt, key.encode("utf-8", "surrogatepass"), hashlib.sha256).digest()


def _make_record(key: str) -> str:
    salt = secrets.token_bytes(16)
    return f"{_ALG}${salt.hex()}${_digest(salt, key).hex()}"


def _parse_record(record: str | None) -> tuple[bytes, bytes] | None:
    if not record:
        return None
    try:
        alg, salt, digest = record.split("$")
        if alg != _ALG:
            return None
        return bytes.fromhex(salt), bytes.fromhex(digest)
    except ValueError:
        return None


# --- files -----------------------------------------------------------------------------


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _write_json_atomic(path: Path, doc: dict[str, Any]) -> None:
    """Write ``doc`` via a 0600 temp file and ``os.replace``: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(doc, fh, indent=2, ensure_ascii=False)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _read_private_json(path: Path) -> dict[str, Any] | None:
    """A fallback file of secrets, tightened back to 0600 if someone loosened it."""
    doc = _read_json(path)
    if doc is not None and os.name != "nt" and path.stat().st_mode & 0o077:
        log.warning("%s was readable by others; restricting it to 0600", path)
        os.chmod(path, 0o600)
    return doc


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise KeyStoreError(f"{path} is not valid JSON ({exc}); fix or remove it") from None
    if not isinstance(doc, dict):
        raise KeyStoreError(f"{path} does not hold a JSON object; fix or remove it")
    return doc


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """An exclusive lock between processes, so concurrent writers never drop a revoke."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with open(os.open(path, os.O_RDWR | os.O_CREAT, 0o600), "r+b") as fh:
        if os.name == "nt":
            import msvcrt

            fh.seek(0)
            msvcrt.locking(fh.fileno(), msvcrt.LK_LOCK, 1)
            try:
                yield
            finally:
                fh.seek(0)
                msvcrt.locking(fh.fileno(), msvcrt.LK_UNLCK, 1)
        else:
            import fcntl

            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


# --- where the hashes live -------------------------------------------------------------


class _Secrets(Protocol):
    def get(self, key_id: str) -> str | None: ...
    def set(self, key_id: str, record: str) -> None: ...
    def delete(self, key_id: str) -> None: ...
    def describe(self) -> str: ...


def _keyring_problem(kr: Any) -> str | None:
    """Why the active keyring backend cannot keep secrets, or None when it can."""
    from keyring.backends import chainer, fail, null

    if isinstance(kr, fail.Keyring):
        return "no keyring backend is available (no Secret Service, Keychain or Credential Manager)"
    if isinstance(kr, null.Keyring):
        return "the configured keyring backend is the null backend, which stores nothing"
    if isinstance(kr, chainer.ChainerBackend) and not kr.backends:
        return "the keyring chainer has no viable backend"
    return None


_BACKEND_NAMES = {
    "keyring.backends.SecretService": "Secret Service (OS keyring)",
    "keyring.backends.libsecret": "Secret Service via libsecret (OS keyring)",
    "keyring.backends.kwallet": "KWallet (OS keyring)",
    "keyring.backends.macOS": "macOS Keychain (OS keyring)",
    "keyring.backends.Windows": "Windows Credential Manager (OS keyring)",
}


class _KeyringSecrets:
    """Hash records in the OS keyring: service ``traymind``, username = key id.

    ``service`` and ``item`` let provider keys (service ``traymind-providers``) reuse it.
    """

    def __init__(self, service: str = SERVICE, item: str = "key hash") -> None:
        self._kr: Any = None
        self.service = service
        self.item = item

    def backend(self) -> Any:
        if self._kr is None:
            import keyring

            self._kr = keyring.get_keyring()
        return self._kr

    def check(self) -> None:
        """Raise ``KeyringUnavailable`` unless the keyring answers a harmless read."""
        kr = self.backend()
        problem = _keyring_problem(kr)
        if problem:
            raise KeyringUnavailable.because(problem)
        self.get("__traymind_probe__")

    def _call(self, what: str, fn: Any, *args: str) -> Any:
        kr = self.backend()
        problem = _keyring_problem(kr)
        if problem:
            raise KeyringUnavailable.because(problem)
        try:
            return fn(self.service, *args)
        except Exception as exc:  # backends raise their own types (D-Bus, OS errors...)
            raise KeyringUnavailable.because(
                f"{what} failed in {self.describe()}: {type(exc).__name__}: {exc}"
            ) from None

    def get(self, key_id: str) -> str | None:
        return self._call(f"reading a {self.item}", self.backend().get_password, key_id)

    def set(self, key_id: str, record: str) -> None:
        self._call(f"storing a {self.item}", self.backend().set_password, key_id, record)

    def delete(self, key_id: str) -> None:
        from keyring.errors import PasswordDeleteError

        try:
            self.backend().delete_password(self.service, key_id)
        except PasswordDeleteError:
            return  # already gone
        except Exception as exc:
            raise KeyringUnavailable.because(
                f"deleting a {self.item} failed in {self.describe()}: {type(exc).__name__}: {exc}"
            ) from None

    def describe(self) -> str:
        kr = self.backend()
        if _keyring_problem(kr):
            return "no usable OS keyring"
        return _BACKEND_NAMES.get(type(kr).__module__, f"{kr.name} (keyring backend)")


class _FileSecrets:
    """Hash records in ``keys.secret.json`` (0600): the explicit, non-keyring fallback."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / SECRET_FILE

    def _load(self) -> dict[str, str]:
        doc = _read_private_json(self.path)
        if doc is None:
            return {}
        hashes = doc.get("hashes")
        return dict(hashes) if isinstance(hashes, dict) else {}

    def _save(self, hashes: dict[str, str]) -> None:
        doc = {
            "warning": (
                "NOT the OS keyring: salted HMAC-SHA256 hashes of Traymind client keys, "
                f"used because --keystore file or {ENV_VAR}=file was chosen. "
                "The keys themselves are not stored. Keep this file private (0600)."
            ),
            "version": 1,
            "hashes": hashes,
        }
        _write_json_atomic(self.path, doc)

    def get(self, key_id: str) -> str | None:
        return self._load().get(key_id)

    def set(self, key_id: str, record: str) -> None:
        hashes = self._load()
        hashes[key_id] = record
        self._save(hashes)

    def delete(self, key_id: str) -> None:
        hashes = self._load()
        if hashes.pop(key_id, None) is not None:
            self._save(hashes)

    def describe(self) -> str:
        return f"file {SECRET_FILE} in {self.path.parent} (not the OS keyring)"


# --- the store -------------------------------------------------------------------------


def choose_backend(value: str | None) -> Backend:
    """``value``, else ``$TRAYMIND_KEYSTORE``, else ``keyring``."""
    raw = value if value is not None else os.environ.get(ENV_VAR, "")
    choice = raw.strip().lower() or "keyring"
    if choice == "keyring":
        return "keyring"
    if choice == "file":
        return "file"
    raise ValueError(f"the keystore must be 'keyring' or 'file', not {raw!r} (from {ENV_VAR})")


def _clean_label(label: str) -> str:
    label = label.strip()
    if not label or len(label) > MAX_LABEL or not label.isprintable():
        raise ValueError(f"a key label must be 1 to {MAX_LABEL} printable characters")
    if label.startswith("sk-"):
        raise ValueError("a key label must not start with 'sk-' (it would look like a key)")
    return label


def _info(entry: dict[str, Any], last_used: str | None = None) -> KeyInfo:
    stored = entry.get("last_used")
    newest = max(filter(None, (stored, last_used)), default=None)
    return KeyInfo(
        id=entry["id"],
        label=entry["label"],
        created=entry["created"],
        last_used=newest,
        fingerprint=entry["fingerprint"],
        source=entry["backend"],
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
        self._secrets: _Secrets = (
            _KeyringSecrets() if backend == "keyring" else _FileSecrets(self.data_dir)
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
        if isinstance(store._secrets, _KeyringSecrets):
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
        doc = _read_json(self._meta_path) or {}
        keys = doc.get("keys")
        doc["keys"] = [k for k in keys if isinstance(k, dict)] if isinstance(keys, list) else []
        return doc

    def _save_meta(self, keys: list[dict[str, Any]]) -> None:
        note = (
            "Non-secret metadata of Traymind client keys. The keys are not stored; "
            f"their salted hashes are in the OS keyring (service {SERVICE!r}) "
            f"or, for backend 'file', in {SECRET_FILE}."
        )
        _write_json_atomic(self._meta_path, {"note": note, "version": 1, "keys": keys})

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
                self._records[key_id] = _parse_record(self._secrets.get(key_id))
            except KeyStoreError as exc:
                log.error("cannot read a key hash, rejecting the key: %s", exc)
                return None
        return self._records[key_id]

    def has_keys(self) -> bool:
        with self._lock:
            self._refresh()
            return bool(self._entries)

    def match(self, presented: str) -> KeyMatch | None:
        key_id = _parse_key(presented)
        with self._lock:
            self._refresh()
            entry = self._entries.get(key_id) if key_id else None
            record = self._record(key_id) if entry and key_id else None
        salt, digest = record or (_DUMMY_SALT, _DUMMY_DIGEST)
        candidate = _digest(salt, presented if key_id else "")
        equal = hmac.compare_digest(candidate, digest)
        if not (equal and record and entry):
            return None
        return KeyMatch(source=self.name, key_id=entry["label"], namespace=key_namespace(presented))

    def list(self) -> list[KeyInfo]:
        with self._lock:
            self._refresh(force=True)
            infos = [_info(e, self._pending.get(i)) for i, e in self._entries.items()]
        return sorted(infos, key=lambda i: (i.created, i.label))

    # writing ------------------------------------------------------------------------

    def create(self, label: str) -> tuple[KeyInfo, str]:
        """A new key: its info and the plaintext key, which is shown once and kept nowhere."""
        label = _clean_label(label)
        with self._lock, _file_lock(self._lock_path):
            doc = self._read_doc()
            if any(e.get("label") == label for e in doc["keys"]):
                raise ValueError(f"a key labelled {label!r} already exists")
            taken = {e.get("id") for e in doc["keys"]}
            key_id = secrets.token_hex(6)
            while key_id in taken:
                key_id = secrets.token_hex(6)
            key = f"sk-tm-{key_id}-{secrets.token_urlsafe(32)}"
            record = _make_record(key)
            self._secrets.set(key_id, record)  # first: a listed key always has its hash
            entry = {
                "id": key_id,
                "label": label,
                "created": _now_iso(),
                "last_used": None,
                "fingerprint": key_fingerprint(key),
                "backend": self.name,
            }
            doc["keys"].append(entry)
            try:
                self._save_meta(doc["keys"])
            except BaseException:
                with contextlib.suppress(Exception):
                    self._secrets.delete(key_id)
                raise
            self._records[key_id] = _parse_record(record)
            self._refresh(force=True)
        return _info(entry), key

    def revoke(self, label_or_id: str) -> KeyInfo:
        """Remove a key by label (or id). It stops matching everywhere within two seconds."""
        with self._lock, _file_lock(self._lock_path):
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
        return _info(entry)

    def touch(self, key_id: str) -> None:
        """Note a key's use (label or id); written in the background, at most once a minute."""
        now_iso, now = _now_iso(), time.monotonic()
        with self._lock:
            entry = next(
                (e for e in self._entries.values() if key_id in (e["label"], e["id"])), None
            )
            if entry is None:
                return
            kid = entry["id"]
            self._pending[kid] = now_iso
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
        with _file_lock(self._lock_path):
            doc = self._read_doc()
            changed = False
            for entry in doc["keys"]:  # only keys still present: a revoke is never undone
                when = batch.get(entry.get("id", ""))
                if when and (entry.get("last_used") or "") < when:
                    entry["last_used"] = when
                    changed = True
            if changed:
                self._save_meta(doc["keys"])


# --- provider API keys -----------------------------------------------------------------

PROVIDER_SERVICE = "traymind-providers"
PROVIDER_FILE = "provider-keys.json"
PROVIDER_KEY_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}", re.ASCII)


def _provider_name(name: str) -> str:
    if not isinstance(name, str) or not PROVIDER_KEY_NAME.fullmatch(name):
        raise ValueError("a provider key name must be 1 to 64 letters, digits, '-', '_' or '.'")
    return name


class _ProviderFile:
    """Provider keys in ``provider-keys.json`` (0600): the explicit, non-keyring fallback."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / PROVIDER_FILE
        self.lock = data_dir / LOCK_FILE

    def load(self) -> dict[str, str]:
        doc = _read_private_json(self.path)
        if doc is None:
            return {}
        keys = doc.get("keys")
        if not isinstance(keys, dict):
            return {}
        return {k: v for k, v in keys.items() if isinstance(k, str) and isinstance(v, str)}

    def save(self, keys: dict[str, str]) -> None:
        doc = {
            "warning": (
                "NOT the OS keyring: Traymind's provider API keys in plaintext, kept here "
                f"because --keystore file or {ENV_VAR}=file was chosen. "
                "Keep this file private (0600)."
            ),
            "version": 1,
            "keys": keys,
        }
        _write_json_atomic(self.path, doc)


def _provider_store(backend: str | None, data_dir: Path | None) -> _KeyringSecrets | _ProviderFile:
    if choose_backend(backend) == "file":
        if data_dir is None:
            from server.paths import resolve_data_dir

            data_dir = resolve_data_dir(None)
        return _ProviderFile(Path(data_dir))
    return _KeyringSecrets(PROVIDER_SERVICE, "provider key")


def set_provider_key(
    name: str, key: str, backend: str | None = None, data_dir: Path | None = None
) -> None:
    """Keep a provider's API key under ``name`` (keyring service ``traymind-providers``).

    ``backend``: ``keyring`` or ``file``, else ``$TRAYMIND_KEYSTORE``, else ``keyring``.
    ``data_dir`` (file backend only): else ``$TRAYMIND_DATA_DIR``, else the user data dir.
    Raises ``KeyringUnavailable`` (naming the file fallback) or ``ValueError``.
    """
    name = _provider_name(name)
    key = key.strip() if isinstance(key, str) else ""
    if not key or not key.isprintable():
        raise ValueError("a provider key must be non-empty printable text")
    store = _provider_store(backend, data_dir)
    if isinstance(store, _ProviderFile):
        with _file_lock(store.lock):
            keys = store.load()
            keys[name] = key
            store.save(keys)
    else:
        store.set(name, key)


def get_provider_key(
    name: str, backend: str | None = None, data_dir: Path | None = None
) -> str | None:
    """The provider key stored under ``name``, or None. ``KeyringUnavailable`` if unusable."""
    name = _provider_name(name)
    store = _provider_store(backend, data_dir)
    if isinstance(store, _ProviderFile):
        return store.load().get(name)
    return store.get(name) or None


def delete_provider_key(
    name: str, backend: str | None = None, data_dir: Path | None = None
) -> None:
    """Forget the provider key stored under ``name`` (nothing happens if there is none)."""
    name = _provider_name(name)
    store = _provider_store(backend, data_dir)
    if isinstance(store, _ProviderFile):
        with _file_lock(store.lock):
            keys = store.load()
            if keys.pop(name, None) is not None:
                store.save(keys)
    else:
        store.delete(name)


def check_provider_keyring(backend: str | None = None) -> None:
    """Raise ``KeyringUnavailable`` when provider keys cannot be kept (never for ``file``)."""
    if choose_backend(backend) == "keyring":
        _KeyringSecrets(PROVIDER_SERVICE, "provider key").check()
