"""The Anthropic Messages API (``/v1/messages``), driven with the official ``anthropic`` SDK.

Every answer is validated against the SDK's own pydantic types (``Message`` and the
stream event union), strictly, so a field the SDK would reject fails here.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import anthropic
import httpx
import pytest
from anthropic.types import Message, RawMessageStreamEvent
from pydantic import TypeAdapter

from server.providers.tls import tls_context
from tests.harness import agent_config, http, running_server
from tests.upstream import Reply, Upstream

KEY = "sk-messages"
ENV = {"OPENAI_COMPAT_API_KEYS": KEY}
EVENT = TypeAdapter(RawMessageStreamEvent)
WEATHER = {
    "name": "get_weather",
    "description": "The weather in a city.",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256))


def config(upstream: Upstream, **server: object) -> dict[str, object]:
    built = agent_config(
        upstream.base_url,
        general={"display_name": "GeneralAgent"},
        calc={"display_name": "Calc", "tools": ["calculator"]},
    )
    built["models"]["default"]["vision"] = True  # type: ignore[index]
    if server:
        built["server"] = server
    return built


def sdk(handle, key: str = KEY) -> anthropic.Anthropic:
    return anthropic.Anthropic(
        base_url=handle.url.removesuffix("/v1"),
        api_key=key,
        max_retries=0,
        timeout=30,
        http_client=anthropic.DefaultHttpxClient(verify=tls_context()),
    )


def post(handle, body: dict, headers: dict[str, str] | None = None) -> httpx.Response:
    with http(handle) as h:
        return h.post("/v1/messages", json=body, headers={"x-api-key": KEY, **(headers or {})})


def sse_events(text: str) -> list[tuple[str, dict]]:
    """(event name, data) pairs, checking every ``data`` against the SDK's event types."""
    found = []
    for frame in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in frame.splitlines())
        data = json.loads(lines["data"])
        assert data["type"] == lines["event"]
        if data["type"] not in ("ping", "error"):
            EVENT.validate_python(data, strict=False)
        found.append((lines["event"], data))
    return found


@pytest.mark.parametrize("agent", ["general", "calc"])
def test_a_message_is_answered_in_anthropic_shape(
    tmp_path: Path, upstream: Upstream, agent: str
) -> None:
    upstream.script(Reply.text("Bonjour, Ada."))
    with running_server(tmp_path, config(upstream), env=ENV) as handle:
        answer = sdk(handle).messages.create(
            model=agent,
            max_tokens=256,
            system="Answer in French.",
            messages=[{"role": "user", "content": "Say hello to Ada."}],
        )
        raw = post(
            handle,
            {"model": agent, "max_tokens": 16, "messages": [{"role": "user", "content": "Hi"}]},
        )
    assert answer.type == "message" and answer.role == "assistant" and answer.model == agent
    assert [block.type for block in answer.content] == ["text"]
    assert answer.content[0].text == "Bonjour, Ada."
    assert answer.stop_reason == "end_turn" and answer.stop_sequence is None
    assert answer.usage.input_tokens > 0 and answer.usage.output_tokens > 0
    assert answer.id.startswith("msg_")
    sent = upstream.chat_requests[0].body["messages"]
    assert "Answer in French." in json.dumps(sent) and "Say hello to Ada." in json.dumps(sent)
    assert raw.status_code == 200 and raw.headers["content-type"] == "application/json"
    Message.model_validate(raw.json(), strict=False)


def test_a_stream_is_anthropic_events_the_sdk_rebuilds(tmp_path: Path, upstream: Upstream) -> None:
    upstream.script(Reply.text("One two three four."), Reply.text("Five six."))
    body = {
        "model": "general",
        "max_tokens": 64,
        "stream": True,
        "messages": [{"role": "user", "content": "Count."}],
    }
    with running_server(tmp_path, config(upstream), env=ENV) as handle:
        with sdk(handle).messages.stream(
            model="general", max_tokens=64, messages=[{"role": "user", "content": "Count."}]
        ) as stream:
            text = "".join(stream.text_stream)
            final = stream.get_final_message()
        raw = post(handle, body)
    assert text == "One two three four."
    assert final.content[0].text == text and final.stop_reason == "end_turn"
    assert final.usage.output_tokens > 0
    assert raw.headers["content-type"].startswith("text/event-stream")
    events = sse_events(raw.text)
    names = [name for name, _ in events]
    assert names[:2] == ["message_start", "ping"]
    assert names[2] == "content_block_start" and names[-3:] == [
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert set(names[3:-3]) == {"content_block_delta"}
    deltas = [d["delta"]["text"] for n, d in events if n == "content_block_delta"]
    assert "".join(deltas) == "Five six."
    assert (
        events[0][1]["message"]["content"] == [] and events[0][1]["message"]["stop_reason"] is None
    )
    assert events[-2][1]["delta"]["stop_reason"] == "end_turn"


@pytest.mark.parametrize("stream", [False, True])
def test_a_client_tool_is_a_tool_use_block_and_its_result_resumes_the_run(
    tmp_path: Path, upstream: Upstream, stream: bool
) -> None:
    upstream.script(
        Reply.tool_calls([("get_weather", {"city": "Paris"}, "toolu_w1")]),
        Reply.text("Sunny, 21 degrees."),
    )
    ask = {"role": "user", "content": "Weather in Paris?"}
    with running_server(tmp_path, config(upstream), env=ENV) as handle:
        client = sdk(handle)
        if stream:
            with client.messages.stream(
                model="general", max_tokens=64, messages=[ask], tools=[WEATHER]
            ) as events:
                first = events.get_final_message()
        else:
            first = client.messages.create(
                model="general", max_tokens=64, messages=[ask], tools=[WEATHER]
            )
        assert first.stop_reason == "tool_use"
        (use,) = [block for block in first.content if block.type == "tool_use"]
        assert (use.id, use.name, use.input) == ("toolu_w1", "get_weather", {"city": "Paris"})
        assert {t["function"]["name"] for t in upstream.chat_requests[0].body["tools"]} == {
            "get_weather"
        }
        result = {"type": "tool_result", "tool_use_id": use.id, "content": "sunny, 21C"}
        second = client.messages.create(
            model="general",
            max_tokens=64,
            tools=[WEATHER],
            messages=[
                ask,
                {"role": "assistant", "content": [b.model_dump() for b in first.content]},
                {"role": "user", "content": [result]},
            ],
        )
    assert second.stop_reason == "end_turn" and second.content[0].text == "Sunny, 21 degrees."
    resumed = upstream.chat_requests[1].body["messages"]
    tool_messages = [m for m in resumed if m["role"] == "tool"]
    assert [(m["tool_call_id"], m["content"]) for m in tool_messages] == [
        ("toolu_w1", "sunny, 21C")
    ]


def test_claude_codes_request_shape_is_understood(tmp_path: Path, upstream: Upstream) -> None:
    """System and text as cache-controlled blocks, metadata, thinking and a server tool."""
    upstream.script(Reply.text("Done."))
    body = {
        "model": "general",
        "max_tokens": 32000,
        "stream": True,
        "system": [
            {"type": "text", "text": "You are Claude Code.", "cache_control": {"type": "ephemeral"}}
        ],
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "<system-reminder>ctx</system-reminder>"},
                    {
                        "type": "text",
                        "text": "List the files.",
                        "cache_control": {"type": "ephemeral"},
                    },
                ],
            }
        ],
        "tools": [WEATHER, {"type": "web_search_20250305", "name": "web_search"}],
        "metadata": {"user_id": "user_abc_account__session_1234"},
        "thinking": {"type": "enabled", "budget_tokens": 1024},
        "temperature": 1,
    }
    headers = {"Authorization": f"Bearer {KEY}", "anthropic-version": "2023-06-01"}
    with running_server(tmp_path, config(upstream), env=ENV) as handle, http(handle) as h:
        raw = h.post("/v1/messages", json=body, headers=headers)
    assert raw.status_code == 200, raw.text
    assert [n for n, _ in sse_events(raw.text)][-1] == "message_stop"
    sent = upstream.chat_requests[0].body
    assert "List the files." in json.dumps(sent["messages"])
    assert "You are Claude Code." in json.dumps(sent["messages"])
    assert {t["function"]["name"] for t in sent["tools"]} == {"get_weather"}


def test_an_image_block_reaches_a_vision_model(tmp_path: Path, upstream: Upstream) -> None:
    upstream.script(Reply.text("A test pattern."))
    image = {
        "type": "image",
        "source": {
            "type": "base64",
            "media_type": "image/png",
            "data": base64.b64encode(PNG).decode(),
        },
    }
    with running_server(tmp_path, config(upstream), env=ENV) as handle:
        answer = sdk(handle).messages.create(
            model="general",
            max_tokens=64,
            messages=[
                {"role": "user", "content": [{"type": "text", "text": "What is it?"}, image]}
            ],
        )
    assert answer.content[0].text == "A test pattern."
    content = upstream.chat_requests[0].body["messages"][-1]["content"]
    urls = [part["image_url"]["url"] for part in content if part.get("type") == "image_url"]
    assert urls == ["data:image/png;base64," + base64.b64encode(PNG).decode()]


def test_count_tokens_estimates_the_request(tmp_path: Path, upstream: Upstream) -> None:
    with running_server(tmp_path, config(upstream), env=ENV) as handle:
        small = sdk(handle).messages.count_tokens(
            model="general", messages=[{"role": "user", "content": "Hi"}]
        )
        large = sdk(handle).messages.count_tokens(
            model="general", messages=[{"role": "user", "content": "word " * 400}]
        )
    assert 0 < small.input_tokens < large.input_tokens
    assert 400 <= large.input_tokens <= 1000


def test_failures_are_anthropic_errors_with_their_status(
    tmp_path: Path, upstream: Upstream
) -> None:
    upstream.script(Reply.error(429, "slow down", headers={"Retry-After": "7"}))
    with running_server(tmp_path, config(upstream), env=ENV) as handle:
        with pytest.raises(anthropic.AuthenticationError) as denied:
            sdk(handle, "sk-wrong").messages.create(
                model="general", max_tokens=8, messages=[{"role": "user", "content": "Hi"}]
            )
        with pytest.raises(anthropic.NotFoundError) as unknown:
            sdk(handle).messages.create(
                model="nobody", max_tokens=8, messages=[{"role": "user", "content": "Hi"}]
            )
        with pytest.raises(anthropic.RateLimitError) as limited:
            sdk(handle).messages.create(
                model="general", max_tokens=8, messages=[{"role": "user", "content": "Hi"}]
            )
        empty = post(handle, {"model": "general", "max_tokens": 8, "messages": []})
        not_json = post(handle, {"model": "general"}, {"content-type": "application/json"})
        only_results = post(
            handle,
            {
                "model": "general",
                "messages": [
                    {
                        "role": "user",
                        "content": [{"type": "tool_result", "tool_use_id": "x", "content": "1"}],
                    }
                ],
            },
        )
    assert denied.value.status_code == 401
    assert denied.value.body["error"]["type"] == "authentication_error"
    assert unknown.value.body["error"]["type"] == "not_found_error"
    assert "nobody" in unknown.value.body["error"]["message"]
    assert limited.value.response.headers.get("retry-after") == "7"
    assert limited.value.body["error"]["type"] == "rate_limit_error"
    for response, param_word in [(empty, "messages"), (not_json, "messages"), (only_results, "")]:
        assert response.status_code == 400
        body = response.json()
        assert body["type"] == "error" and set(body) == {"type", "error"}
        assert body["error"]["type"] == "invalid_request_error"
        assert param_word in body["error"]["message"]
    assert "sk-wrong" not in json.dumps(denied.value.body)


def test_an_oversized_image_is_a_413(tmp_path: Path, upstream: Upstream) -> None:
    big = base64.b64encode(b"x" * 3000).decode()
    body = {
        "model": "general",
        "max_tokens": 8,
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Look"},
                    {
                        "type": "image",
                        "source": {"type": "base64", "media_type": "image/png", "data": big},
                    },
                ],
            }
        ],
    }
    with running_server(tmp_path, config(upstream, max_image_bytes=1000), env=ENV) as handle:
        response = post(handle, body)
    assert response.status_code == 413
    assert response.json()["error"]["type"] == "request_too_large"
    assert upstream.chat_requests == []


def test_a_browser_page_cannot_drive_messages(tmp_path: Path, upstream: Upstream) -> None:
    """Unauthenticated local access on, a hostile page's simple POST: refused, in shape."""
    with (
        running_server(
            tmp_path, config(upstream), env={"OPENAI_COMPAT_ALLOW_UNAUTHENTICATED": "1"}
        ) as handle,
        http(handle) as h,
    ):
        response = h.post(
            "/v1/messages",
            content=json.dumps(
                {"model": "general", "messages": [{"role": "user", "content": "rm -rf"}]}
            ),
            headers={
                "Content-Type": "text/plain",
                "Origin": "https://evil.example",
                "Sec-Fetch-Site": "cross-site",
                "Sec-Fetch-Mode": "no-cors",
            },
        )
    assert response.status_code == 403
    assert response.json()["type"] == "error"
    assert upstream.chat_requests == []


def test_model_aliases_send_claude_names_to_an_agent(tmp_path: Path, upstream: Upstream) -> None:
    upstream.script(Reply.text("From general."), Reply.text("From calc."))
    aliases = {"claude-3-5-haiku-20241022": "calc", "claude-*": "general"}
    with running_server(tmp_path, config(upstream, model_aliases=aliases), env=ENV) as handle:
        client = sdk(handle)
        ask = [{"role": "user", "content": "Hi"}]
        sonnet = client.messages.create(model="claude-sonnet-4-5", max_tokens=8, messages=ask)
        haiku = client.messages.create(
            model="claude-3-5-haiku-20241022", max_tokens=8, messages=ask
        )
        with pytest.raises(anthropic.NotFoundError):
            client.messages.create(model="gpt-4o", max_tokens=8, messages=ask)
        with http(handle) as h:
            models = h.get("/v1/models", headers={"Authorization": f"Bearer {KEY}"}).json()
    assert (sonnet.model, sonnet.content[0].text) == ("general", "From general.")
    assert (haiku.model, haiku.content[0].text) == ("calc", "From calc.")
    assert {m["id"] for m in models["data"]} == {"auto", "general", "calc"}


def test_an_alias_to_nothing_served_is_a_config_error(tmp_path: Path) -> None:
    from server.config import ConfigError, load_config

    path = tmp_path / "config.yaml"
    path.write_text(
        "agents:\n  general: {display_name: G}\nserver:\n  model_aliases: {'claude-*': genral}\n"
    )
    with pytest.raises(ConfigError) as problem:
        load_config(path)
    message = str(problem.value)
    assert "server.model_aliases.claude-*" in message and "general" in message


def test_claude_codes_captured_request_is_answered(tmp_path: Path, upstream: Upstream) -> None:
    """What Claude Code 2.1.197 really sent (a ``system`` role message among them), replayed."""
    captured = json.loads(
        (Path(__file__).parent / "fixtures" / "claude_code_say_hi.json").read_text()
    )
    upstream.script(Reply.text("Hi!"))
    with running_server(tmp_path, config(upstream), env=ENV) as handle, http(handle) as h:
        raw = h.post(
            captured["path"],
            json=captured["body"],
            headers={**captured["headers"], "Authorization": f"Bearer {KEY}"},
        )
    assert raw.status_code == 200, raw.text
    events = sse_events(raw.text)
    text = "".join(d["delta"].get("text", "") for n, d in events if n == "content_block_delta")
    assert text == "Hi!" and events[-1][0] == "message_stop"
    sent = upstream.chat_requests[0].body
    assert "say hi" in json.dumps(sent["messages"])
    assert "Available agent types for the Agent tool" in json.dumps(sent["messages"])
    assert {"Bash", "Read", "Edit"} <= {t["function"]["name"] for t in sent["tools"]}


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"{not json", 400),
        (b"[1, 2]", 400),
        (b"[" * 5000 + b"]" * 5000, 400),
        (json.dumps({"model": "general", "messages": "x" * 200_000}).encode(), 400),
        (
            json.dumps(
                {"model": "g" * 100_000, "messages": [{"role": "user", "content": "Hi"}]}
            ).encode(),
            404,
        ),
        (
            json.dumps({"model": "general", "messages": [{"role": "user", "content": 7}]}).encode(),
            400,
        ),
        (
            json.dumps(
                {"model": "general", "messages": [{"role": "user", "content": "x"}], "tools": "all"}
            ).encode(),
            400,
        ),
        (
            b'{"model": "general", "messages": ['
            + b'{"role": "user", "content": "x"},' * 300_000
            + b"]}",
            413,
        ),
    ],
    ids=[
        "malformed",
        "array",
        "nested",
        "huge-messages",
        "huge-model",
        "bad-content",
        "bad-tools",
        "over-limit",
    ],
)
def test_hostile_bodies_get_anthropic_errors_and_reach_no_model(
    tmp_path: Path, upstream: Upstream, raw: bytes, status: int
) -> None:
    with running_server(tmp_path, config(upstream), env=ENV) as handle, http(handle) as h:
        response = h.post(
            "/v1/messages",
            content=raw,
            headers={"x-api-key": KEY, "Content-Type": "application/json"},
        )
    assert response.status_code == status, response.text
    body = response.json()
    assert body["type"] == "error" and set(body["error"]) == {"type", "message"}
    assert len(body["error"]["message"]) < 500  # a sentence, not the input echoed back
    assert upstream.chat_requests == []
