"""The direct path: a tool-less agent on an OpenAI-compatible provider, without the agent loop.

An agent with no tools, knowledge, memory or MCP servers makes exactly one model
call per turn; running it through the agent framework costs tens of milliseconds
of CPU per request and most of a millisecond per streamed chunk (see
``docs/benchmarks.md``). This path sends that one call itself over one pooled
connection per provider, streams the deltas through, and stores the turn in the
same message format the agent runtime reads (``server.providers.history``), so an
agent can move between the paths (gain a tool, lose one) without losing its history.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from typing import Any

import httpx

from server.agents.events import RunDone, RunEvent, TextDelta
from server.config import AgentConfig, ModelConfig
from server.errors import TraymindError
from server.openai.chat_request import PriorMessage
from server.providers import failures as fail
from server.providers.credentials import resolve_api_key
from server.providers.endpoints import base_url as endpoint_of
from server.providers.endpoints import http_timeout
from server.providers.history import (
    exchange,
    history_from_json,
    history_from_prior,
    messages_json,
    openai_messages,
)
from server.providers.tls import tls_context

MAX_CONNECTIONS = 1000


def eligible(agent: AgentConfig, model: ModelConfig) -> bool:
    """One model call per turn, to an OpenAI-compatible endpoint: the direct path can run it."""
    return (
        model.provider == "openai"
        and not agent.tools
        and not agent.knowledge_bases
        and not agent.memory
    )


class DirectChat:
    """One pooled HTTP client per provider base URL; built once per config."""

    def __init__(self) -> None:
        self._clients: dict[tuple[str, float], httpx.AsyncClient] = {}
        self._headers: dict[tuple[str | None, str | None], dict[str, str]] = {}

    def _client(self, base_url: str, timeout: float) -> httpx.AsyncClient:
        key = (base_url, timeout)
        client = self._clients.get(key)
        if client is None:
            client = self._clients[key] = httpx.AsyncClient(
                base_url=base_url,
                timeout=http_timeout(timeout),
                limits=httpx.Limits(max_connections=MAX_CONNECTIONS, max_keepalive_connections=100),
                trust_env=True,  # HTTPS_PROXY / NO_PROXY, as the provider SDKs honour them
                verify=tls_context(),
            )
        return client

    def http_client(self, model: ModelConfig) -> httpx.AsyncClient:
        """The pooled client for this model's endpoint (embeddings relays share it)."""
        return self._client(endpoint_of(model), model.timeout_seconds)

    def _auth(self, model: ModelConfig) -> dict[str, str]:
        """The provider key's header, looked up once per config like the agent runtime's."""
        where = (model.api_key_env, model.api_key_keyring)
        headers = self._headers.get(where)
        if headers is None:
            key = resolve_api_key(model)
            headers = self._headers[where] = {"Authorization": f"Bearer {key}"} if key else {}
        return headers

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()

    async def run(
        self,
        agent_id: str,
        model: ModelConfig,
        instructions: str | None,
        prompt: str,
        stored: Sequence[bytes],
        prior: Sequence[PriorMessage],
        *,
        stream: bool,
    ) -> AsyncIterator[RunEvent]:
        """One model call; the final ``RunDone`` carries the turn to store."""
        base_url = endpoint_of(model)
        history = (
            openai_messages(history_from_json(stored))
            if stored
            else [{"role": m.role, "content": m.text} for m in prior]
        )
        system = [{"role": "system", "content": instructions}] if instructions else []
        body: dict[str, Any] = {
            "model": model.id,
            "messages": [*system, *history, {"role": "user", "content": prompt}],
        }
        if stream:
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        headers = self._auth(model)
        client = self._client(base_url, model.timeout_seconds)
        parts: list[str] = []
        usage = (0, 0)
        try:
            async with client.stream(
                "POST", "/chat/completions", json=body, headers=headers
            ) as response:
                if response.status_code >= 400:
                    await response.aread()
                    retry_after = response.headers.get("retry-after")
                    raise fail.for_status(agent_id, base_url, response.status_code, retry_after)
                if stream:
                    async for event in _sse_events(response, agent_id, base_url):
                        delta, usage = _chunk(event, usage, agent_id, base_url)
                        if delta:
                            parts.append(delta)
                            yield TextDelta(delta)
                else:
                    content, usage = _completion(await response.aread(), agent_id, base_url)
                    parts.append(content)
                    if content:
                        yield TextDelta(content)
        except TraymindError:
            raise
        except httpx.TimeoutException:
            raise fail.timed_out(agent_id, base_url) from None
        except (httpx.RemoteProtocolError, httpx.ReadError):
            raise fail.unreadable(agent_id, base_url) from None
        except httpx.TransportError:
            raise fail.unreachable(agent_id, base_url) from None
        turn = [*([] if stored else history_from_prior(prior))]
        turn += exchange(prompt, "".join(parts), model.id)
        yield RunDone(usage[0], usage[1], messages_json(turn))


async def _sse_events(
    response: httpx.Response, agent_id: str, base_url: str
) -> AsyncIterator[dict[str, Any]]:
    """The JSON events of an SSE stream; a stream that ends without ``[DONE]`` is broken."""
    async for line in response.aiter_lines():
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if data == "[DONE]":
            return
        try:
            event = json.loads(data)
        except ValueError:
            raise fail.unreadable(agent_id, base_url) from None
        if not isinstance(event, dict):
            raise fail.unreadable(agent_id, base_url)
        if "error" in event:
            raise fail.unreadable(agent_id, base_url)
        yield event
    raise fail.unreadable(agent_id, base_url)


def _usage(raw: object) -> tuple[int, int] | None:
    if not isinstance(raw, dict):
        return None
    return int(raw.get("prompt_tokens") or 0), int(raw.get("completion_tokens") or 0)


def _chunk(
    event: dict[str, Any], usage: tuple[int, int], agent_id: str, base_url: str
) -> tuple[str, tuple[int, int]]:
    usage = _usage(event.get("usage")) or usage
    choices = event.get("choices")
    if not isinstance(choices, list):
        raise fail.unreadable(agent_id, base_url)
    if not choices:
        return "", usage
    delta = choices[0].get("delta") if isinstance(choices[0], dict) else None
    content = delta.get("content") if isinstance(delta, dict) else None
    return (content if isinstance(content, str) else ""), usage


def _completion(raw: bytes, agent_id: str, base_url: str) -> tuple[str, tuple[int, int]]:
    try:
        body = json.loads(raw)
        message = body["choices"][0]["message"]
        content = message.get("content") or ""
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        raise fail.unreadable(agent_id, base_url) from None
    if not isinstance(content, str):
        raise fail.unreadable(agent_id, base_url)
    return content, _usage(body.get("usage")) or (0, 0)
