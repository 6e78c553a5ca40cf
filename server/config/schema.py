"""The config.yaml schema: models, agents, teams, router, knowledge bases, server.

Every section forbids unknown keys so that a typo is an error rather than a
silently ignored setting. A key left empty in YAML (``instructions:``) means
its default. Checks that span sections (does this model exist?) live in
``references`` and run once the sections themselves are valid.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from server.config.errors import ConfigProblem, did_you_mean
from server.config.providers import PROVIDERS, translate_provider
from server.config.references import reference_problems
from server.tools import ToolRef, validate_tool_options

MCP_TOOL = "mcp"  # the tools: entry that names a server under mcp_servers

ENV_VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
LITERAL_KEY = (
    "an API key does not belong in config.yaml; put it in an environment variable "
    "(or the .env file beside config.yaml) and name that variable in api_key_env"
)


def key_error(key: str, message: str) -> PydanticCustomError:
    """An error about ``key`` inside the section being validated (reported at that key)."""
    return PydanticCustomError("config_key", "{message}", {"key": key, "message": message})


class Section(BaseModel):
    """A config section: unknown keys are errors; a key set to null means its default."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _null_means_default(cls, data: object) -> object:
        if not isinstance(data, dict):
            return data
        fields = cls.model_fields
        return {
            key: value
            for key, value in data.items()
            if not (
                value is None
                and key in fields
                and not fields[key].is_required()
                and fields[key].default is not None
            )
        }


class ModelConfig(Section):
    """``models.<name>``: a provider's model and how to reach it."""

    provider: Literal["openai", "anthropic"] = "openai"  # openai: any OpenAI-compatible endpoint
    id: str = Field(min_length=1)
    base_url: str | None = None
    api_key_env: str | None = None  # the name of the env var holding the key, never the key
    api_key_keyring: str | None = Field(  # the name of a key kept by set_provider_key
        default=None, pattern=r"^[A-Za-z0-9_.-]{1,64}$"
    )

    @field_validator("api_key_keyring")
    @classmethod
    def _not_a_database_password(cls, value: str | None) -> str | None:
        if value is not None and value.lower().startswith("database."):
            raise ValueError(
                "names starting with 'database.' hold database passwords "
                "(traymind storage password), which are never sent to a model provider"
            )
        return value

    context_window: int | None = Field(default=None, gt=0)
    timeout_seconds: float = Field(default=120, gt=0)
    vision: bool | None = None  # takes images and PDFs; unset: only providers known to
    extra_kwargs: dict[str, Any] = {}

    @property
    def takes_images(self) -> bool:
        """``vision``, else true for Anthropic and OpenAI's own API (their models take images)."""
        if self.vision is not None:
            return self.vision
        return self.provider == "anthropic" or self.base_url is None

    @model_validator(mode="before")
    @classmethod
    def _normalize(cls, data: object) -> object:
        """Refuse literal keys; accept MindRoom's provider names, ``host`` and
        ``extra_kwargs.base_url``."""
        if not isinstance(data, dict):
            return data
        if "api_key" in data:
            raise key_error("api_key", LITERAL_KEY)
        data = translate_provider(data)
        extra = data.get("extra_kwargs")
        if isinstance(extra, dict):
            if "api_key" in extra:
                raise key_error("extra_kwargs.api_key", LITERAL_KEY)
            if "base_url" in extra:
                extra = dict(extra)
                moved = extra.pop("base_url")
                if data.get("base_url") not in (None, moved):
                    raise key_error(
                        "extra_kwargs.base_url", "conflicts with base_url; set only one of them"
                    )
                data["base_url"], data["extra_kwargs"] = moved, extra
        return data

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.strip().lower().startswith(("http://", "https://")):
            raise ValueError(
                f"'{value}' is not a URL a provider can be reached at: it must start with "
                f"http:// or https:// (for example http://{value.strip()})"
            )
        return value.strip() if value is not None else None

    @field_validator("provider", mode="before")
    @classmethod
    def _known_provider(cls, value: object) -> object:
        if isinstance(value, str) and value.lower() in PROVIDERS:
            return value.lower()
        raise ValueError(
            f"unknown provider '{value}'; use 'openai' (OpenAI or any OpenAI-compatible "
            "server, with base_url) or 'anthropic'"
        )

    @field_validator("api_key_env")
    @classmethod
    def _env_var_name(cls, value: str | None) -> str | None:
        if value is not None and not ENV_VAR_NAME.fullmatch(value):
            raise ValueError(
                "must be the name of an environment variable (letters, digits, underscores), "
                "not the key itself"
            )
        return value


def _known_tool(ref: ToolRef) -> ToolRef:
    validate_tool_options(ref.name, ref.options)
    return ref


def _listed_name(ref: ToolRef) -> str:
    """A tool as ``_each_tool_once`` counts it: ``mcp`` once per server."""
    return f"mcp (server {ref.options.get('server')})" if ref.name == MCP_TOOL else ref.name


class PrivateConfig(Section):
    """``agents.<id>.private``: the agent keeps separate state per user (or user and agent)."""

    per: Literal["user", "user_agent"]


class MemoryConfig(Section):
    """``agents.<id>.memory`` as a mapping: memory on, with its options."""

    shared: bool = False  # one memory for every client key instead of one per key


class AgentConfig(Section):
    """``agents.<id>``: one agent clients can talk to."""

    display_name: str | None = None
    role: str | None = None
    model: str = "default"  # a key under models; "default" may also be resolved at runtime
    instructions: list[str] = []
    tools: list[Annotated[ToolRef, AfterValidator(_known_tool)]] = []
    show_tool_calls: bool = True
    tool_event_format: Literal["traymind", "openwebui"] = "traymind"  # how tool calls look
    client_tools: bool = True  # a request's own `tools` may be called (false: ignored)
    worker_scope: Literal["shared", "user", "user_agent"] | None = None
    private: PrivateConfig | None = None
    knowledge_bases: list[str] = []
    memory: bool | MemoryConfig = False

    @field_validator("instructions", mode="before")
    @classmethod
    def _one_instruction(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value

    @field_validator("tools")
    @classmethod
    def _each_tool_once(cls, tools: list[ToolRef]) -> list[ToolRef]:
        names = [_listed_name(tool) for tool in tools]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ValueError(f"each tool may be listed once; repeated: {', '.join(twice)}")
        return tools

    @property
    def memory_shared(self) -> bool:
        """One memory for every client key (``memory: {shared: true}``), else one per key."""
        return isinstance(self.memory, MemoryConfig) and self.memory.shared

    @property
    def listable(self) -> bool:
        """Shown in the model list: per-user (private or scoped) agents are not."""
        return self.worker_scope in (None, "shared") and self.private is None

    def label(self, agent_id: str) -> str:
        """The name to show: ``display_name``, else the id."""
        return self.display_name or agent_id


class TeamConfig(Section):
    """``teams.<id>``: agents answering together."""

    display_name: str | None = None
    role: str | None = None
    agents: list[str] = Field(min_length=1)
    mode: Literal["coordinate", "collaborate"] = "coordinate"
    model: str = "default"

    def label(self, team_id: str) -> str:
        return self.display_name or team_id


class RouterConfig(Section):
    """``router``: picks an agent when a client asks for ``auto``."""

    model: str = "default"


class GitSource(Section):
    """``knowledge_bases.<id>.git``: keep the folder in sync with a repository."""

    repo_url: str
    branch: str = "main"
    poll_interval_seconds: float = Field(default=300, gt=0)


class KnowledgeBaseConfig(Section):
    """``knowledge_bases.<id>``: a folder of documents agents can search."""

    description: str | None = None
    path: str  # absolute after loading: relative paths start at the config file's folder
    watch: bool = True
    include: list[str] | None = None
    exclude: list[str] = []
    git: GitSource | None = None

    @field_validator("path")
    @classmethod
    def _absolute(cls, value: str, info: ValidationInfo) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        path = Path(value).expanduser()
        base_dir = (info.context or {}).get("base_dir")
        if not path.is_absolute() and base_dir is not None:
            path = (Path(base_dir) / path).resolve()
        return str(path)


class EmbeddingsConfig(Section):
    """``embeddings``: the model that indexes knowledge bases."""

    model: str


class McpServerConfig(Section):
    """``mcp_servers.<name>``: an MCP server: a ``command`` run over stdio, or a streamable-HTTP
    ``url``. Values in ``env`` and ``headers`` may name environment variables as ``${VAR}``."""

    command: str | None = Field(default=None, min_length=1)
    args: list[str] = []
    env: dict[str, str] = {}
    cwd: str | None = None  # absolute after loading, like knowledge_bases paths
    url: str | None = None
    headers: dict[str, str] = {}
    approval: Literal["auto", "ask"] | None = None  # for all its tools; unset: see policy

    @field_validator("cwd")
    @classmethod
    def _absolute_cwd(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        path = Path(value).expanduser()
        base_dir = (info.context or {}).get("base_dir")
        if not path.is_absolute() and base_dir is not None:
            path = (Path(base_dir) / path).resolve()
        return str(path)

    @model_validator(mode="after")
    def _one_transport(self) -> McpServerConfig:
        if (self.command is None) == (self.url is None):
            raise ValueError("give either command (a server run over stdio) or url (over HTTP)")
        if self.url is not None:
            if not self.url.startswith(("http://", "https://")):
                raise ValueError("url must start with http:// or https://")
            if self.args or self.env or self.cwd is not None:
                raise ValueError("args, env and cwd apply to a command, not to a url")
        elif self.headers:
            raise ValueError("headers apply to a url, not to a command")
        return self


class ServerSettings(Section):
    """``server``: HTTP limits and which hosts and origins may call the API."""

    trusted_hosts: list[str] = []
    cors_origins: list[str] = []
    trusted_proxies: list[str] = []
    max_body_bytes: int = Field(default=8 * 1024 * 1024, gt=0)
    max_image_bytes: int = Field(default=20_000_000, gt=0)  # per image or file, decoded
    header_timeout_seconds: float = Field(default=5, gt=0)
    body_timeout_seconds: float = Field(default=30, gt=0)
    max_concurrent_runs: int = Field(default=512, gt=0)
    max_queued_runs: int = Field(default=1024, ge=0)
    auth_failure_limit: int = Field(default=10, gt=0)
    auth_failure_window_seconds: float = Field(default=60, gt=0)
    # Other names a client may ask for (exact, or a glob such as "claude-*") -> a served model.
    model_aliases: dict[str, str] = {}
    stream_keepalive_seconds: float = Field(default=15, gt=0)  # SSE comment after idle


STORAGE_URL_ENV = "TRAYMIND_STORAGE_URL"  # wins over storage.url


class StorageConfig(Section):
    """``storage``: where sessions live when several replicas share them (default: SQLite)."""

    url: str | None = None  # postgresql://user@host:port/db; the password from the environment
    # or the OS keyring: the name it is kept under (``traymind storage password``)
    password_keyring: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.-]{1,55}$")

    @field_validator("url")
    @classmethod
    def _postgres_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(("postgresql://", "postgres://")):
            raise ValueError("must be a postgresql://user@host:port/database URL")
        credentials = value.split("://", 1)[1].split("@", 1)
        query = value.split("?", 1)[1].lower() if "?" in value else ""
        as_parameter = any(p.split("=", 1)[0] == "password" for p in query.split("&"))
        if (len(credentials) == 2 and ":" in credentials[0]) or as_parameter:
            raise ValueError(
                "a password does not belong in config.yaml; leave it out of the URL and keep it "
                "in the OS keyring (storage.password_keyring and `traymind storage password`), "
                "in PGPASSWORD or a ~/.pgpass entry, or give the whole URL in "
                "TRAYMIND_STORAGE_URL"
            )
        authority = value.split("://", 1)[1].split("/", 1)[0].rsplit("@", 1)[-1]
        port = authority.rsplit("]", 1)[-1].rpartition(":")[2] if ":" in authority else ""
        if port and not port.replace(",", "").isdigit():  # "5432", or "5432,5433" for two hosts
            raise ValueError("the port must be a number: postgresql://user@host:5432/database")
        return value


class Config(Section):
    """A whole config.yaml. ``source_path`` and ``warnings`` are set by the loader."""

    models: dict[str, ModelConfig] = {}
    agents: dict[str, AgentConfig] = {}
    teams: dict[str, TeamConfig] = {}
    router: RouterConfig = RouterConfig()
    knowledge_bases: dict[str, KnowledgeBaseConfig] = {}
    embeddings: EmbeddingsConfig | None = None
    server: ServerSettings = ServerSettings()
    mcp_servers: dict[str, McpServerConfig] = {}
    approval_timeout_seconds: float = Field(default=120, gt=0)  # unanswered: denied
    approval_in_band: bool = False  # Responses clients may ask their own user instead
    storage: StorageConfig = StorageConfig()

    _source_path: Path | None = PrivateAttr(default=None)
    _warnings: list[str] = PrivateAttr(default_factory=list)

    @property
    def embeddings_model(self) -> ModelConfig | None:
        """The model ``embeddings`` names (checked to exist), or None when it is off."""
        return self.models[self.embeddings.model] if self.embeddings else None

    @property
    def source_path(self) -> Path | None:
        """The file this config was loaded from, if any."""
        return self._source_path

    @source_path.setter
    def source_path(self, value: Path | None) -> None:
        self._source_path = value

    @property
    def warnings(self) -> list[str]:
        """Human lines about settings that were ignored (e.g. MindRoom-only keys)."""
        return self._warnings

    @warnings.setter
    def warnings(self, value: list[str]) -> None:
        self._warnings = list(value)

    @model_validator(mode="after")
    def _references(self) -> Config:
        problems = reference_problems(self) + _mcp_server_problems(self)
        if problems:
            raise PydanticCustomError(
                "config_references",
                "{summary}",
                {
                    "summary": "; ".join(f"{p.key_path}: {p.message}" for p in problems),
                    "problems": problems,
                },
            )
        return self


def _mcp_server_problems(config: Config) -> list[ConfigProblem]:
    """``mcp`` tool entries that name a server ``mcp_servers`` does not define."""
    known = config.mcp_servers
    problems: list[ConfigProblem] = []
    for agent_id, agent in config.agents.items():
        for index, ref in enumerate(agent.tools):
            server = ref.options.get("server")
            if ref.name == MCP_TOOL and server not in known:
                listed = f"known: {', '.join(known)}" if known else "none are defined"
                problems.append(
                    ConfigProblem(
                        f"agents.{agent_id}.tools[{index}].mcp.server",
                        f"'{server}' is not a key under mcp_servers ({listed})"
                        f"{did_you_mean(str(server), known)}",
                    )
                )
    return problems
