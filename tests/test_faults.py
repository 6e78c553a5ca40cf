"""Faults Traymind must survive: provider failures, disconnects, kills, bad disks, bad edits."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
import time

import httpx
import openai
import pytest
import yaml

from tests.chat_paths import PATHS, ChatPath, agent_spec, assert_path
from tests.harness import (
    ROOT,
    ServeProcess,
    agent_config,
    client,
    kill_during_streams,
    running_server,
    write_config,
)
from tests.upstream import Reply, Upstream

KEY = "sk-faults"
ENV = {"OPENAI_COMPAT_API_KEYS": KEY}
USER = "user"


def config_for(upstream: Upstream, path: ChatPath = "direct", **server: object) -> dict:
    config = agent_config(
        upstream.base_url, general=agent_spec(path, display_name="GeneralAgent", role="Helper")
    )
    config["models"]["default"]["timeout_seconds"] = 1.0
    if server:
        config["server"] = server
    return config


def user_texts(body: dict) -> list[str]:
    return [m["content"] for m in body["messages"] if m["role"] == USER]


FAILURES = [
    pytest.param(Reply.error(500), id="5xx"),
    pytest.param(Reply.error(429, headers={"Retry-After": "3"}), id="429"),
    pytest.param(Reply.garbage(), id="malformed"),
    pytest.param(Reply.broken_stream(["Partial ", "answer"]), id="stream-cut"),
    pytest.param(Reply.hang(3), id="slow"),
    pytest.param(Reply.deltas(["Part", "ial"], delay=2.0), id="stalls-mid-stream"),
]


@pytest.mark.parametrize("chat_path", PATHS)
@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("failure", FAILURES)
def test_provider_failure_releases_the_session_and_stores_nothing(
    tmp_path, upstream, failure, stream, chat_path: ChatPath
) -> None:
    with running_server(tmp_path, config_for(upstream, chat_path), env=ENV) as handle:
        sdk = client(handle, KEY, **{"X-Session-Id": "f"})
        upstream.script(Reply.text("first"), failure)
        sdk.chat.completions.create(model="general", messages=[{"role": USER, "content": "one"}])
        assert_path(upstream, chat_path)
        try:
            response = sdk.chat.completions.create(
                model="general", stream=stream, messages=[{"role": USER, "content": "lost"}]
            )
            if stream:
                text = "".join(c.choices[0].delta.content or "" for c in response if c.choices)
                assert "[Traymind:" in text  # a clean end with a sentence
        except openai.APIStatusError as exc:
            assert exc.status_code in (429, 502, 504)
        started = time.monotonic()
        sdk.chat.completions.create(model="general", messages=[{"role": USER, "content": "three"}])
        assert time.monotonic() - started < 5, "the session lock was not released"
        assert handle.state is not None
        assert len(handle.state.locks) == 0 and handle.state.turns == set()
    assert_path(upstream, chat_path)
    last = upstream.chat_requests[-1].body
    assert user_texts(last) == ["one", "three"]
    assert "Partial" not in json.dumps(last)


@pytest.mark.parametrize("chat_path", PATHS)
def test_repeated_disconnects_under_load_leak_nothing(
    tmp_path, upstream, chat_path: ChatPath
) -> None:
    upstream.default = Reply.deltas([f"w{i} " for i in range(200)], delay=0.02)
    with running_server(tmp_path, config_for(upstream, chat_path), env=ENV) as handle:
        baseline = handle.task_count()

        def abandon(i: int) -> None:
            with (
                httpx.Client(timeout=10) as h,
                h.stream(
                    "POST",
                    f"{handle.url}/chat/completions",
                    headers={"Authorization": f"Bearer {KEY}", "X-Session-Id": f"d{i % 5}"},
                    json={
                        "model": "general",
                        "stream": True,
                        "messages": [{"role": USER, "content": "go"}],
                    },
                ) as response,
            ):
                for line in response.iter_lines():
                    if "w1" in line:
                        return

        for _ in range(3):
            threads = [threading.Thread(target=abandon, args=(i,)) for i in range(20)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(30)
        assert upstream.wait_until(lambda: upstream.active_streams == 0, timeout=10)
        assert upstream.cancelled == 60
        assert_path(upstream, chat_path)
        state = handle.state
        assert state is not None
        assert upstream.wait_until(lambda: not state.turns and len(state.locks) == 0, timeout=5)
        assert upstream.wait_until(lambda: handle.task_count() <= baseline, timeout=5)


def test_overload_answers_429_with_retry_after(tmp_path, upstream) -> None:
    upstream.default = Reply.hang(1.0, then=Reply.text("ok"))
    config = config_for(upstream, "direct", max_concurrent_runs=1, max_queued_runs=1)
    config["models"]["default"]["timeout_seconds"] = 10
    with running_server(tmp_path, config, env=ENV) as handle:
        results: list[int] = []

        def ask() -> None:
            try:
                client(handle, KEY).chat.completions.create(
                    model="general", messages=[{"role": USER, "content": "x"}]
                )
                results.append(200)
            except openai.RateLimitError as exc:
                assert exc.response.headers["retry-after"] == "1"
                results.append(429)

        threads = [threading.Thread(target=ask) for _ in range(4)]
        for t in threads:
            t.start()
            time.sleep(0.1)
        for t in threads:
            t.join(20)
    assert sorted(results) == [200, 200, 429, 429]
    # the queued run waited for the running one: never two upstream calls at once
    calls = sorted(upstream.chat_requests, key=lambda r: r.started_at)
    assert calls[1].started_at >= calls[0].finished_at - 0.01


def test_unwritable_data_dir_is_a_clear_startup_error(tmp_path) -> None:
    config = write_config(tmp_path, agent_config(None))
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the data folder should be")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "server",
            "--config",
            str(config),
            "--port",
            "0",
            "--data-dir",
            str(blocker / "data"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        env=ServeProcess.base_env(),
    )
    assert result.returncode == 2
    assert "Cannot open the session store" in result.stderr
    assert "--data-dir" in result.stderr and "Traceback" not in result.stderr


def test_invalid_config_edit_keeps_the_old_config_serving(tmp_path, upstream) -> None:
    with running_server(tmp_path, config_for(upstream), env=ENV) as handle:
        path = tmp_path / "config.yaml"
        path.write_text("agents:\n  general:\n    modle: default\n")
        assert upstream.wait_until(
            lambda: handle.status.snapshot().get("config", {}).get("state") == "error", timeout=5
        )
        message = handle.status.snapshot()["config"]["message"]
        assert "agents.general.modle" in message and "did you mean 'model'" in message
        assert [m.id for m in client(handle, KEY).models.list()] == ["auto", "general"]
        # a good edit is picked up without a restart
        good = config_for(upstream)
        good["agents"]["writer"] = {"display_name": "Writer"}
        path.write_text(yaml.safe_dump(good))
        assert upstream.wait_until(
            lambda: "writer" in [m.id for m in client(handle, KEY).models.list()], timeout=5
        )
        assert handle.status.snapshot()["config"]["state"] == "ok"


@pytest.mark.parametrize("chat_path", PATHS)
def test_sigkill_during_50_streaming_turns_leaves_a_consistent_store(
    tmp_path, chat_path: ChatPath
) -> None:
    """Each path writes its turns in its own code: both must leave only complete turns."""
    data = tmp_path / "data"
    with Upstream() as up:
        up.default = Reply.text("done quickly")
        general = agent_spec(chat_path, display_name="GeneralAgent", role="Helper")
        config = write_config(tmp_path, agent_config(up.base_url, general=general))
        proc = ServeProcess(
            ["-m", "server", "--config", str(config), "--port", "0", "--data-dir", str(data)],
            env=ENV,
        )
        url = proc.wait_ready()
        headers = {"Authorization": f"Bearer {KEY}"}
        # every session gets one complete turn first
        with httpx.Client(timeout=30) as h:
            for i in range(50):
                h.post(
                    f"{url}/chat/completions",
                    headers={**headers, "X-Session-Id": f"k{i}"},
                    json={"model": "general", "messages": [{"role": USER, "content": "first"}]},
                )
        assert_path(up, chat_path)
        up.default = Reply.deltas([f"w{i} " for i in range(400)], delay=0.01)

        kill_during_streams(proc, up, headers, sessions=50, streaming=40)

        with sqlite3.connect(data / "sessions.sqlite3") as db:
            assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            rows = db.execute("SELECT session, messages FROM turns").fetchall()
        assert sorted(session for session, _ in rows) == sorted(f"k{i}" for i in range(50))
        for _, messages in rows:
            turn = json.loads(messages)
            assert turn[-1]["kind"] == "response"  # complete turns only
            assert "killed" not in messages.decode()

        up.default = Reply.text("back")
        again = ServeProcess(
            ["-m", "server", "--config", str(config), "--port", "0", "--data-dir", str(data)],
            env=ENV,
        )
        try:
            url = again.wait_ready()
            up.clear()
            with httpx.Client(timeout=30) as h:
                for i in (0, 25, 49):
                    response = h.post(
                        f"{url}/chat/completions",
                        headers={**headers, "X-Session-Id": f"k{i}"},
                        json={"model": "general", "messages": [{"role": USER, "content": "next"}]},
                    )
                    assert response.status_code == 200
            assert all(user_texts(r.body) == ["first", "next"] for r in up.chat_requests)
            assert_path(up, chat_path)
        finally:
            again.stop()
