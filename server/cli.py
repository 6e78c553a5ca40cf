"""The headless server's command line: ``serve``, ``check-config``, ``keys``, ``kb``, ``memory``."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence

from server.config import ConfigError, load_config, locate_config
from server.keys_cli import add_keys_parser, run_keys
from server.knowledge_cli import add_kb_parser, add_memory_parser, run_kb, run_memory
from server.logging_setup import configure_logging
from server.runner import (
    DEFAULT_HOST,
    DEFAULT_PORT,
    ServeOptions,
    ServerHandle,
    StartupError,
    export_options,
)

SERVER_COMMANDS = ("serve", "check-config", "keys", "kb", "memory")


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


def check_config(path: str | None) -> int:
    try:
        config_path = locate_config(path)
        config = load_config(config_path)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    for warning in config.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    agents = ", ".join(config.agents) or "none"
    print(f"{config_path}: OK ({len(config.agents)} agents: {agents})")
    return 0


def build_parser(prog: str = "traymind") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description="Traymind's headless server.")
    commands = parser.add_subparsers(dest="command", required=True)
    add_serve_arguments(commands.add_parser("serve", help="serve the OpenAI-compatible API"))
    check = commands.add_parser("check-config", help="validate a config.yaml")
    check.add_argument("path", nargs="?", help="config file (default: as `serve` finds it)")
    add_keys_parser(commands)
    add_kb_parser(commands)
    add_memory_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        return serve(serve_options(args))
    if args.command == "check-config":
        return check_config(args.path)
    if args.command == "kb":
        return run_kb(args)
    if args.command == "memory":
        return run_memory(args)
    return run_keys(args)


def serve_main(argv: Sequence[str] | None = None) -> int:
    """``python -m server [serve options]``: the same arguments as ``traymind serve``."""
    parser = argparse.ArgumentParser(prog="python -m server")
    add_serve_arguments(parser)
    return serve(serve_options(parser.parse_args(argv)))
