"""``POST /v1/chat/completions``: answers, streams, usage, tools, through real HTTP."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.chat_paths import PATHS, TOOLS, ChatPath, agent_spec, assert_path
from tests.harness import agent_config, client, http, running_server
from tests.openapi_validation import requires_spec, spec_available, validate
from tests.upstream import Reply, Upstream

KEY = "sk-test-chat"
AUTH = {"Authorization": f"Bearer {KEY}"}
AGENT = {"display_name": "GeneralAgent", "role": "Helper", "instructions": ["Be concise."]}
TOOLS_AGENT = {**AGENT, "tools": TOOLS}


@pytest.fixture
def chat_path() -> ChatPath:
    """The path of ``general`` in tests not parametrised over both: the agent one (tools)."""
    return "agent"


@pytest.fixture
def server(tmp_path: Path, upstream: Upstream, chat_path: ChatPath):
    config = agent_config(
        upstream.base_url,
        general=agent_spec(chat_path, **AGENT),
        quiet={**TOOLS_AGENT, "show_tool_calls": False},
    )
    with running_server(tmp_path, config, env={"OPENAI_COMPAT_API_KEYS": KEY}) as handle:
        yield handle


def sse_events(response: httpx.Response) -> list[str]:
    return [line[6:] for line in response.iter_lines() if line.startswith("data: ")]


@pytest.mark.parametrize("chat_path", PATHS)
def test_non_streaming_answer_has_the_documented_shape(
    server, upstream: Upstream, chat_path: ChatPath
) -> None:
    upstream.script(Reply.text("Hello there", usage=(12, 3)))
    with http(server) as h:
        response = h.post(
            "/v1/chat/completions",
            headers=AUTH,
            json={"model": "general", "messages": [{"role": "user", "content": "Hi"}]},
        )
    assert response.status_code == 200
    body = response.json()
    assert body["id"].startswith("chatcmpl-")
    assert isinstance(body["created"], int)
    assert body == {
        "id": body["id"],
        "object": "chat.completion",
        "created": body["created"],
        "model": "general",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hello there", "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15},
    }
    if spec_available():
        validate("CreateChatCompletionResponse", body)
    assert_path(upstream, chat_path)


@pytest.mark.parametrize("chat_path", PATHS)
def test_the_agent_instructions_and_prompt_reach_the_provider(
    server, upstream: Upstream, chat_path: ChatPath
) -> None:
    client(server, KEY).chat.completions.create(
        model="general",
        messages=[
            {"role": "system", "content": "Reply in French."},
            {"role": "user", "content": "Hi"},
        ],
    )
    sent = upstream.chat_requests[0].body
    assert sent["model"] == "test-model"
    texts = [m["content"] for m in sent["messages"]]
    assert any("Be concise." in t for t in texts if isinstance(t, str))
    assert any("GeneralAgent" in t for t in texts if isinstance(t, str))
    assert sent["messages"][-1] == {"role": "user", "content": "Reply in French.\n\nHi"}
    assert_path(upstream, chat_path)


@pytest.mark.parametrize("chat_path", PATHS)
def test_streaming_sequence_is_role_content_finish_done(
    server, upstream: Upstream, chat_path: ChatPath
) -> None:
    upstream.script(Reply.deltas(["Hel", "lo", "!"]))
    with (
        http(server) as h,
        h.stream(
            "POST",
            "/v1/chat/completions",
            headers=AUTH,
            json={
                "model": "general",
                "stream": True,
                "messages": [{"role": "user", "content": "Hi"}],
            },
        ) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = sse_events(response)
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert len({(c["id"], c["created"], c["model"]) for c in chunks}) == 1
    assert chunks[0]["model"] == "general"
    assert [c["choices"][0]["delta"] for c in chunks] == [
        {"role": "assistant", "content": ""},
        {"content": "Hel"},
        {"content": "lo"},
        {"content": "!"},
        {},
    ]
    assert [c["choices"][0]["finish_reason"] for c in chunks] == [None] * 4 + ["stop"]
    assert all("usage" not in c for c in chunks)
    if spec_available():
        for chunk in chunks:
            validate("CreateChatCompletionStreamResponse", chunk)
    assert_path(upstream, chat_path)


@requires_spec
@pytest.mark.parametrize("chat_path", PATHS)
def test_include_usage_sends_a_final_usage_chunk(
    server, upstream: Upstream, chat_path: ChatPath
) -> None:
    upstream.script(Reply.deltas(["a", "b"], usage=(7, 2)))
    with (
        http(server) as h,
        h.stream(
            "POST",
            "/v1/chat/completions",
            headers=AUTH,
            json={
                "model": "general",
                "stream": True,
                "stream_options": {"include_usage": True},
                "messages": [{"role": "user", "content": "Hi"}],
            },
        ) as response,
    ):
        events = sse_events(response)
    chunks = [json.loads(e) for e in events[:-1]]
    assert all(c["usage"] is None for c in chunks[:-1])
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"] == {"prompt_tokens": 7, "completion_tokens": 2, "total_tokens": 9}
    for chunk in chunks:
        validate("CreateChatCompletionStreamResponse", chunk)
    assert_path(upstream, chat_path)


@pytest.mark.parametrize("chat_path", PATHS)
def test_sdk_streams_without_an_accept_header_requirement(
    server, upstream: Upstream, chat_path: ChatPath
) -> None:
    upstream.script(Reply.deltas(["one ", "two"]))
    stream = client(server, KEY).chat.completions.create(
        model="general", stream=True, messages=[{"role": "user", "content": "count"}]
    )
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == "one two"
    assert_path(upstream, chat_path)


def test_tool_calls_run_and_appear_as_tags_with_usage_summed(server, upstream: Upstream) -> None:
    upstream.script(
        Reply.tool_calls([("calculator", {"expression": "6*7"})], usage=(20, 5)),
        Reply.text("It is 42.", usage=(30, 4)),
    )
    answer = client(server, KEY).chat.completions.create(
        model="general", messages=[{"role": "user", "content": "6*7?"}]
    )
    assert answer.choices[0].message.content == (
        '<tool id="1" state="start">calculator(expression=6*7)</tool>'
        '<tool id="1" state="done">calculator(expression=6*7)\n42</tool>'
        "It is 42."
    )
    assert (answer.usage.prompt_tokens, answer.usage.completion_tokens) == (50, 9)
    second = upstream.chat_requests[1].body["messages"]
    assert second[-1]["role"] == "tool" and second[-1]["content"] == "42"


def test_tool_tags_stream_in_order(server, upstream: Upstream) -> None:
    upstream.script(
        Reply.tool_calls([("calculator", {"expression": "2+2"}), ("current_time", {})]),
        Reply.deltas(["Done"]),
    )
    stream = client(server, KEY).chat.completions.create(
        model="general", stream=True, messages=[{"role": "user", "content": "go"}]
    )
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text.startswith(
        '<tool id="1" state="start">calculator(expression=2+2)</tool>'
        '<tool id="2" state="start">current_time()</tool>'
    )
    assert '<tool id="1" state="done">calculator(expression=2+2)\n4</tool>' in text
    assert '<tool id="2" state="done">current_time()\n' in text
    assert text.endswith("Done")


def test_show_tool_calls_false_hides_tool_events(server, upstream: Upstream) -> None:
    upstream.script(Reply.tool_calls([("calculator", {"expression": "1+1"})]), Reply.text("2"))
    answer = client(server, KEY).chat.completions.create(
        model="quiet", messages=[{"role": "user", "content": "1+1"}]
    )
    assert answer.choices[0].message.content == "2"
    assert answer.model == "quiet"


def test_ignored_parameters_are_not_forwarded(server, upstream: Upstream) -> None:
    """Sampling settings stay the agent's; the client's own tools are offered beside the
    agent's (``client_tools``, on by default: Open WebUI's native mode sends these)."""
    openwebui_tools = [
        {
            "type": "function",
            "function": {
                "name": f"tool_{i}",
                "description": "x",
                "parameters": {"type": "object", "properties": {}},
            },
        }
        for i in range(28)
    ]
    with http(server) as h:
        response = h.post(
            "/v1/chat/completions",
            headers=AUTH,
            json={
                "model": "general",
                "messages": [{"role": "user", "content": "Hi"}],
                "temperature": 0.1,
                "top_p": 0.5,
                "max_tokens": 5,
                "max_completion_tokens": 5,
                "n": 1,
                "stop": ["x"],
                "frequency_penalty": 1,
                "presence_penalty": 1,
                "seed": 1,
                "response_format": {"type": "json_object"},
                "logprobs": True,
                "logit_bias": {"1": 2},
                "tools": openwebui_tools,
                "tool_choice": "auto",
                "user": "someone",
                "parallel_tool_calls": False,
                "some_future_field": {"a": 1},
            },
        )
    assert response.status_code == 200, response.text
    sent = upstream.chat_requests[0].body
    for name in (
        "temperature",
        "top_p",
        "max_tokens",
        "stop",
        "seed",
        "response_format",
        "logit_bias",
        "user",
        "some_future_field",
    ):
        assert name not in sent
    client_names = {f"tool_{i}" for i in range(28)}
    names = {t["function"]["name"] for t in sent["tools"]}
    assert names == {"calculator", "current_time"} | client_names
    assert sent["parallel_tool_calls"] is False


def test_auto_runs_the_first_listed_agent(server, upstream: Upstream) -> None:
    answer = client(server, KEY).chat.completions.create(
        model="auto", messages=[{"role": "user", "content": "Hi"}]
    )
    assert answer.model == "general"
