"""Parse the headless command line and dispatch to its command."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from server.cli.agents import add_agents_parser, run_agents
from server.cli.approvals import add_approvals_parser, run_approvals
from server.cli.check_config import check_config
from server.cli.kb import add_kb_parser, run_kb
from server.cli.keys import add_keys_parser, run_keys
from server.cli.memory import add_memory_parser, run_memory
from server.cli.serve import add_serve_arguments, serve, serve_options
from server.cli.storage import add_storage_parser, run_storage

SERVER_COMMANDS = (
    "serve", "check-config", "agents", "keys", "kb", "memory", "approvals", "storage",
)  # fmt: skip


def build_parser(prog: str = "traymind") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description="Traymind's headless server.")
    commands = parser.add_subparsers(dest="command", required=True)
    add_serve_arguments(commands.add_parser("serve", help="serve the OpenAI-compatible API"))
    check = commands.add_parser("check-config", help="validate a config.yaml")
    check.add_argument("path", nargs="?", help="config file (default: as `serve` finds it)")
    add_agents_parser(commands)
    add_keys_parser(commands)
    add_kb_parser(commands)
    add_memory_parser(commands)
    add_approvals_parser(commands)
    add_storage_parser(commands)
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
    if args.command == "approvals":
        return run_approvals(args)
    if args.command == "agents":
        return run_agents(args)
    if args.command == "storage":
        return run_storage(args)
    return run_keys(args)


def serve_main(argv: Sequence[str] | None = None) -> int:
    """``python -m server [serve options]``: the same arguments as ``traymind serve``."""
    parser = argparse.ArgumentParser(prog="python -m server")
    add_serve_arguments(parser)
    return serve(serve_options(parser.parse_args(argv)))
