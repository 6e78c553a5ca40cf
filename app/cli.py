"""The ``traymind`` command: server subcommands headless, otherwise the tray app.

This module must not import Qt: ``traymind serve`` stays fast and works where
PySide6 is not installed.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from server.cli.main import SERVER_COMMANDS
from server.cli.main import main as server_main
from server.cli.serve import add_serve_arguments, serve, serve_options
from server.version import version


def has_display() -> bool:
    """A display to show the tray on; ``QT_QPA_PLATFORM`` (e.g. offscreen) counts as one."""
    if sys.platform in ("win32", "darwin"):
        return True
    return any(os.environ.get(v) for v in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"))


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list and args_list[0] in SERVER_COMMANDS:
        return server_main(args_list)
    parser = argparse.ArgumentParser(
        prog="traymind",
        description="Traymind: your AI agents in the tray, served to any chat app. "
        f"Subcommands: {', '.join(SERVER_COMMANDS)} (see `traymind serve --help`).",
    )
    parser.add_argument("--version", action="version", version=f"traymind {version()}")
    add_serve_arguments(parser)
    args = parser.parse_args(args_list)
    if not has_display():
        print(
            "traymind: no display found; running the server headless (as `traymind serve`).",
            file=sys.stderr,
            flush=True,
        )
        return serve(serve_options(args))
    try:
        from app.main import run_tray
    except ImportError as exc:
        print(
            f"traymind: the tray app is unavailable ({exc}); running the server headless.",
            file=sys.stderr,
            flush=True,
        )
        return serve(serve_options(args))
    return run_tray(serve_options(args))


if __name__ == "__main__":
    sys.exit(main())
