"""Resolving the ``default`` model when config.yaml does not define one.

Order: ``OPENAI_BASE_URL``/``OPENAI_API_KEY`` from the environment, else the first
local OpenAI-compatible server that answers on loopback (Ollama, LM Studio,
llama.cpp, Jan) with its first listed model. Probing is brief and runs in the
background so start-up never waits for it.
"""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass
from typing import Literal

import httpx

from server.providers.endpoints import OPENAI_URL
from server.providers.tls import tls_context

log = logging.getLogger(__name__)

Source = Literal["config", "environment", "detected", "none"]

LOCAL_SERVERS: tuple[tuple[str, str], ...] = (
    ("Ollama", "http://127.0.0.1:11434/v1"),
    ("LM Studio", "http://127.0.0.1:1234/v1"),
    ("llama.cpp", "http://127.0.0.1:8080/v1"),
    ("Jan", "http://127.0.0.1:1337/v1"),
)
PROBE_TIMEOUT = 0.8
OPENAI_DEFAULT_MODEL = "gpt-4o-mini"


@dataclass(frozen=True, slots=True)
class DefaultModel:
    """What ``default`` resolved to; ``id``/``base_url`` are None when nothing was found."""

    source: Source
    id: str | None = None
    base_url: str | None = None
    api_key_env: str | None = None

    def as_status(self) -> dict[str, str | None]:
        return {"id": self.id, "base_url": self.base_url, "source": self.source}


def candidate_urls() -> list[str]:
    """Where to look for a local server; ``TRAYMIND_DETECT_URLS`` (comma-separated) overrides."""
    override = os.environ.get("TRAYMIND_DETECT_URLS")
    if override is not None:
        return [u.strip().rstrip("/") for u in override.split(",") if u.strip()]
    return [url for _, url in LOCAL_SERVERS]


async def first_model(client: httpx.AsyncClient, base_url: str, api_key: str | None) -> str | None:
    """The first model id a server lists at ``GET {base_url}/models``, or None."""
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    try:
        response = await client.get(f"{base_url}/models", headers=headers)
        if response.status_code != 200:
            return None
        data = response.json().get("data") or []
        ids = [m.get("id") for m in data if isinstance(m, dict) and isinstance(m.get("id"), str)]
        return ids[0] if ids else None
    except (httpx.HTTPError, ValueError, AttributeError):
        return None


async def resolve_default_model() -> DefaultModel:
    """Environment first, then local servers probed concurrently (first in the list wins)."""
    base_url = os.environ.get("OPENAI_BASE_URL", "").strip().rstrip("/")
    api_key = os.environ.get("OPENAI_API_KEY", "").strip()
    explicit = os.environ.get("OPENAI_MODEL", "").strip()
    probe = httpx.AsyncClient(timeout=PROBE_TIMEOUT, trust_env=False, verify=tls_context())
    async with probe as client:
        if base_url or api_key:
            url = base_url or OPENAI_URL
            model_id = (
                explicit
                or (await first_model(client, url, api_key) if base_url else None)
                or OPENAI_DEFAULT_MODEL
            )
            key_env = "OPENAI_API_KEY" if api_key else None
            found = DefaultModel("environment", model_id, url, key_env)
        else:
            urls = candidate_urls()
            results = await asyncio.gather(*(first_model(client, u, None) for u in urls))
            found = next(
                (DefaultModel("detected", m, u) for u, m in zip(urls, results, strict=True) if m),
                DefaultModel("none"),
            )
    if found.source == "none":
        log.warning("no model configured or detected: chat answers 503 until one is connected")
    else:
        log.info("default model: %s at %s (%s)", found.id, found.base_url, found.source)
    return found
