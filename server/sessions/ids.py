"""Which stored conversation a request continues, from the headers chat apps send.

Precedence: ``X-Session-Id``, then ``X-LibreChat-Conversation-Id``, then
``X-OpenWebUI-Chat-Id``; without any, the request is ephemeral and never stored.
Every id lives in the namespace of the client's key, so two keys never share one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from server.errors import InvalidRequest

MAX_SESSION_ID = 512

SESSION_HEADERS: tuple[tuple[str, str], ...] = (
    ("x-session-id", "session"),
    ("x-librechat-conversation-id", "librechat"),
    ("x-openwebui-chat-id", "openwebui"),
)


@dataclass(frozen=True, slots=True)
class SessionRef:
    """A stored conversation: namespace (key hash), the client's id, and the agent."""

    namespace: str
    session_id: str
    agent: str
    origin: str  # which header it came from

    @property
    def short(self) -> str:
        return f"{self.namespace[:6]}/{self.session_id[:24]}"


def session_ref(headers: Mapping[str, str], namespace: str, agent: str) -> SessionRef | None:
    """The session a request belongs to, or None for an ephemeral request."""
    for header, origin in SESSION_HEADERS:
        value = headers.get(header)
        if value is None:
            continue
        value = value.strip()
        # LibreChat leaves its template unfilled when a request has no conversation yet.
        if not value or value.startswith("{{"):
            continue
        if len(value) > MAX_SESSION_ID:
            raise InvalidRequest(
                f"The {header} header is longer than {MAX_SESSION_ID} characters.", param=header
            )
        session_id = value if origin == "session" else f"{origin}:{value}"
        return SessionRef(namespace, session_id, agent, origin)
    return None
