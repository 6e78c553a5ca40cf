"""pydantic-ai models built from a model's config, each with one pooled SDK client.

A model's SDK client keeps its connection pool alive across requests, and SDK
retries are off: a provider's 429 reaches the client with its Retry-After, and
timeouts follow ``timeout_seconds`` (first byte and between stream chunks). The
key is resolved here, once, when the model is built.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic_ai.models import Model

from server.config.schema import ModelConfig
from server.providers.credentials import resolve_api_key
from server.providers.endpoints import base_url as endpoint_of
from server.providers.endpoints import connect_timeout, http_timeout
from server.providers.tls import tls_context


@dataclass(frozen=True, slots=True)
class BuiltModel:
    model: Model
    base_url: str
    config: ModelConfig
    client: Any = None  # the SDK client behind ``model``: closed when the server stops

    async def aclose(self) -> None:
        """Close the SDK's connections now, on this loop. Left to the garbage collector,
        the SDK schedules the close on whatever loop runs then, which may be closed."""
        if self.client is not None:
            await self.client.close()


def build_model(config: ModelConfig) -> BuiltModel:
    api_key = resolve_api_key(config)
    base_url = endpoint_of(config)
    seconds = config.timeout_seconds
    if config.provider == "anthropic":
        # The anthropic SDK is built on httpx2: its own Timeout and client classes.
        from anthropic import AsyncAnthropic, DefaultAsyncHttpxClient, Timeout
        from pydantic_ai.models.anthropic import AnthropicModel
        from pydantic_ai.providers.anthropic import AnthropicProvider

        client = AsyncAnthropic(
            api_key=api_key or "not-set",
            base_url=base_url,
            max_retries=0,
            timeout=Timeout(seconds, connect=connect_timeout(seconds)),
            http_client=DefaultAsyncHttpxClient(verify=tls_context()),
        )
        model: Model = AnthropicModel(
            config.id, provider=AnthropicProvider(anthropic_client=client)
        )
        return BuiltModel(model, base_url, config, client)

    from openai import DefaultAsyncHttpxClient
    from pydantic_ai.models.openai import OpenAIChatModel
    from pydantic_ai.providers.openai import OpenAIProvider

    from server.providers.openai_client import AsyncOpenAIChat

    client = AsyncOpenAIChat(
        api_key=api_key or "not-needed",
        base_url=base_url,
        max_retries=0,
        timeout=http_timeout(config.timeout_seconds),
        http_client=DefaultAsyncHttpxClient(verify=tls_context()),
    )
    model = OpenAIChatModel(config.id, provider=OpenAIProvider(openai_client=client))
    return BuiltModel(model, base_url, config, client)
