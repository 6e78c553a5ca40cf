"""config.yaml: schema rules, error messages, MindRoom compatibility, loading, locating."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from server.config import (
    AgentConfig,
    Config,
    ConfigError,
    ConfigProblem,
    ModelConfig,
    ToolRef,
    load_config,
    locate_config,
    parse_config,
)
from server.paths import resource
from server.tools import TOOL_NAMES

ROOT = Path(__file__).resolve().parent.parent
SECRET = "sk-live-0123456789abcdef"


def problems(data: object) -> list[str]:
    """The error lines ``data`` produces (fails the test if it is valid)."""
    with pytest.raises(ConfigError) as caught:
        parse_config(data)
    return str(caught.value).splitlines()


def write(folder: Path, text: str, name: str = "config.yaml") -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.fixture
def saved_environ() -> Iterator[None]:
    """Whatever a test does to ``os.environ`` is undone afterwards."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


# --- valid configs -----------------------------------------------------------------------


def test_empty_config_has_defaults() -> None:
    for data in (None, {}):
        config = parse_config(data)
        assert config.models == {} and config.agents == {} and config.teams == {}
        assert config.router.model == "default"
        assert config.server.max_body_bytes == 8 * 1024 * 1024
        assert config.server.max_concurrent_runs == 512
        assert config.server.max_queued_runs == 1024
        assert config.embeddings is None
        assert config.warnings == []
        assert config.source_path is None


def test_minimal_agent_uses_the_runtime_default_model() -> None:
    config = parse_config({"agents": {"helper": {"role": "Helps"}}})
    agent = config.agents["helper"]
    assert agent.model == "default"
    assert agent.instructions == [] and agent.tools == [] and agent.knowledge_bases == []
    assert agent.show_tool_calls is True and agent.memory is False
    assert agent.label("helper") == "helper"
    assert AgentConfig(display_name="Helper").label("helper") == "Helper"


def test_a_full_config() -> None:
    config = parse_config(
        {
            "models": {
                "default": {"id": "llama3.2", "base_url": "http://localhost:11434/v1"},
                "claude": {
                    "provider": "anthropic",
                    "id": "claude-sonnet-4-5",
                    "api_key_env": "ANTHROPIC_API_KEY",
                    "context_window": 200000,
                    "timeout_seconds": 60,
                    "extra_kwargs": {"temperature": 0.2},
                },
                "embedder": {"id": "nomic-embed-text"},
            },
            "agents": {
                "general": {"display_name": "GeneralAgent", "tools": ["calculator"]},
                "code": {"model": "claude", "knowledge_bases": ["docs"], "memory": True},
                "mine": {"private": {"per": "user"}},
                "scoped": {"worker_scope": "user_agent"},
                "shared": {"worker_scope": "shared"},
            },
            "teams": {"duo": {"agents": ["general", "code"], "mode": "collaborate"}},
            "router": {"model": "claude"},
            "knowledge_bases": {
                "docs": {
                    "path": "/srv/docs",
                    "include": ["*.md"],
                    "exclude": ["drafts/*"],
                    "git": {"repo_url": "https://example.com/docs.git"},
                }
            },
            "embeddings": {"model": "embedder"},
            "server": {"trusted_hosts": ["box.lan"], "cors_origins": ["http://localhost:3000"]},
        }
    )
    assert config.models["claude"].provider == "anthropic"
    assert config.models["default"].provider == "openai"
    assert config.models["default"].timeout_seconds == 120
    assert config.teams["duo"].label("duo") == "duo"
    assert config.knowledge_bases["docs"].git is not None
    assert config.knowledge_bases["docs"].git.branch == "main"
    assert config.knowledge_bases["docs"].git.poll_interval_seconds == 300
    listable = {agent_id for agent_id, agent in config.agents.items() if agent.listable}
    assert listable == {"general", "code", "shared"}


def test_single_string_instructions_become_a_list() -> None:
    config = parse_config({"agents": {"a": {"instructions": "Be brief."}}})
    assert config.agents["a"].instructions == ["Be brief."]


def test_empty_yaml_values_mean_the_default() -> None:
    config = parse_config(
        {
            "agents": {"a": {"instructions": None, "tools": None, "model": None}},
            "teams": None,
            "router": None,
            "server": None,
        }
    )
    assert config.agents["a"].instructions == [] and config.agents["a"].tools == []
    assert config.agents["a"].model == "default"
    assert config.teams == {} and config.router.model == "default"


def test_tool_entries_normalize_to_tool_refs() -> None:
    config = parse_config(
        {"agents": {"a": {"tools": ["calculator", {"current_time": None}]}}, "models": {}}
    )
    assert config.agents["a"].tools == [ToolRef(name="calculator"), ToolRef(name="current_time")]
    config = parse_config({"agents": {"a": {"tools": [{"calculator": {}}]}}})
    assert config.agents["a"].tools == [ToolRef(name="calculator", options={})]


def test_extra_kwargs_base_url_moves_to_base_url() -> None:
    config = parse_config(
        {"models": {"m": {"id": "x", "extra_kwargs": {"base_url": "http://h:8080/v1", "top_p": 1}}}}
    )
    model = config.models["m"]
    assert model.base_url == "http://h:8080/v1"
    assert model.extra_kwargs == {"top_p": 1}


def test_a_base_url_without_its_scheme_is_a_config_error_saying_so() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config({"models": {"fast": {"id": "x", "base_url": "127.0.0.1:9999"}}})
    assert "models.fast.base_url" in str(caught.value)
    assert "must start with http:// or https:// (for example http://127.0.0.1:9999)" in str(
        caught.value
    )


def test_model_config_can_be_built_directly() -> None:
    model = ModelConfig(id="x", base_url="http://h/v1", api_key_env="MY_KEY")
    assert model.provider == "openai" and model.api_key_env == "MY_KEY"


def test_a_dumped_config_validates_again() -> None:
    config = parse_config(
        {
            "agents": {"a": {"tools": ["calculator"], "instructions": "x"}},
            "models": {"m": {"id": "x"}},
        }
    )
    assert Config.model_validate(config.model_dump()) == config


def test_the_default_config_loads_without_problems() -> None:
    config = load_config(resource("default-config.yaml"))
    assert config.warnings == []
    assert "default" not in config.models
    general, code = config.agents["general"], config.agents["code"]
    assert general.display_name == "GeneralAgent"
    assert general.role == "General-purpose assistant"
    assert [tool.name for tool in general.tools] == ["calculator", "current_time"]
    assert code.display_name == "CodeAgent"
    assert code.role == "Programming help: writing, reviewing and explaining code"
    assert general.listable and code.listable


def test_the_default_configs_commented_examples_are_valid() -> None:
    """Uncommenting the examples must give a working config too."""
    lines = resource("default-config.yaml").read_text(encoding="utf-8").splitlines()
    start = lines.index("# models:")
    end = next(i for i, line in enumerate(lines) if line.startswith("# MindRoom's provider"))
    block = "\n".join(line.removeprefix("#")[1:] for line in lines[start:end])
    config = parse_config(yaml.safe_load(block))
    assert set(config.models) == {"default", "gpt", "claude"}


# --- unknown keys ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "line"),
    [
        ({"agent": {}}, "config.yaml: agent: unknown key; did you mean 'agents'?"),
        (
            {"agents": {"general": {"instruction": "x"}}},
            "config.yaml: agents.general.instruction: unknown key; did you mean 'instructions'?",
        ),
        (
            {"models": {"m": {"id": "x", "base_uri": "http://h"}}},
            "config.yaml: models.m.base_uri: unknown key; did you mean 'base_url'?",
        ),
        (
            {"agents": {"a": {}}, "teams": {"t": {"agents": ["a"], "moed": "coordinate"}}},
            "config.yaml: teams.t.moed: unknown key; did you mean 'mode'?",
        ),
        (
            {"knowledge_bases": {"k": {"path": "/k", "git": {"repo_url": "u", "brnch": "x"}}}},
            "config.yaml: knowledge_bases.k.git.brnch: unknown key; did you mean 'branch'?",
        ),
        (
            {"agents": {"a": {"private": {"per": "user", "prr": 1}}}},
            "config.yaml: agents.a.private.prr: unknown key; did you mean 'per'?",
        ),
        (
            {"server": {"trusted_host": []}},
            "config.yaml: server.trusted_host: unknown key; did you mean 'trusted_hosts'?",
        ),
        (
            {"router": {"zzz": 1}},
            "config.yaml: router.zzz: unknown key (expected one of: model)",
        ),
    ],
)
def test_unknown_keys_are_errors_with_a_hint(data: object, line: str) -> None:
    assert problems(data) == [line]


def test_a_missing_key_and_a_misspelt_one_are_both_reported() -> None:
    assert problems({"agents": {"a": {"private": {"pre": "user"}}}}) == [
        "config.yaml: agents.a.private.per: required key is missing",
        "config.yaml: agents.a.private.pre: unknown key; did you mean 'per'?",
    ]


def test_every_problem_gets_its_own_line() -> None:
    lines = problems({"agents": {"a": {"rol": "x", "modle": "y"}}, "modls": {}})
    assert len(lines) == 3
    assert all(line.startswith("config.yaml: ") for line in lines)


def test_config_error_carries_structured_problems(tmp_path: Path) -> None:
    path = write(tmp_path, "agents:\n  a:\n    rol: x\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    error = caught.value
    assert error.path == path
    assert error.problems == [
        ConfigProblem("agents.a.rol", "unknown key; did you mean 'role'?"),
    ]
    assert str(error) == "config.yaml: agents.a.rol: unknown key; did you mean 'role'?"


# --- field rules -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "line"),
    [
        (
            {"models": {"m": {"id": "x", "provider": "vertexai_claude"}}},
            "config.yaml: models.m.provider: unknown provider 'vertexai_claude'; use 'openai' "
            "(OpenAI or any OpenAI-compatible server, with base_url) or 'anthropic'",
        ),
        ({"models": {"m": {}}}, "config.yaml: models.m.id: required key is missing"),
        (
            {"models": {"m": {"id": "x", "timeout_seconds": 0}}},
            "config.yaml: models.m.timeout_seconds: must be greater than 0",
        ),
        (
            {"models": {"m": {"id": "x", "context_window": -5}}},
            "config.yaml: models.m.context_window: must be greater than 0",
        ),
        (
            {"agents": {"a": {"worker_scope": "team"}}},
            "config.yaml: agents.a.worker_scope: must be 'shared', 'user' or 'user_agent'",
        ),
        (
            {"agents": {"a": {"private": {"per": "agent"}}}},
            "config.yaml: agents.a.private.per: must be 'user' or 'user_agent'",
        ),
        ({"agents": ["a"]}, "config.yaml: agents: must be a mapping (key: value pairs)"),
        (
            {"agents": {"a": {"show_tool_calls": "maybe"}}},
            "config.yaml: agents.a.show_tool_calls: must be true or false",
        ),
        (
            {"server": {"max_body_bytes": 0}},
            "config.yaml: server.max_body_bytes: must be greater than 0",
        ),
        (
            {"knowledge_bases": {"k": {"path": " "}}},
            "config.yaml: knowledge_bases.k.path: must not be empty",
        ),
    ],
)
def test_field_rules(data: object, line: str) -> None:
    assert problems(data) == [line]


def test_unknown_tools_and_options_are_errors_with_a_hint() -> None:
    lines = problems(
        {"agents": {"a": {"tools": ["calculater", {"current_time": {"zone": "UTC"}}, 7]}}}
    )
    assert lines == [
        "config.yaml: agents.a.tools[0]: unknown tool 'calculater'; did you mean 'calculator'?",
        "config.yaml: agents.a.tools[1]: unknown option 'zone' for tool 'current_time' "
        "(its only option is 'approval')",
        "config.yaml: agents.a.tools[2]: a tool entry must be a tool name or a one-key mapping "
        "{name: {option: value}}",
    ]


def test_a_tool_listed_twice_is_an_error() -> None:
    assert problems({"agents": {"a": {"tools": ["calculator", {"calculator": {}}]}}}) == [
        "config.yaml: agents.a.tools: each tool may be listed once; repeated: calculator"
    ]


def test_extra_kwargs_base_url_conflicting_with_base_url() -> None:
    data = {
        "models": {
            "m": {"id": "x", "base_url": "http://a", "extra_kwargs": {"base_url": "http://b"}}
        }
    }
    assert problems(data) == [
        "config.yaml: models.m.extra_kwargs.base_url: conflicts with base_url; set only one of them"
    ]


# --- secrets -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "key_path"),
    [
        ({"id": "x", "api_key": SECRET}, "models.m.api_key"),
        ({"id": "x", "extra_kwargs": {"api_key": SECRET}}, "models.m.extra_kwargs.api_key"),
    ],
)
def test_a_literal_api_key_is_rejected_without_being_repeated(
    model: dict[str, object], key_path: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config({"models": {"m": model}})
    text = str(caught.value)
    assert text.startswith(f"config.yaml: {key_path}: an API key does not belong in config.yaml")
    assert "api_key_env" in text
    assert SECRET not in text and SECRET not in repr(caught.value.problems)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_a_key_pasted_into_api_key_env_is_rejected_without_being_repeated() -> None:
    lines = problems({"models": {"m": {"id": "x", "api_key_env": SECRET}}})
    assert lines == [
        "config.yaml: models.m.api_key_env: must be the name of an environment variable "
        "(letters, digits, underscores), not the key itself"
    ]


def test_a_literal_key_in_a_yaml_file_is_not_repeated(tmp_path: Path) -> None:
    path = write(tmp_path, f"models:\n  m:\n    id: x\n    api_key: {SECRET}\n    bad: [\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert SECRET not in str(caught.value)


# --- references between sections --------------------------------------------------------


def test_a_model_must_name_a_key_under_models() -> None:
    data = {
        "models": {"default": {"id": "a"}, "fast": {"id": "b"}},
        "agents": {"general": {"model": "gpt"}},
    }
    assert problems(data) == [
        "config.yaml: agents.general.model: 'gpt' is not a key under models (known: default, fast)"
    ]


def test_model_references_suggest_the_closest_name() -> None:
    data = {"models": {"sonnet": {"id": "a"}}, "agents": {"a": {"model": "sonet"}}}
    assert problems(data) == [
        "config.yaml: agents.a.model: 'sonet' is not a key under models (known: sonnet); "
        "did you mean 'sonnet'?"
    ]


def test_default_may_be_missing_from_models_everywhere_but_embeddings() -> None:
    parse_config({"agents": {"a": {}}, "teams": {"t": {"agents": ["a"]}}, "router": {}})
    assert problems(
        {
            "agents": {"a": {}},
            "teams": {"t": {"agents": ["a"], "model": "x"}},
            "router": {"model": "y"},
        }
    ) == [
        "config.yaml: teams.t.model: 'x' is not a key under models (none are defined)",
        "config.yaml: router.model: 'y' is not a key under models (none are defined)",
    ]
    assert problems({"embeddings": {"model": "default"}}) == [
        "config.yaml: embeddings.model: 'default' is not a key under models (none are defined)"
    ]


def test_team_members_must_be_agents() -> None:
    data = {"agents": {"code": {}, "general": {}}, "teams": {"t": {"agents": ["general", "codr"]}}}
    assert problems(data) == [
        "config.yaml: teams.t.agents[1]: 'codr' is not an agent id (known: code, general); "
        "did you mean 'code'?"
    ]


def test_a_team_needs_members() -> None:
    assert problems({"teams": {"t": {"agents": []}}}) == [
        "config.yaml: teams.t.agents: must not be empty"
    ]
    assert problems({"teams": {"t": {}}}) == [
        "config.yaml: teams.t.agents: required key is missing"
    ]


def test_team_ids_must_differ_from_agent_ids() -> None:
    data = {"agents": {"code": {}}, "teams": {"code": {"agents": ["code"]}}}
    assert problems(data) == [
        "config.yaml: teams.code: an agent is also called 'code'; team and agent ids must differ"
    ]


def test_knowledge_bases_must_exist() -> None:
    data = {
        "knowledge_bases": {"docs": {"path": "/d"}},
        "agents": {"a": {"knowledge_bases": ["docs", "dcos"]}},
    }
    assert problems(data) == [
        "config.yaml: agents.a.knowledge_bases[1]: 'dcos' is not a key under knowledge_bases "
        "(known: docs); did you mean 'docs'?"
    ]


@pytest.mark.parametrize(
    ("agent_id", "line"),
    [
        (
            "auto",
            "config.yaml: agents.auto: 'auto' is reserved (it lets the router choose); "
            "pick another agent id",
        ),
        (
            "team/x",
            "config.yaml: agents.team/x: agent ids must not start with 'team/' "
            "(Traymind adds it for teams)",
        ),
        ("", "config.yaml: agents: agent ids must not be empty"),
        (
            "my agent",
            "config.yaml: agents.my agent: agent ids must not contain spaces or '/': try "
            "'my-agent' (chat apps show the display name instead)",
        ),
        (
            "a/b",
            "config.yaml: agents.a/b: agent ids must not contain spaces or '/': try 'a-b' "
            "(chat apps show the display name instead)",
        ),
    ],
)
def test_reserved_agent_ids(agent_id: str, line: str) -> None:
    assert problems({"agents": {agent_id: {}}}) == [line]


# --- MindRoom compatibility --------------------------------------------------------------

MINDROOM_CONFIG = """\
agents:
  general:
    display_name: GeneralAgent
    role: A general-purpose assistant.
    model: default
    instructions:
      - Be conversational and friendly.
    rooms: [lobby, help]
    num_history_runs: 5
    learning: true
    markdown: true
    tools: []
  calculator:
    display_name: CalculatorAgent
    role: Solve mathematical problems.
    model: haiku
    tools:
      - calculator
      - {name: file, overrides: {base_dir: /tmp}, defer: true}
    skills: [math]
    thread_mode: room
    include_default_tools: false
    context_files: [notes.md]
  research:
    display_name: ResearchAgent
    model: local
    tools: [duckduckgo, wikipedia]
    rooms: [research]
teams:
  super_team:
    display_name: Super Team
    role: All the agents.
    agents: [general, research]
    mode: collaborate
    model: sonnet
    rooms: [lobby]
models:
  default:
    provider: anthropic
    id: claude-sonnet-4-latest
  haiku:
    provider: anthropic
    id: claude-3-5-haiku-latest
  sonnet:
    provider: anthropic
    id: claude-sonnet-4-latest
  local:
    provider: ollama
    id: devstral:24b
    host: http://192.168.1.10:11434
  router_model:
    provider: openrouter
    id: z-ai/glm-4.5-air:free
router:
  model: router_model
defaults:
  markdown: true
  num_history_runs: 5
memory:
  embedder:
    provider: ollama
room_models:
  research: haiku
timezone: America/Los_Angeles
voice:
  enabled: false
authorization:
  global_users: ['@me:example.org']
matrix_room_access:
  mode: single_user_private
"""


def test_a_mindroom_config_loads_with_warnings(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, MINDROOM_CONFIG))
    assert set(config.agents) == {"general", "calculator", "research"}
    assert config.agents["calculator"].tools == [ToolRef(name="calculator")]
    assert config.agents["research"].tools == []
    local = config.models["local"]
    assert (local.provider, local.base_url, local.api_key_env) == (
        "openai",
        "http://192.168.1.10:11434/v1",
        None,
    )
    routed = config.models["router_model"]
    assert (routed.provider, routed.base_url, routed.api_key_env) == (
        "openai",
        "https://openrouter.ai/api/v1",
        "OPENROUTER_API_KEY",
    )
    unused = "(a MindRoom setting Traymind does not use)"
    warnings = config.warnings
    for key in ("agents.general.rooms", "timezone", "teams.super_team.rooms"):
        assert f"config.yaml: ignoring {key} {unused}" in warnings
    assert f"config.yaml: ignoring agents.calculator.tools[1].defer {unused}" in warnings
    assert (
        "config.yaml: ignoring agents.research.tools: duckduckgo, wikipedia "
        "(MindRoom tools Traymind does not provide)"
    ) in warnings
    ignored = [line.split(" ")[2] for line in warnings if "a MindRoom setting" in line]
    assert len(ignored) == len(set(ignored)), "one warning per key"
    assert set(ignored) >= {
        "defaults",
        "memory",
        "room_models",
        "voice",
        "authorization",
        "matrix_room_access",
        "agents.general.num_history_runs",
        "agents.general.learning",
        "agents.general.markdown",
        "agents.calculator.skills",
        "agents.calculator.thread_mode",
        "agents.calculator.include_default_tools",
        "agents.calculator.context_files",
    }


def test_mindroom_model_settings_are_ignored_with_a_warning() -> None:
    config = parse_config({"models": {"m": {"id": "x", "display_name": "M", "temperature": 0.3}}})
    assert config.warnings == [
        "config.yaml: ignoring models.m.display_name (a MindRoom setting Traymind does not use)",
        "config.yaml: ignoring models.m.temperature (a MindRoom setting Traymind does not use)",
    ]


def test_a_typo_in_a_mindroom_config_is_still_an_error() -> None:
    assert problems({"agents": {"a": {"instructons": ["Be brief."]}}}) == [
        "config.yaml: agents.a.instructons: unknown key; did you mean 'instructions'?"
    ]
    assert problems({"agents": {"a": {"tools": ["shel"]}}}) == [
        "config.yaml: agents.a.tools[0]: unknown tool 'shel'; did you mean 'shell'?"
    ]
    assert problems({"agents": {"a": {"tools": ["zzz"]}}}) == [
        f"config.yaml: agents.a.tools[0]: unknown tool 'zzz' (available: {', '.join(TOOL_NAMES)})"
    ]


def test_mindroom_warnings_are_not_emitted_for_traymind_keys() -> None:
    assert (
        parse_config({"agents": {"a": {"memory": True, "show_tool_calls": False}}}).warnings == []
    )


# --- files -------------------------------------------------------------------------------


def test_yaml_syntax_errors_name_the_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, "agents:\n  general:\n    role: a: b\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == (
        "config.yaml: line 3, column 12: invalid YAML: mapping values are not allowed here"
    )


def test_duplicate_keys_are_errors(tmp_path: Path) -> None:
    path = write(tmp_path, "agents:\n  a:\n    role: x\n  a:\n    role: y\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == "config.yaml: line 4, column 3: invalid YAML: duplicate key 'a'"


def test_python_tags_are_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "agents: !!python/object/apply:os.system ['echo hacked']\n")
    with pytest.raises(ConfigError, match="invalid YAML: could not determine a constructor"):
        load_config(path)


def test_the_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, "- a\n- b\n"))
    assert str(caught.value) == (
        "config.yaml: the top level must be a mapping of sections (agents:, models:, ...), "
        "not a list"
    )


def test_an_empty_file_is_an_empty_config(tmp_path: Path) -> None:
    path = write(tmp_path, "# nothing yet\n", name="mine.yaml")
    config = load_config(path)
    assert config.agents == {}
    assert config.source_path == path.resolve()


def test_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "nope.yaml")
    assert str(caught.value).startswith("nope.yaml: the file does not exist: ")


def test_messages_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, "agnets: {}\n", name="work.yaml"))
    assert str(caught.value) == "work.yaml: agnets: unknown key; did you mean 'agents'?"


def test_relative_knowledge_base_paths_start_at_the_config_folder(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        knowledge_bases:
          notes: {path: notes}
          up: {path: ../shared/docs}
          absolute: {path: /srv/kb}
        """,
    )
    bases = load_config(path).knowledge_bases
    assert bases["notes"].path == str((tmp_path / "notes").resolve())
    assert bases["up"].path == str((tmp_path.parent / "shared" / "docs").resolve())
    assert bases["absolute"].path == "/srv/kb"


def test_the_env_file_beside_the_config_is_loaded_without_overriding(
    tmp_path: Path, saved_environ: None
) -> None:
    os.environ["TRAYMIND_TEST_KEEP"] = "from-environment"
    os.environ.pop("TRAYMIND_TEST_NEW", None)
    (tmp_path / ".env").write_text(
        "TRAYMIND_TEST_NEW=from-dotenv\nTRAYMIND_TEST_KEEP=from-dotenv\n", encoding="utf-8"
    )
    load_config(write(tmp_path, "models:\n  m: {id: x, api_key_env: TRAYMIND_TEST_NEW}\n"))
    assert os.environ["TRAYMIND_TEST_NEW"] == "from-dotenv"
    assert os.environ["TRAYMIND_TEST_KEEP"] == "from-environment"


# --- locating the config -----------------------------------------------------------------


def locate_in_subprocess(
    cli_value: str | None, *, cwd: Path, home: Path, env: dict[str, str] | None = None
) -> Path:
    """``locate_config`` run with its own working dir, HOME and XDG config dir."""
    code = (
        "import sys; from server.config import locate_config; "
        "print(locate_config(sys.argv[1] or None))"
    )
    full_env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "PYTHONPATH": str(ROOT),
        **(env or {}),
    }
    result = subprocess.run(
        [sys.executable, "-c", code, cli_value or ""],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return Path(result.stdout.strip())


@pytest.fixture
def places(tmp_path: Path) -> tuple[Path, Path]:
    """A working directory and a HOME, both empty."""
    cwd, home = tmp_path / "work", tmp_path / "home"
    cwd.mkdir()
    home.mkdir()
    return cwd, home


def test_locate_prefers_the_command_line(places: tuple[Path, Path]) -> None:
    cwd, home = places
    (cwd / "config.yaml").write_text("{}\n", encoding="utf-8")
    found = locate_in_subprocess(
        "given.yaml", cwd=cwd, home=home, env={"TRAYMIND_CONFIG": str(home / "env.yaml")}
    )
    assert found == (cwd / "given.yaml").resolve()


def test_locate_then_the_environment(places: tuple[Path, Path]) -> None:
    cwd, home = places
    (cwd / "config.yaml").write_text("{}\n", encoding="utf-8")
    found = locate_in_subprocess(
        None, cwd=cwd, home=home, env={"TRAYMIND_CONFIG": str(home / "env.yaml")}
    )
    assert found == (home / "env.yaml").resolve()


def test_locate_then_the_working_directory(places: tuple[Path, Path]) -> None:
    cwd, home = places
    (cwd / "config.yaml").write_text("{}\n", encoding="utf-8")
    assert locate_in_subprocess(None, cwd=cwd, home=home) == (cwd / "config.yaml").resolve()
    assert not (home / ".config" / "traymind").exists()


def test_locate_first_run_installs_the_default_config(places: tuple[Path, Path]) -> None:
    cwd, home = places
    found = locate_in_subprocess(None, cwd=cwd, home=home)
    assert found == home / ".config" / "traymind" / "config.yaml"
    assert found.read_bytes() == resource("default-config.yaml").read_bytes()
    assert [p.name for p in found.parent.iterdir()] == ["config.yaml"]
    assert load_config(found).agents.keys() == {"general", "code"}

    found.write_text("agents: {mine: {}}\n", encoding="utf-8")
    assert locate_in_subprocess(None, cwd=cwd, home=home) == found
    assert found.read_text(encoding="utf-8") == "agents: {mine: {}}\n", "user edits are kept"


def test_locate_in_process_with_an_explicit_value(tmp_path: Path) -> None:
    assert locate_config(str(tmp_path / "x.yaml")) == (tmp_path / "x.yaml").resolve()


def test_mindroom_claude_agent_options_traymind_does_not_use_are_warned_not_errors() -> None:
    config = parse_config(
        {
            "agents": {
                "a": {
                    "tools": [
                        {
                            "claude_agent": {
                                "cwd": "/tmp",
                                "api_key": "sk-never-repeated",
                                "continue_conversation": True,
                            }
                        }
                    ]
                }
            }
        }
    )
    assert config.agents["a"].tools[0].options == {"cwd": "/tmp"}
    assert config.warnings == [
        "config.yaml: ignoring agents.a.tools[0].api_key "
        "(a MindRoom setting Traymind does not use)",
        "config.yaml: ignoring agents.a.tools[0].continue_conversation "
        "(a MindRoom setting Traymind does not use)",
    ]
    assert "sk-never-repeated" not in "\n".join(config.warnings)
