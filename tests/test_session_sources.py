"""Where a session id comes from: X-Chat-Id, and the body's ``user`` when nothing else is sent."""

from __future__ import annotations

from pathlib import Path

from tests.harness import agent_config, client, running_server
from tests.upstream import Reply, Upstream

KEY = "sk-session-sources"
ENV = {"OPENAI_COMPAT_API_KEYS": KEY}


def ask(handle, messages: list[dict], *, user: str | None = None, **headers: str) -> str:
    extra = {"user": user} if user is not None else {}
    answer = client(handle, KEY, **headers).chat.completions.create(
        model="general", messages=messages, **extra
    )
    return answer.choices[0].message.content


def sent_assistant_texts(upstream: Upstream) -> list[str]:
    body = upstream.chat_requests[-1].body
    return [m["content"] for m in body["messages"] if m["role"] == "assistant"]


def test_x_chat_id_continues_a_stored_conversation(tmp_path: Path, upstream: Upstream) -> None:
    upstream.script(Reply.text("stored answer"), Reply.text("second"))
    with running_server(tmp_path, agent_config(upstream.base_url), env=ENV) as handle:
        ask(handle, [{"role": "user", "content": "first"}], **{"X-Chat-Id": "c-1"})
        ask(handle, [{"role": "user", "content": "again"}], **{"X-Chat-Id": "c-1"})
    assert sent_assistant_texts(upstream) == ["stored answer"]


def test_x_session_id_comes_before_x_chat_id(tmp_path: Path, upstream: Upstream) -> None:
    upstream.script(Reply.text("in s-1"), Reply.text("elsewhere"))
    with running_server(tmp_path, agent_config(upstream.base_url), env=ENV) as handle:
        ask(handle, [{"role": "user", "content": "one"}], **{"X-Session-Id": "s-1"})
        both = {"X-Session-Id": "s-2", "X-Chat-Id": "s-1"}
        ask(handle, [{"role": "user", "content": "two"}], **both)
    assert sent_assistant_texts(upstream) == []  # s-2 is new: X-Chat-Id was not used


def test_user_keeps_one_conversation_and_tells_a_new_one_apart(
    tmp_path: Path, upstream: Upstream
) -> None:
    """A client that sends ``user`` and the whole conversation each turn (LibreChat does):
    the next turn continues the stored history; a new chat of the same user starts afresh."""
    upstream.script(Reply.text("stored answer"), Reply.text("turn two"), Reply.text("new chat"))
    first = {"role": "user", "content": "Plan a trip to Rome"}
    with running_server(tmp_path, agent_config(upstream.base_url), env=ENV) as handle:
        ask(handle, [first], user="ana")
        # The client resends the conversation with its own copy of the answer: the stored
        # one wins, which proves the turn continued the stored session.
        resent = [first, {"role": "assistant", "content": "client copy"}]
        ask(handle, [*resent, {"role": "user", "content": "And Naples?"}], user="ana")
        assert sent_assistant_texts(upstream) == ["stored answer"]
        ask(handle, [{"role": "user", "content": "Something else entirely"}], user="ana")
        assert sent_assistant_texts(upstream) == []
        ask(handle, [first], user="bruno")  # another user, same first message: not Ana's
        assert sent_assistant_texts(upstream) == []


def test_a_header_wins_over_user(tmp_path: Path, upstream: Upstream) -> None:
    upstream.script(Reply.text("by user"), Reply.text("by header"))
    first = {"role": "user", "content": "hello"}
    with running_server(tmp_path, agent_config(upstream.base_url), env=ENV) as handle:
        ask(handle, [first], user="ana")
        ask(handle, [first, {"role": "user", "content": "x"}], user="ana", **{"X-Chat-Id": "h"})
    assert sent_assistant_texts(upstream) == []  # the header's session is new
