"""Chat apps' title, tag and follow-up requests take the light path and stay out of history."""

from __future__ import annotations

import json

import pytest

from tests.harness import client, running_server
from tests.upstream import Reply, Upstream

KEY = "sk-background"
OPEN_WEBUI_TITLE = (
    "### Task:\nGenerate a concise, 3-5 word title with an emoji summarizing the chat history.\n"
    '### Output:\nJSON format: { "title": "your concise title here" }\n'
    "### Chat History:\n<chat_history>\nUSER: What is 6*7?\nASSISTANT: 42\n</chat_history>"
)
LIBRECHAT_TITLE = (
    "Provide a concise, 5-word-or-less title for the conversation, using its same language, "
    "with no punctuation. Apply title case conventions appropriate for the language. Never "
    'directly mention the language name or the word "title"\n\nUser: What is 6*7?\nAI: 42'
)


@pytest.fixture
def server(tmp_path, upstream: Upstream):
    config = {
        "models": {
            "default": {"provider": "openai", "id": "agent-model", "base_url": upstream.base_url},
            "routing": {"provider": "openai", "id": "router-model", "base_url": upstream.base_url},
        },
        "router": {"model": "routing"},
        "agents": {
            "general": {"instructions": ["SECRET INSTRUCTIONS"], "tools": ["calculator"]},
            "code": {},
        },
        "teams": {"t": {"agents": ["general", "code"], "model": "routing"}},
    }
    with running_server(tmp_path, config, env={"OPENAI_COMPAT_API_KEYS": KEY}) as handle:
        yield handle


@pytest.mark.parametrize("prompt", [OPEN_WEBUI_TITLE, LIBRECHAT_TITLE])
@pytest.mark.parametrize("stream", [False, True])
def test_title_requests_are_one_plain_call_and_never_stored(server, upstream, prompt, stream):
    upstream.script(Reply.text("Chat", usage=(5, 1)), Reply.text("real answer"))
    sdk = client(server, KEY, **{"X-Session-Id": "bg"})
    response = sdk.chat.completions.create(
        model="general",
        stream=stream,
        messages=[{"role": "user", "content": prompt}],
        max_tokens=75,
    )
    if stream:
        chunks = list(response)
        assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Chat"
    else:
        assert response.choices[0].message.content == "Chat"
        assert response.usage.total_tokens == 6
    plain = upstream.chat_requests[0].body
    assert "tools" not in plain
    assert "SECRET INSTRUCTIONS" not in json.dumps(plain)
    assert plain["messages"] == [{"role": "user", "content": prompt}]
    # the session's history did not get the title exchange
    sdk.chat.completions.create(model="general", messages=[{"role": "user", "content": "hi"}])
    assert "Chat" not in json.dumps(upstream.chat_requests[1].body["messages"])


def test_auto_and_team_background_requests_use_the_router_and_team_model(server, upstream):
    sdk = client(server, KEY)
    auto = sdk.chat.completions.create(
        model="auto", messages=[{"role": "user", "content": OPEN_WEBUI_TITLE}]
    )
    team = sdk.chat.completions.create(
        model="team/t", messages=[{"role": "user", "content": OPEN_WEBUI_TITLE}]
    )
    assert [r.body["model"] for r in upstream.chat_requests] == ["router-model", "router-model"]
    assert len(upstream.chat_requests) == 2  # no routing call, no members
    assert auto.model == "auto" and team.model == "team/t"


def test_a_normal_message_mentioning_a_task_is_a_real_turn(server, upstream):
    sdk = client(server, KEY)
    sdk.chat.completions.create(
        model="general",
        messages=[
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "hello"},
            {"role": "user", "content": "### Task: plan my week"},
        ],
    )
    assert "SECRET INSTRUCTIONS" in json.dumps(upstream.chat_requests[0].body)
