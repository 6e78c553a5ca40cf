"""Agent memory: stored in SQLite, scoped to its agent, kept across restarts, out of background
requests; driven through a pydantic-ai agent and the loopback stand-in."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from openai import AsyncOpenAI
from pydantic_ai import Agent
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.providers.openai import OpenAIProvider

from server.agents.turn import TurnFacts
from server.embeddings.client import HttpEmbedder
from server.memory import MemoryNotFound, MemoryService, MemoryStore
from server.memory.agent_tools import GUIDANCE, memory_instructions, memory_tools
from tests.upstream import Reply, Upstream


def agent_for(upstream: Upstream, memory: MemoryService, agent_id: str) -> Agent[TurnFacts, str]:
    client = AsyncOpenAI(api_key="x", base_url=upstream.base_url, max_retries=0)
    model = OpenAIChatModel("test-model", provider=OpenAIProvider(openai_client=client))
    return Agent(
        model,
        deps_type=TurnFacts,
        instructions=[f"You are {agent_id}.", *memory_instructions(memory, agent_id)],
        tools=memory_tools(memory, agent_id),
    )


def system_text(body: dict[str, Any]) -> str:
    return "\n".join(m["content"] for m in body["messages"] if m["role"] == "system")


def tool_names(body: dict[str, Any]) -> list[str]:
    return [t["function"]["name"] for t in body.get("tools", [])]


def test_a_preference_told_on_monday_is_known_on_tuesday(
    tmp_path: Path, upstream: Upstream
) -> None:
    monday = MemoryService.open(tmp_path / "data")
    upstream.script(
        Reply.tool_calls([("remember", {"fact": "The user prefers metric units."})]),
        Reply.text("Noted."),
    )
    agent_for(upstream, monday, "general").run_sync(
        "Always use metric units, please.", deps=TurnFacts(session_id="monday-chat")
    )
    saved = upstream.chat_requests[1].body["messages"][-1]
    assert saved["content"] == "Remembered as memory #1: The user prefers metric units."
    monday.close()

    tuesday = MemoryService.open(tmp_path / "data")  # a restart: a new process would do the same
    upstream.clear()
    upstream.script(Reply.text("About 880 km."))
    agent_for(upstream, tuesday, "general").run_sync(
        "How far is Paris from Berlin?", deps=TurnFacts(session_id="tuesday-chat")
    )
    today = time.strftime("%Y-%m-%d")
    assert upstream.chat_requests[0].body["messages"] == [
        {"role": "system", "content": "You are general."},
        {"role": "system", "content": GUIDANCE},
        {
            "role": "system",
            "content": "What you remember that may matter now:\n"
            f"- #1 ({today}): The user prefers metric units.",
        },
        {"role": "user", "content": "How far is Paris from Berlin?"},
    ]
    [memory] = tuesday.memories("general")
    assert (memory.text, memory.session) == ("The user prefers metric units.", "monday-chat")
    tuesday.close()


def test_memories_stay_with_their_agent(tmp_path: Path, upstream: Upstream) -> None:
    memory = MemoryService.open(tmp_path / "data")
    memory.remember("general", "The user's cat is called Miso.", "s1")
    upstream.script(
        Reply.tool_calls([("recall", {"query": "cat name"})]),
        Reply.text("I don't know."),
    )
    agent_for(upstream, memory, "coder").run_sync("What is my cat called?", deps=TurnFacts("s2"))
    first, second = (r.body for r in upstream.chat_requests)
    assert "Miso" not in system_text(first)
    assert second["messages"][-1]["content"] == "You have no memories yet."
    with pytest.raises(MemoryNotFound):
        memory.forget("coder", 1)
    assert [m.text for m in memory.memories("general")] == ["The user's cat is called Miso."]
    memory.close()


def test_background_requests_neither_see_nor_write_memories(
    tmp_path: Path, upstream: Upstream
) -> None:
    memory = MemoryService.open(tmp_path / "data")
    memory.remember("general", "The user's name is Ada.")
    agent_for(upstream, memory, "general").run_sync(
        "Generate a title for this chat.", deps=TurnFacts("s1", background=True)
    )
    body = upstream.chat_requests[0].body
    assert system_text(body) == "You are general."
    assert tool_names(body) == []
    memory.close()


def test_ephemeral_requests_write_only_when_the_agent_calls_remember(
    tmp_path: Path, upstream: Upstream
) -> None:
    memory = MemoryService.open(tmp_path / "data")
    agent = agent_for(upstream, memory, "general")
    agent.run_sync("I like tea.")  # no deps: an ephemeral foreground turn
    assert memory.memories("general") == []
    upstream.script(
        Reply.tool_calls([("remember", {"fact": "The user likes tea."})]), Reply.text("ok")
    )
    agent.run_sync("Remember that I like tea.")
    assert [(m.text, m.session) for m in memory.memories("general")] == [
        ("The user likes tea.", None)
    ]
    assert tool_names(upstream.chat_requests[0].body) == ["remember", "recall"]
    memory.close()


def test_recall_finds_by_words_and_falls_back_to_the_newest(
    tmp_path: Path, upstream: Upstream
) -> None:
    memory = MemoryService.open(tmp_path / "data")
    memory.remember("general", "The user's birthday is on 3 March.")
    memory.remember("general", "The user works as a nurse.")
    upstream.script(
        Reply.tool_calls([("recall", {"query": "birthday"}), ("recall", {"query": "zebra"})]),
        Reply.text("ok"),
    )
    agent_for(upstream, memory, "general").run_sync("When is my birthday?", deps=TurnFacts("s"))
    today = time.strftime("%Y-%m-%d")
    contents = [m["content"] for m in upstream.chat_requests[1].body["messages"][-2:]]
    assert contents == [
        f"- #1 ({today}): The user's birthday is on 3 March.",
        "Nothing matched. Your most recent memories:\n"
        f"- #2 ({today}): The user works as a nurse.\n"
        f"- #1 ({today}): The user's birthday is on 3 March.",
    ]
    memory.close()


def test_with_many_memories_the_context_holds_the_relevant_ones(tmp_path: Path) -> None:
    memory = MemoryService.open(tmp_path / "data")
    memory.remember("general", "The user's dog is named Rex.")
    for i in range(20):
        memory.remember("general", f"Project note number {i}.")
    chosen = [m.text for m in memory.relevant("general", "What is my dog's name?", limit=3)]
    assert chosen == [
        "The user's dog is named Rex.",
        "Project note number 19.",
        "Project note number 18.",
    ]
    memory.close()


def test_store_saves_once_lists_newest_first_and_forgets(tmp_path: Path) -> None:
    store = MemoryStore(tmp_path / "memory.sqlite3").open()
    first = store.add("general", "Likes   green tea.", "s1")
    assert store.add("general", "likes green tea.", "s2") == first  # the same text, once
    second = store.add("general", "Lives in Lyon.")
    store.add("other", "Lives in Oslo.")
    assert [m.id for m in store.memories("general")] == [second.id, first.id]
    assert store.forget("general", first.id) == first
    assert [m.text for m in store.memories("general")] == ["Lives in Lyon."]
    with pytest.raises(MemoryNotFound, match="agent 'general' has no memory #3"):
        store.forget("general", 3)  # #3 is the other agent's
    store.close()


def test_memories_get_vectors_when_embeddings_are_configured(
    tmp_path: Path, upstream: Upstream
) -> None:
    embedder = HttpEmbedder(upstream.base_url, "embed")
    memory = MemoryService(MemoryStore(tmp_path / "memory.sqlite3").open(), embedder)
    memory.remember("general", "The user prefers window seats.")
    ids, blobs = memory.store.vectors("general", embedder.identity)
    assert len(ids) == 1 and len(blobs[0]) == 8 * 4  # the stand-in's 8 float32 dimensions
    # The exact text embeds to the same vector: found by meaning with no word in common.
    hits = memory.recall("general", "The user prefers window seats.", 1)
    assert [m.text for m in hits] == ["The user prefers window seats."]
    memory.close()
