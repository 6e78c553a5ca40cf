"""Every failure of ``/v1`` in OpenAI's error shape, with the right status."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import openai
import pytest

from tests.chat_paths import PATHS, ChatPath, agent_spec, assert_path
from tests.harness import agent_config, client, http, running_server
from tests.openapi_validation import spec_available, validate
from tests.upstream import Reply, Upstream

KEY = "sk-test-errors"
AUTH = {"Authorization": f"Bearer {KEY}"}
PROVIDER_KEY = "sk-provider-secret-value"


@pytest.fixture
def chat_path() -> ChatPath:
    """The path of ``general`` in tests not parametrised over both: the direct one."""
    return "direct"


@pytest.fixture
def server(tmp_path: Path, upstream: Upstream, chat_path: ChatPath):
    config = agent_config(
        upstream.base_url,
        general=agent_spec(chat_path, display_name="G"),
        secret={"worker_scope": "user"},
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


@pytest.mark.parametrize("chat_path", PATHS)
def test_provider_unreachable_is_502_naming_agent_and_url(
    tmp_path: Path, upstream: Upstream, chat_path: ChatPath
) -> None:
    # The stand-in answers once (proving the path), then stops: its port is closed.
    url = upstream.base_url
    config = agent_config(url, general=agent_spec(chat_path, display_name="G"))
    with running_server(tmp_path, config, env={"OPENAI_COMPAT_API_KEYS": KEY}) as handle:
        assert post(handle, json_body={"model": "general", "messages": USER}).status_code == 200
        assert_path(upstream, chat_path)
        upstream.stop()
        response = post(handle, json_body={"model": "general", "messages": USER})
        error = assert_error(response, 502)
        assert "general" in error["message"] and url in error["message"]
        assert "cannot be reached" in error["message"]  # refused, as a never-started provider
        # streaming requests fail the same way before the first byte: JSON, not SSE
        response = post(handle, json_body={"model": "general", "messages": USER, "stream": True})
        assert response.headers["content-type"].startswith("application/json")
        assert_error(response, 502)


@pytest.mark.parametrize("chat_path", PATHS)
@pytest.mark.parametrize(
    ("reply", "status"),
    [
        pytest.param(Reply.error(500, "upstream broke"), 502, id="500"),
        pytest.param(Reply.error(503), 502, id="503"),
        pytest.param(Reply.garbage(), 502, id="garbage"),
        pytest.param(Reply.error(401, "Incorrect API key provided"), 502, id="401"),
        pytest.param(Reply.hang(5), 504, id="hang"),
    ],
)
def test_provider_failures_map_to_gateway_errors(
    server, upstream: Upstream, chat_path: ChatPath, reply, status
) -> None:
    upstream.script(reply)
    error = assert_error(post(server, json_body={"model": "general", "messages": USER}), status)
    assert upstream.base_url in error["message"]
    assert_path(upstream, chat_path)


@pytest.mark.parametrize("chat_path", PATHS)
def test_provider_429_passes_through_with_retry_after(
    server, upstream: Upstream, chat_path: ChatPath
) -> None:
    upstream.script(Reply.error(429, "slow down", headers={"Retry-After": "7"}))
    response = post(server, json_body={"model": "general", "messages": USER})
    assert_error(response, 429)
    assert response.headers["retry-after"] == "7"
    assert_path(upstream, chat_path)


@pytest.mark.parametrize("chat_path", ["agent"])
@pytest.mark.parametrize("stream", [False, True], ids=["non-stream", "stream"])
def test_provider_429_through_an_agent_with_tools_keeps_its_retry_after(
    server, upstream: Upstream, chat_path: ChatPath, stream: bool
) -> None:
    """A tool-using agent's provider rate limit reaches the client as that rate limit.

    A 429 that became a 502 would make clients fail instead of waiting ``Retry-After``.
    Streaming too: the provider refuses before the first byte, so the answer is JSON, not SSE.
    """
    upstream.script(Reply.error(429, "slow down", headers={"Retry-After": "7"}))
    response = post(server, json_body={"model": "general", "messages": USER, "stream": stream})
    assert response.headers["content-type"].startswith("application/json")
    error = assert_error(response, 429)
    assert error["type"] == "rate_limit_error"
    assert "general" in error["message"] and upstream.base_url in error["message"]
    assert response.headers["retry-after"] == "7"
    assert_path(upstream, chat_path)
    # and the SDK sees it as a rate limit with the provider's Retry-After
    upstream.script(Reply.error(429, headers={"Retry-After": "3"}))
    with pytest.raises(openai.RateLimitError) as info:
        answer = client(server, KEY).chat.completions.create(
            model="general", messages=USER, stream=stream
        )
        for _ in answer:
            pass
    assert info.value.response.headers["retry-after"] == "3"
    assert_path(upstream, chat_path)


@pytest.mark.parametrize("chat_path", PATHS)
def test_sdk_sees_rate_limit_and_server_errors(
    server, upstream: Upstream, chat_path: ChatPath
) -> None:
    upstream.script(Reply.error(429, headers={"Retry-After": "1"}), Reply.error(500))
    sdk = client(server, KEY)
    with pytest.raises(openai.RateLimitError):
        sdk.chat.completions.create(model="general", messages=USER)
    assert_path(upstream, chat_path)
    with pytest.raises(openai.APIStatusError) as info:
        sdk.chat.completions.create(model="general", messages=USER)
    assert info.value.status_code == 502
    assert_path(upstream, chat_path)


def test_no_provider_is_503_with_a_hint(tmp_path: Path) -> None:
    with running_server(tmp_path, agent_config(None), env={"OPENAI_COMPAT_API_KEYS": KEY}) as h:
        error = assert_error(post(h, json_body={"model": "general", "messages": USER}), 503)
    assert "OPENAI_BASE_URL" in error["message"]


@pytest.mark.parametrize("chat_path", PATHS)
def test_failure_mid_stream_ends_cleanly_with_a_sentence(
    server, upstream: Upstream, chat_path: ChatPath
) -> None:
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
    assert_path(upstream, chat_path)


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
