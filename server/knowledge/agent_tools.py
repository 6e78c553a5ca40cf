"""What an agent with ``knowledge_bases`` gets: the ``search_knowledge`` tool and instructions.

The only module of the package that imports pydantic-ai, so that the CLI and
config checks stay fast. The availability note is computed at every model
request: an agent asked while a base is still indexing is told so, and is not
told anymore once indexing is done, without rebuilding the agent.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from pydantic_ai import Tool

from server.knowledge.search import format_passages

if TYPE_CHECKING:
    from server.knowledge.service import KnowledgeService

TOOL_NAME = "search_knowledge"


def knowledge_tools(service: KnowledgeService, bases: Sequence[str]) -> list[Tool]:
    if not bases:
        return []
    own = list(bases)

    async def search_knowledge(query: str, base: str | None = None, top_k: int = 5) -> str:
        """Search the user's documents and return the best passages with their source paths.

        Args:
            query: What to look for: a question or a few keywords.
            base: Search only this knowledge base (default: all of yours).
            top_k: How many passages to return, 1 to 20.
        """
        available = [name for name in own if name in service.names()]
        if base is not None and base not in available:
            return f"Unknown knowledge base '{base}'; yours are: {', '.join(available)}."
        names = [base] if base else available
        if not names:
            return "No knowledge base is available right now."
        passages = await service.asearch(query, names, top_k)
        notes = [
            f"Note: knowledge base `{name}` is still indexing; these results may be incomplete."
            for name in names
            if not service.status(name).searchable
        ]
        if not passages:
            return "\n".join([*notes, f"No passages matched in {', '.join(names)}."])
        return format_passages(passages, notes)

    described = "; ".join(_describe(service, name) for name in own)
    return [
        Tool(
            search_knowledge,
            name=TOOL_NAME,
            takes_ctx=False,
            description=(
                "Search the user's documents and return the best passages, each with its "
                f"source file path. Knowledge bases: {described}."
            ),
        )
    ]


def knowledge_instructions(
    service: KnowledgeService, bases: Sequence[str]
) -> list[str | Callable[[], str | None]]:
    if not bases:
        return []
    own = list(bases)
    described = "; ".join(_describe(service, name) for name in own)
    guidance = (
        f"You can search the user's documents with the `{TOOL_NAME}` tool "
        f"(knowledge bases: {described}). Search them when a question may be answered "
        "by those documents. When you use a passage, cite its source file path, "
        "e.g. (source: guides/install.md)."
    )

    def availability() -> str | None:
        names = [name for name in own if name in service.names()]
        notes = [note for name in names if (note := service.notice(name))]
        return "\n".join(notes) or None

    return [guidance, availability]


def _describe(service: KnowledgeService, name: str) -> str:
    base = service.config.knowledge_bases.get(name)
    description = base.description if base else None
    return f"`{name}` ({description})" if description else f"`{name}`"
