"""Fuzzing ``/v1`` from our own OpenAPI document with schemathesis, valid and invalid input.

Every answer must be a success or an OpenAI-shaped 4xx: never a 500, never a hang,
and the server keeps serving afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.generation import GenerationMode

from server.runner import ServerHandle
from tests.harness import agent_config, running_server
from tests.upstream import Reply, Upstream

KEY = "sk-fuzz"
AUTH = {"Authorization": f"Bearer {KEY}"}


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerHandle]:
    with Upstream() as up:
        up.default = Reply.text("fuzzed")
        config = agent_config(up.base_url, general={"tools": ["calculator"]})
        with running_server(
            tmp_path_factory.mktemp("fuzz"), config, env={"OPENAI_COMPAT_API_KEYS": KEY}
        ) as handle:
            yield handle


@pytest.fixture(scope="module")
def api_schema(fuzz_server: ServerHandle):
    root = fuzz_server.url.removesuffix("/v1")
    document = httpx.get(
        f"{root}/openapi.json", headers={"Authorization": f"Bearer {KEY}"}, timeout=10
    ).json()
    schema = schemathesis.openapi.from_dict(document)
    schema.config.update(base_url=root)
    schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
    return schema.include(path_regex="^/v1/")


def operations(schema) -> list:
    return [result.ok() for result in schema.get_all_operations()]


def error_shaped(response, path: str) -> None:
    """OpenAI's error shape, or Anthropic's on the Messages API's paths."""
    if response.status_code >= 400:
        body = response.json()
        if path.startswith("/v1/messages"):
            assert set(body) == {"type", "error"} and body["type"] == "error", body
            assert set(body["error"]) == {"type", "message"}, body
            return
        assert set(body) == {"error"}, body
        assert set(body["error"]) == {"message", "type", "param", "code"}, body


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_v1_never_errors_on_generated_input(api_schema, fuzz_server, mode) -> None:
    ops = operations(api_schema)
    assert {op.path for op in ops} >= {
        "/v1/models",
        "/v1/chat/completions",
        "/v1/responses",
        "/v1/messages",
    }
    for operation in ops:
        if mode == GenerationMode.NEGATIVE and operation.path != "/v1/chat/completions":
            continue  # the model listing takes no input that can be made invalid

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), database=None
        )
        def check(case) -> None:
            response = case.call(headers=AUTH, timeout=10)
            assert response.status_code < 500, (case.as_curl_command(), response.text)
            error_shaped(response, case.path)

        check()


def test_server_still_serves_after_fuzzing(fuzz_server: ServerHandle) -> None:
    response = httpx.get(f"{fuzz_server.url}/models", headers=AUTH, timeout=10)
    assert response.status_code == 200
