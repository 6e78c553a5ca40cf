"""What every command shares: exit codes, the data-dir option, notes on stderr."""

from __future__ import annotations

import argparse
import os
import sys

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_UNAVAILABLE = 2


def add_data_dir(parser: argparse.ArgumentParser, *, config: bool = True) -> None:
    if config:
        parser.add_argument("--config", metavar="PATH", help="config.yaml to use")
    parser.add_argument("--data-dir", metavar="DIR", help="data dir (default: $TRAYMIND_DATA_DIR)")


def storage_url(config_path: str | None) -> str | None:
    """The database replicas share (keys, memories): ``$TRAYMIND_STORAGE_URL``, else
    ``storage.url`` of the config ``traymind serve`` would use (``--config``,
    ``$TRAYMIND_CONFIG``, ``./config.yaml``, the user's), if one exists; ``ConfigError``
    when that config is invalid."""
    from server.config import load_config
    from server.config.locate import existing_config
    from server.config.schema import STORAGE_URL_ENV

    url = os.environ.get(STORAGE_URL_ENV)
    if url:
        return url
    path = existing_config(config_path)
    return load_config(path).storage.url if path is not None else None


def note(message: str) -> None:
    """Progress and notes go to stderr, so that results on stdout can be piped."""
    print(message, file=sys.stderr, flush=True)
