"""The database password, from wherever the user keeps it, never from config.yaml.

libpq finds it by itself in the URL of ``$TRAYMIND_STORAGE_URL``, in ``PGPASSWORD`` or in
``~/.pgpass``. A desktop (or a server with a keyring) can keep it in the OS keyring
instead: ``storage.password_keyring`` names it, ``traymind storage password`` stores it,
and it is handed to the driver in the connection string, never put in the environment
(where the MCP servers and tools this server starts would inherit it).
"""

from __future__ import annotations

import os
from pathlib import Path

from server.keys.backends import KeyStoreError, choose_backend
from server.keys.provider_keys import get_provider_key
from server.postgres.database import describe
from server.sessions.store import StorageError

DEFAULT_NAME = "storage"  # the keyring name ``traymind storage password`` uses by default


def keyring_entry(name: str) -> str:
    """Where a database password named ``name`` is kept among the provider keys: under a
    prefix of its own, so no model's ``api_key_keyring`` sends it to a provider by chance."""
    return f"database.{name}"


def has_password(url: str) -> bool:
    """Whether a readable connection string already carries a password."""
    from psycopg.conninfo import conninfo_to_dict

    return bool(conninfo_to_dict(url).get("password"))


def with_password(
    url: str, keyring_name: str | None, backend: str | None = None, data_dir: Path | None = None
) -> str:
    """``url`` with the keyring's password added when ``keyring_name`` is set and neither
    the URL nor ``PGPASSWORD`` has one; ``StorageError`` (a sentence, no secret) when the
    keyring cannot give it."""
    describe(url)  # the driver is there and the URL reads well, or a sentence
    if not keyring_name or has_password(url) or os.environ.get("PGPASSWORD"):
        return url
    from psycopg.conninfo import make_conninfo

    try:
        password = get_provider_key(keyring_entry(keyring_name), backend, data_dir)
    except (KeyStoreError, ValueError) as exc:
        raise StorageError(
            f"The database password is to come from the OS keyring (storage.password_keyring: "
            f"{keyring_name}), but it cannot be read: {exc}"
        ) from None
    if not password:
        where = ""
        if choose_backend(backend) == "file":  # the command must look where this server looks
            where = f" --keystore file --data-dir {data_dir}" if data_dir else " --keystore file"
        raise StorageError(
            f"storage.password_keyring names '{keyring_name}', but no password is stored under "
            f"that name: store it with `traymind storage password --name {keyring_name}{where}`, "
            "or set PGPASSWORD."
        )
    return make_conninfo(url, password=password)  # readable: describe() parsed it
