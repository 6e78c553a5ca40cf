"""Provider API keys: kept by name in the keystore (file backend here), resolved per model."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from server.config.schema import ModelConfig
from server.keys.provider_keys import (
    PROVIDER_FILE,
    delete_provider_key,
    get_provider_key,
    set_provider_key,
)
from server.providers.credentials import resolve_api_key
from tests.harness import agent_config, client, environment, running_server
from tests.upstream import Reply, Upstream

KEY = "sk-provider-test-0123456789abcdef"
CLIENT_KEY = "sk-client-of-traymind"


def test_file_backend_round_trip_is_private(tmp_path: Path) -> None:
    set_provider_key("default", KEY, backend="file", data_dir=tmp_path)
    path = tmp_path / PROVIDER_FILE
    if os.name != "nt":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    doc = json.loads(path.read_text())
    assert "NOT the OS keyring" in doc["warning"]
    assert doc["keys"] == {"default": KEY}
    assert get_provider_key("default", backend="file", data_dir=tmp_path) == KEY
    assert get_provider_key("other", backend="file", data_dir=tmp_path) is None

    set_provider_key("other.key-2_x", "second", backend="file", data_dir=tmp_path)
    set_provider_key("default", "replaced", backend="file", data_dir=tmp_path)
    assert get_provider_key("default", backend="file", data_dir=tmp_path) == "replaced"
    delete_provider_key("default", backend="file", data_dir=tmp_path)
    delete_provider_key("default", backend="file", data_dir=tmp_path)  # already gone: fine
    assert get_provider_key("default", backend="file", data_dir=tmp_path) is None
    assert get_provider_key("other.key-2_x", backend="file", data_dir=tmp_path) == "second"


@pytest.mark.parametrize("name", ["", "has space", "a/b", "x" * 65, "sk:1"])
def test_provider_key_names_are_identifiers(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError, match="provider key name"):
        set_provider_key(name, KEY, backend="file", data_dir=tmp_path)
    with pytest.raises(ValueError):
        ModelConfig(id="m", api_key_keyring=name)


def test_an_empty_key_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="non-empty"):
        set_provider_key("default", "  ", backend="file", data_dir=tmp_path)


def test_resolve_prefers_the_env_var_then_the_stored_key(tmp_path: Path) -> None:
    set_provider_key("default", KEY, backend="file", data_dir=tmp_path)
    both = ModelConfig(id="m", api_key_env="TRAYMIND_TEST_PROVIDER_KEY", api_key_keyring="default")
    with environment({"TRAYMIND_KEYSTORE": "file", "TRAYMIND_TEST_PROVIDER_KEY": "from-env"}):
        assert resolve_api_key(both, tmp_path) == "from-env"
    with environment({"TRAYMIND_KEYSTORE": "file", "TRAYMIND_TEST_PROVIDER_KEY": ""}):
        assert resolve_api_key(both, tmp_path) == KEY
        assert resolve_api_key(ModelConfig(id="m", api_key_keyring="default"), tmp_path) == KEY
        assert resolve_api_key(ModelConfig(id="m", api_key_keyring="missing"), tmp_path) == ""
        assert resolve_api_key(ModelConfig(id="m"), tmp_path) == ""
    with environment({"TRAYMIND_KEYSTORE": "file", "TRAYMIND_DATA_DIR": str(tmp_path)}):
        assert resolve_api_key(ModelConfig(id="m", api_key_keyring="default")) == KEY


def test_the_server_sends_the_stored_key_upstream(tmp_path: Path, upstream: Upstream) -> None:
    """Needs server/agents/models.py and direct_chat.py to call ``resolve_api_key``."""
    data_dir = tmp_path / "data"
    set_provider_key("default", KEY, backend="file", data_dir=data_dir)
    config = agent_config(upstream.base_url)
    config["models"]["default"]["api_key_keyring"] = "default"  # type: ignore[index]
    env = {
        "TRAYMIND_KEYSTORE": "file",
        "TRAYMIND_DATA_DIR": str(data_dir),
        "OPENAI_COMPAT_API_KEYS": CLIENT_KEY,
    }
    upstream.script(Reply.text("hello"))
    with running_server(tmp_path, config, env=env, data_dir=data_dir) as handle:
        reply = client(handle, CLIENT_KEY).chat.completions.create(
            model="general", messages=[{"role": "user", "content": "Hi"}]
        )
    assert reply.choices[0].message.content == "hello"
    assert upstream.chat_requests[0].headers["authorization"] == f"Bearer {KEY}"
    assert KEY not in (tmp_path / "config.yaml").read_text()
