"""Agents on ``provider: anthropic`` reach Anthropic's Messages API (the stand-in speaks it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.harness import client, running_server
from tests.upstream import Reply, Upstream

KEY = "sk-anthropic-provider"


def config(upstream: Upstream) -> dict[str, object]:
    return {
        "models": {
            "default": {
                "provider": "anthropic",
                "id": "claude-test",
                "base_url": upstream.base_url.removesuffix("/v1"),
                "api_key_env": "TEST_ANTHROPIC_KEY",
            }
        },
        "agents": {
            "writer": {"display_name": "Writer"},
            "calc": {"display_name": "Calc", "tools": ["calculator"]},
        },
    }


ENV = {"OPENAI_COMPAT_API_KEYS": KEY, "TEST_ANTHROPIC_KEY": "sk-ant-upstream"}


@pytest.mark.parametrize("agent", ["writer", "calc"])
@pytest.mark.parametrize("stream", [False, True])
def test_an_anthropic_model_answers_through_an_agent(
    tmp_path: Path, upstream: Upstream, agent: str, stream: bool
) -> None:
    upstream.script(Reply.text("Hello from Claude."))
    with running_server(tmp_path, config(upstream), env=ENV) as handle:
        sdk = client(handle, KEY)
        ask = [{"role": "user", "content": "Hi"}]
        if stream:
            chunks = sdk.chat.completions.create(model=agent, messages=ask, stream=True)
            text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        else:
            text = sdk.chat.completions.create(model=agent, messages=ask).choices[0].message.content
    assert text == "Hello from Claude."
    (sent,) = upstream.messages_requests
    # The SDK sends the key as a bearer token (2.x) or as x-api-key (1.x).
    assert "sk-ant-upstream" in (
        sent.headers.get("authorization", "").removeprefix("Bearer "),
        sent.headers.get("x-api-key"),
    )
    assert sent.body["model"] == "claude-test"
    assert sent.body["messages"][-1]["role"] == "user"


def test_an_anthropic_tool_call_runs_the_agents_tool(tmp_path: Path, upstream: Upstream) -> None:
    upstream.script(
        Reply.tool_calls([("calculator", {"expression": "6*7"}, "toolu_1")]),
        Reply.text("It is 42."),
    )
    with running_server(tmp_path, config(upstream), env=ENV) as handle:
        answer = client(handle, KEY).chat.completions.create(
            model="calc", messages=[{"role": "user", "content": "6 times 7?"}]
        )
    assert "It is 42." in (answer.choices[0].message.content or "")
    second = upstream.messages_requests[1].body["messages"]
    results = [
        block
        for message in second
        if isinstance(message["content"], list)
        for block in message["content"]
        if block.get("type") == "tool_result"
    ]
    assert [r["tool_use_id"] for r in results] == ["toolu_1"]
    assert "42" in str(results[0]["content"])
