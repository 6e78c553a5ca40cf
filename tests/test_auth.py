"""Who gets in: keys from the environment, the unauthenticated flag, and the locked state."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.harness import agent_config, http, running_server
from tests.upstream import Upstream

KEY = "sk-test-auth-1"
OTHER = "sk-test-auth-2"


def status_of(handle, headers: dict[str, str]) -> tuple[int, dict]:
    with http(handle) as h:
        response = h.get("/v1/models", headers=headers)
    return response.status_code, response.json()


@pytest.mark.parametrize(
    ("env", "headers", "expected"),
    [
        ({"OPENAI_COMPAT_API_KEYS": f" {KEY} , ,{OTHER}"}, {"Authorization": f"Bearer {KEY}"}, 200),
        ({"OPENAI_COMPAT_API_KEYS": f"{KEY},{OTHER}"}, {"Authorization": f"Bearer {OTHER}"}, 200),
        ({"OPENAI_COMPAT_API_KEYS": KEY}, {"Authorization": f"bearer {KEY}"}, 200),
        ({"OPENAI_COMPAT_API_KEYS": KEY}, {"Authorization": "Bearer wrong"}, 401),
        ({"OPENAI_COMPAT_API_KEYS": KEY}, {"Authorization": f"Basic {KEY}"}, 401),
        ({"OPENAI_COMPAT_API_KEYS": KEY}, {}, 401),
        ({"OPENAI_COMPAT_ALLOW_UNAUTHENTICATED": "yes"}, {}, 200),
        ({"OPENAI_COMPAT_ALLOW_UNAUTHENTICATED": "ON"}, {"Authorization": "Bearer any"}, 200),
        ({"OPENAI_COMPAT_ALLOW_UNAUTHENTICATED": "0"}, {}, 401),
        ({}, {"Authorization": "Bearer anything"}, 401),
    ],
)
def test_auth_matrix(tmp_path: Path, env, headers, expected) -> None:
    with running_server(tmp_path, agent_config(None), env=env) as handle:
        status, body = status_of(handle, headers)
    assert status == expected, body
    if expected == 401:
        assert body["error"]["code"] == "invalid_api_key"
        assert body["error"]["type"] == "invalid_request_error"
        for secret in (KEY, OTHER):
            assert secret not in body["error"]["message"]


def test_locked_server_says_how_to_get_in(tmp_path: Path) -> None:
    with running_server(tmp_path, agent_config(None)) as handle:
        status, body = status_of(handle, {})
    assert status == 401
    assert "no API keys" in body["error"]["message"]
    assert "traymind keys create" in body["error"]["message"]


def test_auth_is_checked_before_the_body_is_parsed(tmp_path: Path, upstream: Upstream) -> None:
    with (
        running_server(
            tmp_path, agent_config(upstream.base_url), env={"OPENAI_COMPAT_API_KEYS": KEY}
        ) as handle,
        http(handle) as h,
    ):
        response = h.post("/v1/chat/completions", content=b"{not json")
        assert response.status_code == 401
        response = h.post(
            "/v1/chat/completions", content=b"{not json", headers={"Authorization": f"Bearer {KEY}"}
        )
        assert response.status_code == 400
    assert upstream.chat_requests == []


def test_health_needs_no_auth(tmp_path: Path) -> None:
    with running_server(tmp_path, agent_config(None)) as handle, http(handle) as h:
        response = h.get("/api/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["default_model"] == {"id": None, "base_url": None, "source": "none"}
