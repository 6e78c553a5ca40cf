"""Which backend keeps the keys, and the errors every backend raises."""

from __future__ import annotations

import os
from typing import Literal, Protocol

ENV_VAR = "TRAYMIND_KEYSTORE"
BACKENDS = ("keyring", "file")
SECRET_FILE = "keys.secret.json"

Backend = Literal["keyring", "file"]

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


class Secrets(Protocol):
    """Where one kind of secret record lives, by name."""

    def get(self, key_id: str) -> str | None: ...
    def set(self, key_id: str, record: str) -> None: ...
    def delete(self, key_id: str) -> None: ...
    def describe(self) -> str: ...


def choose_backend(value: str | None) -> Backend:
    """``value``, else ``$TRAYMIND_KEYSTORE``, else ``keyring``."""
    raw = value if value is not None else os.environ.get(ENV_VAR, "")
    choice = raw.strip().lower() or "keyring"
    if choice == "keyring":
        return "keyring"
    if choice == "file":
        return "file"
    raise ValueError(f"the keystore must be 'keyring' or 'file', not {raw!r} (from {ENV_VAR})")
