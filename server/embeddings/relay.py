"""``POST /v1/embeddings``: a chat app's embeddings request, passed to Traymind's provider.

Chat apps' RAG (Open WebUI, LibreChat, AnythingLLM) embeds documents through the same
base URL it chats through. Traymind has no embeddings of its own, so the request goes
to the ``embeddings`` model of config.yaml, else to the default model's provider, with
that model's id and key; the answer comes back in OpenAI's shape, naming the model the
client asked for.
"""

from __future__ import annotations

from typing import Any

import httpx

from server.config.schema import ModelConfig
from server.errors import InvalidRequest, NoProvider, TraymindError
from server.providers import failures as fail
from server.providers.credentials import resolve_api_key
from server.providers.endpoints import base_url, http_timeout

LABEL = "the embeddings relay"  # in sentences: "The embeddings relay could not..."


def parse_embeddings(body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The model the client named and the body to send on (``input`` checked)."""
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise InvalidRequest("'model' is required and must be a non-empty string.", param="model")
    given = body.get("input")
    texts = [given] if isinstance(given, str) else given
    if not isinstance(texts, list) or not texts:
        raise InvalidRequest(
            "'input' must be a string or a non-empty array of strings or token arrays.",
            param="input",
        )
    if not all(isinstance(t, str | list) for t in texts):
        raise InvalidRequest("Each 'input' item must be a string or a token array.", param="input")
    forwarded = {"input": given}
    for name in ("encoding_format", "dimensions", "user"):
        if name in body:
            forwarded[name] = body[name]
    return model.strip(), forwarded


async def relay_embeddings(
    client: httpx.AsyncClient, model: ModelConfig, requested: str, body: dict[str, Any]
) -> dict[str, Any]:
    """The provider's embeddings for ``body``, in OpenAI's shape; raises ``TraymindError``."""
    if model.provider != "openai":
        raise NoProvider(
            f"The embeddings model uses provider '{model.provider}', which has no "
            "OpenAI-compatible /v1/embeddings endpoint; set `embeddings.model` in config.yaml "
            "to an OpenAI-compatible model."
        )
    url = base_url(model)
    key = resolve_api_key(model)
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    try:
        response = await client.post(
            f"{url}/embeddings",
            json={**body, "model": model.id},
            headers=headers,
            timeout=http_timeout(model.timeout_seconds),
        )
    except httpx.TimeoutException:
        raise fail.timed_out(LABEL, url) from None
    except httpx.TransportError:
        raise fail.unreachable(LABEL, url) from None
    if response.status_code >= 400:
        raise fail.for_status(LABEL, url, response.status_code, response.headers.get("retry-after"))
    try:
        answer = response.json()
        data = answer["data"]
        if not isinstance(data, list):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        raise fail.unreadable(LABEL, url) from None
    usage = answer.get("usage") if isinstance(answer.get("usage"), dict) else {}
    return {
        "object": "list",
        "data": data,
        "model": requested,
        "usage": {
            "prompt_tokens": int(usage.get("prompt_tokens") or 0),
            "total_tokens": int(usage.get("total_tokens") or 0),
        },
    }


__all__ = ["TraymindError", "parse_embeddings", "relay_embeddings"]
