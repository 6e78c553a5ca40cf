"""``traymind serve``: run the OpenAI-compatible API until a signal; the options the tray shares."""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from server.config import ConfigError
from server.logging_setup import configure_logging
from server.runner import (
    DEFAULT_HOST,
    DEFAULT_PORT,
    ServeOptions,
    ServerHandle,
    StartupError,
    export_options,
)


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    """The options ``traymind serve``, ``python -m server`` and the tray app share."""
    parser.add_argument("--config", metavar="PATH", help="config.yaml to use")
    parser.add_argument("--host", default=None, help=f"address to listen on ({DEFAULT_HOST})")
    parser.add_argument("--port", type=int, default=None, help=f"port ({DEFAULT_PORT}; 0 = free)")
    parser.add_argument("--data-dir", metavar="DIR", help="where sessions and indexes live")
    parser.add_argument(
        "--keystore", choices=("keyring", "file"), help="where client keys are kept (keyring)"
    )


def serve_options(args: argparse.Namespace) -> ServeOptions:
    return ServeOptions(
        config=args.config,
        host=args.host or DEFAULT_HOST,
        port=DEFAULT_PORT if args.port is None else args.port,
        data_dir=args.data_dir,
        keystore=args.keystore,
    )


def serve(options: ServeOptions) -> int:
    """Run until SIGINT/SIGTERM; exit 0 on a signal, 2 when the server cannot start."""
    configure_logging(to_stderr=True)
    export_options(options)
    handle = ServerHandle(options)
    try:
        handle.start()
    except ConfigError as exc:
        print(f"traymind: {exc}", file=sys.stderr)
        return 2
    except StartupError as exc:
        print(f"traymind: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    print(f"Traymind serving {handle.url}", flush=True)
    while not stop.wait(0.5):
        if not handle.running:
            print("traymind: the server stopped unexpectedly; see the log.", file=sys.stderr)
            return 1
    handle.stop()
    return 0
