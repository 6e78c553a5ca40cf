"""A key only the process running the server knows: the tray's own windows use it.

Why: the tray's Chat window talks to the embedded server over its real ``/v1`` API,
like any chat app, but it should work before the user has created a key or turned
unauthenticated access on, and it must not make the server less locked for anyone
else. So the tray makes one random token per run, kept only in this process's memory
(never on disk, in config, in the environment or in a log), and adds this source to
the running server's authenticator. It says it holds no keys (``has_keys`` is False):
a locked server stays locked, and listening beyond loopback still needs a real key.

The token travels only to the server in the same process, over loopback.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from server.security.auth import Authenticator, KeyMatch

OWNER_SOURCE = "this app"
OWNER_NAMESPACE = "app"  # the tray's own chats are stored apart from every client key's


class OwnerKey:
    """One random bearer token for this process, accepted by the servers it is attached to."""

    name = OWNER_SOURCE

    def __init__(self) -> None:
        self._token = "tm-app-" + secrets.token_urlsafe(32)
        self._digest = hashlib.sha256(self._token.encode()).digest()

    def __repr__(self) -> str:  # never the token, whatever logs the object
        return "OwnerKey(<hidden>)"

    def authorization(self) -> str:
        """The ``Authorization`` header value for requests from this process."""
        return f"Bearer {self._token}"

    def has_keys(self) -> bool:
        return False  # never unlocks the server for anyone else

    def match(self, presented: str) -> KeyMatch | None:
        digest = hashlib.sha256(presented.encode("utf-8", "surrogatepass")).digest()
        if not hmac.compare_digest(digest, self._digest):
            return None
        return KeyMatch(
            source=self.name, key_id="chat window", namespace=OWNER_NAMESPACE, owner=True
        )

    def attach(self, authenticator: Authenticator) -> None:
        """Accept this token on that server from its next request (idempotent, thread-safe).

        The list is replaced, not changed in place: a request being authenticated on the
        server's thread keeps iterating the list it started with.
        """
        if self not in authenticator.sources:
            authenticator.sources = [self, *authenticator.sources]
