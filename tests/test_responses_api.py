"""The OpenAI Responses API (``/v1/responses``), with the official ``openai`` SDK and raw httpx.

Every response object and stream event is validated against the official OpenAPI spec
(``Response``, ``ResponseStreamEvent``).
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import httpx
import openai
import pytest

from tests.harness import agent_config, client, http, running_server
from tests.openapi_validation import validate
from tests.upstream import Reply, Upstream

KEY = "sk-responses"
ENV = {"OPENAI_COMPAT_API_KEYS": KEY}
AUTH = {"Authorization": f"Bearer {KEY}"}
WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city.",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}


def config(upstream: Upstream) -> dict[str, object]:
    built = agent_config(
        upstream.base_url,
        general={"display_name": "GeneralAgent"},
        calc={"display_name": "Calc", "tools": ["calculator"]},
    )
    built["models"]["default"]["vision"] = True  # type: ignore[index]
    return built


def post(handle, body: dict) -> httpx.Response:
    with http(handle) as h:
        return h.post("/v1/responses", json=body, headers=AUTH)


EVENT_SCHEMAS = {
    "response.created": "ResponseCreatedEvent",
    "response.in_progress": "ResponseInProgressEvent",
    "response.output_item.added": "ResponseOutputItemAddedEvent",
    "response.content_part.added": "ResponseContentPartAddedEvent",
    "response.output_text.delta": "ResponseTextDeltaEvent",
    "response.output_text.done": "ResponseTextDoneEvent",
    "response.content_part.done": "ResponseContentPartDoneEvent",
    "response.output_item.done": "ResponseOutputItemDoneEvent",
    "response.function_call_arguments.delta": "ResponseFunctionCallArgumentsDeltaEvent",
    "response.function_call_arguments.done": "ResponseFunctionCallArgumentsDoneEvent",
    "response.completed": "ResponseCompletedEvent",
    "response.failed": "ResponseFailedEvent",
}


def sse_events(text: str) -> list[dict]:
    """Every event's data, checked against the spec and its ``event:`` line."""
    events = []
    for frame in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in frame.splitlines())
        data = json.loads(lines["data"])
        assert data["type"] == lines["event"]
        validate(EVENT_SCHEMAS[data["type"]], data)  # the union's errors name every branch
        events.append(data)
    return events


@pytest.mark.parametrize("agent", ["general", "calc"])
def test_a_response_answers_in_the_spec_shape(
    tmp_path: Path, upstream: Upstream, agent: str
) -> None:
    upstream.script(Reply.text("Bonjour, Ada."), Reply.text("Hi."))
    with running_server(tmp_path, config(upstream), env=ENV) as handle:
        answer = client(handle, KEY).responses.create(
            model=agent, instructions="Answer in French.", input="Say hello to Ada."
        )
        raw = post(handle, {"model": agent, "input": "Hi", "store": False})
    assert answer.object == "response" and answer.status == "completed"
    assert answer.id.startswith("resp_") and answer.model == agent
    assert answer.output_text == "Bonjour, Ada."
    assert answer.usage is not None and answer.usage.total_tokens > 0
    assert answer.instructions == "Answer in French."
    sent = json.dumps(upstream.chat_requests[0].body["messages"])
    assert "Answer in French." in sent and "Say hello to Ada." in sent
    assert raw.status_code == 200
    validate("Response", raw.json())
    assert raw.json()["output"][0]["content"][0]["text"] == "Hi."


def test_a_stream_is_numbered_events_ending_in_completed(
    tmp_path: Path, upstream: Upstream
) -> None:
    upstream.script(Reply.text("One two three."), Reply.text("Four five."))
    with running_server(tmp_path, config(upstream), env=ENV) as handle:
        stream = client(handle, KEY).responses.create(model="general", input="Count", stream=True)
        typed = list(stream)
        raw = post(handle, {"model": "general", "input": "More", "stream": True})
    deltas = [e.delta for e in typed if e.type == "response.output_text.delta"]
    assert "".join(deltas) == "One two three."
    assert typed[-1].type == "response.completed"
    assert typed[-1].response.output_text == "One two three."
    assert raw.headers["content-type"].startswith("text/event-stream")
    events = sse_events(raw.text)
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    kinds = [e["type"] for e in events]
    assert kinds[:4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    assert kinds[-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert events[-4]["text"] == "Four five."
    validate("Response", events[-1]["response"])


def test_previous_response_id_continues_the_stored_conversation(
    tmp_path: Path, upstream: Upstream
) -> None:
    upstream.script(Reply.text("Nice to meet you, Ada."), Reply.text("Your name is Ada."))
    with running_server(tmp_path, config(upstream), env=ENV) as handle:
        sdk = client(handle, KEY)
        first = sdk.responses.create(model="general", input="My name is Ada.")
        second = sdk.responses.create(
            model="general", input="What is my name?", previous_response_id=first.id
        )
        fetched = sdk.responses.retrieve(first.id)
        with pytest.raises(openai.NotFoundError) as unknown:
            sdk.responses.create(model="general", input="Hi", previous_response_id="resp_nope")
    assert second.output_text == "Your name is Ada."
    history = json.dumps(upstream.chat_requests[1].body["messages"])
    assert "My name is Ada." in history and "Nice to meet you, Ada." in history
    assert fetched.id == first.id and fetched.output_text == "Nice to meet you, Ada."
    assert unknown.value.body["param"] == "previous_response_id"
    assert len(upstream.chat_requests) == 2


def test_a_response_id_is_private_to_its_key(tmp_path: Path, upstream: Upstream) -> None:
    upstream.script(Reply.text("Secret."))
    env = {"OPENAI_COMPAT_API_KEYS": f"{KEY},sk-other"}
    with running_server(tmp_path, config(upstream), env=env) as handle:
        first = client(handle, KEY).responses.create(model="general", input="Hi")
        with pytest.raises(openai.NotFoundError):
            client(handle, "sk-other").responses.retrieve(first.id)
        with pytest.raises(openai.NotFoundError):
            client(handle, "sk-other").responses.create(
                model="general", input="Hi", previous_response_id=first.id
            )


@pytest.mark.parametrize("stream", [False, True])
def test_a_client_function_call_is_an_output_item_and_its_output_resumes_the_run(
    tmp_path: Path, upstream: Upstream, stream: bool
) -> None:
    upstream.script(
        Reply.tool_calls([("get_weather", {"city": "Paris"}, "call_w")]),
        Reply.text("Sunny, 21 degrees."),
    )
    with running_server(tmp_path, config(upstream), env=ENV) as handle:
        sdk = client(handle, KEY)
        if stream:
            events = list(
                sdk.responses.create(
                    model="general", input="Weather in Paris?", tools=[WEATHER], stream=True
                )
            )
            kinds = [e.type for e in events]
            assert "response.function_call_arguments.done" in kinds
            first = events[-1].response
        else:
            first = sdk.responses.create(
                model="general", input="Weather in Paris?", tools=[WEATHER]
            )
        (call,) = [item for item in first.output if item.type == "function_call"]
        assert (call.call_id, call.name, json.loads(call.arguments)) == (
            "call_w",
            "get_weather",
            {"city": "Paris"},
        )
        second = sdk.responses.create(
            model="general",
            previous_response_id=first.id,
            tools=[WEATHER],
            input=[{"type": "function_call_output", "call_id": "call_w", "output": "sunny, 21C"}],
        )
    assert second.output_text == "Sunny, 21 degrees."
    resumed = upstream.chat_requests[1].body["messages"]
    assert [(m["tool_call_id"], m["content"]) for m in resumed if m["role"] == "tool"] == [
        ("call_w", "sunny, 21C")
    ]


def test_codex_clis_stateless_request_shape(tmp_path: Path, upstream: Upstream) -> None:
    """store: false, the whole conversation as items, hosted tools and reasoning skipped."""
    upstream.script(Reply.text("Listed."))
    body = {
        "model": "general",
        "instructions": "You are Codex.",
        "store": False,
        "stream": True,
        "parallel_tool_calls": False,
        "reasoning": {"effort": "medium", "summary": "auto"},
        "include": ["reasoning.encrypted_content"],
        "tool_choice": "auto",
        "tools": [
            {
                "type": "function",
                "name": "shell",
                "description": "Runs a shell command",
                "strict": False,
                "parameters": {
                    "type": "object",
                    "properties": {"command": {"type": "array", "items": {"type": "string"}}},
                    "required": ["command"],
                },
            },
            {"type": "web_search"},
        ],
        "input": [
            {
                "type": "message",
                "role": "developer",
                "content": [{"type": "input_text", "text": "<permissions>…</permissions>"}],
            },
            {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "<environment_context/>"}],
            },
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "ls"}]},
            {"type": "reasoning", "summary": [], "encrypted_content": "abc"},
            {
                "type": "function_call",
                "call_id": "call_1",
                "name": "shell",
                "arguments": '{"command":["ls"]}',
            },
            {"type": "function_call_output", "call_id": "call_1", "output": "README.md"},
        ],
        "prompt_cache_key": "conv-1",
    }
    with running_server(tmp_path, config(upstream), env=ENV) as handle:
        raw = post(handle, body)
        (stored,) = [e for e in sse_events(raw.text) if e["type"] == "response.completed"]
        with http(handle) as h:
            not_kept = h.get(f"/v1/responses/{stored['response']['id']}", headers=AUTH)
    assert raw.status_code == 200, raw.text
    assert stored["response"]["output"][0]["content"][0]["text"] == "Listed."
    sent = upstream.chat_requests[0].body
    assert {t["function"]["name"] for t in sent["tools"]} == {"shell"}
    assert any(m["role"] == "tool" and m["content"] == "README.md" for m in sent["messages"])
    assert not_kept.status_code == 404  # store: false keeps nothing


def test_an_image_input_reaches_a_vision_model(tmp_path: Path, upstream: Upstream) -> None:
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(64))
    uri = "data:image/png;base64," + base64.b64encode(png).decode()
    upstream.script(Reply.text("A pattern."))
    with running_server(tmp_path, config(upstream), env=ENV) as handle:
        answer = client(handle, KEY).responses.create(
            model="general",
            input=[
                {
                    "role": "user",
                    "content": [
                        {"type": "input_text", "text": "What is it?"},
                        {"type": "input_image", "image_url": uri, "detail": "auto"},
                    ],
                }
            ],
        )
    assert answer.output_text == "A pattern."
    content = upstream.chat_requests[0].body["messages"][-1]["content"]
    assert [p["image_url"]["url"] for p in content if p["type"] == "image_url"] == [uri]


def test_failures_are_openai_errors(tmp_path: Path, upstream: Upstream) -> None:
    upstream.script(Reply.error(429, "slow down", headers={"Retry-After": "3"}))
    with running_server(tmp_path, config(upstream), env=ENV) as handle:
        limited = post(handle, {"model": "general", "input": "Hi"})
        no_input = post(handle, {"model": "general"})
        unknown = post(handle, {"model": "nobody", "input": "Hi"})
        with http(handle) as h:
            denied = h.post("/v1/responses", json={"model": "general", "input": "Hi"})
    assert limited.status_code == 429 and limited.headers["retry-after"] == "3"
    assert (no_input.status_code, no_input.json()["error"]["param"]) == (400, "input")
    assert unknown.status_code == 404 and denied.status_code == 401
    for response in (limited, no_input, unknown, denied):
        validate("ErrorResponse", response.json())


def test_a_provider_failing_mid_stream_ends_in_response_failed(
    tmp_path: Path, upstream: Upstream
) -> None:
    upstream.script(Reply.broken_stream(["Half ", "an ", "answer"], delay=0.05))
    with running_server(tmp_path, config(upstream), env=ENV) as handle:
        raw = post(handle, {"model": "general", "input": "Hi", "stream": True})
        failed = sse_events(raw.text)[-1]
        with http(handle) as h:
            kept = h.get(f"/v1/responses/{failed['response']['id']}", headers=AUTH)
    assert failed["type"] == "response.failed"
    assert failed["response"]["status"] == "failed"
    assert failed["response"]["error"]["message"]
    assert "Half" in json.dumps(failed["response"]["output"])
    assert kept.status_code == 404  # a failed answer is not a turn to continue from


CODEX = Path(__file__).parent / "fixtures" / "codex_cli"


def replay(handle, name: str) -> list[dict]:
    """A request Codex CLI 0.169 really sent, sent again with our key: its stream's events."""
    captured = json.loads((CODEX / name).read_text())
    with http(handle) as h:
        response = h.post(
            captured["path"], json=captured["body"], headers={**captured["headers"], **AUTH}
        )
    assert response.status_code == 200, response.text
    return sse_events(response.text)


def test_codex_clis_captured_requests_get_answers_it_reads(
    tmp_path: Path, upstream: Upstream
) -> None:
    upstream.script(
        Reply.text("Hi there"),
        Reply.tool_calls([("exec_command", {"cmd": "echo hi-from-tool"}, "call_abc")]),
        Reply.text("Done"),
    )
    with running_server(tmp_path, config(upstream), env=ENV) as handle:
        said = replay(handle, "say_hi.json")
        called = replay(handle, "run_echo_first.json")
        done = replay(handle, "run_echo_after_the_tool.json")
    assert said[-1]["response"]["output"][0]["content"][0]["text"] == "Hi there"
    # Codex needs an item added before its deltas ("OutputTextDelta without active item").
    kinds = [e["type"] for e in said]
    assert kinds.index("response.output_item.added") < kinds.index("response.output_text.delta")
    (call,) = [i for i in called[-1]["response"]["output"] if i["type"] == "function_call"]
    assert (call["name"], call["call_id"]) == ("exec_command", "call_abc")
    assert done[-1]["type"] == "response.completed"
    assert done[-1]["response"]["output"][0]["content"][0]["text"] == "Done"
    offered = {t["function"]["name"] for t in upstream.chat_requests[0].body["tools"]}
    assert {"exec_command", "write_stdin", "view_image"} <= offered
    assert "web_search" not in offered and "multi_agent_v1" not in offered
    last = upstream.chat_requests[2].body["messages"]
    (result,) = [m for m in last if m["role"] == "tool"]
    assert result["tool_call_id"] == "call_abc" and "codex-linux-sandbox" in result["content"]
    assert "run echo" in json.dumps(last)


@pytest.mark.parametrize("stream", [False, True])
def test_the_agents_own_tool_calls_are_mcp_call_items(
    tmp_path: Path, upstream: Upstream, stream: bool
) -> None:
    upstream.script(
        Reply.tool_calls([("calculator", {"expression": "6*7"}, "call_c")]),
        Reply.text("It is 42."),
    )
    body = {"model": "calc", "input": "6*7?", "stream": stream}
    with running_server(tmp_path, config(upstream), env=ENV) as handle:
        raw = post(handle, body)
    if stream:
        events = sse_events(raw.text)
        response = events[-1]["response"]
        added = [e["item"]["type"] for e in events if e["type"] == "response.output_item.added"]
        assert added == ["mcp_call", "message"]
    else:
        response = raw.json()
    validate("Response", response)
    tool, message = response["output"]
    assert (tool["type"], tool["server_label"], tool["name"]) == (
        "mcp_call",
        "traymind",
        "calculator",
    )
    assert json.loads(tool["arguments"]) == {"expression": "6*7"}
    assert tool["status"] == "completed" and "42" in tool["output"]
    assert message["content"][0]["text"] == "It is 42."  # no tool tags in the text


def test_hidden_tool_calls_make_no_items(tmp_path: Path, upstream: Upstream) -> None:
    upstream.script(
        Reply.tool_calls([("calculator", {"expression": "6*7"}, "call_c")]),
        Reply.text("It is 42."),
    )
    built = config(upstream)
    built["agents"]["calc"]["show_tool_calls"] = False  # type: ignore[index]
    with running_server(tmp_path, built, env=ENV) as handle:
        response = post(handle, {"model": "calc", "input": "6*7?"}).json()
    assert [item["type"] for item in response["output"]] == ["message"]


@pytest.mark.parametrize(
    "headers",
    [
        {"Content-Type": "text/plain", "Origin": "https://evil.example"},
        {"Content-Type": "text/plain", "Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors"},
        {"Content-Type": "application/json", "Origin": "https://evil.example"},
    ],
)
def test_a_web_page_cannot_drive_or_read_responses(
    tmp_path: Path, upstream: Upstream, headers: dict[str, str]
) -> None:
    """Unauthenticated local access on: a hostile page's requests are refused before any run."""
    body = json.dumps({"model": "calc", "input": "rm -rf ~"})
    with (
        running_server(
            tmp_path, config(upstream), env={"OPENAI_COMPAT_ALLOW_UNAUTHENTICATED": "1"}
        ) as handle,
        http(handle) as h,
    ):
        posted = h.post("/v1/responses", content=body, headers=headers)
        read = h.get("/v1/responses/resp_x", headers=headers)
    assert posted.status_code == 403 and read.status_code == 403
    validate("ErrorResponse", posted.json())
    assert upstream.chat_requests == []


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"{not json", 400),
        (b"[1, 2]", 400),
        (b"[" * 5000 + b"]" * 5000, 400),
        (json.dumps({"model": "g" * 100_000, "input": "Hi"}).encode(), 404),
        (json.dumps({"model": "general", "input": 7}).encode(), 400),
        (
            json.dumps({"model": "general", "input": [{"type": "message", "role": "x"}]}).encode(),
            400,
        ),
        (json.dumps({"model": "general", "input": "Hi", "previous_response_id": 5}).encode(), 400),
        (json.dumps({"model": "general", "input": "Hi", "tools": "all"}).encode(), 400),
        (json.dumps({"model": "general", "input": "x" * 9_000_000}).encode(), 413),
    ],
    ids=[
        "malformed",
        "array",
        "nested",
        "huge-model",
        "bad-input",
        "bad-role",
        "bad-previous",
        "bad-tools",
        "over-limit",
    ],
)
def test_hostile_bodies_get_openai_errors_and_reach_no_model(
    tmp_path: Path, upstream: Upstream, raw: bytes, status: int
) -> None:
    with running_server(tmp_path, config(upstream), env=ENV) as handle, http(handle) as h:
        response = h.post(
            "/v1/responses", content=raw, headers={**AUTH, "Content-Type": "application/json"}
        )
    assert response.status_code == status, response.text
    validate("ErrorResponse", response.json())
    assert len(response.json()["error"]["message"]) < 500
    assert upstream.chat_requests == []
