"""The ``auto`` model: routing, fallback, stickiness, usage."""

from __future__ import annotations

import json

import pytest

from tests.harness import client, running_server
from tests.upstream import Reply, Upstream

KEY = "sk-routing"
ROUTE_TOOL = "final_result"


@pytest.fixture
def server(tmp_path, upstream: Upstream):
    config = {
        "models": {
            "default": {"provider": "openai", "id": "agent-model", "base_url": upstream.base_url},
            "routing": {"provider": "openai", "id": "router-model", "base_url": upstream.base_url},
        },
        "router": {"model": "routing"},
        "agents": {
            "general": {
                "display_name": "GeneralAgent",
                "role": "Everyday questions",
                "instructions": ["Be friendly."],
            },
            "code": {
                "display_name": "CodeAgent",
                "role": "Programming help",
                "tools": ["calculator"],
            },
            "hidden": {"worker_scope": "user"},
        },
    }
    with running_server(tmp_path, config, env={"OPENAI_COMPAT_API_KEYS": KEY}) as handle:
        yield handle


def route_to(agent: str, usage=(40, 6)) -> Reply:
    return Reply.tool_calls([(ROUTE_TOOL, {"agent": agent, "reason": "fits best"})], usage=usage)


def ask(handle, text: str, *, stream: bool = False, **headers: str):
    sdk = client(handle, KEY, **headers)
    return sdk.chat.completions.create(
        model="auto", stream=stream, messages=[{"role": "user", "content": text}]
    )


def test_router_picks_the_scripted_agent_and_sees_the_candidates(server, upstream) -> None:
    upstream.script(route_to("code"), Reply.text("def f(): pass", usage=(10, 5)))
    answer = ask(server, "Write a sorting function in Python")
    assert answer.model == "code"
    assert answer.choices[0].message.content == "def f(): pass"
    # the router call's usage counts
    assert (answer.usage.prompt_tokens, answer.usage.completion_tokens) == (50, 11)

    router_call, agent_call = upstream.chat_requests
    assert router_call.body["model"] == "router-model"
    assert agent_call.body["model"] == "agent-model"
    schema = router_call.body["tools"][0]["function"]["parameters"]
    assert schema["properties"]["agent"]["enum"] == ["general", "code"]  # listed agents only
    prompt = json.dumps(router_call.body["messages"])
    for expected in (
        "CodeAgent",
        "Programming help",
        "calculator",
        "Be friendly.",
        "Write a sorting function",
    ):
        assert expected in prompt
    assert "hidden" not in prompt


def test_streams_carry_the_resolved_model(server, upstream) -> None:
    upstream.script(route_to("code"), Reply.deltas(["a", "b"]))
    chunks = list(ask(server, "code please", stream=True))
    assert {c.model for c in chunks} == {"code"}
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "ab"


@pytest.mark.parametrize(
    "router_reply",
    [Reply.error(500), Reply.garbage(), Reply.text("I think code is best")],
)
def test_a_broken_router_falls_back_to_the_first_agent(server, upstream, router_reply) -> None:
    upstream.script(router_reply, Reply.text("from general"))
    # pydantic-ai retries an output it cannot parse; give it the same broken answer again
    upstream.default = Reply.text("from general")
    answer = ask(server, "Hello there")
    assert answer.model == "general"
    assert answer.choices[0].message.content == "from general"


def test_routing_is_sticky_within_a_session(server, upstream) -> None:
    upstream.script(route_to("code"), Reply.text("one"), Reply.text("two"))
    session = {"X-Session-Id": "sticky"}
    assert ask(server, "Write a python sorting function", **session).model == "code"
    assert ask(server, "Make the sorting function faster", **session).model == "code"
    assert len(upstream.chat_requests) == 3  # no second router call
    # the code agent's history continued
    last = upstream.chat_requests[-1].body["messages"]
    assert "Write a python sorting function" in json.dumps(last)


def test_a_topic_change_asks_the_router_again(server, upstream) -> None:
    upstream.script(route_to("code"), Reply.text("one"), route_to("general"), Reply.text("two"))
    session = {"X-Session-Id": "topic"}
    assert ask(server, "Write a python sorting function", **session).model == "code"
    assert ask(server, "What should I cook tonight for dinner guests", **session).model == (
        "general"
    )
    assert [r.body["model"] for r in upstream.chat_requests] == [
        "router-model",
        "agent-model",
        "router-model",
        "agent-model",
    ]


def test_naming_another_agent_switches_without_the_router(server, upstream) -> None:
    upstream.script(route_to("general"), Reply.text("hi"), Reply.text("code answer"))
    session = {"X-Session-Id": "named"}
    assert ask(server, "Hello there friend", **session).model == "general"
    assert ask(server, "@code can you review this loop", **session).model == "code"
    assert len(upstream.chat_requests) == 3


def test_ephemeral_requests_route_every_time(server, upstream) -> None:
    upstream.script(route_to("code"), Reply.text("1"), route_to("code"), Reply.text("2"))
    ask(server, "sort a list in python")
    ask(server, "sort a list in python")
    assert [r.body["model"] for r in upstream.chat_requests].count("router-model") == 2


def test_librechat_conversation_session_binds_to_the_resolved_agent(server, upstream) -> None:
    upstream.script(route_to("code"), Reply.text("first"), Reply.text("second"))
    headers = {"X-LibreChat-Conversation-Id": "conv-1"}
    ask(server, "Write a python sorting function", **headers)
    ask(server, "Make the python sorting function faster", **headers)
    sent = json.dumps(upstream.chat_requests[-1].body["messages"])
    assert "Write a python sorting function" in sent and "first" in sent
