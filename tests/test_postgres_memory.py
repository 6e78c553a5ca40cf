"""Agent memory on PostgreSQL (#18): the store's contract on both backends, and a fact
remembered through one replica recalled through another, over real HTTP."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from server.cli.main import main as cli
from server.memory import MemoryNotFound, MemoryService, MemoryStore
from server.memory.store import SHARED
from server.postgres.memory_store import PostgresMemoryStore
from tests.harness import agent_config, client, replicas
from tests.postgres_server import binaries, fresh_database, new_name
from tests.upstream import Reply, Upstream

pytest_plugins = ("tests.postgres_conftest",)
pytestmark = pytest.mark.skipif(
    binaries() is None, reason="PostgreSQL is not installed (apt-get install postgresql)"
)
KEY = "sk-test-postgres-memory"


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    if request.param == "sqlite":
        made: Any = MemoryStore(tmp_path / "memory.sqlite3").open()
    else:
        database = fresh_database(request.getfixturevalue("cluster"), new_name())
        made = PostgresMemoryStore(database).open()
    yield made
    made.close()


def test_saved_once_newest_first_forgotten_and_kept_per_agent_and_key(store: Any) -> None:
    first = store.add("general", "Likes   green tea.", "s1", "key-a")
    assert first.text == "Likes green tea."
    assert store.add("general", "likes green tea.", "s2", "key-a") == first  # once per key
    second = store.add("general", "Lives in Lyon.", None, "key-a")
    store.add("general", "Lives in Oslo.", None, "key-b")  # another key's
    store.add("other", "Plays chess.", None, "key-a")  # another agent's
    assert [m.id for m in store.memories("general", namespace="key-a")] == [second.id, first.id]
    assert store.count("general", "key-a") == 2 and store.count("general") == 3
    assert [m.text for m in store.memories("general", limit=1, namespace="key-a")] == [
        "Lives in Lyon."
    ]
    assert store.get("general", [second.id, first.id, 999], "key-a") == [second, first]
    assert store.get("general", [second.id], "key-b") == []  # not that key's
    with pytest.raises(MemoryNotFound):
        store.forget("general", first.id, "key-b")
    assert store.forget("general", first.id, "key-a") == first
    assert [m.text for m in store.memories("general", namespace="key-a")] == ["Lives in Lyon."]


def test_words_find_memories_stemmed_best_first(store: Any) -> None:
    store.add("general", "The user's birthday is on 3 March.", None, "k")
    store.add("general", "The user works as a nurse in the night shifts.", None, "k")
    store.add("general", "Birthday cakes: chocolate, always chocolate.", None, "k")
    found = [m.text for m in store.get("general", store.lexical("general", "birthdays", 5, "k"))]
    assert set(found) == {
        "The user's birthday is on 3 March.",
        "Birthday cakes: chocolate, always chocolate.",
    }  # "birthdays" finds "birthday": both stores stem
    assert store.lexical("general", "working nurses", 5, "k") != []
    assert store.lexical("general", "zebra", 5, "k") == []
    assert store.lexical("general", "the of and", 5, "other") == []
    assert store.lexical("general", "!!!", 5, "k") == []


def test_vectors_are_kept_by_embedder(store: Any) -> None:
    memory = store.add("general", "Prefers metric units.", None, SHARED)
    assert store.missing_vectors("general", "model-a", 10) == [(memory.id, memory.text)]
    store.set_vectors("model-a", [(memory.id, b"\x00\x01\x02\x03")])
    assert store.missing_vectors("general", "model-a", 10) == []
    assert store.vectors("general", "model-a", SHARED) == ([memory.id], [b"\x00\x01\x02\x03"])
    assert store.vectors("general", "model-b", SHARED) == ([], [])


def test_a_fact_remembered_through_one_replica_is_recalled_through_the_other(
    tmp_path: Path, upstream: Upstream, cluster: str, monkeypatch, capsys
) -> None:
    database = fresh_database(cluster, new_name())
    config = {
        **agent_config(upstream.base_url, general={"memory": True}),
        "storage": {"url": database},
    }
    env = {"OPENAI_COMPAT_API_KEYS": KEY}
    with replicas(tmp_path, config, env) as (first, second):
        upstream.script(
            Reply.tool_calls([("remember", {"fact": "The user prefers metric units."})]),
            Reply.text("Noted."),
        )
        client(first, KEY, **{"X-Session-Id": "monday"}).chat.completions.create(
            model="general", messages=[{"role": "user", "content": "Use metric units, please."}]
        )
        upstream.script(Reply.text("About 880 km."))
        client(second, KEY, **{"X-Session-Id": "tuesday"}).chat.completions.create(
            model="general", messages=[{"role": "user", "content": "How far is Paris?"}]
        )
    system = [
        m["content"] for m in upstream.chat_requests[-1].body["messages"] if m["role"] == "system"
    ]
    today = time.strftime("%Y-%m-%d")
    assert f"- #1 ({today}): The user prefers metric units." in "\n".join(system)
    for replica in ("a", "b"):  # nothing in the replicas' own files (made empty at start)
        assert (tmp_path / replica / "data" / "memory.sqlite3").stat().st_size == 0
    service = MemoryService.open(tmp_path, store=PostgresMemoryStore(database))
    assert [m.text for m in service.store.memories("general")] == ["The user prefers metric units."]
    service.close()

    monkeypatch.setenv("TRAYMIND_STORAGE_URL", database)  # `traymind memory` sees it too
    assert cli(["memory", "list", "general"]) == 0
    assert "The user prefers metric units." in capsys.readouterr().out
    assert cli(["memory", "forget", "general", "1"]) == 0
    assert cli(["memory", "forget", "general", "1"]) == 1
