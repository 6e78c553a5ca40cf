"""Browser attacks on a localhost server: DNS rebinding and cross-origin requests.

Any web page can make the browser send requests to 127.0.0.1. Two guards close
that door, as one small ASGI middleware on every request:

- the ``Host`` header must be a loopback name, an IP literal (a rebinding attack
  needs a domain name of the attacker's), ``host.docker.internal``, or a name in
  ``server.trusted_hosts``; anything else is 421 in OpenAI's error shape;
- no CORS headers at all unless ``server.cors_origins`` allow-lists the page's
  origin; then preflights are answered, including Private Network Access;
- a request a page could send without a preflight (a "simple" POST with
  ``text/plain`` or a form encoding, any ``Origin`` including ``null``) never
  reaches an agent: an ``Origin`` not allow-listed, or ``Sec-Fetch-Site:
  cross-site``/``same-site`` without one, is 403, and a browser's non-JSON body
  is 415, all before the body is read.

Exactly one ``Host`` header is required (400 otherwise): the guard and the
authenticator then read the same one.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable, Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.openai.errors import error_json

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


def is_loopback_host(name: str | None) -> bool:
    """The one loopback test: ``localhost``, ``*.localhost``, or a loopback IP literal.

    Used for ``Host`` names, peer addresses and listen addresses alike; an IPv4
    address mapped into IPv6 (``::ffff:127.0.0.1``) counts as what it maps.
    """
    if not name:
        return False
    name = name.strip().lower().removesuffix(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return (mapped or address).is_loopback


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
        hosts = [value for name, value in scope["headers"] if name == b"host"]
        if len(hosts) != 1:
            await _reject(scope, send, 400, *_HOST_COUNT_PROBLEM[min(len(hosts), 2)])
            return
        headers = dict(scope["headers"])
        name = host_name(hosts[0].decode("latin-1"))
        if not self.host_allowed(name, trusted):
            await _reject(
                scope,
                send,
                421,
                "This server only answers requests addressed to it by a "
                "trusted name; add the name to server.trusted_hosts in config.yaml.",
                "untrusted_host",
            )
            return
        origin = headers.get(b"origin", b"").decode("latin-1")
        allowed_origin = origin if origin and origin != "null" and origin in set(origins) else None
        if scope["method"] == "OPTIONS" and b"access-control-request-method" in headers:
            if allowed_origin is None:
                await _reject(scope, send, 403, CROSS_SITE_MESSAGE, "cors_forbidden")
                return
            await _preflight(
                send, allowed_origin, b"access-control-request-private-network" in headers
            )
            return
        problem = browser_problem(headers, allowed_origin is not None)
        if problem is not None:
            await _reject(scope, send, *problem)
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


CROSS_SITE_MESSAGE = (
    "Cross-origin requests from this origin are not allowed; add the origin to "
    "server.cors_origins in config.yaml if it is a chat app you trust."
)
_HOST_COUNT_PROBLEM = {
    0: ("A Host header is required.", "missing_host"),
    2: ("More than one Host header was sent.", "duplicate_host"),
}
CROSS_SITE_FETCHES = frozenset({b"cross-site", b"same-site"})


def is_from_browser(headers: Mapping[bytes, bytes]) -> bool:
    """An ``Origin`` or any ``Sec-Fetch-*`` header: only browsers send these on their own.

    Server-side clients send some of them too (LibreChat's openai-node adds
    ``Sec-Fetch-Mode: cors`` with no ``Origin``): that alone is never refused, it
    only makes a non-JSON body a 415.
    """
    return b"origin" in headers or any(name.startswith(b"sec-fetch-") for name in headers)


def is_json(content_type: bytes) -> bool:
    mime = content_type.split(b";", 1)[0].strip().lower()
    return mime == b"application/json" or (
        mime.startswith(b"application/") and mime.endswith(b"+json")
    )


def browser_problem(
    headers: Mapping[bytes, bytes], origin_allowed: bool
) -> tuple[int, str, str] | None:
    """Why a request a web page could have sent must not reach an agent, or None.

    Checked before the body is read. A page may send a "simple" POST without a
    preflight (``text/plain``, form encodings, any or a ``null`` origin); the
    page's origin, or the browser's ``Sec-Fetch-Site``, gives it away.
    """
    if not origin_allowed:
        if b"origin" in headers:
            return 403, CROSS_SITE_MESSAGE, "cors_forbidden"
        if headers.get(b"sec-fetch-site", b"").strip().lower() in CROSS_SITE_FETCHES:
            return 403, CROSS_SITE_MESSAGE, "cors_forbidden"
    content_type = headers.get(b"content-type")
    has_body = (
        content_type is not None
        or b"content-length" in headers
        or (b"transfer-encoding" in headers)
    )
    if has_body and is_from_browser(headers) and not is_json(content_type or b""):
        return (
            415,
            "Request bodies must be JSON: send 'Content-Type: application/json'.",
            "unsupported_media_type",
        )
    return None


async def _reject(scope: Scope, send: Send, status: int, message: str, code: str) -> None:
    body = error_json(status, message, code=code, path=scope.get("path", ""))
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
