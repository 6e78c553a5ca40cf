"""``traymind agents``: the Agents window's edits from a terminal, through the same editor."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml

from server.cli.main import main
from tests.harness import agent_config, client, running_server
from tests.upstream import Upstream

CONFIG = """\
# my agents
agents:
  general:   # the helper
    role: Helper
models:
  default:
    provider: openai
    id: test-model
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG)
    return path


def agents(config: Path, *args: str) -> int:
    return main(["agents", "--config", str(config), *args])


def test_add_writes_only_the_new_agent_and_keeps_the_comments(config: Path, capsys) -> None:
    code = agents(
        config,
        "add", "writer", "--name", "Writer", "--role", "Drafts letters",
        "--instructions", "Be short.", "--instructions", "Sign as me.",
        "--tool", "calculator", "--tool", "files: {roots: [/tmp/notes], write: true}",
        "--memory",
    )  # fmt: skip
    assert code == 0
    assert "Added agent writer" in capsys.readouterr().out
    assert config.read_text() == CONFIG.replace(
        "models:",
        """\
  writer:
    display_name: Writer
    role: Drafts letters
    instructions:
      - Be short.
      - Sign as me.
    tools:
      - calculator
      - files:
          roots: [/tmp/notes]
          write: true
    memory: true
models:""",
    )


def test_edit_renames_replaces_and_removes_and_list_shows_it(config: Path, capsys) -> None:
    assert agents(config, "add", "writer", "--tool", "calculator", "--tool", "current_time") == 0
    assert agents(
        config, "edit", "writer", "--rename", "author", "--remove-tool", "calculator",
        "--tool", "web_fetch: {allow_private: true}", "--no-memory", "--model", "default",
    ) == 0  # fmt: skip
    data = yaml.safe_load(config.read_text())
    assert list(data["agents"]) == ["general", "author"]
    web_fetch = {"web_fetch": {"allow_private": True}}
    assert data["agents"]["author"]["tools"] == ["current_time", web_fetch]
    assert "# the helper" in config.read_text()
    capsys.readouterr()
    assert agents(config, "list") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["ID", "NAME", "MODEL", "TOOLS", "KNOWLEDGE"]
    assert lines[2].split() == ["author", "-", "default", "current_time,", "web_fetch", "-"]
    assert agents(config, "show", "author", "--json") == 0
    shown = yaml.safe_load(capsys.readouterr().out)
    assert shown["tools"] == ["current_time", {"web_fetch": {"allow_private": True}}]


def test_an_invalid_change_prints_check_config_s_message_and_writes_nothing(
    config: Path, capsys
) -> None:
    assert agents(config, "add", "bad", "--model", "nope") == 1
    err = capsys.readouterr().err
    assert "config.yaml: agents.bad.model: 'nope' is not a key under models" in err
    assert "was not changed" in err
    assert agents(config, "add", "auto") == 1
    assert "reserved" in capsys.readouterr().err
    assert agents(config, "add", "general") == 1
    assert "exists already" in capsys.readouterr().err
    assert agents(config, "edit", "nobody", "--role", "x") == 1
    assert "no agent 'nobody'" in capsys.readouterr().err
    assert agents(config, "add", "x", "--tool", "{broken") == 1
    assert "is not a tool entry" in capsys.readouterr().err
    assert agents(config, "edit", "general", "--remove-tool", "shell") == 1
    assert "has no tool shell" in capsys.readouterr().err
    assert config.read_text() == CONFIG


def test_remove_takes_the_agent_out_of_its_teams(config: Path) -> None:
    text = CONFIG + "teams:\n  pair:\n    agents: [general, writer]\n"
    config.write_text(text.replace("models:", "  writer: {role: Writes}\nmodels:"))
    assert agents(config, "remove", "writer") == 0
    data = yaml.safe_load(config.read_text())
    assert list(data["agents"]) == ["general"] and data["teams"]["pair"]["agents"] == ["general"]


def test_a_running_server_serves_an_agent_added_from_the_terminal(
    tmp_path: Path, upstream: Upstream
) -> None:
    env = {"OPENAI_COMPAT_API_KEYS": "sk-cli-agents"}
    with running_server(tmp_path, agent_config(upstream.base_url), env=env) as handle:
        sdk = client(handle, "sk-cli-agents")
        assert [m.id for m in sdk.models.list()] == ["auto", "general"]
        config = tmp_path / "config.yaml"
        assert agents(config, "add", "helper", "--role", "Helps") == 0
        deadline = time.monotonic() + 15
        ids: list[str] = []
        while time.monotonic() < deadline:
            ids = [m.id for m in sdk.models.list()]
            if "helper" in ids:
                break
            time.sleep(0.2)
        assert ids == ["auto", "general", "helper"]


def test_renaming_onto_an_existing_agent_is_refused_with_a_sentence(config: Path, capsys) -> None:
    assert agents(config, "add", "writer") == 0
    before = config.read_text()
    assert agents(config, "edit", "writer", "--rename", "general") == 1
    err = capsys.readouterr().err
    assert err.startswith("traymind agents: ") and "Traceback" not in err
    assert config.read_text() == before


def test_careless_input_is_refused_and_the_file_left_alone(
    config: Path, tmp_path: Path, capsys
) -> None:
    typo = tmp_path / "typo" / "confg.yaml"
    assert main(["agents", "--config", str(typo), "add", "x"]) == 1
    assert "does not exist" in capsys.readouterr().err and not typo.parent.exists()
    assert agents(config, "edit", "general", "--model", "") == 1
    assert "--model needs a model name" in capsys.readouterr().err
    assert agents(config, "edit", "general", "--remove-knowledge-base", "nokb") == 1
    assert "does not search knowledge base nokb" in capsys.readouterr().err
    assert config.read_text() == CONFIG


def test_list_names_each_mcp_server(config: Path, capsys) -> None:
    config.write_text(
        CONFIG.replace("    role: Helper\n", "    role: Helper\n    tools: [{mcp: {server: gh}}]\n")
        + "mcp_servers:\n  gh: {url: 'https://mcp.example.com/mcp'}\n"
    )
    assert agents(config, "list") == 0
    assert capsys.readouterr().out.splitlines()[1].split()[3] == "mcp:gh"
