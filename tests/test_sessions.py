"""Sessions: which history a request continues, persistence, isolation and locking."""

from __future__ import annotations

import threading
import time

import openai
import pytest

from tests.harness import agent_config, client, http, running_server
from tests.upstream import Reply, Upstream

KEY_A = "sk-session-a"
KEY_B = "sk-session-b"
ENV = {"OPENAI_COMPAT_API_KEYS": f"{KEY_A},{KEY_B}"}


def user_texts(request_body: dict) -> list[str]:
    return [m["content"] for m in request_body["messages"] if m["role"] == "user"]


def chat(
    handle,
    text: str,
    *,
    key: str = KEY_A,
    model: str = "general",
    history: list[dict] | None = None,
    **headers: str,
) -> str:
    answer = client(handle, key, **headers).chat.completions.create(
        model=model, messages=[*(history or []), {"role": "user", "content": text}]
    )
    return answer.choices[0].message.content


@pytest.fixture
def config(upstream: Upstream) -> dict:
    return agent_config(upstream.base_url, general={}, code={})


def test_same_session_continues_its_history(tmp_path, upstream, config) -> None:
    with running_server(tmp_path, config, env=ENV) as handle:
        upstream.script(Reply.text("first answer"), Reply.text("second answer"))
        chat(handle, "one", **{"X-Session-Id": "s1"})
        chat(handle, "two", **{"X-Session-Id": "s1"})
    second = upstream.chat_requests[1].body
    assert user_texts(second) == ["one", "two"]
    assert {"role": "assistant", "content": "first answer"} in second["messages"]


def test_stored_history_wins_over_the_clients_copy(tmp_path, upstream, config) -> None:
    with running_server(tmp_path, config, env=ENV) as handle:
        chat(handle, "one", **{"X-Session-Id": "s1"})
        chat(
            handle,
            "two",
            history=[
                {"role": "user", "content": "EDITED"},
                {"role": "assistant", "content": "whatever"},
            ],
            **{"X-Session-Id": "s1"},
        )
    assert user_texts(upstream.chat_requests[1].body) == ["one", "two"]


def test_new_session_takes_the_clients_earlier_messages(tmp_path, upstream, config) -> None:
    history = [{"role": "user", "content": "earlier"}, {"role": "assistant", "content": "reply"}]
    with running_server(tmp_path, config, env=ENV) as handle:
        chat(handle, "now", history=history, **{"X-Session-Id": "fresh"})
        chat(handle, "later", **{"X-Session-Id": "fresh"})
    assert user_texts(upstream.chat_requests[0].body) == ["earlier", "now"]
    assert user_texts(upstream.chat_requests[1].body) == ["earlier", "now", "later"]


def test_ephemeral_requests_are_never_stored(tmp_path, upstream, config) -> None:
    with running_server(tmp_path, config, env=ENV) as handle:
        chat(handle, "one")
        chat(handle, "two")
    assert user_texts(upstream.chat_requests[1].body) == ["two"]


def test_history_is_per_agent(tmp_path, upstream, config) -> None:
    with running_server(tmp_path, config, env=ENV) as handle:
        chat(handle, "to general", **{"X-Session-Id": "s"})
        chat(handle, "to code", model="code", **{"X-Session-Id": "s"})
    assert user_texts(upstream.chat_requests[1].body) == ["to code"]


def test_two_keys_never_share_a_session(tmp_path, upstream, config) -> None:
    with running_server(tmp_path, config, env=ENV) as handle:
        chat(handle, "secret of A", key=KEY_A, **{"X-Session-Id": "same"})
        chat(handle, "hello from B", key=KEY_B, **{"X-Session-Id": "same"})
        chat(handle, "A again", key=KEY_A, **{"X-Session-Id": "same"})
    assert user_texts(upstream.chat_requests[1].body) == ["hello from B"]
    assert user_texts(upstream.chat_requests[2].body) == ["secret of A", "A again"]


def test_header_precedence(tmp_path, upstream, config) -> None:
    with running_server(tmp_path, config, env=ENV) as handle:
        # X-Session-Id wins over the LibreChat and Open WebUI headers
        chat(
            handle,
            "one",
            **{
                "X-Session-Id": "s",
                "X-LibreChat-Conversation-Id": "lc",
                "X-OpenWebUI-Chat-Id": "ow",
            },
        )
        chat(handle, "two", **{"X-Session-Id": "s"})
        # LibreChat's header wins over Open WebUI's
        chat(handle, "three", **{"X-LibreChat-Conversation-Id": "lc", "X-OpenWebUI-Chat-Id": "ow"})
        chat(handle, "four", **{"X-LibreChat-Conversation-Id": "lc"})
        chat(handle, "five", **{"X-OpenWebUI-Chat-Id": "ow"})
        # an unfilled LibreChat template is no session at all
        chat(handle, "six", **{"X-LibreChat-Conversation-Id": "{{LIBRECHAT_BODY_CONVERSATIONID}}"})
        chat(
            handle, "seven", **{"X-LibreChat-Conversation-Id": "{{LIBRECHAT_BODY_CONVERSATIONID}}"}
        )
    requests = [user_texts(r.body) for r in upstream.chat_requests]
    assert requests[1] == ["one", "two"]
    assert requests[3] == ["three", "four"]
    assert requests[4] == ["five"]
    assert requests[6] == ["seven"]


def test_history_survives_a_restart(tmp_path, upstream, config) -> None:
    data = tmp_path / "data"
    with running_server(tmp_path, config, env=ENV, data_dir=data) as handle:
        upstream.script(Reply.text("remembered"))
        chat(handle, "before restart", **{"X-Session-Id": "persist"})
    with running_server(tmp_path, config, env=ENV, data_dir=data) as handle:
        chat(handle, "after restart", **{"X-Session-Id": "persist"})
    body = upstream.chat_requests[1].body
    assert user_texts(body) == ["before restart", "after restart"]
    assert {"role": "assistant", "content": "remembered"} in body["messages"]


def test_a_failed_turn_is_not_stored(tmp_path, upstream, config) -> None:
    with running_server(tmp_path, config, env=ENV) as handle:
        upstream.script(Reply.error(500))
        with pytest.raises(openai.APIStatusError):
            chat(handle, "lost", **{"X-Session-Id": "f"})
        chat(handle, "kept", **{"X-Session-Id": "f"})
        chat(handle, "next", **{"X-Session-Id": "f"})
    assert user_texts(upstream.chat_requests[2].body) == ["kept", "next"]


def test_same_session_is_serialized_and_different_sessions_run_concurrently(
    tmp_path, upstream, config
) -> None:
    upstream.default = Reply.deltas(["slow"], delay=0.0)
    upstream.script(*(Reply.hang(0.6, then=Reply.text("ok")) for _ in range(4)))
    with running_server(tmp_path, config, env=ENV) as handle:

        def run(session: str) -> None:
            chat(handle, f"to {session}", **{"X-Session-Id": session})

        threads = [threading.Thread(target=run, args=(s,)) for s in ("x", "x", "y", "z")]
        for t in threads:
            t.start()
        for t in threads:
            t.join(20)
    by_session: dict[str, list] = {}
    for r in upstream.chat_requests:
        by_session.setdefault(user_texts(r.body)[0], []).append(r)
    x1, x2 = sorted(by_session["to x"], key=lambda r: r.started_at)
    assert x2.started_at >= x1.finished_at - 0.01, "same session overlapped"
    y, z = by_session["to y"][0], by_session["to z"][0]
    assert y.started_at < z.finished_at and z.started_at < y.finished_at, "sessions serialized"


def test_client_disconnect_mid_stream_cancels_and_keeps_history_consistent(
    tmp_path, upstream, config
) -> None:
    with running_server(tmp_path, config, env=ENV) as handle:
        upstream.script(Reply.deltas([f"w{i} " for i in range(100)], delay=0.05))
        with (
            http(handle) as h,
            h.stream(
                "POST",
                "/v1/chat/completions",
                headers={"Authorization": f"Bearer {KEY_A}", "X-Session-Id": "d"},
                json={
                    "model": "general",
                    "stream": True,
                    "messages": [{"role": "user", "content": "abandoned"}],
                },
            ) as response,
        ):
            for line in response.iter_lines():
                if "w2" in line:
                    break
        assert upstream.wait_until(lambda: upstream.cancelled == 1, timeout=5)
        # the lock was released and nothing of the abandoned turn was stored
        start = time.monotonic()
        chat(handle, "next", **{"X-Session-Id": "d"})
        assert time.monotonic() - start < 5
        assert handle.state is not None and len(handle.state.locks) == 0
        assert handle.state.turns == set()
    assert user_texts(upstream.chat_requests[-1].body) == ["next"]


def test_overlong_session_header_is_rejected(tmp_path, upstream, config) -> None:
    with running_server(tmp_path, config, env=ENV) as handle, http(handle) as h:
        response = h.post(
            "/v1/chat/completions",
            headers={"Authorization": f"Bearer {KEY_A}", "X-Session-Id": "s" * 600},
            json={"model": "general", "messages": [{"role": "user", "content": "x"}]},
        )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "x-session-id"


def test_parallel_streams_in_two_sessions(tmp_path, upstream, config) -> None:
    upstream.default = Reply.deltas(["a", "b", "c"], delay=0.05)
    results: dict[str, str] = {}
    with running_server(tmp_path, config, env=ENV) as handle:

        def run(session: str) -> None:
            stream = client(handle, KEY_A, **{"X-Session-Id": session}).chat.completions.create(
                model="general", stream=True, messages=[{"role": "user", "content": session}]
            )
            results[session] = "".join(
                c.choices[0].delta.content or "" for c in stream if c.choices
            )

        threads = [threading.Thread(target=run, args=(s,)) for s in ("p", "q")]
        for t in threads:
            t.start()
        for t in threads:
            t.join(20)
    assert results == {"p": "abc", "q": "abc"}
