"""``search_knowledge`` end to end: a pydantic-ai agent, the loopback stand-in, real files."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openai import AsyncOpenAI
from pydantic_ai import Agent
from pydantic_ai.messages import FunctionToolCallEvent, FunctionToolResultEvent
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.providers.openai import OpenAIProvider

from server.config import Config, parse_config
from server.knowledge import KnowledgeService
from server.knowledge.agent_tools import knowledge_instructions, knowledge_tools
from tests.upstream import Reply, Upstream

GUIDANCE = (
    "You can search the user's documents with the `search_knowledge` tool (knowledge bases: "
    "`docs` (Product docs); `handbook`). Search them when a question may be answered by those "
    "documents. When you use a passage, cite its source file path, e.g. "
    "(source: guides/install.md)."
)


@pytest.fixture
def config(tmp_path: Path) -> Config:
    docs, handbook = tmp_path / "docs", tmp_path / "handbook"
    (docs / "guides").mkdir(parents=True)
    (docs / "guides" / "warranty.md").write_text(
        "# Warranty\n\n## Length\n\nThe warranty lasts three years from purchase.\n"
    )
    handbook.mkdir()
    (handbook / "leave.txt").write_text("Everyone gets 30 days of leave.\n")
    return parse_config(
        {
            "knowledge_bases": {
                "docs": {"path": str(docs), "description": "Product docs"},
                "handbook": {"path": str(handbook)},
            },
            "agents": {"general": {"knowledge_bases": ["docs", "handbook"]}, "plain": {}},
        }
    )


@pytest.fixture
def service(config: Config, tmp_path: Path) -> Iterator[KnowledgeService]:
    started = KnowledgeService(config, tmp_path / "data", watch_interval=0.1)
    started.start()
    assert started.wait_until_searchable("docs", 5)
    assert started.wait_until_searchable("handbook", 5)
    yield started
    started.stop()


def agent_for(upstream: Upstream, service: KnowledgeService, agent_id: str) -> Agent[None, str]:
    client = AsyncOpenAI(api_key="x", base_url=upstream.base_url, max_retries=0)
    model = OpenAIChatModel("test-model", provider=OpenAIProvider(openai_client=client))
    spec = service.config.agents[agent_id]
    return Agent(
        model,
        instructions=[
            f"You are {agent_id}.",
            *knowledge_instructions(service, spec.knowledge_bases),
        ],
        tools=knowledge_tools(service, spec.knowledge_bases),
    )


def tool_messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [m for m in body["messages"] if m["role"] == "tool"]


def test_a_fact_from_a_file_reaches_the_model_with_its_source(
    service: KnowledgeService, upstream: Upstream
) -> None:
    upstream.script(
        Reply.tool_calls([("search_knowledge", {"query": "warranty length"})]),
        Reply.text("Three years (source: guides/warranty.md)."),
    )
    result = agent_for(upstream, service, "general").run_sync("How long is the warranty?")
    assert result.output == "Three years (source: guides/warranty.md)."
    first, second = (r.body for r in upstream.chat_requests)
    assert first["messages"][0] == {"role": "system", "content": f"You are general.\n\n{GUIDANCE}"}
    assert [t["function"]["name"] for t in first["tools"]] == ["search_knowledge"]
    assert tool_messages(second) == [
        {
            "role": "tool",
            "tool_call_id": "call_1",
            "content": "[1] source: guides/warranty.md (lines 3-5, knowledge base `docs`)\n"
            "section: Warranty > Length\n"
            "## Length\n\nThe warranty lasts three years from purchase.",
        }
    ]


def test_the_tool_searches_one_base_on_request_and_says_when_nothing_matched(
    service: KnowledgeService, upstream: Upstream
) -> None:
    upstream.script(
        Reply.tool_calls(
            [
                ("search_knowledge", {"query": "leave", "base": "handbook", "top_k": 1}),
                ("search_knowledge", {"query": "leave", "base": "wiki"}),
                ("search_knowledge", {"query": "submarine"}),
            ]
        ),
        Reply.text("done"),
    )
    agent_for(upstream, service, "general").run_sync("Leave?")
    contents = [m["content"] for m in tool_messages(upstream.chat_requests[1].body)]
    assert contents == [
        "[1] source: leave.txt (line 1, knowledge base `handbook`)\n"
        "Everyone gets 30 days of leave.",
        "Unknown knowledge base 'wiki'; yours are: docs, handbook.",
        "No passages matched in docs, handbook.",
    ]


def test_an_agent_without_bases_gets_neither_tool_nor_guidance(
    service: KnowledgeService, upstream: Upstream
) -> None:
    agent_for(upstream, service, "plain").run_sync("Hi")
    body = upstream.chat_requests[0].body
    assert "tools" not in body
    assert body["messages"][0] == {"role": "system", "content": "You are plain."}


def test_searches_show_as_tool_events_in_the_stream(
    service: KnowledgeService, upstream: Upstream
) -> None:
    upstream.script(
        Reply.tool_calls([("search_knowledge", {"query": "warranty"})]),
        Reply.text("Three years."),
    )
    agent = agent_for(upstream, service, "general")

    async def collect() -> list[tuple[str, str]]:
        seen = []
        async with agent.run_stream_events("Warranty?") as events:
            async for event in events:
                if isinstance(event, FunctionToolCallEvent):
                    seen.append(("call", event.part.tool_name))
                elif isinstance(event, FunctionToolResultEvent):
                    seen.append(("result", event.part.tool_name))
        return seen

    assert asyncio.run(collect()) == [("call", "search_knowledge"), ("result", "search_knowledge")]


def test_an_edited_watched_file_changes_the_next_answer(
    service: KnowledgeService, upstream: Upstream, tmp_path: Path
) -> None:
    (tmp_path / "docs" / "guides" / "warranty.md").write_text(
        "# Warranty\n\n## Length\n\nThe warranty lasts five years from purchase.\n"
    )
    deadline = time.monotonic() + 10
    while "five" not in service.search("warranty length", ["docs"], 1)[0].text:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    upstream.script(
        Reply.tool_calls([("search_knowledge", {"query": "warranty length", "top_k": 1})]),
        Reply.text("Five years."),
    )
    agent_for(upstream, service, "general").run_sync("How long is the warranty?")
    [tool] = tool_messages(upstream.chat_requests[1].body)
    assert tool["content"].endswith("The warranty lasts five years from purchase.")
