"""pydantic-ai models built from config, once per config, each with one pooled client.

A model's SDK client keeps its connection pool alive across requests, and SDK
retries are off: a provider's 429 reaches the client with its Retry-After, and
timeouts follow ``timeout_seconds`` (first byte and between stream chunks).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import httpx
from pydantic_ai.models import Model

from server.agents.default_model import DefaultModel
from server.config import Config, ModelConfig
from server.errors import NoProvider

NO_MODEL_HINT = (
    "No language model is connected. Start Ollama or LM Studio on this machine, "
    "set OPENAI_BASE_URL/OPENAI_API_KEY, or add a 'default' entry under 'models:' in config.yaml."
)


@dataclass(frozen=True, slots=True)
class BuiltModel:
    model: Model
    base_url: str
    config: ModelConfig


def _timeout(seconds: float) -> httpx.Timeout:
    return httpx.Timeout(seconds, connect=min(seconds, 10.0))


def build_model(config: ModelConfig) -> BuiltModel:
    api_key = os.environ.get(config.api_key_env, "") if config.api_key_env else ""
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
        if name in self._config.models:
            return self._config.models[name]
        if name == "default" and self._default.id and self._default.base_url:
            return ModelConfig(
                provider="openai",
                id=self._default.id,
                base_url=self._default.base_url,
                api_key_env=self._default.api_key_env,
            )
        raise NoProvider(NO_MODEL_HINT)

    def get(self, name: str) -> BuiltModel:
        built = self._built.get(name)
        if built is None:
            built = self._built[name] = build_model(self.config_for(name))
        return built
