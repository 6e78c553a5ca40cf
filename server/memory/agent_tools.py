"""What an agent with ``memory: true`` gets: ``remember``, ``recall`` and its memories in context.

Everything here reads the turn's ``TurnFacts`` first: in a chat app's
background request (a title, tags) the tools are not offered and no memory is
shown, so such a request can neither leak nor write memories.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from pydantic_ai import RunContext, Tool
from pydantic_ai.tools import ToolDefinition

from server.agents.turn import TurnFacts, TurnGetter, turn_from_deps
from server.memory.store import SHARED, Memory
from server.sessions.storage import storage_cause

if TYPE_CHECKING:
    from server.memory.service import MemoryService

GUIDANCE = (
    "You have a long-term memory that lasts across conversations. Use `remember` to save "
    "lasting facts the user tells you or asks you to keep (preferences, names, decisions, "
    "ongoing projects), one self-contained sentence each, not passing details. Use `recall` "
    "to look up something you may have saved before."
)


def prompt_text(prompt: str | Sequence[Any] | None) -> str:
    """The user's message as text (``RunContext.prompt`` may be a list of content parts)."""
    if prompt is None:
        return ""
    if isinstance(prompt, str):
        return prompt
    return " ".join(part for part in prompt if isinstance(part, str))


def format_memories(memories: Sequence[Memory]) -> str:
    return "\n".join(
        f"- #{m.id} ({time.strftime('%Y-%m-%d', time.localtime(m.created))}): {m.text}"
        for m in memories
    )


def namespace_of(facts: TurnFacts, shared: bool) -> str | None:
    """Whose memory a turn uses: the caller's key's, or the agent's one ``shared`` memory.

    None: no memory for this turn (a background request, or a caller not known).
    """
    if facts.background:
        return None
    return SHARED if shared else facts.namespace


def memory_tools(
    service: MemoryService,
    agent_id: str,
    turn: TurnGetter = turn_from_deps,
    *,
    shared: bool = False,
) -> list[Tool]:
    async def foreground_only(ctx: RunContext[Any], tool: ToolDefinition) -> ToolDefinition | None:
        return None if namespace_of(turn(ctx), shared) is None else tool

    async def remember(ctx: RunContext[Any], fact: str) -> str:
        """Save a lasting fact for future conversations with the user.

        Args:
            fact: One self-contained sentence, e.g. "The user prefers metric units."
        """
        if not fact.strip():
            return "Nothing to remember: the fact was empty."
        facts = turn(ctx)
        namespace = namespace_of(facts, shared)
        if namespace is None:
            return "Memory is not available in this conversation."
        try:
            memory = await asyncio.to_thread(
                service.remember, agent_id, fact, facts.session_id, namespace
            )
        except (sqlite3.Error, OSError) as exc:  # the model can tell the user; the turn goes on
            return f"Could not save the memory: {storage_cause(exc)}."
        return f"Remembered as memory #{memory.id}: {memory.text}"

    async def recall(ctx: RunContext[Any], query: str, limit: int = 5) -> str:
        """Look up what you remember about something.

        Args:
            query: What to look for, e.g. "units" or "the user's name".
            limit: How many memories to return, 1 to 20.
        """
        limit = max(1, min(20, limit))
        namespace = namespace_of(turn(ctx), shared)
        if namespace is None:
            return "Memory is not available in this conversation."
        found = await asyncio.to_thread(service.recall, agent_id, query, limit, namespace)
        if found:
            return format_memories(found)
        recent = await asyncio.to_thread(service.store.memories, agent_id, limit, namespace)
        if not recent:
            return "You have no memories yet."
        return "Nothing matched. Your most recent memories:\n" + format_memories(recent)

    return [
        Tool(remember, name="remember", takes_ctx=True, prepare=foreground_only),
        Tool(recall, name="recall", takes_ctx=True, prepare=foreground_only),
    ]


def memory_instructions(
    service: MemoryService,
    agent_id: str,
    turn: TurnGetter = turn_from_deps,
    *,
    shared: bool = False,
) -> list[Callable[[RunContext[Any]], Any]]:
    def guidance(ctx: RunContext[Any]) -> str | None:
        return None if namespace_of(turn(ctx), shared) is None else GUIDANCE

    async def remembered(ctx: RunContext[Any]) -> str | None:
        namespace = namespace_of(turn(ctx), shared)
        if namespace is None:
            return None
        message = prompt_text(ctx.prompt)
        memories = await asyncio.to_thread(service.relevant, agent_id, message, namespace=namespace)
        if not memories:
            return None
        return "What you remember that may matter now:\n" + format_memories(memories)

    return [guidance, remembered]
