"""Knowledge bases and memory through the real HTTP server, as Open WebUI would use them."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from tests.harness import agent_config, client, running_server
from tests.upstream import Reply, Upstream

KEY = "sk-test-knowledge"
ENV = {"OPENAI_COMPAT_API_KEYS": KEY}


def server_config(upstream: Upstream, docs: Path) -> dict[str, Any]:
    config = agent_config(
        upstream.base_url,
        general={"knowledge_bases": ["docs"], "memory": True},
        coder={},
    )
    config["knowledge_bases"] = {"docs": {"path": str(docs), "description": "Product docs"}}
    return config


def wait_searchable(handle: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not handle.status.snapshot().get("knowledge_bases", {}).get("docs", {}).get("searchable"):
        assert time.monotonic() < deadline, handle.status.snapshot().get("knowledge_bases")
        time.sleep(0.02)


def test_an_answer_comes_with_the_file_it_came_from(tmp_path: Path, upstream: Upstream) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "warranty.md").write_text("# Warranty\n\nThe warranty lasts three years.\n")
    with running_server(tmp_path, server_config(upstream, docs), env=ENV) as handle:
        wait_searchable(handle)
        upstream.script(
            Reply.tool_calls([("search_knowledge", {"query": "warranty"})]),
            Reply.text("Three years (source: warranty.md)."),
        )
        stream = client(handle, KEY, **{"X-OpenWebUI-Chat-Id": "chat-1"}).chat.completions.create(
            model="general",
            messages=[{"role": "user", "content": "How long is the warranty?"}],
            stream=True,
        )
        text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert text.endswith("Three years (source: warranty.md).")
    assert "search_knowledge" in text  # the tool shows in the stream like any other
    tool = upstream.chat_requests[1].body["messages"][-1]
    assert tool["role"] == "tool"
    assert tool["content"] == (
        "[1] source: warranty.md (lines 1-3, knowledge base `docs`)\n"
        "section: Warranty\n# Warranty\n\nThe warranty lasts three years."
    )


def test_a_preference_from_monday_is_known_in_a_new_chat_on_tuesday(
    tmp_path: Path, upstream: Upstream
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    config = server_config(upstream, docs)
    with running_server(tmp_path, config, env=ENV) as handle:
        upstream.script(
            Reply.tool_calls([("remember", {"fact": "The user prefers metric units."})]),
            Reply.text("Noted."),
        )
        client(handle, KEY, **{"X-OpenWebUI-Chat-Id": "monday"}).chat.completions.create(
            model="general", messages=[{"role": "user", "content": "Use metric units."}]
        )
    upstream.clear()
    with running_server(tmp_path, config, env=ENV) as handle:  # a restart
        for agent in ("general", "coder"):
            client(handle, KEY, **{"X-OpenWebUI-Chat-Id": "tuesday"}).chat.completions.create(
                model=agent, messages=[{"role": "user", "content": "How far is Paris?"}]
            )
    general, coder = (r.body["messages"] for r in upstream.chat_requests)
    today = time.strftime("%Y-%m-%d")
    assert {
        "role": "system",
        "content": "What you remember that may matter now:\n"
        f"- #1 ({today}): The user prefers metric units.",
    } in general
    assert not any("metric" in m["content"] for m in coder if m["role"] == "system")
