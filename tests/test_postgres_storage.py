"""Sessions on PostgreSQL (#18, first step): the store's contract on both backends, the
schema migrated once by replicas that start together, and two replicas on one database
serving one conversation, over real HTTP against a real PostgreSQL started here.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from server.config import ConfigError, load_config
from server.postgres.database import DatabaseUnavailable
from server.postgres.history_store import PostgresHistoryStore
from server.postgres.schema import STEPS, migrate
from server.sessions import HistoryStore
from server.sessions.ids import SessionRef
from tests.harness import (
    ServeProcess,
    agent_config,
    client,
    kill_during_streams,
    replicas,
    write_config,
)
from tests.postgres_server import (
    binaries,
    drop_connections,
    fresh_database,
    new_name,
    postgres_server,
    wait_for,
)
from tests.upstream import Reply, Upstream

pytest_plugins = ("tests.postgres_conftest",)
pytestmark = pytest.mark.skipif(
    binaries() is None, reason="PostgreSQL is not installed (apt-get install postgresql)"
)
KEY = "sk-test-postgres"


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    if request.param == "sqlite":
        made: Any = HistoryStore(tmp_path / "sessions.sqlite3")
    else:
        made = PostgresHistoryStore(fresh_database(request.getfixturevalue("cluster"), new_name()))
    made.open()
    yield made
    made.close()


REF = SessionRef("ns", "s1", "general", "s1")


def test_turns_are_numbered_read_within_the_budget_and_kept_per_namespace(store: Any) -> None:
    assert not store.has_history(REF)
    assert [store.append_turn(REF, f"turn-{i}".encode() * 10) for i in range(4)] == [1, 2, 3, 4]
    assert store.turn_count(REF) == 4 and store.has_history(REF)
    assert store.recent_turns(REF, 130) == [b"turn-2" * 10, b"turn-3" * 10]
    assert store.recent_turns(REF, 1) == [b"turn-3" * 10]  # at least one, however small
    other = SessionRef("other", "s1", "general", "s1")
    assert store.recent_turns(other, 10_000) == [] and store.turn_count(other) == 0


def test_routes_and_responses_round_trip(store: Any) -> None:
    assert store.route("ns", "s1") is None
    store.set_route("ns", "s1", "code", ["a", "b", "c", "d"])
    store.set_route("ns", "s1", "writer", ["x"])
    assert store.route("ns", "s1") == ("writer", ["x"])
    store.save_response("ns", "resp_1", "s1", '{"role": "user"}', '{"id": "resp_1"}')
    assert store.response("ns", "resp_1") == ("s1", '{"role": "user"}', '{"id": "resp_1"}')
    assert store.response("other", "resp_1") is None


def test_concurrent_appends_from_two_stores_get_distinct_numbers(database: str) -> None:
    stores = [PostgresHistoryStore(database) for _ in range(2)]
    for store in stores:
        store.open()
    numbers: list[int] = []
    lock = threading.Lock()

    def append(store: PostgresHistoryStore) -> None:
        for _ in range(25):
            number = store.append_turn(REF, b"{}")
            with lock:
                numbers.append(number)

    threads = [threading.Thread(target=append, args=(s,)) for s in stores for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(numbers) == list(range(1, 101))
    for store in stores:
        store.close()


def test_replicas_starting_together_migrate_once(database: str) -> None:
    import psycopg

    applied: list[list[int]] = []

    def start() -> None:
        with psycopg.connect(database, autocommit=True) as db:
            applied.append(migrate(db))

    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(applied) == [[], [], [], [version for version, _ in STEPS]]
    with psycopg.connect(database) as db:
        versions = [row[0] for row in db.execute("SELECT version FROM schema_version")]
    assert versions == [version for version, _ in STEPS]


def test_a_lost_database_is_a_503_sentence_and_the_store_recovers(tmp_path: Path) -> None:
    with postgres_server() as url:
        store = PostgresHistoryStore(url)
        store.open()
        store.append_turn(REF, b"kept")
        told: list[tuple[str, str]] = []
        store.report = lambda state, message: told.append((state, message))
        drop_connections(url, "application_name = 'traymind'")  # as a restart does
        assert store.recent_turns(REF, 1000) == [b"kept"]  # connects again by itself
    with pytest.raises(DatabaseUnavailable) as caught:  # the cluster is gone now
        store.recent_turns(REF, 1000)
    assert caught.value.status == 503
    assert "cannot be reached; nothing was stored" in caught.value.message
    assert told[-1][0] == "error"
    store.close()


def test_two_replicas_on_one_database_serve_one_conversation(
    tmp_path: Path, upstream: Upstream, database: str
) -> None:
    config = {**agent_config(upstream.base_url), "storage": {"url": database}}
    env = {"OPENAI_COMPAT_API_KEYS": KEY}
    with replicas(tmp_path, config, env) as (first, second):
        replies = [Reply.text(f"answer {i}") for i in range(4)]
        for i, replica in enumerate([first, second, first, second]):
            upstream.script(replies[i])
            answer = client(replica, KEY, **{"X-Session-Id": "shared"}).chat.completions.create(
                model="general", messages=[{"role": "user", "content": f"question {i}"}]
            )
            assert answer.choices[0].message.content == f"answer {i}"
    last = upstream.chat_requests[-1].body["messages"]
    said = [m["content"] for m in last if m["role"] in ("user", "assistant")]
    assert said == [
        "question 0", "answer 0", "question 1", "answer 1", "question 2", "answer 2", "question 3",
    ]  # fmt: skip
    import psycopg

    with psycopg.connect(database) as db:
        rows = db.execute("SELECT seq FROM turns WHERE session = 'shared' ORDER BY seq").fetchall()
    assert [seq for (seq,) in rows] == [1, 2, 3, 4]  # both replicas wrote to the one database
    assert (tmp_path / "a" / "data" / "sessions.sqlite3").stat().st_size == 0  # made, unused


def test_a_password_in_the_storage_url_is_a_config_error(tmp_path: Path) -> None:
    path = write_config(tmp_path, {"storage": {"url": "postgresql://app:secret@db/traymind"}})
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert "a password does not belong in config.yaml" in str(caught.value)
    assert "secret" not in str(caught.value)
    ok = write_config(tmp_path, {"storage": {"url": "postgresql://app@db:5432/traymind"}})
    assert load_config(ok).storage.url == "postgresql://app@db:5432/traymind"


def test_two_replicas_run_one_sessions_turns_one_at_a_time(
    tmp_path: Path, upstream: Upstream, database: str
) -> None:
    config = {**agent_config(upstream.base_url), "storage": {"url": database}}
    env = {"OPENAI_COMPAT_API_KEYS": KEY}
    upstream.script(Reply.hang(1.5, then=Reply.text("first answer")), Reply.text("second answer"))
    answers: dict[str, str] = {}

    def ask(replica: Any, label: str) -> None:
        reply = client(replica, KEY, **{"X-Session-Id": "busy"}).chat.completions.create(
            model="general", messages=[{"role": "user", "content": f"{label} question"}]
        )
        answers[label] = reply.choices[0].message.content or ""

    with replicas(tmp_path, config, env) as (first, second):
        one = threading.Thread(target=ask, args=(first, "first"))
        one.start()
        assert upstream.wait_until(lambda: len(upstream.chat_requests) == 1, timeout=10)
        two = threading.Thread(target=ask, args=(second, "second"))
        two.start()
        one.join(30)
        two.join(30)
    assert answers == {"first": "first answer", "second": "second answer"}
    later = [m.get("content") for m in upstream.chat_requests[1].body["messages"]]
    assert later[-3:] == ["first question", "first answer", "second question"]  # it waited


def test_sigkill_of_a_replica_during_streaming_turns_leaves_whole_turns(
    tmp_path: Path, database: str
) -> None:
    import json

    import httpx
    import psycopg

    with Upstream() as up:
        up.default = Reply.text("done quickly")
        config = write_config(tmp_path, {**agent_config(up.base_url), "storage": {"url": database}})
        proc = ServeProcess(
            ["-m", "server", "--config", str(config), "--port", "0", "--data-dir",
             str(tmp_path / "data")],
            env={"OPENAI_COMPAT_API_KEYS": KEY},
        )  # fmt: skip
        url = proc.wait_ready()
        headers = {"Authorization": f"Bearer {KEY}"}
        with httpx.Client(timeout=30) as h:  # every session gets one complete turn first
            for i in range(20):
                h.post(
                    f"{url}/chat/completions",
                    headers={**headers, "X-Session-Id": f"k{i}"},
                    json={"model": "general", "messages": [{"role": "user", "content": "first"}]},
                )
        up.default = Reply.deltas([f"w{i} " for i in range(400)], delay=0.01)

        kill_during_streams(proc, up, headers, sessions=20, streaming=15)
    with psycopg.connect(database, autocommit=True) as db:
        rows = db.execute("SELECT session, seq, messages FROM turns ORDER BY session").fetchall()

        def released() -> bool:
            query = (
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = "
                "(SELECT oid FROM pg_database WHERE datname = current_database())"
            )
            return db.execute(query).fetchone() == (0,)

        unlocked = wait_for(released, timeout=10)
    assert sorted(session for session, _, _ in rows) == sorted(f"k{i}" for i in range(20))
    assert {seq for _, seq, _ in rows} == {1}  # the killed turns left nothing behind
    for _, _, messages in rows:
        assert isinstance(json.loads(bytes(messages)), list)  # whole, parseable turns
    assert unlocked  # the dead replica's session locks went with its connections


def test_session_lock_connections_are_reused_only_once_their_lock_is_released(
    database: str,
) -> None:
    import asyncio

    from server.postgres.session_locks import PostgresSessionLocks

    async def scenario() -> None:
        first, second = PostgresSessionLocks(database), PostgresSessionLocks(database)
        order: list[str] = []
        for turn in range(3):  # one connection serves every turn of a replica
            async with first.hold(REF):
                order.append(f"turn {turn}")
            assert len(first._idle) == 1
        kept = first._idle[0]

        async def waiter(name: str) -> None:
            async with second.hold(REF):
                order.append(name)

        async with first.hold(REF):
            assert first._idle == []  # the kept connection holds the lock now
            waiting = asyncio.create_task(waiter("second replica"))
            await asyncio.sleep(0.3)
            assert not waiting.done()  # the other replica waits in PostgreSQL
            waiting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await waiting
            assert second._idle == []  # a cancelled wait is never kept
            late = asyncio.create_task(waiter("after release"))
            await asyncio.sleep(0.2)
            assert not late.done()
        await asyncio.wait_for(late, 5)  # released: the other replica gets it at once
        assert first._idle == [kept] and len(second._idle) == 1
        assert order == ["turn 0", "turn 1", "turn 2", "after release"]
        await first.aclose()
        await second.aclose()
        assert kept.closed
        async with first.hold(REF):  # a turn that ends after shutdown began
            pass
        assert first._idle == []  # its connection is closed, not kept

    asyncio.run(scenario())


def test_a_pooled_lock_connection_the_database_dropped_is_replaced(database: str) -> None:
    import asyncio

    from server.postgres.session_locks import PostgresSessionLocks

    async def scenario() -> None:
        locks = PostgresSessionLocks(database)
        async with locks.hold(REF):
            pass
        assert len(locks._idle) == 1
        drop_connections(database, "datname = current_database()")  # as a restart would
        async with locks.hold(REF):  # a new connection, not an error
            pass
        await locks.aclose()

    asyncio.run(scenario())
