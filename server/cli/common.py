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
    ``storage.url`` of the config named with ``--config`` (no config is read otherwise);
    ``ConfigError`` when that config is invalid."""
    from server.config import load_config, locate_config
    from server.config.schema import STORAGE_URL_ENV

    url = os.environ.get(STORAGE_URL_ENV)
    if url or not config_path:
        return url or None
    return load_config(locate_config(config_path)).storage.url


def note(message: str) -> None:
    """Progress and notes go to stderr, so that results on stdout can be piped."""
    print(message, file=sys.stderr, flush=True)
