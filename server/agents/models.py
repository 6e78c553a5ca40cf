"""pydantic-ai models built from config, once per config, each with one pooled client.

A model's SDK client keeps its connection pool alive across requests, and SDK
retries are off: a provider's 429 reaches the client with its Retry-After, and
timeouts follow ``timeout_seconds`` (first byte and between stream chunks).
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from pydantic_ai.models import Model

from server.agents.default_model import DefaultModel
from server.agents.model_config import resolve_model_config
from server.config import Config, ModelConfig
from server.provider_keys import resolve_api_key


@dataclass(frozen=True, slots=True)
class BuiltModel:
    model: Model
    base_url: str
    config: ModelConfig


def _timeout(seconds: float) -> httpx.Timeout:
    return httpx.Timeout(seconds, connect=min(seconds, 10.0))


def build_model(config: ModelConfig) -> BuiltModel:
    api_key = resolve_api_key(config)
    if config.provider == "anthropic":
        from anthropic import AsyncAnthropic
        from pydantic_ai.models.anthropic import AnthropicModel
        from pydantic_ai.providers.anthropic import AnthropicProvider

        base_url = config.base_url or "https://api.anthropic.com"
        client = AsyncAnthropic(
            api_key=api_key or "not-set",
            base_url=base_url,
            max_retries=0,
            timeout=_timeout(config.timeout_seconds),
        )
        model: Model = AnthropicModel(
            config.id, provider=AnthropicProvider(anthropic_client=client)
        )
        return BuiltModel(model, base_url, config)

    from openai import AsyncOpenAI
    from pydantic_ai.models.openai import OpenAIChatModel
    from pydantic_ai.providers.openai import OpenAIProvider

    base_url = (config.base_url or "https://api.openai.com/v1").rstrip("/")
    client = AsyncOpenAI(
        api_key=api_key or "not-needed",
        base_url=base_url,
        max_retries=0,
        timeout=_timeout(config.timeout_seconds),
    )
    model = OpenAIChatModel(config.id, provider=OpenAIProvider(openai_client=client))
    return BuiltModel(model, base_url, config)


class ModelRegistry:
    """The models of one config; ``default`` falls back to the resolved default model."""

    def __init__(self, config: Config, default: DefaultModel) -> None:
        self._config = config
        self._default = default
        self._built: dict[str, BuiltModel] = {}

    def config_for(self, name: str) -> ModelConfig:
        return resolve_model_config(self._config, self._default, name)

    def get(self, name: str) -> BuiltModel:
        built = self._built.get(name)
        if built is None:
            built = self._built[name] = build_model(self.config_for(name))
        return built
