"""The status window and the tray's status line follow real requests, live."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import threading
import time

import openai
import pytest

from app.activity_chart import chart_caption, chart_series
from app.settings import Settings
from app.status_bridge import StatusBridge
from server.status import StatusHub
from tests.harness import agent_config
from tests.upstream import Reply, Upstream

pytest_plugins = ("tests.app_conftest",)
pytestmark = pytest.mark.gui

AGENTS = {
    "general": {"display_name": "GeneralAgent", "role": "Helper"},
    "code": {"display_name": "CodeAgent", "role": "Coder"},
}


def chat(url: str, session: str | None, stream: bool = False):
    client = openai.OpenAI(
        base_url=url,
        api_key="unused",
        max_retries=0,
        timeout=20,
        default_headers={"X-Session-Id": session} if session else None,
    )
    return client.chat.completions.create(
        model="general", messages=[{"role": "user", "content": "Hi"}], stream=stream
    )


def test_a_chat_request_shows_up_in_the_status_window(make_app, qtbot, upstream: Upstream) -> None:
    harness = make_app(
        agent_config(upstream.base_url, **AGENTS), settings=Settings(allow_unauthenticated=True)
    )
    url = harness.url
    assert harness.menu_texts()[0] == f"Running on {url} · 2 agents · 0 active sessions"
    harness.menu_action("Status…").trigger()
    window = harness.app.status_window
    assert window.isVisible()
    assert window.fields["URL"].text() == url
    assert window.fields["Auth"].text() == "unauthenticated local"
    qtbot.waitUntil(lambda: len(window.agents.rows()) == 2)
    general = next(r for r in window.agents.rows() if r[0] == "general")
    assert general[1:5] == (
        "GeneralAgent",
        f"default → test-model (openai at {upstream.base_url})",
        "idle",
        "0",
    )

    upstream.script(Reply.text("Hello"))
    assert chat(url, "conv-42").choices[0].message.content == "Hello"

    qtbot.waitUntil(lambda: len(window.requests.rows()) == 1)
    [request] = window.requests.rows()
    assert request[1:4] == ("general", request[2], "200")
    assert request[2].endswith("/conv-42") and request[4].endswith(" ms")
    qtbot.waitUntil(lambda: len(window.sessions.rows()) == 1)
    [session] = window.sessions.rows()
    assert session[0] == request[2]
    assert session[1:5] == ("general", "OpenAI SDK", "unauthenticated local", "1")
    assert session[6] == "no"
    general = next(r for r in window.agents.rows() if r[0] == "general")
    assert general[3:5] == ("idle", "1") and general[5] != "never"
    assert window.fields["Requests served"].text() == "1"
    assert window.fields["Errors"].text() == "0"
    assert harness.menu_texts()[0] == f"Running on {url} · 2 agents · 1 active session"


def test_open_streams_show_as_streaming_and_quit_ends_them_promptly(
    make_app, qtbot, upstream: Upstream
) -> None:
    harness = make_app(
        agent_config(upstream.base_url), settings=Settings(allow_unauthenticated=True)
    )
    harness.app.show_status()
    window = harness.app.status_window
    upstream.default = Reply.slow_stream(["tick "] * 200, delay=0.05)  # ten seconds of stream
    results: list[object] = []

    def consume() -> None:
        try:
            for _ in chat(harness.url, "long-one", stream=True):
                pass
            results.append("ended")
        except Exception as exc:  # the stream is cut by the quit: that is the point
            results.append(exc)

    reader = threading.Thread(target=consume, daemon=True)
    reader.start()
    qtbot.waitUntil(
        lambda: any(
            r[0].endswith("/long-one") and r[6] == "streaming now" for r in window.sessions.rows()
        )
    )
    general = next(r for r in window.agents.rows() if r[0] == "general")
    assert general[3] == "running 1"
    assert harness.menu_texts()[0].endswith("· 1 agent · 1 active session")

    started = time.monotonic()
    harness.menu_action("Quit").trigger()
    assert time.monotonic() - started < 3.5
    assert harness.server_threads() == []
    reader.join(5)
    assert results, "the client's stream did not end"


def test_bursts_of_status_news_are_coalesced_on_the_gui_thread(qtbot, qapp) -> None:
    hub = StatusHub()
    bridge = StatusBridge(hub, interval_ms=100)
    seen: list[bool] = []
    bridge.changed.connect(
        lambda: seen.append(threading.current_thread() is threading.main_thread())
    )

    def burst() -> None:
        for n in range(5000):
            hub.set_extra("load", n)

    workers = [threading.Thread(target=burst) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    qtbot.waitUntil(lambda: len(seen) >= 1)
    qtbot.wait(250)
    assert len(seen) == 1  # 20,000 pieces of news while the GUI was busy: one refresh
    assert all(seen)  # always delivered on the GUI thread
    hub.set_extra("load", -1)
    qtbot.waitUntil(lambda: len(seen) >= 2)
    bridge.close()
    count = len(seen)
    hub.set_extra("load", -2)
    qtbot.wait(200)
    assert len(seen) == count  # unsubscribed


def test_failed_requests_and_model_lists_show_with_their_error_and_details(
    make_app, qtbot, upstream: Upstream
) -> None:
    config = agent_config(upstream.base_url, calc={"tools": ["calculator"]})
    harness = make_app(config, env={"OPENAI_COMPAT_API_KEYS": "sk-status-key"})
    harness.app.show_status()
    window = harness.app.status_window
    with harness.http() as web:
        assert (
            web.get("/v1/models", headers={"Authorization": "Bearer sk-wrong"}).status_code == 401
        )
        auth = {"Authorization": "Bearer sk-status-key"}
        assert web.get("/v1/models", headers=auth).status_code == 200
        missing = {"model": "nope", "messages": [{"role": "user", "content": "hi"}]}
        assert web.post("/v1/chat/completions", json=missing, headers=auth).status_code == 404
        upstream.script(Reply.tool_calls([("calculator", {"expression": "2+2"})]), Reply.text("4"))
        asked = {"model": "calc", "messages": [{"role": "user", "content": "2+2?"}]}
        ok = web.post("/v1/chat/completions", json=asked, headers={**auth, "X-Session-Id": "maths"})
        assert ok.status_code == 200
    qtbot.waitUntil(lambda: len(window.requests.rows()) == 4, timeout=5_000)
    rows = window.requests.rows()  # newest first
    assert [(r[1], r[3]) for r in rows] == [
        ("calc", "200"),
        ("nope", "404"),
        ("/v1/models", "200"),
        ("/v1/models", "401"),
    ]
    assert rows[3][5] == "Invalid API key."
    assert "nope" in rows[1][5] and rows[0][5] == ""
    assert window.fields["Requests served"].text() == "4"
    assert window.fields["Errors"].text() == "2"
    minutes = harness.app.controller.snapshot()["per_minute"]
    assert sum(m["requests"] for m in minutes) == 4 and sum(m["errors"] for m in minutes) == 2
    assert window.chart.toolTip().startswith("Last hour: 4 requests, 2 errors")
    window.tabs.setCurrentIndex(2)
    window.requests_view.selectRow(0)
    details = window.request_details.toPlainText()
    assert "/v1/chat/completions" in details and "HTTP 200" in details
    assert "Model asked: calc; answered by: calc" in details
    assert "Session: " in details and "maths" in details
    assert "Tool calls: calculator" in details
    assert "Usage: 20 tokens in, 10 out" in details
    assert "Client: other, key from environment" in details
    window.requests_view.selectRow(3)
    assert "Error: Invalid API key." in window.request_details.toPlainText()


def test_a_failing_provider_and_a_dead_mcp_server_are_told_once_and_shown(
    make_app, qtbot, upstream: Upstream, tmp_path
) -> None:
    config = agent_config(upstream.base_url, general={"display_name": "GeneralAgent"})
    config["agents"]["tooled"] = {"tools": [{"mcp": {"server": "broken"}}]}
    config["mcp_servers"] = {"broken": {"command": str(tmp_path / "no-such-program")}}
    harness = make_app(config, settings=Settings(allow_unauthenticated=True))
    told: list[str] = []
    harness.app.controller.runtime_problem.connect(told.append)
    harness.app.show_status()
    window = harness.app.status_window
    qtbot.waitUntil(lambda: any("'broken'" in m for m in told), timeout=10_000)
    for _ in range(3):
        upstream.script(Reply.error(500, "the GPU caught fire"))
        with pytest.raises(openai.APIStatusError):
            chat(harness.url, None)
    qtbot.waitUntil(lambda: any("GeneralAgent" in m for m in told), timeout=5_000)
    window.refresh()
    assert "Agent 'GeneralAgent' cannot reach its model" in window.banner.text()
    assert "The MCP server 'broken' is not running" in window.banner.text()
    assert len([m for m in told if "GeneralAgent" in m]) == 1  # three failures, one notice
    assert harness.app.controller.problems
    upstream.script(Reply.text("better now"))
    assert chat(harness.url, None).choices[0].message.content == "better now"
    qtbot.waitUntil(lambda: "agent:general" not in harness.app.controller.problems, timeout=5_000)
    window.refresh()
    assert "GeneralAgent" not in window.banner.text()


def test_the_chart_counts_the_last_hour_by_minute() -> None:
    now = 1_800_000_000.0
    minute = int(now // 60) * 60
    per_minute = [
        {"minute": minute - 120, "requests": 3, "errors": 1, "latency_ms_avg": 12.0,
         "latency_ms_max": 20.0},
        {"minute": minute, "requests": 5, "errors": 0, "latency_ms_avg": 4.0,
         "latency_ms_max": 9.0},
        {"minute": minute - 3600, "requests": 99, "errors": 0, "latency_ms_avg": 1.0,
         "latency_ms_max": 1.0},  # over an hour ago: not shown
    ]  # fmt: skip
    series = chart_series(per_minute, now)
    assert len(series) == 60
    assert [m["requests"] for m in series[-3:]] == [3, 0, 5]
    assert chart_caption(series) == (
        "Last hour: 8 requests, 1 error; busiest minute 5, slowest minute 12 ms on average"
    )
