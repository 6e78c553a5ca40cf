"""The coding tools' snippets parse as their tools read them, and their settings reach agents."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import openai
import yaml

from app.chat_snippets import Pairing
from app.coding_tool_snippets import (
    KEY,
    aider_text,
    claude_code_text,
    cline_text,
    codex_text,
    continue_text,
    zed_text,
)
from server.config import parse_config
from tests.harness import agent_config, running_server
from tests.upstream import Reply, Upstream

PAIRING = Pairing("127.0.0.1", 8765, ("code", "general"))
URL = "http://127.0.0.1:8765/v1"


def exports(text: str) -> dict[str, str]:
    return dict(re.findall(r"^export (\w+)=(\S+)$", text, re.MULTILINE))


def test_continue_reads_a_model_with_the_api_base_and_key() -> None:
    (model,) = yaml.safe_load(continue_text(PAIRING))["models"]
    assert model == {
        "name": "Traymind code",
        "provider": "openai",
        "model": "code",
        "apiBase": URL,
        "apiKey": KEY,
        "roles": ["chat", "edit", "apply"],
    }


def test_codex_reads_a_responses_provider() -> None:
    config = tomllib.loads(codex_text(PAIRING))
    assert config["model"] == "code" and config["model_provider"] == "traymind"
    assert config["model_providers"]["traymind"] == {
        "name": "Traymind",
        "base_url": URL,
        "env_key": "TRAYMIND_API_KEY",
        "wire_api": "responses",
    }


def test_zed_reads_an_openai_compatible_provider() -> None:
    body = "\n".join(line for line in zed_text(PAIRING).splitlines() if not line.startswith("//"))
    settings = json.loads("{" + body + "}")
    provider = settings["language_models"]["openai_compatible"]["Traymind"]
    assert provider["api_url"] == URL
    assert [m["name"] for m in provider["available_models"]] == ["code"]


def test_claude_code_gets_the_root_and_aider_the_v1_url() -> None:
    assert exports(claude_code_text(PAIRING)) == {
        "ANTHROPIC_BASE_URL": "http://127.0.0.1:8765",
        "ANTHROPIC_AUTH_TOKEN": KEY,
        "ANTHROPIC_MODEL": "code",
    }
    aliases = "\n".join(
        line.removeprefix("# ")
        for line in claude_code_text(PAIRING).splitlines()
        if line.startswith("#   ")
    )
    config = parse_config({**yaml.safe_load(aliases), "agents": {"code": {}}})
    assert config.server.model_aliases == {"claude-*": "code"}
    assert exports(aider_text(PAIRING)) == {"OPENAI_API_BASE": URL, "OPENAI_API_KEY": KEY}
    assert "aider --model openai/code" in aider_text(PAIRING)
    assert f"Base URL:      {URL}" in cline_text(PAIRING)


def test_the_settings_in_a_snippet_reach_the_agent(tmp_path: Path, upstream: Upstream) -> None:
    """The Continue/Cline/Aider settings for a running server: its URL, a key and an agent."""
    key = "sk-tm-snippet"
    config = agent_config(upstream.base_url, code={"display_name": "Code"})
    upstream.script(Reply.text("hello from code"))
    with running_server(tmp_path, config, env={"OPENAI_COMPAT_API_KEYS": key}) as handle:
        port = int(handle.url.rsplit(":", 1)[1].split("/")[0])
        (model,) = yaml.safe_load(continue_text(Pairing("127.0.0.1", port, ("code",))))["models"]
        sdk = openai.OpenAI(base_url=model["apiBase"], api_key=key, max_retries=0)
        answer = sdk.chat.completions.create(
            model=model["model"], messages=[{"role": "user", "content": "hi"}]
        )
    assert answer.choices[0].message.content == "hello from code"
    assert answer.model == "code"
