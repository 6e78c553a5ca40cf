"""Knowledge indexes on PostgreSQL (#18): indexed once per base across replicas, searched by all.

Against a real PostgreSQL the tests start. The index contract itself runs on both
backends in ``test_knowledge_indexing``; here: the lease (one writer per base, lost with
its connection, taken over by another replica), two knowledge services on one database
(one indexes, counted by the embeddings the stand-in receives; the other follows and
searches; a rebuild asked through the follower is done by the holder; the holder's
stop hands the base over), and two real ``traymind serve`` processes, one killed with
SIGKILL, the other taking over and answering from a file added after the kill.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest

from server.config import parse_config
from server.knowledge import KnowledgeService
from server.knowledge.files import FileFilter
from server.knowledge.indexer import Indexer
from server.knowledge.search import rank
from server.knowledge.store import IndexLeaseLost
from server.postgres.index_store import PostgresIndexStore
from tests.harness import ServeProcess, agent_config, write_config
from tests.postgres_server import binaries, drop_connections, wait_for
from tests.upstream import Reply, Upstream

pytest_plugins = ("tests.postgres_conftest",)
pytestmark = pytest.mark.skipif(
    binaries() is None, reason="PostgreSQL is not installed (apt-get install postgresql)"
)


def write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


@pytest.fixture
def stores(database: str) -> Iterator[Callable[[str], PostgresIndexStore]]:
    opened: list[PostgresIndexStore] = []

    def open_(base: str) -> PostgresIndexStore:
        opened.append(PostgresIndexStore(database, base).open())
        return opened[-1]

    yield open_
    for store in opened:
        store.close()


def test_one_replica_holds_a_bases_lease_and_the_others_search_what_it_wrote(
    tmp_path: Path, stores: Callable[[str], PostgresIndexStore]
) -> None:
    docs = tmp_path / "docs"
    write(docs, "alpha.md", "# Alpha\n\nAlpha facts about the pump.\n")
    holder, other, wiki = stores("docs"), stores("docs"), stores("wiki")
    assert holder.take_lease() and holder.take_lease()  # held: asking again is yes
    assert not other.take_lease()
    assert wiki.take_lease()  # a lease per base
    Indexer(docs, FileFilter(None, []), holder).run()
    with pytest.raises(IndexLeaseLost):
        Indexer(docs, FileFilter(None, []), other).run(rebuild=True)
    assert list(other.files()) == ["alpha.md"]  # the refused rebuild cleared nothing
    assert [h.path for h in rank(other, "pump", 3)] == ["alpha.md"]
    assert other.counts() == holder.counts() == (1, 1)
    assert rank(wiki, "pump", 3) == [] and wiki.counts() == (0, 0)
    holder.close()  # a replica that stops (or dies) lets the lease go with its connection
    assert other.take_lease()
    assert not stores("docs").take_lease()


def test_a_lease_lost_with_its_connection_refuses_the_next_write(
    database: str, stores: Callable[[str], PostgresIndexStore]
) -> None:
    first, second = stores("docs"), stores("docs")
    assert first.take_lease()
    first.set_meta(root="/srv/docs")
    drop_connections(database, "application_name = 'traymind'")  # a network cut, a restart
    with pytest.raises(IndexLeaseLost):
        first.set_meta(root="/elsewhere")  # connected again, but no longer the holder
    assert second.take_lease()
    assert not first.take_lease()
    assert second.meta("root") == "/srv/docs"


def replica_config(docs: Path, upstream: Upstream) -> Any:
    return parse_config(
        {
            "models": {
                "embedder": {"provider": "openai", "id": "embed", "base_url": upstream.base_url}
            },
            "embeddings": {"model": "embedder"},
            "knowledge_bases": {"docs": {"path": str(docs), "watch": True}},
            "agents": {"general": {"knowledge_bases": ["docs"]}},
        }
    )


def embedded_texts(upstream: Upstream) -> list[str]:
    """The passages embedded so far (a passage's text starts with its heading; queries,
    embedded for each search, do not)."""
    return [
        text
        for request in upstream.requests
        if request.path == "/v1/embeddings"
        for text in request.body["input"]
        if "\n\n# " in text
    ]


def test_two_replicas_index_a_base_once_and_both_search_it(
    tmp_path: Path, upstream: Upstream, database: str
) -> None:
    docs = tmp_path / "docs"
    write(docs, "alpha.md", "# Alpha\n\nApples grow on trees.\n")
    write(docs, "beta.md", "# Beta\n\nBananas are yellow.\n")
    config = replica_config(docs, upstream)
    shared = partial(PostgresIndexStore, database)
    services = [
        KnowledgeService(config, tmp_path / f"data{i}", watch_interval=0.1, indexes=shared)
        for i in range(2)
    ]
    try:
        for service in services:
            service.start()
        assert all(service.wait_until_searchable("docs", 15) for service in services)
        holder, follower = sorted(services, key=lambda s: not s.status("docs").indexed_here)
        assert holder.status("docs").indexed_here and not follower.status("docs").indexed_here
        assert wait_for(lambda: follower.status("docs").files == 2, 5)
        assert follower.status("docs").message.startswith("indexed by another replica")
        assert len(embedded_texts(upstream)) == 2  # each passage embedded once, by one replica
        assert not (tmp_path / "data0" / "knowledge").exists()  # no SQLite index anywhere
        assert not (tmp_path / "data1" / "knowledge").exists()
        assert [p.path for p in follower.search("bananas", top_k=1)] == ["beta.md"]

        def found(query: str) -> list[str]:  # with vectors, every passage is a candidate
            return [p.path for p in follower.search(query)]

        write(docs, "gamma.md", "# Gamma\n\nGrapes make wine.\n")  # the holder watches
        assert wait_for(lambda: "gamma.md" in found("grapes"), 10)
        assert len(embedded_texts(upstream)) == 3

        reader = shared("docs").open()
        before = {rel: record.indexed_at for rel, record in reader.files().items()}
        follower.reindex("docs")  # asked of the follower, done by the holder
        assert wait_for(lambda: len(embedded_texts(upstream)) == 6, 10)

        def rebuilt() -> bool:
            after = reader.files()
            return sorted(after) == sorted(before) and all(
                after[rel].indexed_at > when for rel, when in before.items()
            )

        assert wait_for(rebuilt, 10)  # every file written again, by the holder
        assert wait_for(lambda: follower.status("docs").searchable, 10)
        reader.close()

        holder.stop()  # its lease goes with its connection: the follower takes the base over
        assert wait_for(lambda: follower.status("docs").indexed_here, 10)
        write(docs, "delta.md", "# Delta\n\nDates grow on palms.\n")
        assert wait_for(lambda: "delta.md" in found("dates palms"), 10)
        assert follower.status("docs").state == "ready"
    finally:
        for service in services:
            service.stop()


def serve(config: Path, data: Path, env: dict[str, str]) -> ServeProcess:
    return ServeProcess(
        ["-m", "server", "--config", str(config), "--port", "0", "--data-dir", str(data)], env=env
    )


def test_a_killed_indexing_replica_is_replaced_and_answers_keep_their_sources(
    tmp_path: Path, upstream: Upstream, database: str
) -> None:
    key = "sk-replica-knowledge"
    docs = tmp_path / "docs"
    write(docs, "warranty.md", "# Warranty\n\nThe warranty lasts three years.\n")
    config = agent_config(upstream.base_url, general={"knowledge_bases": ["docs"]})
    config["knowledge_bases"] = {"docs": {"path": str(docs), "watch": True}}
    config["storage"] = {"url": database}
    path = write_config(tmp_path, config)
    env = {"OPENAI_COMPAT_API_KEYS": key}
    headers = {"Authorization": f"Bearer {key}"}
    replicas = [serve(path, tmp_path / f"data{i}", env) for i in range(2)]
    try:
        urls = [replica.wait_ready() for replica in replicas]

        def base(url: str) -> dict[str, Any]:
            status = httpx.get(url.removesuffix("/v1") + "/api/status", headers=headers)
            return status.json().get("knowledge_bases", {}).get("docs", {})

        assert wait_for(lambda: all(base(url).get("searchable") for url in urls), 15)
        holding = [i for i, url in enumerate(urls) if base(url)["indexed_here"]]
        assert len(holding) == 1
        survivor = urls[1 - holding[0]]
        assert base(survivor)["index"].startswith("PostgreSQL at")
        replicas[holding[0]].proc.send_signal(signal.SIGKILL)
        replicas[holding[0]].proc.wait(10)
        assert wait_for(lambda: base(survivor).get("indexed_here"), 10)

        write(docs, "returns.md", "# Returns\n\nReturns are accepted within 30 days.\n")
        assert wait_for(lambda: base(survivor).get("files") == 2, 10)
        upstream.script(
            Reply.tool_calls([("search_knowledge", {"query": "returns accepted"})]),
            Reply.text("Within 30 days (source: returns.md)."),
        )
        answer = httpx.post(
            f"{survivor}/chat/completions",
            headers=headers,
            json={"model": "general", "messages": [{"role": "user", "content": "Returns?"}]},
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["choices"][0]["message"]["content"].endswith("(source: returns.md).")
        tool = upstream.chat_requests[-1].body["messages"][-1]
        assert tool["role"] == "tool"
        assert tool["content"].startswith("[1] source: returns.md (lines 1-3, knowledge base")
    finally:
        for replica in replicas:
            replica.stop()


def test_kb_reindex_and_search_work_on_the_shared_index(
    tmp_path: Path, database: str, stores: Callable[[str], PostgresIndexStore], capsys
) -> None:
    from server.cli.main import main

    docs = tmp_path / "docs"
    write(docs, "warranty.md", "# Warranty\n\nThe warranty lasts three years.\n")
    config = write_config(
        tmp_path,
        {
            "storage": {"url": database},
            "knowledge_bases": {"docs": {"path": str(docs)}},
            "agents": {"general": {"knowledge_bases": ["docs"]}},
        },
    )
    kb = ["--config", str(config), "--data-dir", str(tmp_path / "data")]
    assert main(["kb", "reindex", "docs", *kb]) == 0
    assert capsys.readouterr().out.startswith("docs: 1 file, 1 passage in ")
    assert not (tmp_path / "data" / "knowledge").exists()
    assert main(["kb", "search", "docs", "warranty", *kb]) == 0
    assert capsys.readouterr().out.startswith("[1] source: warranty.md (lines 1-3,")

    replica = stores("docs")  # a running replica holds the base now
    assert replica.take_lease()
    assert main(["kb", "reindex", "docs", *kb]) == 0
    assert "asked to rebuild it" in capsys.readouterr().err
    assert replica.meta("rebuild") is not None  # what the holder's worker looks for


def test_a_pass_cut_by_a_database_restart_is_done_again_when_the_lease_is_back(
    tmp_path: Path, database: str
) -> None:
    docs = tmp_path / "docs"
    for i in range(2500):
        write(docs, f"f{i:04}.md", f"# File {i}\n\nFile number {i} of the batch.\n")
    config = parse_config(
        {
            "knowledge_bases": {"docs": {"path": str(docs), "watch": False}},
            "agents": {"general": {"knowledge_bases": ["docs"]}},
        }
    )
    service = KnowledgeService(
        config, tmp_path / "data", indexes=partial(PostgresIndexStore, database)
    )
    service.start()
    try:
        assert wait_for(lambda: 0 < service.status("docs").done < 2500, 20)
        drop_connections(database, "application_name = 'traymind'")  # mid-pass
        # the one replica takes its lease back on a new connection and passes again
        assert service.wait_until_searchable("docs", 60)
        status = service.status("docs")
        assert (status.state, status.files, status.indexed_here) == ("ready", 2500, True)
    finally:
        service.stop()


def test_every_connection_asks_both_ends_to_notice_a_vanished_peer(database: str) -> None:
    from server.postgres.database import Database

    store = Database(database, "test", saved="")
    try:
        shown = store.run(
            lambda db: [
                db.execute(f"SHOW {name}").fetchone()[0]
                for name in ("tcp_keepalives_idle", "tcp_keepalives_interval",
                             "tcp_keepalives_count", "tcp_user_timeout")
            ]
        )  # fmt: skip
        assert shown == ["10", "5", "3", "30000"]  # the server's side: it holds the locks
    finally:
        store.close()
