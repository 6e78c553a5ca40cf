"""Embeddings from an OpenAI-compatible ``/v1/embeddings`` endpoint (Ollama, LM Studio, OpenAI).

Plain httpx rather than a provider SDK: the request is one JSON POST, and the
indexer calls it from its own thread, synchronously. A failing endpoint never
stops indexing: passages are stored without vectors and embedded later.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import httpx

from server.config.schema import ModelConfig
from server.providers.credentials import resolve_api_key
from server.providers.endpoints import base_url
from server.providers.tls import tls_context

BATCH = 32  # inputs per request: large enough to amortise, small enough for local servers
MAX_INPUT_CHARS = 8000  # about 2k tokens: inside every common embedding model's window
INDEX_TIMEOUT = 120.0
QUERY_TIMEOUT = 10.0


class EmbeddingError(Exception):
    """The endpoint failed or answered something that is not embeddings."""


class Embedder(Protocol):
    """Turns texts into vectors; ``identity`` changes when the vectors would."""

    @property
    def identity(self) -> str: ...

    def embed(self, texts: Sequence[str], *, query: bool = False) -> list[list[float]]: ...


class HttpEmbedder:
    """An OpenAI-compatible embeddings endpoint."""

    def __init__(self, base_url: str, model_id: str, api_key: str | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.model_id = model_id
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        # trust_env: HTTPS_PROXY / NO_PROXY, as the provider SDKs honour them
        self._client = httpx.Client(trust_env=True, verify=tls_context(), headers=self._headers)

    @property
    def identity(self) -> str:
        return f"{self.base_url}|{self.model_id}"

    def close(self) -> None:
        self._client.close()

    def embed(self, texts: Sequence[str], *, query: bool = False) -> list[list[float]]:
        """One vector per text, in order; raises ``EmbeddingError``."""
        vectors: list[list[float]] = []
        timeout = QUERY_TIMEOUT if query else INDEX_TIMEOUT
        for start in range(0, len(texts), BATCH):
            batch = [text[:MAX_INPUT_CHARS] for text in texts[start : start + BATCH]]
            vectors.extend(self._request(batch, timeout))
        return vectors

    def _request(self, batch: list[str], timeout: float) -> list[list[float]]:
        url = f"{self.base_url}/embeddings"
        try:
            response = self._client.post(
                url, json={"model": self.model_id, "input": batch}, timeout=timeout
            )
        except httpx.HTTPError as exc:
            raise EmbeddingError(f"cannot reach {url} ({exc.__class__.__name__})") from None
        if response.status_code != 200:
            raise EmbeddingError(f"{url} answered {response.status_code}: {response.text[:200]}")
        try:
            data = sorted(response.json()["data"], key=lambda item: item["index"])
            vectors = [[float(x) for x in item["embedding"]] for item in data]
        except (ValueError, KeyError, TypeError) as exc:
            raise EmbeddingError(f"{url} did not answer with embeddings ({exc})") from None
        if len(vectors) != len(batch):
            raise EmbeddingError(f"{url} returned {len(vectors)} vectors for {len(batch)} inputs")
        return vectors


def embedder_for(model: ModelConfig | None) -> HttpEmbedder | None:
    """The embedder of the ``embeddings`` model, with its key; None when semantic search is off.

    Raises ``ValueError`` when that model cannot serve embeddings.
    """
    if model is None:
        return None
    if model.provider != "openai":
        raise ValueError(
            f"the embeddings model '{model.id}' uses provider '{model.provider}', which has no "
            "OpenAI-compatible /v1/embeddings endpoint"
        )
    api_key = resolve_api_key(model) or None
    return HttpEmbedder(base_url(model), model.id, api_key)
