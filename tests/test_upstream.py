"""The loopback LLM stand-in, driven by the official openai client and raw httpx."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.openapi_validation import requires_spec, validate
from tests.upstream import Reply, Upstream

MESSAGES: list[Any] = [{"role": "user", "content": "Hi"}]
REPO_ROOT = Path(__file__).resolve().parent.parent


HTTP_IMPLS = [
    "h11",
    pytest.param(
        "httptools",
        marks=pytest.mark.skipif(not find_spec("httptools"), reason="httptools not installed"),
    ),
]


@pytest.fixture(scope="module", params=HTTP_IMPLS)
def http_impl(request: pytest.FixtureRequest) -> str:
    """uvicorn's HTTP implementation: both behave alike on disconnects and drops."""
    return request.param


@pytest.fixture(scope="module")
def server(http_impl: str) -> Iterator[Upstream]:
    with Upstream(http=http_impl) as upstream:
        yield upstream


@pytest.fixture
def up(server: Upstream) -> Upstream:
    server.clear()
    server.default = Reply.text("Hello from upstream")
    server.models = ["test-model"]
    return server


@pytest.fixture
def client(up: Upstream) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=up.base_url, api_key="x", max_retries=0) as sdk:
        yield sdk


def chat(up: Upstream, **body: Any) -> httpx.Response:
    """A raw chat completion request."""
    payload = {"model": "m1", "messages": MESSAGES, **body}
    return httpx.post(f"{up.base_url}/chat/completions", json=payload, timeout=10)


def sse_data(response: httpx.Response) -> list[str]:
    """The `data:` payloads of an SSE response, in order."""
    return [line[6:] for line in response.text.splitlines() if line.startswith("data: ")]


# Text


def test_text_non_streaming(up: Upstream, client: openai.OpenAI) -> None:
    up.script(Reply.text("Hello there", usage=(3, 2)))
    completion = client.chat.completions.create(model="llama3.2", messages=MESSAGES)
    body = completion.model_dump(exclude_unset=True)
    assert body == {
        "id": completion.id,
        "object": "chat.completion",
        "created": completion.created,
        "model": "llama3.2",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "Hello there",
                    "refusal": None,
                    "annotations": [],
                },
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
    }
    assert completion.id.startswith("chatcmpl-up-")


def test_text_streaming_word_by_word(up: Upstream) -> None:
    up.script(Reply.text("Hello there  world"))
    response = chat(up, stream=True)
    assert response.headers["content-type"].startswith("text/event-stream")
    data = sse_data(response)
    assert data[-1] == "[DONE]"
    chunks = [json.loads(item) for item in data[:-1]]
    assert {c["id"] for c in chunks} == {chunks[0]["id"]}
    assert all(c["object"] == "chat.completion.chunk" and c["model"] == "m1" for c in chunks)
    assert all("usage" not in c for c in chunks)
    assert [c["choices"][0]["delta"] for c in chunks] == [
        {"role": "assistant", "content": "Hello "},
        {"content": "there  "},
        {"content": "world"},
        {},
    ]
    assert [c["choices"][0]["finish_reason"] for c in chunks] == [None, None, None, "stop"]


def test_text_in_equal_chunks(up: Upstream) -> None:
    up.script(Reply.text("abcdefghij", chunks=3))
    deltas = [json.loads(d)["choices"][0]["delta"] for d in sse_data(chat(up, stream=True))[:-1]]
    assert [d.get("content") for d in deltas] == ["abcd", "efg", "hij", None]


def test_include_usage_sends_a_final_usage_chunk(up: Upstream, client: openai.OpenAI) -> None:
    up.script(Reply.text("one two", usage=(7, 2)))
    stream = client.chat.completions.create(
        model="m1", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    assert [c.usage for c in chunks[:-1]] == [None] * (len(chunks) - 1)
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.model_dump(exclude_unset=True) == {
        "prompt_tokens": 7,
        "completion_tokens": 2,
        "total_tokens": 9,
    }
    assert "".join(c.choices[0].delta.content or "" for c in chunks[:-1]) == "one two"


def test_deltas_are_streamed_exactly_with_delay(up: Upstream) -> None:
    up.script(Reply.deltas(["a", "", "b c"], delay=0.1))
    started = time.monotonic()
    data = sse_data(chat(up, stream=True))
    assert time.monotonic() - started >= 0.2
    contents = [json.loads(d)["choices"][0]["delta"].get("content") for d in data[:-1]]
    assert contents == ["a", "", "b c", None]


def test_deltas_non_streaming_are_joined(up: Upstream) -> None:
    up.script(Reply.deltas(["a", "b"]))
    assert chat(up).json()["choices"][0]["message"]["content"] == "ab"


def test_script_is_fifo_then_default(up: Upstream, client: openai.OpenAI) -> None:
    up.script(Reply.text("first"), Reply.text("second"))
    up.default = Reply.text("ok")
    answers = [
        client.chat.completions.create(model="m", messages=MESSAGES).choices[0].message.content
        for _ in range(4)
    ]
    assert answers == ["first", "second", "ok", "ok"]
    assert up.pending == 0


# Tool calls

TOOL_CALLS = [("get_weather", {"city": "Paris", "days": 2}), ("get_time", {})]


def test_tool_calls_non_streaming(up: Upstream, client: openai.OpenAI) -> None:
    up.script(Reply.tool_calls(TOOL_CALLS))
    choice = client.chat.completions.create(model="m", messages=MESSAGES).choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    calls = [c.model_dump(exclude_unset=True) for c in choice.message.tool_calls or []]
    assert calls == [
        {
            "id": "call_1",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city": "Paris", "days": 2}'},
        },
        {"id": "call_2", "type": "function", "function": {"name": "get_time", "arguments": "{}"}},
    ]


def test_tool_calls_streaming(up: Upstream, client: openai.OpenAI) -> None:
    up.script(Reply.tool_calls(TOOL_CALLS))
    with client.chat.completions.stream(model="m", messages=MESSAGES) as stream:
        for _ in stream:
            pass
        final = stream.get_final_completion()
    choice = final.choices[0]
    assert choice.finish_reason == "tool_calls"
    calls = choice.message.tool_calls or []
    assert [(c.id, c.function.name, json.loads(c.function.arguments)) for c in calls] == [
        ("call_1", "get_weather", {"city": "Paris", "days": 2}),
        ("call_2", "get_time", {}),
    ]


def test_tool_call_arguments_are_split_across_deltas(up: Upstream) -> None:
    up.script(Reply.tool_calls([("lookup", {"query": "weather in Paris"}, "call_x")]))
    chunks = [json.loads(d) for d in sse_data(chat(up, stream=True))[:-1]]
    calls = [c["choices"][0]["delta"]["tool_calls"][0] for c in chunks[1:-1]]
    assert calls[0] == {
        "index": 0,
        "id": "call_x",
        "type": "function",
        "function": {"name": "lookup", "arguments": ""},
    }
    pieces = [call["function"]["arguments"] for call in calls[1:]]
    assert len(pieces) == 3
    assert "".join(pieces) == '{"query": "weather in Paris"}'


# Errors and broken answers


def test_rate_limit_error_with_retry_after(up: Upstream, client: openai.OpenAI) -> None:
    up.script(Reply.error(429, headers={"Retry-After": "7"}))
    with pytest.raises(openai.RateLimitError) as failure:
        client.chat.completions.create(model="m", messages=MESSAGES)
    assert failure.value.status_code == 429
    assert failure.value.response.headers["retry-after"] == "7"
    assert failure.value.body == {
        "message": "Upstream error 429 Too Many Requests",
        "type": "rate_limit_error",
        "param": None,
        "code": None,
    }


def test_auth_and_server_errors(up: Upstream, client: openai.OpenAI) -> None:
    up.script(Reply.error(401, "Incorrect API key"), Reply.error(500))
    with pytest.raises(openai.AuthenticationError, match="Incorrect API key"):
        client.chat.completions.create(model="m", messages=MESSAGES)
    with pytest.raises(openai.InternalServerError) as failure:
        client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
    assert failure.value.status_code == 500


def test_error_with_raw_body(up: Upstream) -> None:
    up.script(Reply.error(502, body="<html>Bad Gateway</html>"))
    response = chat(up)
    assert response.status_code == 502
    assert response.text == "<html>Bad Gateway</html>"


def test_garbage(up: Upstream) -> None:
    up.script(Reply.garbage(), Reply.garbage())
    response = chat(up)
    assert response.status_code == 200
    with pytest.raises(ValueError):
        response.json()
    data = sse_data(chat(up, stream=True))
    with pytest.raises(ValueError):
        json.loads(data[0])


def test_broken_stream_ends_without_done(up: Upstream) -> None:
    up.script(Reply.broken_stream(["partial ", "answer"]))
    lines = []
    payload = {"model": "m", "messages": MESSAGES, "stream": True}
    with (
        pytest.raises(httpx.RemoteProtocolError),
        httpx.stream("POST", f"{up.base_url}/chat/completions", json=payload) as response,
    ):
        lines.extend(line for line in response.iter_lines() if line)
    deltas = [json.loads(line[6:])["choices"][0] for line in lines]
    assert [d["delta"].get("content") for d in deltas] == ["partial ", "answer"]
    assert all(d["finish_reason"] is None for d in deltas)
    assert "data: [DONE]" not in lines


def test_broken_non_streaming_answer_is_truncated(up: Upstream) -> None:
    up.script(Reply.broken_stream(["never whole"]))
    with pytest.raises(httpx.RemoteProtocolError):
        chat(up)


def test_client_timeout_on_hang(up: Upstream) -> None:
    up.script(Reply.hang(5))
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{up.base_url}/chat/completions", json={"model": "m"}, timeout=0.3)
    assert up.wait_until(lambda: up.requests[-1].finished_at is not None)
    assert up.requests[-1].disconnected
    assert up.cancelled == 0  # not a stream


def test_hang_then_answers(up: Upstream) -> None:
    up.script(Reply.hang(0.2, then=Reply.text("late")))
    started = time.monotonic()
    assert chat(up).json()["choices"][0]["message"]["content"] == "late"
    assert time.monotonic() - started >= 0.2


def test_stop_is_prompt_while_hanging_and_streaming(http_impl: str) -> None:
    upstream = Upstream(http=http_impl).start()
    upstream.script(Reply.hang(30), Reply.deltas(["a"] * 100, delay=0.3))
    results: list[Any] = []

    def call(stream: bool) -> None:
        try:
            results.append(chat(upstream, stream=stream).status_code)
        except httpx.HTTPError as error:
            results.append(type(error))

    threads = [threading.Thread(target=call, args=(flag,)) for flag in (False, True)]
    try:
        for count, thread in enumerate(threads, start=1):
            thread.start()  # one at a time, so that each takes the scripted reply meant for it
            assert upstream.wait_until(lambda c=count: len(upstream.chat_requests) == c)
        assert upstream.wait_until(lambda: upstream.active_streams == 1)
        started = time.monotonic()
        upstream.stop()
        assert time.monotonic() - started < 2
    finally:
        upstream.stop()
    for thread in threads:
        thread.join(5)
        assert not thread.is_alive()
    assert 503 in results and httpx.RemoteProtocolError in results
    assert upstream.active_streams == 0


# Records and disconnects


def test_requests_are_recorded_in_order(up: Upstream, client: openai.OpenAI) -> None:
    client.models.list()
    client.chat.completions.create(model="m1", messages=MESSAGES, temperature=0.5)
    first, second = up.requests
    assert (first.method, first.path, first.body, first.raw) == ("GET", "/v1/models", None, b"")
    assert (second.method, second.path) == ("POST", "/v1/chat/completions")
    assert second.body == {"model": "m1", "messages": MESSAGES, "temperature": 0.5}
    assert json.loads(second.raw) == second.body
    assert second.headers["authorization"] == "Bearer x"
    assert second.headers["content-type"] == "application/json"
    assert second.reply == Reply.text("Hello from upstream")
    assert second.finished_at is not None and second.started_at <= second.finished_at
    assert not second.disconnected
    assert up.chat_requests == [second]
    up.clear()
    assert up.requests == [] and up.chat_requests == []


def test_client_disconnect_mid_stream_is_counted(up: Upstream) -> None:
    up.script(Reply.deltas(["a", "b", "c", "d"], delay=0.5))
    payload = {"model": "m", "messages": MESSAGES, "stream": True}
    with httpx.stream("POST", f"{up.base_url}/chat/completions", json=payload) as response:
        lines = response.iter_lines()  # keep it: a dropped generator closes the connection
        first = next(lines)
        time.sleep(0.1)
        assert (up.active_streams, up.cancelled) == (1, 0)
    assert json.loads(first[6:])["choices"][0]["delta"]["content"] == "a"
    assert up.wait_until(lambda: up.cancelled == 1)
    assert up.active_streams == 0
    record = up.chat_requests[0]
    assert record.disconnected
    assert record.finished_at is not None and record.finished_at - record.started_at < 1.0


def test_finished_stream_is_not_cancelled(up: Upstream) -> None:
    chat(up, stream=True)
    assert up.wait_until(lambda: up.chat_requests[0].finished_at is not None)
    assert up.cancelled == 0 and up.active_streams == 0


# Other routes


def test_models(up: Upstream, client: openai.OpenAI) -> None:
    up.models = ["llama3.2", "qwen3"]
    assert [m.id for m in client.models.list()] == ["llama3.2", "qwen3"]
    assert httpx.get(f"{up.base_url}/models").json() == {
        "object": "list",
        "data": [
            {"id": "llama3.2", "object": "model", "created": 0, "owned_by": "upstream"},
            {"id": "qwen3", "object": "model", "created": 0, "owned_by": "upstream"},
        ],
    }


def test_embeddings_are_deterministic(up: Upstream, client: openai.OpenAI) -> None:
    sdk = client.embeddings.create(model="e", input=["alpha", "beta"])  # base64 on the wire
    raw = httpx.post(f"{up.base_url}/embeddings", json={"model": "e", "input": ["alpha", "beta"]})
    floats = [item["embedding"] for item in raw.json()["data"]]
    assert len(floats) == 2 and all(len(vector) == 8 for vector in floats)
    assert floats[0] != floats[1]
    assert [pytest.approx(item.embedding, abs=1e-6) for item in sdk.data] == floats
    assert raw.json()["usage"] == {"prompt_tokens": 2, "total_tokens": 2}


def test_unknown_path_is_an_openai_404(up: Upstream) -> None:
    response = httpx.post(f"{up.base_url}/completions", json={})
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "not_found_error"
    assert [r.path for r in up.requests] == ["/v1/completions"]


@requires_spec
def test_stand_in_speaks_the_openai_spec(up: Upstream) -> None:
    up.script(Reply.text("Hi there"), Reply.tool_calls(TOOL_CALLS), Reply.text("a b"))
    validate("CreateChatCompletionResponse", chat(up).json())
    validate("CreateChatCompletionResponse", chat(up).json())
    options = {"include_usage": True}
    for data in sse_data(chat(up, stream=True, stream_options=options))[:-1]:
        validate("CreateChatCompletionStreamResponse", json.loads(data))
    validate("ListModelsResponse", httpx.get(f"{up.base_url}/models").json())
    validate("ErrorResponse", httpx.get(f"{up.base_url}/nowhere").json())
    embeddings = httpx.post(f"{up.base_url}/embeddings", json={"model": "e", "input": "x"})
    validate("CreateEmbeddingResponse", embeddings.json())


def test_runs_as_a_standalone_process() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.upstream", "--port", "0", "--text", "from afar"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        assert line.startswith("upstream listening http://127.0.0.1:")
        base_url = line.split()[-1]
        answer = httpx.post(f"{base_url}/chat/completions", json={"model": "m"}, timeout=5)
        assert answer.json()["choices"][0]["message"]["content"] == "from afar"
    finally:
        process.terminate()
        assert process.wait(10) == 0
