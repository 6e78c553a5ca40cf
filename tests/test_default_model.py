"""The `default` model when config.yaml defines none: environment, detected, or none."""

from __future__ import annotations

from pathlib import Path

from tests.harness import agent_config, client, http, running_server
from tests.upstream import Reply, Upstream

KEY = "sk-default-model"


def health(handle) -> dict:
    with http(handle) as h:
        return h.get("/api/health").json()


def test_config_source(tmp_path: Path, upstream: Upstream) -> None:
    with running_server(tmp_path, agent_config(upstream.base_url)) as handle:
        assert health(handle)["default_model"] == {
            "id": "test-model",
            "base_url": upstream.base_url,
            "source": "config",
        }


def test_environment_source_uses_the_first_listed_model(tmp_path: Path, upstream: Upstream) -> None:
    upstream.models = ["env-model", "other"]
    env = {
        "OPENAI_BASE_URL": upstream.base_url,
        "OPENAI_API_KEY": "sk-upstream",
        "OPENAI_COMPAT_API_KEYS": KEY,
    }
    with running_server(tmp_path, agent_config(None), env=env) as handle:
        assert health(handle)["default_model"] == {
            "id": "env-model",
            "base_url": upstream.base_url,
            "source": "environment",
        }
        upstream.script(Reply.text("from env"))
        answer = client(handle, KEY).chat.completions.create(
            model="general", messages=[{"role": "user", "content": "hi"}]
        )
    assert answer.choices[0].message.content == "from env"
    request = upstream.chat_requests[0]
    assert request.body["model"] == "env-model"
    assert request.headers["authorization"] == "Bearer sk-upstream"


def test_detected_local_server_is_used_in_list_order(tmp_path: Path) -> None:
    with Upstream() as first, Upstream() as second:
        first.models = []  # answers, but lists nothing: skipped
        second.models = ["llama3.2", "qwen"]
        env = {
            "TRAYMIND_DETECT_URLS": f"http://127.0.0.1:9/v1,{first.base_url},{second.base_url}",
            "OPENAI_COMPAT_API_KEYS": KEY,
        }
        with running_server(tmp_path, agent_config(None), env=env) as handle:
            assert health(handle)["default_model"] == {
                "id": "llama3.2",
                "base_url": second.base_url,
                "source": "detected",
            }
            client(handle, KEY).chat.completions.create(
                model="general", messages=[{"role": "user", "content": "hi"}]
            )
        assert second.chat_requests[0].body["model"] == "llama3.2"
        assert first.chat_requests == []
