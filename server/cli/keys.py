"""``traymind keys``: create, list and revoke client API keys.

Only ``keys create`` writes to stdout, and only the new key, so scripts can capture it
(``KEY=$(traymind keys create --label ci)``); every human note goes to stderr.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from server.cli.common import EXIT_FAILED, EXIT_OK, EXIT_UNAVAILABLE, add_data_dir, storage_url
from server.config import ConfigError
from server.keys.backends import BACKENDS, KeyringUnavailable, KeyStoreError
from server.keys.client_keys import KeyInfo, KeyStore
from server.paths import resolve_data_dir
from server.sessions.store import StorageError

if TYPE_CHECKING:
    from server.postgres.key_store import PostgresKeyStore


def _common(parser: argparse.ArgumentParser) -> None:
    add_data_dir(parser, config=True)
    parser.add_argument(
        "--keystore",
        choices=BACKENDS,
        help="where key hashes live: the OS keyring (default, or $TRAYMIND_KEYSTORE) "
        "or a 0600 file in the data dir",
    )


def add_keys_parser(subparsers: Any) -> None:
    """Add ``keys`` with ``create --label NAME``, ``list`` and ``revoke NAME``."""
    keys = subparsers.add_parser("keys", help="manage client API keys")
    actions = keys.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    create = actions.add_parser("create", help="create a key and print it once on stdout")
    create.add_argument("--label", required=True, help="a unique name for the key")
    create.add_argument(
        "--owner",
        action="store_true",
        help="the machine owner's key: it may also list and decide tool approvals "
        "(/api/approvals, traymind approvals) from this machine",
    )
    _common(create)
    listing = actions.add_parser("list", help="list keys (never shows a key)")
    _common(listing)
    revoke = actions.add_parser("revoke", help="revoke a key by label (or id)")
    revoke.add_argument("name", metavar="NAME", help="the key's label or id")
    _common(revoke)


def _table(infos: list[KeyInfo], backend: str) -> str:
    header = ("LABEL", "CREATED", "LAST USED", "FINGERPRINT", "BACKEND", "OWNER")
    rows = [header] + [
        (
            i.label,
            i.created,
            i.last_used or "never",
            i.fingerprint,
            backend,
            "yes" if i.owner else "",
        )
        for i in infos
    ]
    widths = [max(len(r[c]) for r in rows) for c in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def _run(args: argparse.Namespace, store: KeyStore | PostgresKeyStore) -> int:
    where = store.describe_backend()
    if args.keys_command == "create":
        info, key = store.create(args.label, owner=args.owner)
        print(key, flush=True)
        kind = "owner key" if info.owner else "key"
        print(
            f"Created {kind} {info.label!r} (fingerprint {info.fingerprint}) in {where}. "
            "It is shown only this once: copy it now.",
            file=sys.stderr,
        )
    elif args.keys_command == "list":
        infos = store.list()
        if infos:
            print(_table(infos, store.name))
        else:
            print(f"No keys in {where}.", file=sys.stderr)
    elif args.keys_command == "revoke":
        info = store.revoke(args.name)
        print(f"Revoked key {info.label!r} (fingerprint {info.fingerprint}).", file=sys.stderr)
    return EXIT_OK


def run_keys(args: argparse.Namespace) -> int:
    """Run a ``keys`` action; the exit code: 0 done, 1 failed, 2 no usable keystore."""
    data_dir = resolve_data_dir(getattr(args, "data_dir", None))
    try:
        url = storage_url(
            getattr(args, "config", None), args.data_dir, getattr(args, "keystore", None)
        )
        if url:
            from server.postgres.key_store import PostgresKeyStore

            shared = PostgresKeyStore.open(url)
            try:
                return _run(args, shared)
            finally:
                shared.close()
        store = KeyStore.open(data_dir, getattr(args, "keystore", None))
        return _run(args, store)
    except (ConfigError, StorageError) as exc:
        print(f"traymind keys: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyringUnavailable as exc:
        print(f"traymind keys: {exc}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    except KeyError as exc:
        print(f"traymind keys: {exc.args[0]}", file=sys.stderr)
        return EXIT_FAILED
    except (KeyStoreError, ValueError, OSError) as exc:
        print(f"traymind keys: {exc}", file=sys.stderr)
        return EXIT_FAILED
