"""The models of one config by name, built on first use and kept for that config."""

from __future__ import annotations

import asyncio

from server.agents.default_model import DefaultModel
from server.agents.model_config import resolve_model_config
from server.config import Config, ModelConfig
from server.providers.models import BuiltModel, build_model


class ModelRegistry:
    """The models of one config; ``default`` falls back to the resolved default model."""

    def __init__(self, config: Config, default: DefaultModel) -> None:
        self._config = config
        self._default = default
        self._built: dict[str, BuiltModel] = {}

    def config_for(self, name: str) -> ModelConfig:
        return resolve_model_config(self._config, self._default, name)

    async def aclose(self) -> None:
        """Close every built model's SDK client (at shutdown: in-flight turns are over)."""
        built, self._built = list(self._built.values()), {}
        await asyncio.gather(*(model.aclose() for model in built), return_exceptions=True)

    def get(self, name: str) -> BuiltModel:
        built = self._built.get(name)
        if built is None:
            built = self._built[name] = build_model(self.config_for(name))
        return built
