"""What every command shares: exit codes, the data-dir option, notes on stderr."""

from __future__ import annotations

import argparse
import sys

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_UNAVAILABLE = 2


def add_data_dir(parser: argparse.ArgumentParser, *, config: bool = True) -> None:
    if config:
        parser.add_argument("--config", metavar="PATH", help="config.yaml to use")
    parser.add_argument("--data-dir", metavar="DIR", help="data dir (default: $TRAYMIND_DATA_DIR)")


def note(message: str) -> None:
    """Progress and notes go to stderr, so that results on stdout can be piped."""
    print(message, file=sys.stderr, flush=True)
