"""What every command shares: exit codes, the data-dir option, notes on stderr."""

from __future__ import annotations

import argparse
import os
import sys

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_UNAVAILABLE = 2


def add_data_dir(
    parser: argparse.ArgumentParser, *, config: bool = True, keystore: bool = False
) -> None:
    if config:
        parser.add_argument("--config", metavar="PATH", help="config.yaml to use")
    parser.add_argument("--data-dir", metavar="DIR", help="data dir (default: $TRAYMIND_DATA_DIR)")
    if keystore:
        from server.keys.backends import BACKENDS

        parser.add_argument(
            "--keystore",
            choices=BACKENDS,
            help="where storage.password_keyring's password is kept: the OS keyring "
            "(default, or $TRAYMIND_KEYSTORE) or the file in the data dir",
        )


def storage_url(
    config_path: str | None, data_dir: str | None = None, keystore: str | None = None
) -> str | None:
    """The database replicas share (keys, memories, indexes): ``$TRAYMIND_STORAGE_URL``,
    else ``storage.url`` of the config ``traymind serve`` would use (``--config``,
    ``$TRAYMIND_CONFIG``, ``./config.yaml``, the user's), if one exists, with the password
    of ``storage.password_keyring`` when the keyring keeps it. ``ConfigError`` when that
    config is invalid (and no URL is in the environment), ``StorageError`` when the
    keyring cannot give the password."""
    from server.config import ConfigError, load_config
    from server.config.locate import existing_config
    from server.config.schema import STORAGE_URL_ENV
    from server.paths import resolve_data_dir
    from server.postgres.credentials import with_password

    path = existing_config(config_path)
    url = os.environ.get(STORAGE_URL_ENV)
    try:
        storage = load_config(path).storage if path is not None else None
    except ConfigError:
        if not url:
            raise
        storage = None  # the environment's URL serves without the file (as it always did)
    url = url or (storage.url if storage else None)
    if not url:
        return None
    name = storage.password_keyring if storage else None
    return with_password(url, name, keystore, resolve_data_dir(data_dir))


def note(message: str) -> None:
    """Progress and notes go to stderr, so that results on stdout can be piped."""
    print(message, file=sys.stderr, flush=True)
