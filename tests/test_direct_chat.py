"""The direct path for tool-less agents: one provider call, the same history format."""

from __future__ import annotations

import json
import time

import openai
import pytest

from tests.harness import agent_config, client, running_server, write_config
from tests.upstream import Reply, Upstream

KEY = "sk-direct"
ENV = {"OPENAI_COMPAT_API_KEYS": KEY}


def ask(handle, text: str, *, stream: bool = False, session: str = "s"):
    sdk = client(handle, KEY, **{"X-Session-Id": session})
    return sdk.chat.completions.create(
        model="general", stream=stream, messages=[{"role": "user", "content": text}]
    )


def reload_with(handle, tmp_path, config: dict) -> None:
    write_config(tmp_path, config)
    handle.reload()
    time.sleep(0.2)  # the swap runs on the server's loop


def test_one_call_non_streaming_unless_the_client_streams(tmp_path, upstream: Upstream) -> None:
    with running_server(tmp_path, agent_config(upstream.base_url), env=ENV) as handle:
        answer = ask(handle, "hi")
        chunks = list(ask(handle, "again", stream=True))
    plain, streamed = upstream.chat_requests
    assert "stream" not in plain.body and "tools" not in plain.body
    assert streamed.body["stream"] is True
    assert streamed.body["stream_options"] == {"include_usage": True}
    assert plain.body["messages"][0]["role"] == "system"
    assert "You are GeneralAgent." in plain.body["messages"][0]["content"]
    assert answer.usage.total_tokens == 15
    assert {c.model for c in chunks} == {"general"}


def test_history_moves_from_the_direct_path_to_the_agent_runtime(tmp_path, upstream) -> None:
    config = agent_config(upstream.base_url)
    with running_server(tmp_path, config, env=ENV) as handle:
        upstream.script(Reply.text("direct answer"))
        ask(handle, "first question")
        config["agents"]["general"]["tools"] = ["calculator"]
        reload_with(handle, tmp_path, config)
        ask(handle, "second question")
    runtime_call = upstream.chat_requests[-1].body
    assert "tools" in runtime_call  # now through the agent runtime
    messages = runtime_call["messages"]
    assert {"role": "user", "content": "first question"} in messages
    assert {"role": "assistant", "content": "direct answer"} in messages


def test_tool_calls_in_stored_history_reach_the_direct_path_whole(tmp_path, upstream) -> None:
    config = agent_config(upstream.base_url)
    config["agents"]["general"]["tools"] = ["calculator"]
    with running_server(tmp_path, config, env=ENV) as handle:
        upstream.script(
            Reply.tool_calls([("calculator", {"expression": "6*7"}, "call_x")]),
            Reply.text("It is 42"),
        )
        ask(handle, "6*7?")
        config["agents"]["general"]["tools"] = []
        reload_with(handle, tmp_path, config)
        ask(handle, "and now?")
    messages = upstream.chat_requests[-1].body
    assert "tools" not in messages
    roles = [m["role"] for m in messages["messages"]]
    assert roles == ["system", "user", "assistant", "tool", "assistant", "user"]
    call = messages["messages"][2]["tool_calls"][0]
    assert call["id"] == "call_x" and call["function"]["name"] == "calculator"
    assert json.loads(call["function"]["arguments"]) == {"expression": "6*7"}
    assert messages["messages"][3] == {"role": "tool", "tool_call_id": "call_x", "content": "42"}


@pytest.mark.parametrize("stream", [False, True])
def test_garbage_before_the_first_byte_is_a_502(tmp_path, upstream, stream) -> None:
    with running_server(tmp_path, agent_config(upstream.base_url), env=ENV) as handle:
        upstream.script(Reply.garbage())
        with pytest.raises(openai.APIStatusError) as info:
            client(handle, KEY).chat.completions.create(
                model="general", stream=stream, messages=[{"role": "user", "content": "x"}]
            )
    assert info.value.status_code == 502
    assert "could not read" in info.value.message


def test_a_changed_storage_waits_for_a_restart_and_says_so(tmp_path, upstream, caplog) -> None:
    config = agent_config(upstream.base_url)
    with running_server(tmp_path, config, env=ENV) as handle:
        reload_with(handle, tmp_path, {**config, "storage": {"url": "postgresql://app@db/x"}})
        upstream.script(Reply.text("still on SQLite"))
        assert ask(handle, "hi").choices[0].message.content == "still on SQLite"
    assert any(
        "storage changed" in r.getMessage() and r.levelname == "WARNING" for r in caplog.records
    )
