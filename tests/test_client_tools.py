"""Client tools: a request's own ``tools`` called natively, the turn resumed with the results."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.harness import agent_config, client, http, running_server
from tests.openapi_validation import validate
from tests.upstream import Reply, Upstream

KEY = "sk-client-tools"
ENV = {"OPENAI_COMPAT_API_KEYS": KEY}
AUTH = {"Authorization": f"Bearer {KEY}"}
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
ASK = {"role": "user", "content": "Weather in Paris?"}


def config(upstream: Upstream, **general: object) -> dict[str, object]:
    return agent_config(
        upstream.base_url,
        general={"display_name": "GeneralAgent", **general},
        calc={"display_name": "Calc", "tools": ["calculator"]},
    )


def offered(request_body: dict) -> set[str]:
    return {t["function"]["name"] for t in request_body.get("tools", [])}


def post(handle, body: dict, **headers: str) -> httpx.Response:
    with http(handle) as h:
        return h.post("/v1/chat/completions", json=body, headers={**AUTH, **headers})


def paused_call(call_id: str = "call_w") -> dict:
    return {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": call_id,
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
            }
        ],
    }


def test_a_client_tool_call_ends_the_turn_and_the_results_resume_it(
    tmp_path: Path, upstream: Upstream
) -> None:
    upstream.script(
        Reply.tool_calls([("get_weather", {"city": "Paris"}, "call_w")]),
        Reply.text("Sunny, 21 degrees."),
        Reply.text("You asked about Paris."),
    )
    with running_server(tmp_path, config(upstream), env=ENV) as handle:
        sdk = client(handle, KEY, **{"X-Session-Id": "trip"})
        first = sdk.chat.completions.create(model="general", messages=[ASK], tools=[WEATHER])
        choice = first.choices[0]
        assert choice.finish_reason == "tool_calls"
        assert choice.message.content is None
        (call,) = choice.message.tool_calls
        assert (call.id, call.type, call.function.name) == ("call_w", "function", "get_weather")
        assert json.loads(call.function.arguments) == {"city": "Paris"}
        validate("CreateChatCompletionResponse", first.model_dump(exclude_unset=True))

        result = {"role": "tool", "tool_call_id": "call_w", "content": "sunny, 21C"}
        second = sdk.chat.completions.create(
            model="general", messages=[ASK, paused_call(), result], tools=[WEATHER]
        )
        assert second.choices[0].finish_reason == "stop"
        assert second.choices[0].message.content == "Sunny, 21 degrees."

        later = {"role": "user", "content": "Which city was it?"}
        sdk.chat.completions.create(model="general", messages=[later], tools=[WEATHER])

    first_req, resumed, third = (r.body for r in upstream.chat_requests)
    assert offered(first_req) == {"get_weather"}
    assert resumed["messages"][-2]["tool_calls"][0]["id"] == "call_w"
    assert resumed["messages"][-1] == {
        "role": "tool",
        "tool_call_id": "call_w",
        "content": "sunny, 21C",
    }
    # The session stored the whole turn once, when it completed: prompt, call, result, answer.
    roles = [m["role"] for m in third["messages"]]
    assert roles == ["system", "user", "assistant", "tool", "assistant", "user"]
    assert third["messages"][4]["content"] == "Sunny, 21 degrees."


def test_the_stream_carries_tool_call_deltas_then_finish_usage_and_done(
    tmp_path: Path, upstream: Upstream
) -> None:
    upstream.script(Reply.tool_calls([("get_weather", {"city": "Paris"}, "call_s")]))
    body = {
        "model": "general",
        "messages": [ASK],
        "tools": [WEATHER],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    with (
        running_server(tmp_path, config(upstream), env=ENV) as handle,
        http(handle) as h,
        h.stream("POST", "/v1/chat/completions", json=body, headers=AUTH) as r,
    ):
        assert r.status_code == 200
        data = [line[6:] for line in r.iter_lines() if line.startswith("data: ")]
    assert data[-1] == "[DONE]"
    chunks = [json.loads(d) for d in data[:-1]]
    for chunk in chunks:
        validate("CreateChatCompletionStreamResponse", chunk)
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    calls = [d["tool_calls"][0] for d in deltas if "tool_calls" in d]
    assert calls[0] == {
        "index": 0,
        "id": "call_s",
        "type": "function",
        "function": {"name": "get_weather", "arguments": ""},
    }
    assert json.loads("".join(c["function"]["arguments"] for c in calls)) == {"city": "Paris"}
    finishes = [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]]
    assert finishes[-1] == "tool_calls" and set(finishes[:-1]) == {None}
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["total_tokens"] == 15


def test_the_agents_own_tools_run_beside_and_their_results_survive_the_pause(
    tmp_path: Path, upstream: Upstream
) -> None:
    """One model response calls the agent's calculator and the client's tool: the calculator
    runs inside Traymind (its tag in the content), the client gets the other call, and the
    resumed run gives the model both results."""
    upstream.script(
        Reply.tool_calls(
            [
                ("calculator", {"expression": "6*7"}, "call_c"),
                ("get_weather", {"city": "Paris"}, "call_w"),
            ]
        ),
        Reply.text("42, and sunny."),
    )
    with running_server(tmp_path, config(upstream), env=ENV) as handle:
        first = post(handle, {"model": "calc", "messages": [ASK], "tools": [WEATHER]}).json()
        message = first["choices"][0]["message"]
        assert (
            '<tool id="1" state="done">calculator(expression=6*7)\n42</tool>' in message["content"]
        )
        assert [c["id"] for c in message["tool_calls"]] == ["call_w"]
        result = {"role": "tool", "tool_call_id": "call_w", "content": "sunny"}
        resumed_body = {"model": "calc", "messages": [ASK, message, result], "tools": [WEATHER]}
        second = post(handle, resumed_body).json()
    assert second["choices"][0]["message"]["content"] == "42, and sunny."
    sent = upstream.chat_requests[-1].body["messages"]
    tool_results = {m["tool_call_id"]: m["content"] for m in sent if m["role"] == "tool"}
    assert tool_results == {"call_c": "42", "call_w": "sunny"}
    assert offered(upstream.chat_requests[0].body) == {"calculator", "get_weather"}


def test_a_paused_turn_resumes_after_a_restart_from_what_the_client_sent(
    tmp_path: Path, upstream: Upstream
) -> None:
    upstream.script(
        Reply.tool_calls([("get_weather", {"city": "Paris"}, "call_r")]), Reply.text("Sunny.")
    )
    data = tmp_path / "data"
    with running_server(tmp_path, config(upstream), env=ENV, data_dir=data) as handle:
        post(handle, {"model": "general", "messages": [ASK], "tools": [WEATHER]})
    result = {"role": "tool", "tool_call_id": "call_r", "content": "sunny"}
    body = {
        "model": "general",
        "messages": [ASK, paused_call("call_r"), result],
        "tools": [WEATHER],
    }
    with running_server(tmp_path, config(upstream), env=ENV, data_dir=data) as handle:
        answer = post(handle, body).json()
    assert answer["choices"][0]["message"]["content"] == "Sunny."
    sent = upstream.chat_requests[-1].body["messages"]
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "tool"]
    assert sent[-1] == {"role": "tool", "tool_call_id": "call_r", "content": "sunny"}


@pytest.mark.parametrize(
    ("tool_choice", "sent_choice", "names"),
    [
        ("auto", "auto", {"calculator", "get_weather"}),
        ("required", "required", {"calculator", "get_weather"}),
        (
            {"type": "function", "function": {"name": "get_weather"}},
            {"type": "function", "function": {"name": "get_weather"}},
            {"calculator", "get_weather"},
        ),
        ("none", "auto", {"calculator"}),
    ],
    ids=["auto", "required", "named", "none"],
)
def test_tool_choice_reaches_the_provider(
    tmp_path: Path, upstream: Upstream, tool_choice, sent_choice, names
) -> None:
    """On an agent with its own calculator: tool_choice governs the first model call."""
    upstream.script(Reply.tool_calls([("calculator", {"expression": "1+1"})]), Reply.text("2"))
    body = {"model": "calc", "messages": [ASK], "tools": [WEATHER], "tool_choice": tool_choice}
    with running_server(tmp_path, config(upstream), env=ENV) as handle:
        response = post(handle, body)
    assert response.status_code == 200
    first, after_the_tool = (r.body for r in upstream.chat_requests)
    assert offered(first) == names
    assert first.get("tool_choice", "auto") == sent_choice
    # Forcing lasts one step, or the agent could never answer after its own tool ran.
    assert after_the_tool.get("tool_choice", "auto") == "auto"


def test_parallel_tool_calls_false_reaches_the_provider(tmp_path: Path, upstream: Upstream) -> None:
    upstream.script(Reply.text("ok"))
    body = {"model": "general", "messages": [ASK], "tools": [WEATHER], "parallel_tool_calls": False}
    with running_server(tmp_path, config(upstream), env=ENV) as handle:
        assert post(handle, body).status_code == 200
    assert upstream.chat_requests[-1].body["parallel_tool_calls"] is False


def test_a_client_tool_named_like_an_agent_tool_is_a_400_naming_both(
    tmp_path: Path, upstream: Upstream
) -> None:
    clash = {"type": "function", "function": {"name": "calculator", "parameters": {}}}
    with running_server(tmp_path, config(upstream), env=ENV) as handle:
        response = post(handle, {"model": "calc", "messages": [ASK], "tools": [clash]})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["param"] == "tools" and error["type"] == "invalid_request_error"
    assert "client tool 'calculator'" in error["message"]
    assert "agent's own tool 'calculator'" in error["message"]
    assert upstream.chat_requests == []


@pytest.mark.parametrize(
    ("body_part", "param"),
    [
        ({"tools": {"get_weather": {}}}, "tools"),
        ({"tools": [{"type": "web_search"}]}, "tools[0]"),
        (
            {"tools": [{"type": "function", "function": {"name": "bad name!"}}]},
            "tools[0].function.name",
        ),
        ({"tools": [WEATHER, WEATHER]}, "tools[1].function.name"),
        ({"tools": [WEATHER], "tool_choice": "always"}, "tool_choice"),
        (
            {"tools": [WEATHER], "tool_choice": {"type": "function", "function": {"name": "x"}}},
            "tool_choice",
        ),
        ({"tools": [WEATHER], "parallel_tool_calls": "yes"}, "parallel_tool_calls"),
        ({"tool_choice": "required"}, "tool_choice"),
    ],
    ids=[
        "not-array",
        "not-function",
        "bad-name",
        "twice",
        "bad-choice",
        "unknown-named",
        "parallel",
        "required-no-tools",
    ],
)
def test_malformed_client_tools_are_400_with_their_param(
    tmp_path: Path, upstream: Upstream, body_part: dict, param: str
) -> None:
    with running_server(tmp_path, config(upstream), env=ENV) as handle:
        response = post(handle, {"model": "general", "messages": [ASK], **body_part})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == param
    assert upstream.chat_requests == []


def test_a_result_for_an_unknown_call_is_a_400(tmp_path: Path, upstream: Upstream) -> None:
    stray = {"role": "tool", "tool_call_id": "call_other", "content": "x"}
    with running_server(tmp_path, config(upstream), env=ENV) as handle:
        body = {"model": "general", "messages": [ASK, paused_call(), stray], "tools": [WEATHER]}
        response = post(handle, body)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "messages[2].tool_call_id"


def test_client_tools_false_ignores_the_requests_tools(tmp_path: Path, upstream: Upstream) -> None:
    upstream.script(Reply.text("plain"))
    with running_server(tmp_path, config(upstream, client_tools=False), env=ENV) as handle:
        body = {"model": "general", "messages": [ASK], "tools": [WEATHER]}
        answer = post(handle, body).json()
    assert answer["choices"][0]["message"]["content"] == "plain"
    assert "tools" not in upstream.chat_requests[-1].body  # the direct path, as before
