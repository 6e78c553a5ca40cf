"""Which model config a name under ``models:`` means, ``default`` included."""

from __future__ import annotations

from server.agents.default_model import DefaultModel
from server.config import Config, ModelConfig
from server.errors import NoProvider

NO_MODEL_HINT = (
    "No language model is connected. Start Ollama or LM Studio on this machine, "
    "set OPENAI_BASE_URL/OPENAI_API_KEY, or add a 'default' entry under 'models:' in config.yaml."
)


def resolve_model_config(config: Config, default: DefaultModel | None, name: str) -> ModelConfig:
    """The config of ``name``; ``default`` falls back to the resolved default model."""
    if name in config.models:
        return config.models[name]
    if name == "default" and default is not None and default.id and default.base_url:
        return ModelConfig(
            provider="openai",
            id=default.id,
            base_url=default.base_url,
            api_key_env=default.api_key_env,
        )
    raise NoProvider(NO_MODEL_HINT)
