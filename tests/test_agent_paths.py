"""Agent paths over real HTTP against the rule-based stand-in (``tests/upstream/agentic.py``).

The benchmark of these paths (``bench/agent_paths.py``) relies on the stand-in's rules, and
Traymind asks its provider for a stream only when the client reads one: a client that
does not stream gets the same answer, tool tags included, from plain model requests.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench.agent_paths import config_text
from tests.harness import client, running_server
from tests.upstream import Reply, Upstream
from tests.upstream.agentic import respond

KEY = "sk-test-agent-paths"
ENV = {"OPENAI_COMPAT_API_KEYS": KEY}
TEXT = "Proxies relay requests."


@pytest.fixture
def agentic(upstream: Upstream) -> Upstream:
    upstream.responder = respond
    upstream.default = Reply.text(TEXT, chunks=3)
    return upstream


def ask(handle: Any, model: str, prompt: str, stream: bool, **headers: str) -> str:
    api = client(handle, KEY, **headers)
    messages = [{"role": "user", "content": prompt}]
    if not stream:
        reply = api.chat.completions.create(model=model, messages=messages)
        return reply.choices[0].message.content or ""
    chunks = api.chat.completions.create(model=model, messages=messages, stream=True)
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


@pytest.mark.parametrize("stream", [False, True])
def test_a_tool_call_turn_reads_the_same_streamed_or_not(
    tmp_path: Path, agentic: Upstream, stream: bool
) -> None:
    with running_server(tmp_path, config_text(agentic.base_url), env=ENV) as handle:
        content = ask(handle, "tools", "CALL:calculator what is 6*7?", stream)
    shown = "calculator(expression=6*7)"
    assert content == (
        f'<tool id="1" state="start">{shown}</tool>'
        f'<tool id="1" state="done">{shown}\n42</tool>{TEXT}'
    )
    asked = [r.body.get("stream") is True for r in agentic.chat_requests]
    assert asked == [stream, stream]  # the provider streams only for a streaming client
    assert agentic.chat_requests[1].body["messages"][-1] == {
        "role": "tool",
        "tool_call_id": "call_1",
        "content": "42",
    }


@pytest.mark.parametrize("stream", [False, True])
def test_auto_routes_by_the_mark_and_a_team_delegates(
    tmp_path: Path, agentic: Upstream, stream: bool
) -> None:
    with running_server(tmp_path, config_text(agentic.base_url), env=ENV) as handle:
        routed = client(handle, KEY).chat.completions.create(
            model="auto", messages=[{"role": "user", "content": "ROUTE:tools hello"}]
        )
        team = ask(handle, "team/pair", "DELEGATE:plain explain proxies", stream)
    assert routed.model == "tools"
    assert routed.choices[0].message.content == TEXT
    shown = "delegate_task(member=plain, task=Answer in one line.)"
    assert team == (
        f'<tool id="1" state="start">{shown}</tool>'
        f'<tool id="1" state="done">{shown}\n{TEXT}</tool>{TEXT}'
    )
    leader, member, final = agentic.chat_requests[2:]
    assert [t["function"]["name"] for t in leader.body["tools"]] == ["delegate_task"]
    assert member.body["messages"][-1] == {"role": "user", "content": "Answer in one line."}
    assert member.body.get("stream") is not True  # a member's text is never streamed
    assert (leader.body.get("stream") is True) is stream
    assert final.body["messages"][-1]["role"] == "tool"
    assert final.body["messages"][-1]["content"] == TEXT


def test_the_responder_picks_by_its_rules() -> None:
    default = Reply.text("plain")
    route_tool = {
        "type": "function",
        "function": {
            "name": "final_result",
            "parameters": {"properties": {"agent": {"enum": ["a", "b"]}}},
        },
    }
    routed = respond(
        {"messages": [{"role": "user", "content": "ROUTE:b x"}], "tools": [route_tool]}, default
    )
    assert json.loads(routed.calls[0].arguments) == {"agent": "b", "reason": "benchmark"}
    unknown = respond(
        {"messages": [{"role": "user", "content": "ROUTE:z"}], "tools": [route_tool]}, default
    )
    assert json.loads(unknown.calls[0].arguments)["agent"] == "a"
    calc = {"type": "function", "function": {"name": "calculator"}}
    after = [{"role": "user", "content": "CALL:calculator"}, {"role": "tool", "content": "42"}]
    assert respond({"messages": after, "tools": [calc]}, default) is default
    assert (
        respond({"messages": [{"role": "user", "content": "hi"}], "tools": [calc]}, default)
        is default
    )
