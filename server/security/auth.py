"""Client authentication: which bearer keys are accepted, from which sources.

A *key source* is anything that can say whether a presented key is one of its
keys. The environment (``OPENAI_COMPAT_API_KEYS``) is one source; the OS keyring
store in ``server.keys.client_keys`` is another. Routes never see the sources: they ask
``Authenticator.authenticate``.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
from dataclasses import dataclass
from typing import Protocol

from server.errors import AuthenticationFailed, RateLimited
from server.security.host_guard import host_name, is_loopback_host
from server.security.throttle import AuthThrottle

log = logging.getLogger(__name__)

TRUE_WORDS = frozenset({"1", "true", "yes", "on"})


@dataclass(frozen=True, slots=True)
class KeyMatch:
    """A presented key that one source accepted."""

    source: str  # "environment", "keyring" or "file"
    key_id: str  # a non-secret identifier (label or fingerprint), safe to log
    namespace: str  # hash of the key: sessions are stored under it
    owner: bool = False  # the machine's owner's key: may decide tool approvals


@dataclass(frozen=True, slots=True)
class Identity:
    """The caller of one request."""

    namespace: str  # sessions are stored under it
    source: str  # "environment", "keyring", "file" or "unauthenticated local"
    owner: bool = False  # an owner key (``keys create --owner``, or the tray's own)
    key_id: str = ""  # the key's label or fingerprint, safe to show; "" without a key


class KeySource(Protocol):
    """A store of client keys."""

    name: str

    def has_keys(self) -> bool:
        """True when at least one key exists (the server is then not 'locked')."""
        ...

    def match(self, presented: str) -> KeyMatch | None:
        """The match for ``presented`` when it is one of this source's keys, in constant time."""
        ...


def key_namespace(key: str) -> str:
    """The session namespace of a client key: a short, one-way hash of it."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


def key_fingerprint(key: str) -> str:
    """A short fingerprint shown in listings instead of the key."""
    return hashlib.sha256(("fp:" + key).encode("utf-8")).hexdigest()[:8]


def parse_env_keys(raw: str | None) -> list[str]:
    """``OPENAI_COMPAT_API_KEYS``: comma-separated, trimmed, empties dropped."""
    if not raw:
        return []
    return [k.strip() for k in raw.split(",") if k.strip()]


def env_flag(raw: str | None) -> bool:
    return (raw or "").strip().lower() in TRUE_WORDS


class EnvironmentKeys:
    """Keys given in ``OPENAI_COMPAT_API_KEYS``; only their digests are kept."""

    name = "environment"

    def __init__(self, keys: list[str]) -> None:
        self._digests = [(hashlib.sha256(k.encode()).digest(), key_fingerprint(k)) for k in keys]

    @classmethod
    def from_environ(cls) -> EnvironmentKeys:
        return cls(parse_env_keys(os.environ.get("OPENAI_COMPAT_API_KEYS")))

    def has_keys(self) -> bool:
        return bool(self._digests)

    def match(self, presented: str) -> KeyMatch | None:
        digest = hashlib.sha256(presented.encode("utf-8", "surrogatepass")).digest()
        found: str | None = None
        for candidate, fingerprint in self._digests:  # compare all: no early exit
            if hmac.compare_digest(candidate, digest):
                found = fingerprint
        if found is None:
            return None
        return KeyMatch(source=self.name, key_id=found, namespace=key_namespace(presented))


LOCKED_MESSAGE = (
    "Traymind has no API keys and unauthenticated access is off. Create a key with "
    "`traymind keys create --label NAME` (or from the tray's API keys window), set "
    "OPENAI_COMPAT_API_KEYS, or allow unauthenticated local access."
)


NOT_LOCAL_MESSAGE = (
    "Unauthenticated access is on, but only for requests from this machine that address it "
    "as localhost or 127.0.0.1; this request did not. Send an API key with it "
    "('Authorization: Bearer YOUR_KEY')."
)


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer ...`` header, or None."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    token = token.strip()
    return token or None


def is_loopback_name(host_header: str | None) -> bool:
    """A ``Host`` header naming loopback (none at all is not: the host guard refuses it)."""
    if host_header is None:
        return False
    return is_loopback_host(host_name(host_header))


class Authenticator:
    """Decides who a request is, from its bearer key and the unauthenticated-local flag."""

    def __init__(
        self,
        sources: list[KeySource],
        *,
        allow_unauthenticated: bool = False,
        throttle: AuthThrottle | None = None,
    ) -> None:
        self.sources = sources
        self.allow_unauthenticated = allow_unauthenticated
        self.throttle = throttle or AuthThrottle()

    def mode(self) -> str:
        """For the status window: how requests get in right now."""
        sources = [s.name for s in self.sources if s.has_keys()]
        if self.allow_unauthenticated:
            return "unauthenticated local" + (
                f" (+ keys from {', '.join(sources)})" if sources else ""
            )
        if sources:
            return "keys from " + ", ".join(sources)
        return "locked"

    def match(self, token: str) -> KeyMatch | None:
        for source in self.sources:
            found = source.match(token)
            if found is not None:
                touch = getattr(source, "touch", None)
                if touch is not None:
                    touch(found.key_id)  # "last used" in the keys window; cheap and throttled
                return found
        return None

    def flush(self) -> None:
        """Write what sources keep for later (last-used times) before the server stops."""
        for source in self.sources:
            flush = getattr(source, "flush", None)
            if flush is not None:
                flush()

    def authenticate(
        self, authorization: str | None, peer: str | None, host: str | None = None
    ) -> Identity:
        """Who the caller is: their session namespace and where their key came from.

        Unauthenticated access is granted only to loopback peers that also addressed the
        server by a loopback name. Raises ``AuthenticationFailed``, or ``RateLimited``
        for an address with too many recent failures (a valid key is never throttled).
        """
        token = bearer_token(authorization)
        if token is not None:
            found = self.match(token)
            if found is not None:
                return Identity(found.namespace, found.source, found.owner, found.key_id)
        if self.allow_unauthenticated and is_loopback_host(peer) and is_loopback_name(host):
            return Identity(key_namespace(token) if token else "noauth", "unauthenticated local")
        address = peer or "unknown"
        retry_after = self.throttle.retry_after(address)
        if retry_after is not None:
            raise RateLimited(
                "Too many failed authentications from this address; try again later.",
                headers={"Retry-After": str(retry_after)},
            )
        self.throttle.record_failure(address)
        log.info("authentication failed for a request from %s", address)
        if token is None and self.allow_unauthenticated:
            raise AuthenticationFailed(NOT_LOCAL_MESSAGE)
        if not any(source.has_keys() for source in self.sources):
            raise AuthenticationFailed(LOCKED_MESSAGE)
        if token is None:
            raise AuthenticationFailed(
                "Missing API key: send it as 'Authorization: Bearer YOUR_KEY'."
            )
        raise AuthenticationFailed("Invalid API key.")

    def has_keys(self) -> bool:
        return any(source.has_keys() for source in self.sources)
