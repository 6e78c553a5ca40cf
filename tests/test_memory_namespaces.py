"""Agent memory and /api/status are per client key: what one key's conversations saved, another
key neither recalls nor sees; ``memory: {shared: true}`` opts into one memory for all keys.

Over real HTTP, two keys, the loopback stand-in scripting ``remember`` and ``recall``.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import httpx

from server.memory import MemoryService
from tests.harness import agent_config, client, http, running_server
from tests.upstream import Reply, Upstream

KEYS = {"OPENAI_COMPAT_API_KEYS": "key-a,key-b"}
FACT = "The user's cat is called Miso."


def config(upstream: Upstream, memory: object) -> dict[str, object]:
    return agent_config(upstream.base_url, general={"memory": memory})


def tool_result(upstream: Upstream) -> str:
    """What the tool returned to the model: the last message of the second model call."""
    return upstream.chat_requests[-1].body["messages"][-1]["content"]


def system_text(body: dict[str, Any]) -> str:
    return "\n".join(m["content"] for m in body["messages"] if m["role"] == "system")


def remember(handle: Any, upstream: Upstream, key: str, session: str) -> None:
    upstream.clear()
    upstream.script(Reply.tool_calls([("remember", {"fact": FACT})]), Reply.text("Noted."))
    answer = client(handle, key, **{"X-Session-Id": session}).chat.completions.create(
        model="general", messages=[{"role": "user", "content": "Remember my cat is Miso."}]
    )
    assert answer.choices[0].message.content.endswith("Noted.")
    assert tool_result(upstream).startswith("Remembered as memory #")


def recall(handle: Any, upstream: Upstream, key: str, session: str) -> tuple[str, str]:
    """The recall tool's answer, and what the first model call was shown as memories."""
    upstream.clear()
    upstream.script(Reply.tool_calls([("recall", {"query": "cat name"})]), Reply.text("Done."))
    client(handle, key, **{"X-Session-Id": session}).chat.completions.create(
        model="general", messages=[{"role": "user", "content": "What is my cat called?"}]
    )
    return tool_result(upstream), system_text(upstream.chat_requests[0].body)


def test_one_keys_memory_is_not_recalled_with_another_key(
    tmp_path: Path, upstream: Upstream
) -> None:
    with running_server(tmp_path, config(upstream, True), env=KEYS) as handle:
        remember(handle, upstream, "key-a", "a-chat")
        found_b, shown_b = recall(handle, upstream, "key-b", "b-chat")
        assert found_b == "You have no memories yet."
        assert "Miso" not in shown_b
        found_a, shown_a = recall(handle, upstream, "key-a", "a-other-chat")
        assert "Miso" in found_a
        assert "Miso" in shown_a


def test_a_shared_memory_is_recalled_with_every_key(tmp_path: Path, upstream: Upstream) -> None:
    with running_server(tmp_path, config(upstream, {"shared": True}), env=KEYS) as handle:
        remember(handle, upstream, "key-a", "a-chat")
        found_b, shown_b = recall(handle, upstream, "key-b", "b-chat")
        assert "Miso" in found_b
        assert "Miso" in shown_b


def test_memory_as_a_mapping_without_shared_is_per_key(tmp_path: Path, upstream: Upstream) -> None:
    with running_server(tmp_path, config(upstream, {"shared": False}), env=KEYS) as handle:
        remember(handle, upstream, "key-a", "a-chat")
        assert recall(handle, upstream, "key-b", "b-chat")[0] == "You have no memories yet."


def test_api_status_lists_only_the_callers_own_sessions(tmp_path: Path, upstream: Upstream) -> None:
    with running_server(tmp_path, agent_config(upstream.base_url), env=KEYS) as handle:
        for key, session in (("key-a", "alpha-session"), ("key-b", "bravo-session")):
            upstream.script(Reply.text("hi"))
            client(handle, key, **{"X-Session-Id": session}).chat.completions.create(
                model="general", messages=[{"role": "user", "content": "hello"}]
            )
        with http(handle) as web:
            views = {
                key: web.get("/api/status", headers={"Authorization": f"Bearer {key}"})
                for key in ("key-a", "key-b")
            }
        for response in views.values():
            assert response.status_code == 200
        a, b = (views[k].json() for k in ("key-a", "key-b"))
        assert [s["key"].split("/", 1)[1] for s in a["sessions"]] == ["alpha-session"]
        assert [s["key"].split("/", 1)[1] for s in b["sessions"]] == ["bravo-session"]
        assert all("bravo" not in (r["session"] or "") for r in a["recent_requests"])
        assert len(a["recent_requests"]) == 1
        assert "namespace" not in a["sessions"][0]
        everything = handle.status.snapshot()  # the tray, in-process, sees all
        assert len(everything["sessions"]) == 2
        assert httpx.get(handle.url.removesuffix("/v1") + "/api/status").status_code == 401


def test_memories_from_before_namespaces_go_to_unauthenticated_local_use(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    old = sqlite3.connect(data / "memory.sqlite3")
    old.executescript(
        """
        CREATE TABLE memories (id INTEGER PRIMARY KEY AUTOINCREMENT, agent TEXT NOT NULL,
            text TEXT NOT NULL, session TEXT, created REAL NOT NULL, vector BLOB, embedder TEXT);
        CREATE INDEX memories_agent ON memories(agent, created);
        CREATE VIRTUAL TABLE memories_fts USING fts5(text, content='memories',
            content_rowid='id', tokenize='porter unicode61 remove_diacritics 2');
        CREATE TRIGGER memories_ai AFTER INSERT ON memories BEGIN
            INSERT INTO memories_fts(rowid, text) VALUES (new.id, new.text);
        END;
        INSERT INTO memories(agent, text, session, created)
            VALUES ('general', 'The user likes tea.', 's1', 1.0);
        """
    )
    old.close()
    memory = MemoryService.open(data)
    try:
        assert [m.text for m in memory.memories("general")] == ["The user likes tea."]
        assert memory.memories("general", namespace="0123456789abcdef") == []
        assert memory.recall("general", "tea", namespace="0123456789abcdef") == []
        assert [m.text for m in memory.recall("general", "tea")] == ["The user likes tea."]
        assert len(memory.store.memories("general")) == 1  # the CLI still lists it
    finally:
        memory.close()


def test_a_team_member_uses_the_callers_memory_and_no_other_keys(
    tmp_path: Path, upstream: Upstream
) -> None:
    """A member delegated to by a team leader remembers under the key that asked the team."""
    team_config = config(upstream, True)
    team_config["teams"] = {"house": {"agents": ["general"], "mode": "coordinate"}}
    with running_server(tmp_path, team_config, env=KEYS) as handle:
        upstream.script(
            Reply.tool_calls([("delegate_task", {"member": "general", "task": "save the cat"})]),
            Reply.tool_calls([("remember", {"fact": FACT})]),
            Reply.text("Saved."),
            Reply.text("Your team saved it."),
        )
        answer = client(handle, "key-a", **{"X-Session-Id": "team-chat"}).chat.completions.create(
            model="team/house", messages=[{"role": "user", "content": "Remember my cat."}]
        )
        assert answer.choices[0].message.content.endswith("Your team saved it.")
        assert (
            upstream.chat_requests[2]
            .body["messages"][-1]["content"]
            .startswith("Remembered as memory #")
        )
        found_b, _ = recall(handle, upstream, "key-b", "b-chat")
        assert found_b == "You have no memories yet."
        found_a, _ = recall(handle, upstream, "key-a", "a-chat")
        assert "Miso" in found_a
