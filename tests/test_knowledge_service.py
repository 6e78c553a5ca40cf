"""The knowledge service in the background: start, status, watching, notices, reloads."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from openai import AsyncOpenAI
from pydantic_ai import Agent
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.providers.openai import OpenAIProvider

from server.config import Config, parse_config
from server.knowledge import KnowledgeService
from server.knowledge.agent_tools import knowledge_instructions, knowledge_tools
from server.status import StatusHub
from tests.upstream import Reply, Upstream

FILES = 8000  # about 4 s to index here: far longer than a turn takes
NOTICE = "knowledge base `docs` is still indexing; do not claim to have searched it"


def config_for(bases: dict[str, dict[str, Any]], **extra: Any) -> Config:
    return parse_config(
        {
            "knowledge_bases": bases,
            "agents": {"general": {"knowledge_bases": list(bases)}},
            **extra,
        }
    )


def eventually(check: Callable[[], bool], timeout: float = 8.0) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


@pytest.fixture
def running() -> Iterator[Callable[..., KnowledgeService]]:
    services: list[KnowledgeService] = []

    def start(config: Config, data_dir: Path, **kwargs: Any) -> KnowledgeService:
        service = KnowledgeService(config, data_dir, watch_interval=0.1, **kwargs)
        services.append(service)
        service.start()
        return service

    yield start
    for service in services:
        service.stop()


def agent_at(upstream: Upstream, service: KnowledgeService, config: Config) -> Agent[None, str]:
    client = AsyncOpenAI(api_key="x", base_url=upstream.base_url, max_retries=0)
    model = OpenAIChatModel("test-model", provider=OpenAIProvider(openai_client=client))
    spec = config.agents["general"]
    return Agent(
        model,
        instructions=["You are general.", *knowledge_instructions(service, spec.knowledge_bases)],
        tools=knowledge_tools(service, spec.knowledge_bases),
    )


def system_text(request_body: dict[str, Any]) -> str:
    return "\n".join(m["content"] for m in request_body["messages"] if m["role"] == "system")


def test_start_returns_at_once_and_status_reaches_the_hub(tmp_path: Path, running) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_text("# A\n\nAlpha.\n")
    hub = StatusHub()
    started = time.monotonic()
    service = running(config_for({"docs": {"path": str(docs)}}), tmp_path / "data", status=hub)
    assert time.monotonic() - started < 0.5
    assert service.wait_until_searchable("docs", 5)
    assert eventually(lambda: hub.snapshot()["knowledge_bases"]["docs"]["state"] == "ready")
    published = hub.snapshot()["knowledge_bases"]["docs"]
    assert isinstance(published.pop("last_sync"), float)
    assert published == {
        "state": "ready",
        "message": None,
        "done": 1,
        "total": 1,
        "files": 1,
        "chunks": 1,
        "searchable": True,
        "indexed_here": True,
        "path": str(docs),
        "git": None,
        "semantic": False,
        "index": None,
    }
    assert (tmp_path / "data" / "knowledge" / "docs.sqlite3").is_file()


def test_a_watched_edit_is_picked_up_without_a_restart(tmp_path: Path, running) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "prices.md").write_text("# Prices\n\nThe basic plan costs 10 euros.\n")
    service = running(config_for({"docs": {"path": str(docs)}}), tmp_path / "data")
    assert service.wait_until_searchable("docs", 5)
    assert "10 euros" in service.search("basic plan price", ["docs"])[0].text
    (docs / "prices.md").write_text("# Prices\n\nThe basic plan costs 12 euros.\n")
    (docs / "new.md").write_text("# New\n\nA zeppelin arrived.\n")
    assert eventually(lambda: "12 euros" in service.search("basic plan", ["docs"])[0].text)
    assert eventually(lambda: [p.path for p in service.search("zeppelin")] == ["new.md"])
    (docs / "new.md").unlink()
    assert eventually(lambda: service.search("zeppelin") == [])


def test_an_unwatched_base_changes_only_on_reindex(tmp_path: Path, running) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_text("# A\n\nAlpha.\n")
    service = running(config_for({"docs": {"path": str(docs), "watch": False}}), tmp_path / "d")
    assert service.wait_until_searchable("docs", 5)
    (docs / "b.md").write_text("# B\n\nBravo.\n")
    time.sleep(0.4)
    assert service.search("bravo") == []
    service.reindex("docs")
    assert eventually(lambda: [p.path for p in service.search("bravo")] == ["b.md"])


def test_a_missing_folder_is_an_error_until_it_appears(tmp_path: Path, running) -> None:
    docs = tmp_path / "docs"
    service = running(config_for({"docs": {"path": str(docs)}}), tmp_path / "data")
    assert eventually(lambda: service.status("docs").state == "error")
    assert service.status("docs").message == f"the folder {docs} does not exist"
    assert service.notice("docs") == (
        f"Note: knowledge base `docs` is unavailable (the folder {docs} does not exist); "
        "do not claim to have searched it."
    )
    docs.mkdir()
    (docs / "a.md").write_text("# A\n\nAlpha.\n")
    assert service.wait_until_searchable("docs", 5)
    assert service.notice("docs") is None


def test_a_turn_during_a_large_first_index_returns_promptly_with_the_notice(
    tmp_path: Path, running, upstream: Upstream
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    body = "Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 12
    sections = "".join(f"## Part {n}\n\n{body}\n\n" for n in range(4))
    for i in range(FILES):
        (docs / f"doc{i:05}.md").write_text(f"# Doc {i}\n\n{sections}")
    config = config_for({"docs": {"path": str(docs), "description": "Product docs"}})
    hub = StatusHub()
    service = running(config, tmp_path / "data", status=hub)
    agent = agent_at(upstream, service, config)
    upstream.script(Reply.text("I cannot search the docs yet, but here is what I know."))
    started = time.monotonic()
    result = agent.run_sync("What does the manual say about pumps?")
    elapsed = time.monotonic() - started
    assert not service.status("docs").searchable, "indexing finished before the turn did"
    assert elapsed < 2.0
    assert result.output == "I cannot search the docs yet, but here is what I know."
    assert NOTICE in system_text(upstream.chat_requests[0].body)
    assert eventually(lambda: hub.snapshot()["knowledge_bases"]["docs"]["state"] == "indexing")
    message = hub.snapshot()["knowledge_bases"]["docs"]["message"]
    assert re.fullmatch(rf"scanning files|indexing \d+/{FILES} files", message)
    assert service.wait_until_searchable("docs", 25)
    agent.run_sync("And now?")
    assert NOTICE not in system_text(upstream.chat_requests[1].body)
    assert hub.snapshot()["knowledge_bases"]["docs"]["files"] == FILES


def test_a_reload_restarts_only_the_bases_that_changed(tmp_path: Path, running) -> None:
    for name in ("one", "two", "three"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "a.md").write_text(f"# {name}\n\nAbout {name}.\n")
    old = config_for({n: {"path": str(tmp_path / n)} for n in ("one", "two")})
    service = running(old, tmp_path / "data")
    workers = dict(service._workers)
    new = config_for(
        {
            "one": {"path": str(tmp_path / "one")},
            "two": {"path": str(tmp_path / "two"), "watch": False},
            "three": {"path": str(tmp_path / "three")},
        }
    )
    service.update(new)
    assert service._workers["one"] is workers["one"]
    assert service._workers["two"] is not workers["two"]
    assert service.wait_until_searchable("three", 5)
    assert service.search("about three")[0].base == "three"
