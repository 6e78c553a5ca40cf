"""``traymind storage password``: keep the shared database's password in the OS keyring.

The password is read from the terminal without echo (or one line of standard input, for
scripts) and stored as a provider key under ``storage.password_keyring`` (``storage`` by
default), where ``traymind serve`` and the other commands look for it. It is never printed.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from server.cli.common import EXIT_FAILED, EXIT_OK, EXIT_UNAVAILABLE, add_data_dir, note
from server.config import ConfigError, load_config
from server.config.locate import existing_config
from server.keys.backends import KeyringUnavailable
from server.keys.provider_keys import set_provider_key
from server.paths import resolve_data_dir
from server.postgres.credentials import DEFAULT_NAME, keyring_entry


def add_storage_parser(subparsers: Any) -> None:
    """Add ``storage`` with ``password``."""
    storage = subparsers.add_parser("storage", help="the shared PostgreSQL database")
    actions = storage.add_subparsers(dest="storage_command", metavar="ACTION", required=True)
    password = actions.add_parser(
        "password", help="store the database password in the OS keyring (read from stdin)"
    )
    password.add_argument(
        "--name", help="the keyring name (default: storage.password_keyring, else 'storage')"
    )
    add_data_dir(password, keystore=True)


def run_storage(args: argparse.Namespace) -> int:
    """Run a ``storage`` action; 0 stored, 1 refused, 2 no usable keyring."""
    try:
        path = existing_config(args.config)
        configured = load_config(path).storage.password_keyring if path is not None else None
    except ConfigError as exc:
        note(f"traymind storage: {exc}")
        return EXIT_FAILED
    name = args.name or configured or DEFAULT_NAME
    if sys.stdin.isatty():
        password = getpass.getpass("Database password: ")
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if password != password.strip():
        note(
            "traymind storage: the password starts or ends with a space, which the keyring "
            "store would drop; set PGPASSWORD instead"
        )
        return EXIT_FAILED
    try:
        set_provider_key(
            keyring_entry(name), password, args.keystore, resolve_data_dir(args.data_dir)
        )
    except KeyringUnavailable as exc:
        note(f"traymind storage: {exc}")
        return EXIT_UNAVAILABLE
    except ValueError as exc:
        note(f"traymind storage: {str(exc).replace('provider key', 'password')}")
        return EXIT_FAILED
    note(f"Stored the database password under '{name}'.")
    if configured != name:
        note(f"Add `password_keyring: {name}` under `storage:` in config.yaml to use it.")
    return EXIT_OK
