"""Agent runs on pydantic-ai: one ``Agent`` per config entry, its events mapped to ours.

This module imports pydantic-ai and the provider SDKs (about 2 s of imports), so
the API imports it lazily, after the server already answers.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import replace
from typing import Any

from pydantic_ai import Agent, DeferredToolRequests, Tool
from pydantic_ai.exceptions import UserError
from pydantic_ai.usage import RunUsage

from server.agents import client_tools
from server.agents.default_model import DefaultModel
from server.agents.event_mapping import EventMapper
from server.agents.events import (
    ClientToolCalls,
    RunDone,
    RunEvent,
    TextDelta,
    ToolFinished,
    ToolStarted,
)
from server.agents.inputs import NOT_SEEN, model_inputs
from server.agents.instructions import agent_instructions
from server.agents.models import ModelRegistry
from server.agents.turn import TurnFacts
from server.config import Config
from server.errors import InvalidRequest, TraymindError
from server.knowledge import KnowledgeService
from server.knowledge.agent_tools import knowledge_instructions, knowledge_tools
from server.mcp.manager import McpManager
from server.memory import MemoryService
from server.memory.agent_tools import memory_instructions, memory_tools
from server.openai.attachments import Attachment
from server.openai.chat_request import PriorMessage
from server.openai.client_tools import ClientCall, ClientToolUse
from server.providers.failures import from_model_error
from server.providers.history import conversation, messages_json
from server.tools import build_tools
from server.tools.registry import close_tools

Emit = Callable[[RunEvent], None]


class AgentRuntime:
    """Builds each agent once per config and runs agents, plain calls and members."""

    def __init__(
        self,
        config: Config,
        default_model: DefaultModel,
        *,
        mcp: McpManager | None = None,
        knowledge: KnowledgeService | None = None,
        memory: MemoryService | None = None,
    ) -> None:
        self.config = config
        self.models = ModelRegistry(config, default_model)
        self.mcp = mcp or McpManager(config)
        self._knowledge = knowledge
        self._memory = memory
        self._agents: dict[str, Agent[TurnFacts, str]] = {}
        self._builtin_tools: list[Tool] = []  # of the agents built, for close_tools at stop
        self._plain: dict[str, Agent[None, str]] = {}
        self._member_runs = itertools.count(1)
        self._tool_names: dict[str, set[str]] = {}  # the agent's own function tools, by agent
        self.paused = client_tools.PausedRuns()

    def base_url(self, model_name: str) -> str:
        return self.models.get(model_name).base_url

    def agent(self, agent_id: str) -> Agent[TurnFacts, str]:
        agent = self._agents.get(agent_id)
        if agent is None:
            spec = self.config.agents[agent_id]
            instructions: list[Any] = [*agent_instructions(agent_id, spec)]
            tools = build_tools(spec.tools)
            self._builtin_tools.extend(tools)
            if self._knowledge is not None and spec.knowledge_bases:
                instructions += knowledge_instructions(self._knowledge, spec.knowledge_bases)
                tools += knowledge_tools(self._knowledge, spec.knowledge_bases)
            if self._memory is not None and spec.memory:
                shared = spec.memory_shared
                instructions += memory_instructions(self._memory, agent_id, shared=shared)
                tools += memory_tools(self._memory, agent_id, shared=shared)
            self._tool_names[agent_id] = {tool.name for tool in tools}
            agent = Agent(
                self.models.get(spec.model).model,
                name=agent_id,
                deps_type=TurnFacts,
                instructions=instructions,
                tools=tools,
                toolsets=self.mcp.toolsets_for(agent_id, spec),
            )
            self._agents[agent_id] = agent
        return agent

    async def stop(self) -> None:
        """Stop what the agents keep running: MCP servers, Claude Code sessions."""
        await asyncio.gather(self.mcp.stop(), close_tools(self._builtin_tools))

    def plain_agent(self, model_name: str) -> Agent[None, str]:
        """A bare model call: no instructions, no tools (chat apps' title and tag requests)."""
        agent = self._plain.get(model_name)
        if agent is None:
            agent = self._plain[model_name] = Agent(self.models.get(model_name).model)
        return agent

    async def run_agent(
        self,
        agent_id: str,
        prompt: str,
        stored: Sequence[bytes],
        prior: Sequence[PriorMessage],
        turn: TurnFacts | None = None,
        client: ClientToolUse | None = None,
        attachments: Sequence[Attachment] = (),
    ) -> AsyncIterator[RunEvent]:
        """Run one turn after the stored turns, or else after the client's earlier messages.

        The final ``RunDone`` carries what to store: the new messages when continuing a
        stored history, the whole conversation when starting one; nothing when the turn
        paused for the client's own tools (``client``), which a later request resumes.
        Provider failures raise ``TraymindError`` subclasses.
        """
        model_name = self.config.agents[agent_id].model
        agent = self.agent(agent_id)
        facts = turn or TurnFacts()
        client_names = {t.name for t in client.tools} if client else set()
        mapper = EventMapper(skip_tools=client_names)
        try:
            history = conversation(stored, prior)
            stored_count = len(history) if stored else 0
            options: dict[str, Any] = {}
            if client is not None:
                external = client_tools.toolset(client, self._tool_names.get(agent_id, set()))
                options = {
                    "toolsets": [external] if external else None,
                    "output_type": [str, DeferredToolRequests],
                    "capabilities": client_tools.capabilities(client),
                    "model_settings": client_tools.model_settings(client),
                }
                if client.resumes:
                    history, stored_count = self._resumed(
                        agent_id, prompt, client, facts, history, stored_count
                    )
                    options["deferred_tool_results"] = client_tools.deferred_results(client)
            user_prompt: Any = None if client is not None and client.resumes else prompt
            if attachments and user_prompt is not None:
                if self.models.config_for(model_name).takes_images:
                    user_prompt = [prompt, *model_inputs(attachments)]
                else:
                    yield TextDelta(NOT_SEEN)
            async with agent.run_stream_events(
                user_prompt, message_history=history, deps=facts, **options
            ) as events:
                async for event in events:
                    mapped = mapper.map(event)
                    if mapped is not None:
                        yield mapped
                usage = events.usage
                result = events.result
                messages = events.all_messages()
        except (TraymindError, asyncio.CancelledError, GeneratorExit):
            raise
        except UserError as exc:
            if client is not None and "conflict" in str(exc).lower():
                raise InvalidRequest(
                    f"A client tool collides with the agent's tools: {exc}", param="tools"
                ) from None
            raise from_model_error(exc, agent_id, self.base_url(model_name)) from exc
        except Exception as exc:
            raise from_model_error(exc, agent_id, self.base_url(model_name)) from exc
        output = result.output if result is not None else None
        if isinstance(output, DeferredToolRequests):
            calls = tuple(
                ClientCall(c.tool_call_id, c.tool_name, c.args_as_json_str()) for c in output.calls
            )
            self.paused.keep(
                facts.namespace or "",
                [c.id for c in calls],
                client_tools.PausedRun(agent_id, messages, stored_count, time.monotonic()),
            )
            yield ClientToolCalls(calls)
            yield RunDone(usage.input_tokens, usage.output_tokens, None)
            return
        yield RunDone(
            usage.input_tokens, usage.output_tokens, messages_json(messages[stored_count:])
        )

    def _resumed(
        self,
        agent_id: str,
        prompt: str,
        client: ClientToolUse,
        facts: TurnFacts,
        history: list[Any],
        stored_count: int,
    ) -> tuple[list[Any], int]:
        """The paused turn's messages (kept, or rebuilt from what the client sent back)."""
        call_ids = [c.id for c in client.rounds[-1].calls]
        paused = self.paused.take(facts.namespace or "", agent_id, call_ids)
        if paused is not None:
            return paused.messages, paused.stored_count
        return [*history, *client_tools.rebuilt_turn(prompt, client.rounds)], stored_count

    async def run_plain(self, model_name: str, prompt: str, label: str) -> AsyncIterator[RunEvent]:
        """One direct model call, streamed; nothing of it is meant to be stored."""
        mapper = EventMapper()
        try:
            async with self.plain_agent(model_name).run_stream_events(prompt) as events:
                async for event in events:
                    mapped = mapper.map(event)
                    if mapped is not None:
                        yield mapped
                usage = events.usage
        except (TraymindError, asyncio.CancelledError, GeneratorExit):
            raise
        except Exception as exc:
            raise from_model_error(exc, label, self.base_url(model_name)) from exc
        yield RunDone(usage.input_tokens, usage.output_tokens, b"[]")

    async def run_member(
        self,
        member_id: str,
        task: str,
        emit: Emit,
        usage: RunUsage | None = None,
        facts: TurnFacts | None = None,
    ) -> str:
        """A team member's answer to a sub-task; its tool events go to ``emit``, not its text.

        ``usage`` (the team run's) is added to in place, so the team's usage sums it.
        ``facts`` is the team turn's: the member uses that caller's memory (unknown: none).
        """
        model_name = self.config.agents[member_id].model
        mapper = EventMapper(text=False)
        # Providers number calls per response (call_1...): scope the member's to its run.
        scope = f"{member_id}#{next(self._member_runs)}:"
        member_facts = facts or TurnFacts(namespace=None)
        try:
            async with self.agent(member_id).run_stream_events(
                task, usage=usage, deps=member_facts
            ) as events:
                async for event in events:
                    mapped = mapper.map(event)
                    if isinstance(mapped, ToolStarted | ToolFinished):
                        emit(replace(mapped, call_id=scope + mapped.call_id))
                result = events.result
        except (TraymindError, asyncio.CancelledError):
            raise
        except Exception as exc:
            raise from_model_error(exc, member_id, self.base_url(model_name)) from exc
        return result.output if result is not None else ""
