"""Provider API keys: the key Traymind sends to a model's provider, kept by name.

Keyring service ``traymind-providers``, username = the key's name; with the file
backend, ``provider-keys.json`` (0600, plaintext, only because that was chosen).
``server.providers.credentials`` reads them for a model's ``api_key_keyring``.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from server.keys.backends import ENV_VAR, choose_backend
from server.keys.client_keys import LOCK_FILE
from server.keys.files import file_lock, read_private_json, write_json_atomic
from server.keys.keyring_backend import KeyringSecrets

log = logging.getLogger(__name__)

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
        doc = read_private_json(self.path)
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
        write_json_atomic(self.path, doc)


def _provider_store(backend: str | None, data_dir: Path | None) -> KeyringSecrets | _ProviderFile:
    if choose_backend(backend) == "file":
        if data_dir is None:
            from server.paths import resolve_data_dir

            data_dir = resolve_data_dir(None)
        return _ProviderFile(Path(data_dir))
    return KeyringSecrets(PROVIDER_SERVICE, "provider key")


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
        with file_lock(store.lock):
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
        with file_lock(store.lock):
            keys = store.load()
            if keys.pop(name, None) is not None:
                store.save(keys)
    else:
        store.delete(name)


def check_provider_keyring(backend: str | None = None) -> None:
    """Raise ``KeyringUnavailable`` when provider keys cannot be kept (never for ``file``)."""
    if choose_backend(backend) == "keyring":
        KeyringSecrets(PROVIDER_SERVICE, "provider key").check()
