"""Browser attacks on a localhost server: DNS rebinding and cross-origin requests.

Any web page can make the browser send requests to 127.0.0.1. Two guards close
that door, as one small ASGI middleware on every request:

- the ``Host`` header must be a loopback name, an IP literal (a rebinding attack
  needs a domain name of the attacker's), ``host.docker.internal``, or a name in
  ``server.trusted_hosts``; anything else is 421 in OpenAI's error shape;
- no CORS headers at all unless ``server.cors_origins`` allow-lists the page's
  origin; then preflights are answered, including Private Network Access.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable, Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

LOOPBACK_NAMES = frozenset({"localhost", "host.docker.internal"})
CORS_METHODS = "GET, POST, OPTIONS"
CORS_HEADERS = (
    "Authorization, Content-Type, X-Session-Id, X-LibreChat-Conversation-Id, X-OpenWebUI-Chat-Id"
)


def host_name(host_header: str) -> str:
    """The name part of a ``Host`` header: no port, no IPv6 brackets, lower case."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    name, _, port = host.rpartition(":")
    return name if name and port.isdigit() else host


def is_ip_literal(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def is_loopback_host(name: str) -> bool:
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


class HostGuard:
    """Checks ``Host`` and answers CORS for the origins the user allowed."""

    def __init__(
        self, app: ASGIApp, settings: Callable[[], tuple[Iterable[str], Iterable[str]]]
    ) -> None:
        self.app = app
        self._settings = settings  # () -> (trusted_hosts, cors_origins), read per request

    def host_allowed(self, name: str, trusted: Iterable[str]) -> bool:
        if name in LOOPBACK_NAMES or is_loopback_host(name) or is_ip_literal(name):
            return True
        return name in {t.lower() for t in trusted}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        trusted, origins = self._settings()
        headers = dict(scope["headers"])
        name = host_name(headers.get(b"host", b"").decode("latin-1"))
        if not self.host_allowed(name, trusted):
            await _reject(
                send,
                421,
                "This server only answers requests addressed to it by a "
                "trusted name; add the name to server.trusted_hosts in config.yaml.",
            )
            return
        origin = headers.get(b"origin", b"").decode("latin-1")
        allowed_origin = origin if origin and origin in set(origins) else None
        if scope["method"] == "OPTIONS" and b"access-control-request-method" in headers:
            if allowed_origin is None:
                await _reject(send, 403, "Cross-origin requests from this origin are not allowed.")
                return
            await _preflight(
                send, allowed_origin, b"access-control-request-private-network" in headers
            )
            return
        if allowed_origin is None:
            await self.app(scope, receive, send)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *message.get("headers", []),
                    (b"access-control-allow-origin", allowed_origin.encode("latin-1")),
                    (b"vary", b"Origin"),
                ]
            await send(message)

        await self.app(scope, receive, send_with_cors)


async def _reject(send: Send, status: int, message: str) -> None:
    body = json.dumps(
        {
            "error": {
                "message": message,
                "type": "invalid_request_error",
                "param": None,
                "code": "untrusted_host" if status == 421 else "cors_forbidden",
            }
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _preflight(send: Send, origin: str, private_network: bool) -> None:
    headers = [
        (b"access-control-allow-origin", origin.encode("latin-1")),
        (b"access-control-allow-methods", CORS_METHODS.encode()),
        (b"access-control-allow-headers", CORS_HEADERS.encode()),
        (b"access-control-max-age", b"600"),
        (b"vary", b"Origin"),
        (b"content-length", b"0"),
    ]
    if private_network:
        headers.append((b"access-control-allow-private-network", b"true"))
    await send({"type": "http.response.start", "status": 204, "headers": headers})
    await send({"type": "http.response.body", "body": b""})
