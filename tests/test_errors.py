"""Every failure of ``/v1`` in OpenAI's error shape, with the right status."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import openai
import pytest

from tests.harness import agent_config, client, http, running_server
from tests.openapi_validation import spec_available, validate
from tests.upstream import Reply, Upstream

KEY = "sk-test-errors"
AUTH = {"Authorization": f"Bearer {KEY}"}
PROVIDER_KEY = "sk-provider-secret-value"


@pytest.fixture
def server(tmp_path: Path, upstream: Upstream):
    config = agent_config(
        upstream.base_url, general={"display_name": "G"}, secret={"worker_scope": "user"}
    )
    config["models"]["default"]["api_key_env"] = "TEST_PROVIDER_KEY"
    config["models"]["default"]["timeout_seconds"] = 1.5
    with running_server(
        tmp_path,
        config,
        env={"OPENAI_COMPAT_API_KEYS": KEY, "TEST_PROVIDER_KEY": PROVIDER_KEY},
    ) as handle:
        yield handle


def assert_error(
    response: httpx.Response, status: int, code: str | None = None, param: str | None = None
) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"message", "type", "param", "code"}
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    if code is not None:
        assert body["error"]["code"] == code
    if param is not None:
        assert body["error"]["param"] == param
    for secret in (KEY, PROVIDER_KEY):
        assert secret not in response.text
    assert "Traceback" not in response.text
    if spec_available():
        validate("ErrorResponse", body)
    return body["error"]


def post(
    server,
    content: bytes | None = None,
    *,
    json_body: object = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    with http(server) as h:
        if json_body is not None:
            return h.post(
                "/v1/chat/completions", json=json_body, headers={**AUTH, **(headers or {})}
            )
        return h.post("/v1/chat/completions", content=content, headers={**AUTH, **(headers or {})})


USER = [{"role": "user", "content": "Hi"}]


@pytest.mark.parametrize(
    ("raw", "param"),
    [
        (b"{bad json", None),
        (b"[]", None),
        (b"42", None),
        (b"", None),
        (json.dumps({"messages": USER}).encode(), "model"),
        (json.dumps({"model": "general", "messages": []}).encode(), "messages"),
        (
            json.dumps(
                {"model": "general", "messages": [{"role": "robot", "content": "x"}]}
            ).encode(),
            "messages[0].role",
        ),
        (b"\xff\xfe\x00garbage", None),
    ],
)
def test_malformed_requests_are_400(server, upstream: Upstream, raw: bytes, param) -> None:
    error = assert_error(post(server, raw), 400, param=param)
    assert error["type"] == "invalid_request_error"
    assert upstream.chat_requests == []


def test_utf8_bom_still_parses(server) -> None:
    body = "\ufeff" + json.dumps({"model": "general", "messages": USER})
    assert post(server, body.encode("utf-8")).status_code == 200


def test_unknown_model_is_404_with_param(server) -> None:
    error = assert_error(
        post(server, json_body={"model": "nope", "messages": USER}), 404, "model_not_found", "model"
    )
    assert "nope" in error["message"]


def test_hidden_agent_is_400_unsupported_worker_scope(server) -> None:
    assert_error(
        post(server, json_body={"model": "secret", "messages": USER}),
        400,
        "unsupported_worker_scope",
        "model",
    )


def test_unknown_v1_path_is_404(server) -> None:
    with http(server) as h:
        assert_error(h.get("/v1/embeddingz", headers=AUTH), 404)
        assert_error(h.post("/v1/completions", headers=AUTH, json={}), 404)


def test_body_over_the_limit_is_413(server) -> None:
    big = json.dumps(
        {"model": "general", "messages": [{"role": "user", "content": "x" * 9_000_000}]}
    )
    assert_error(post(server, big.encode()), 413)


def test_provider_unreachable_is_502_naming_agent_and_url(tmp_path: Path) -> None:
    config = agent_config("http://127.0.0.1:9/v1")
    with running_server(tmp_path, config, env={"OPENAI_COMPAT_API_KEYS": KEY}) as handle:
        response = post(handle, json_body={"model": "general", "messages": USER})
        error = assert_error(response, 502)
        assert "general" in error["message"] and "http://127.0.0.1:9/v1" in error["message"]
        # streaming requests fail the same way before the first byte: JSON, not SSE
        response = post(handle, json_body={"model": "general", "messages": USER, "stream": True})
        assert response.headers["content-type"].startswith("application/json")
        assert_error(response, 502)


@pytest.mark.parametrize(
    ("reply", "status"),
    [
        (Reply.error(500, "upstream broke"), 502),
        (Reply.error(503), 502),
        (Reply.garbage(), 502),
        (Reply.error(401, "Incorrect API key provided"), 502),
        (Reply.hang(5), 504),
    ],
)
def test_provider_failures_map_to_gateway_errors(server, upstream: Upstream, reply, status) -> None:
    upstream.script(reply)
    error = assert_error(post(server, json_body={"model": "general", "messages": USER}), status)
    assert upstream.base_url in error["message"]


def test_provider_429_passes_through_with_retry_after(server, upstream: Upstream) -> None:
    upstream.script(Reply.error(429, "slow down", headers={"Retry-After": "7"}))
    response = post(server, json_body={"model": "general", "messages": USER})
    assert_error(response, 429)
    assert response.headers["retry-after"] == "7"


def test_sdk_sees_rate_limit_and_server_errors(server, upstream: Upstream) -> None:
    upstream.script(Reply.error(429, headers={"Retry-After": "1"}), Reply.error(500))
    sdk = client(server, KEY)
    with pytest.raises(openai.RateLimitError):
        sdk.chat.completions.create(model="general", messages=USER)
    with pytest.raises(openai.APIStatusError) as info:
        sdk.chat.completions.create(model="general", messages=USER)
    assert info.value.status_code == 502


def test_no_provider_is_503_with_a_hint(tmp_path: Path) -> None:
    with running_server(tmp_path, agent_config(None), env={"OPENAI_COMPAT_API_KEYS": KEY}) as h:
        error = assert_error(post(h, json_body={"model": "general", "messages": USER}), 503)
    assert "OPENAI_BASE_URL" in error["message"]


def test_failure_mid_stream_ends_cleanly_with_a_sentence(server, upstream: Upstream) -> None:
    upstream.script(Reply.broken_stream(["Partial ", "answer"]))
    with (
        http(server) as h,
        h.stream(
            "POST",
            "/v1/chat/completions",
            headers=AUTH,
            json={"model": "general", "stream": True, "messages": USER},
        ) as response,
    ):
        assert response.status_code == 200
        events = [line[6:] for line in response.iter_lines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    assert text.startswith("Partial answer")
    assert "[Traymind:" in text and "Traceback" not in text and PROVIDER_KEY not in text


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(
            b'{"model": "general", "messages": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
            400,
            id="deep-nesting",
        ),
        pytest.param(
            json.dumps(
                {
                    "model": "general",
                    "messages": [
                        {"role": "user", "content": [{"type": "text", "text": {"nested": ["x"]}}]}
                    ],
                }
            ).encode(),
            400,
            id="wrong-type-in-part",
        ),
        pytest.param(
            json.dumps({"model": ["general"], "messages": USER}).encode(), 400, id="model-as-list"
        ),
        pytest.param(
            json.dumps({"model": "general", "messages": USER, "stream_options": "yes"}).encode(),
            400,
            id="options-as-string",
        ),
        pytest.param(
            json.dumps(
                {"model": "general", "messages": [{"role": "user", "content": "y" * 7_000_000}]}
            ).encode(),
            200,
            id="huge-string",
        ),
        pytest.param(
            json.dumps(
                {
                    "model": "general",
                    "messages": [
                        {"role": "user" if i % 2 == 0 else "assistant", "content": f"m{i}"}
                        for i in range(10_001)
                    ],
                }
            ).encode(),
            200,
            id="10k-messages",
        ),
    ],
)
def test_hostile_bodies_get_a_clear_answer_and_the_server_keeps_serving(
    server, raw: bytes, expected: int
) -> None:
    response = post(server, raw)
    assert response.status_code == expected, response.text[:300]
    if expected >= 400:
        assert_error(response, expected)
    assert post(server, json_body={"model": "general", "messages": USER}).status_code == 200
