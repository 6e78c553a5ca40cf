"""Which stored conversation a request continues, from the headers chat apps send.

Precedence: ``X-Session-Id``, then ``X-LibreChat-Conversation-Id``, then
``X-OpenWebUI-Chat-Id``, then ``X-Chat-Id``; then, when none is given, the body's
``user`` with the model and the conversation's first user message (see
``user_session``); without any, the request is ephemeral and never stored. Every id
lives in the namespace of the client's key, so two keys never share one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

from server.errors import InvalidRequest

MAX_SESSION_ID = 512

SESSION_HEADERS: tuple[tuple[str, str], ...] = (
    ("x-session-id", "session"),
    ("x-librechat-conversation-id", "librechat"),
    ("x-openwebui-chat-id", "openwebui"),
    ("x-chat-id", "chat"),
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


def user_session(user: object, model: str, first_user_text: str) -> str | None:
    """A session id from the body's ``user``, for clients that send no session header.

    Clients that send ``user`` send the whole conversation every turn, so its first user
    message tells one conversation from the next: without it, a new chat of the same user
    would continue the last one's stored history.
    """
    if not isinstance(user, str) or not user.strip() or len(user) > MAX_SESSION_ID // 2:
        return None
    digest = hashlib.sha256(first_user_text.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return f"user:{user.strip()}|{model}|{digest}"


def session_ref(
    headers: Mapping[str, str], namespace: str, agent: str, fallback: str | None = None
) -> SessionRef | None:
    """The session a request belongs to (``fallback``: from ``user_session``), or None."""
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
    return SessionRef(namespace, fallback, agent, "user") if fallback else None
