"""config.yaml: its schema, finding it, loading it, and explaining what is wrong with it."""

from server.config.errors import ConfigError, ConfigProblem
from server.config.loading import load_config, parse_config
from server.config.locate import locate_config
from server.config.schema import (
    AgentConfig,
    Config,
    EmbeddingsConfig,
    GitSource,
    KnowledgeBaseConfig,
    ModelConfig,
    PrivateConfig,
    RouterConfig,
    ServerSettings,
    TeamConfig,
)
from server.tools.ref import ToolRef

__all__ = [
    "AgentConfig",
    "Config",
    "ConfigError",
    "ConfigProblem",
    "EmbeddingsConfig",
    "GitSource",
    "KnowledgeBaseConfig",
    "ModelConfig",
    "PrivateConfig",
    "RouterConfig",
    "ServerSettings",
    "TeamConfig",
    "ToolRef",
    "load_config",
    "locate_config",
    "parse_config",
]
