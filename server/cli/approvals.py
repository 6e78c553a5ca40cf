"""``traymind approvals list|allow ID|deny ID``: decide a running server's tool approvals.

For a headless server (``traymind serve``) with no tray to ask: the command talks to the
running server's ``/api/approvals`` over loopback with an owner key, read from
``$TRAYMIND_OWNER_KEY`` (never from the command line, where ``ps`` would show it). The
list goes to stdout; notes and errors go to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from typing import Any

import httpx

from server.approvals.broker import arguments_text
from server.cli.common import EXIT_FAILED, EXIT_OK, EXIT_UNAVAILABLE, note
from server.providers.tls import tls_context
from server.runner import DEFAULT_HOST, DEFAULT_PORT

OWNER_KEY_ENV = "TRAYMIND_OWNER_KEY"
URL_ENV = "TRAYMIND_URL"
DEFAULT_URL = f"http://{DEFAULT_HOST}:{DEFAULT_PORT}"
ARGUMENTS_WIDTH = 60


def add_approvals_parser(subparsers: Any) -> None:
    approvals = subparsers.add_parser(
        "approvals",
        help="list and decide the tool calls a running server waits to have approved",
        description=f"Needs an owner key (traymind keys create --owner) in ${OWNER_KEY_ENV}.",
    )
    actions = approvals.add_subparsers(dest="approvals_command", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="the tool calls waiting for a decision")
    listing.add_argument("--json", action="store_true", help="print the server's JSON")
    allow = actions.add_parser("allow", help="let one tool call run")
    allow.add_argument("id", metavar="ID")
    allow.add_argument(
        "--always", action="store_true", help="and let this agent use the tool without asking"
    )
    deny = actions.add_parser("deny", help="refuse one tool call (the agent is told)")
    deny.add_argument("id", metavar="ID")
    show = actions.add_parser("show", help="one waiting call in full: its arguments and diff")
    show.add_argument("id", metavar="ID")
    for parser in (listing, allow, deny, show):
        parser.add_argument(
            "--url",
            default=os.environ.get(URL_ENV) or DEFAULT_URL,
            help=f"the running server (default: ${URL_ENV} or {DEFAULT_URL})",
        )


def run_approvals(args: argparse.Namespace) -> int:
    key = os.environ.get(OWNER_KEY_ENV, "").strip()
    if not key:
        note(
            f"traymind approvals: set {OWNER_KEY_ENV} to an owner key "
            "(create one with `traymind keys create --owner --label NAME`)."
        )
        return EXIT_FAILED
    base = args.url.rstrip("/").removesuffix("/v1")
    try:
        with httpx.Client(
            base_url=base,
            headers={"Authorization": f"Bearer {key}", "User-Agent": "traymind-cli"},
            timeout=10,
            verify=tls_context(),
            trust_env=False,  # loopback: no proxy
        ) as api:
            if args.approvals_command == "list":
                return _list(api, args.json)
            if args.approvals_command == "show":
                return _show(api, args.id)
            allow = args.approvals_command == "allow"
            body = {"allow": allow, "always": bool(getattr(args, "always", False))}
            return _decide(api, args.id, body)
    except httpx.HTTPError as exc:
        note(f"traymind approvals: cannot reach the server at {base}: {type(exc).__name__}.")
        return EXIT_UNAVAILABLE


def _list(api: httpx.Client, raw: bool) -> int:
    response = api.get("/api/approvals")
    if response.status_code != 200:
        return _failed(response)
    pending = response.json()["data"]
    if raw:
        print(json.dumps(pending, indent=2, ensure_ascii=False))
    elif not pending:
        note("No tool call is waiting for approval.")
    else:
        print(_table(pending))
    return EXIT_OK


def _show(api: httpx.Client, approval_id: str) -> int:
    response = api.get("/api/approvals")
    if response.status_code != 200:
        return _failed(response)
    pending = next((p for p in response.json()["data"] if p["id"] == approval_id), None)
    if pending is None:
        note(f"traymind approvals: no approval {approval_id[:40]!r} is waiting.")
        return EXIT_FAILED
    left = max(0, round(pending["expires"] - time.time()))
    print(
        f"{pending['agent']} wants to use {pending['tool']}\n"
        f"client: {pending['client'] or '?'}, session: {pending['session'] or '(none)'}, "
        f"{left} s left\n\n{arguments_text(pending['arguments'])}"
    )
    if pending.get("preview"):
        print(f"\nWhat it would change:\n{pending['preview']}")
    return EXIT_OK


def _decide(api: httpx.Client, approval_id: str, body: dict[str, bool]) -> int:
    response = api.post(f"/api/approvals/{approval_id}", json=body)
    if response.status_code != 200:
        return _failed(response)
    verb = "Allowed" if body["allow"] else "Denied"
    extra = " (and from now on, for this agent)" if response.json().get("always") else ""
    note(f"{verb} {approval_id}{extra}.")
    return EXIT_OK


def _failed(response: httpx.Response) -> int:
    try:
        message = response.json()["error"]["message"]
    except (ValueError, KeyError, TypeError):
        message = f"the server answered {response.status_code}"
    note(f"traymind approvals: {message}")
    return EXIT_FAILED


def _table(pending: list[dict[str, Any]]) -> str:
    now = time.time()
    header = ("ID", "AGENT", "TOOL", "CLIENT", "LEFT", "ARGUMENTS")
    rows = [header] + [
        (
            p["id"],
            p["agent"],
            p["tool"],
            p["client"] or "?",
            f"{max(0, round(p['expires'] - now))}s",
            _short(json.dumps(p["arguments"], ensure_ascii=False)),
        )
        for p in pending
    ]
    widths = [max(len(r[c]) for r in rows) for c in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= ARGUMENTS_WIDTH else text[: ARGUMENTS_WIDTH - 1] + "…"
