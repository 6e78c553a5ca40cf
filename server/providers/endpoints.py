"""Where providers are and how long Traymind waits for them."""

from __future__ import annotations

import httpx

from server.config.schema import ModelConfig

OPENAI_URL = "https://api.openai.com/v1"
ANTHROPIC_URL = "https://api.anthropic.com"
CONNECT_TIMEOUT_SECONDS = 10.0


def base_url(model: ModelConfig) -> str:
    """The model's endpoint, without a trailing slash; the provider's own when unset."""
    if model.provider == "anthropic":
        return (model.base_url or ANTHROPIC_URL).rstrip("/")
    return (model.base_url or OPENAI_URL).rstrip("/")


def connect_timeout(seconds: float) -> float:
    """At most 10 s to connect, however long the model may take to answer."""
    return min(seconds, CONNECT_TIMEOUT_SECONDS)


def http_timeout(seconds: float) -> httpx.Timeout:
    """``timeout_seconds`` to the first byte and between chunks; at most 10 s to connect."""
    return httpx.Timeout(seconds, connect=connect_timeout(seconds))
