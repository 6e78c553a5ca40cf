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

from pydantic_ai import Agent, DeferredToolRequests, DeferredToolResults, Tool, ToolDenied
from pydantic_ai.exceptions import UserError
from pydantic_ai.toolsets import AbstractToolset, FunctionToolset
from pydantic_ai.usage import RunUsage

from server.agents import client_tools
from server.agents.agent_runs import agent_events
from server.agents.default_model import DefaultModel
from server.agents.event_mapping import EventMapper
from server.agents.events import (
    ApprovalRequests,
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
from server.approvals.broker import DENIED, ApprovalBroker, ApprovalRequest, Decision
from server.approvals.policy import ApprovalRule, builtin_asks, split_approval
from server.approvals.toolset import ApprovalToolset
from server.config import Config
from server.errors import InvalidRequest, TraymindError
from server.knowledge import KnowledgeService
from server.knowledge.agent_tools import knowledge_instructions, knowledge_tools
from server.mcp.manager import McpManager
from server.mcp.toolset import AgentMcpToolset
from server.memory import MemoryService
from server.memory.agent_tools import memory_instructions, memory_tools
from server.openai.attachments import Attachment
from server.openai.chat_request import PriorMessage
from server.openai.client_tools import ClientCall, ClientToolUse
from server.providers.failures import from_model_error
from server.providers.history import conversation, messages_json
from server.tools.registry import build_tools_by_entry, close_tools

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
        approvals: ApprovalBroker | None = None,
    ) -> None:
        """``approvals``: where tool calls that ask wait for a person. Without one, nobody
        can answer, so those calls are denied after the timeout: never run unasked."""
        self.config = config
        self._approvals = approvals if approvals is not None else ApprovalBroker()
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
            tools, rules, previews = self._builtin(spec.tools)
            self._builtin_tools.extend(tools)
            if self._knowledge is not None and spec.knowledge_bases:
                instructions += knowledge_instructions(self._knowledge, spec.knowledge_bases)
                tools += knowledge_tools(self._knowledge, spec.knowledge_bases)
            if self._memory is not None and spec.memory:
                shared = spec.memory_shared
                instructions += memory_instructions(self._memory, agent_id, shared=shared)
                tools += memory_tools(self._memory, agent_id, shared=shared)
            self._tool_names[agent_id] = {tool.name for tool in tools}
            toolsets = self.mcp.toolsets_for(agent_id, spec)
            toolsets = [self._asking(agent_id, ts) for ts in toolsets]
            if rules:
                toolsets.insert(0, self._asking(agent_id, FunctionToolset(tools), rules, previews))
                tools = []
            agent = Agent(
                self.models.get(spec.model).model,
                name=agent_id,
                deps_type=TurnFacts,
                instructions=instructions,
                tools=tools,
                toolsets=toolsets,
            )
            self._agents[agent_id] = agent
        return agent

    @staticmethod
    def _builtin(
        refs: Sequence[Any],
    ) -> tuple[list[Tool], dict[str, ApprovalRule], dict[str, Callable[..., str | None]]]:
        """The built-in tools of a ``tools:`` list, the rules of those that ask, and the
        previews their owners offer (a file write's diff)."""
        tools: list[Tool] = []
        rules: dict[str, ApprovalRule] = {}
        previews: dict[str, Callable[..., str | None]] = {}
        for ref, built in build_tools_by_entry(list(refs)):
            _, setting = split_approval(ref.name, ref.options)
            for tool in built:
                tools.append(tool)
                if builtin_asks(ref.name, setting, tool.name):
                    rules[tool.name] = ApprovalRule(ref.name)
                owner = getattr(tool.function, "__self__", None)
                preview = getattr(owner, "approval_preview", None)
                if callable(preview):
                    previews[tool.name] = preview
        return tools, rules, previews

    def _asking(
        self,
        agent_id: str,
        toolset: AbstractToolset[Any],
        rules: dict[str, ApprovalRule] | None = None,
        previews: dict[str, Callable[..., str | None]] | None = None,
    ) -> ApprovalToolset:
        """``toolset`` with its calls that ask waiting for the broker."""
        if isinstance(toolset, AgentMcpToolset):
            rule_for = toolset.approval_rule
        else:
            known = rules or {}
            rule_for = known.get
        shown = previews or {}

        def preview(name: str, args: dict[str, Any]) -> str | None:
            make = shown.get(name)
            return make(name, args) if make is not None else None

        return ApprovalToolset(
            toolset,
            agent_id=agent_id,
            broker=self._approvals,
            rule_for=rule_for,
            timeout=lambda: self.config.approval_timeout_seconds,
            preview=preview if shown else None,
        )

    async def stop(self, *, shutting_down: bool = False) -> None:
        """Stop what the agents keep running: MCP servers, Claude Code sessions; and at
        shutdown the models' SDK clients (after a reload, turns of the old config may
        still be using them, so the garbage collector closes those)."""
        await asyncio.gather(self.mcp.stop(now=shutting_down), close_tools(self._builtin_tools))
        if shutting_down:
            await self.models.aclose()

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
        approvals: Sequence[tuple[str, bool]] = (),
    ) -> AsyncIterator[RunEvent]:
        """Run one turn after the stored turns, or else after the client's earlier messages.

        The final ``RunDone`` carries what to store: the new messages when continuing a
        stored history, the whole conversation when starting one; nothing when the turn
        paused for the client's own tools (``client``) or for its user's approval of the
        agent's own (``turn.in_band_approvals``); a later request resumes it with the
        results or the answers (``approvals``). Provider failures raise ``TraymindError``.
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
            if facts.in_band_approvals:
                options["output_type"] = [str, DeferredToolRequests]
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
            if approvals:
                history, stored_count, answers = self._answered(agent_id, facts, approvals)
                results = options.get("deferred_tool_results") or DeferredToolResults()
                results.approvals.update(answers)
                options["deferred_tool_results"] = results
            resumes = (client is not None and client.resumes) or bool(approvals)
            user_prompt: Any = None if resumes else prompt
            if attachments and user_prompt is not None:
                if self.models.config_for(model_name).takes_images:
                    user_prompt = [prompt, *model_inputs(attachments)]
                else:
                    yield TextDelta(NOT_SEEN)
            async with agent_events(
                agent,
                user_prompt,
                stream=facts.stream,
                answered=[call_id for call_id, _ in approvals],
                message_history=history,
                deps=facts,
                **options,
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
            asked = tuple(
                ClientCall(c.tool_call_id, c.tool_name, c.args_as_json_str())
                for c in output.approvals
            )
            self.paused.keep(
                facts.namespace or "",
                [c.id for c in (*calls, *asked)],
                client_tools.PausedRun(
                    agent_id, messages, stored_count, time.monotonic(), tuple(c.id for c in asked)
                ),
            )
            if calls:
                yield ClientToolCalls(calls)
            if asked:
                yield ApprovalRequests(asked)
            yield RunDone(usage.input_tokens, usage.output_tokens, None)
            return
        yield RunDone(
            usage.input_tokens, usage.output_tokens, messages_json(messages[stored_count:])
        )

    def _answered(
        self, agent_id: str, facts: TurnFacts, approvals: Sequence[tuple[str, bool]]
    ) -> tuple[list[Any], int, dict[str, bool | ToolDenied]]:
        """The turn paused for these approvals, and the answers as pydantic-ai takes them;
        each answer is recorded as a decision. A 400 when no such turn is kept."""
        ids = [call_id for call_id, _ in approvals]
        paused = self.paused.take(facts.namespace or "", agent_id, ids)
        if paused is None:
            raise InvalidRequest(
                "No answer is waiting for these approvals (it expired, Traymind restarted, "
                "or they belong to another agent); send the request again.",
                param="input",
            )
        asked = {
            part.tool_call_id: part
            for message in paused.messages
            for part in getattr(message, "parts", ())
            if getattr(part, "part_kind", "") == "tool-call"
        }
        answers: dict[str, bool | ToolDenied] = {}
        given = dict(approvals)
        if any(call_id not in paused.asked for call_id in given):
            self.paused.keep(facts.namespace or "", list(paused.asked), paused)  # still waits
            raise InvalidRequest(
                "An mcp_approval_response answers a call that did not ask for approval.",
                param="input",
            )
        # A call left unanswered is denied: the model hears so, and the turn goes on.
        unanswered = [(call_id, False) for call_id in paused.asked if call_id not in given]
        for call_id, approved in [*approvals, *unanswered]:
            answers[call_id] = True if approved else ToolDenied(DENIED)
            part = asked.get(call_id)
            if part is not None and not approved:
                request = ApprovalRequest(
                    agent_id,
                    part.tool_name,
                    part.args_as_dict(),
                    ApprovalRule(part.tool_name),
                    facts.client,
                    facts.session_id,
                )
                self._approvals.record(request, Decision(False, "the client's user (in-band)"))
        return paused.messages, paused.stored_count, answers

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

    async def run_plain(
        self, model_name: str, prompt: str, label: str, stream: bool = True
    ) -> AsyncIterator[RunEvent]:
        """One direct model call; nothing of it is meant to be stored."""
        mapper = EventMapper()
        try:
            async with agent_events(self.plain_agent(model_name), prompt, stream=stream) as events:
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
            async with agent_events(  # its text is never streamed: no stream is asked for
                self.agent(member_id), task, stream=False, usage=usage, deps=member_facts
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
