"""How one request will run: which agent, team or plain call, and where it is stored.

Everything binds to what ``auto`` resolved: the response's model, every chunk,
and the session's history key. Chat apps' background requests take the light path.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from server.agents import direct_chat
from server.agents.catalog import Target
from server.agents.events import RunEvent
from server.agents.instructions import agent_instructions
from server.agents.model_config import resolve_model_config
from server.agents.stickiness import named_agent, topic_changed
from server.agents.turn import TurnFacts
from server.chat.background_requests import background_kind
from server.config import AgentConfig, ModelConfig
from server.errors import InvalidRequest
from server.openai.chat_request import ChatTurn, PriorMessage
from server.sessions import session_ref
from server.state import Generation, ServerState
from server.status import client_kind

if TYPE_CHECKING:  # the engine is imported lazily
    from server.agents.engine import Engine

RunFactory = Callable[[Sequence[bytes], Sequence[PriorMessage]], AsyncIterator[RunEvent]]
ROUTER_CONTEXT_MESSAGES = 6
ROUTER_CONTEXT_CHARS = 200


@dataclass(slots=True)
class Plan:
    model_id: str  # the response's ``model``: the resolved agent, ``team/x`` or the request's
    history_key: str | None  # what history is stored under; None: never stored
    model_name: str  # the config model it runs on (for the context budget)
    show_tool_calls: bool
    run: RunFactory
    extra_usage: tuple[int, int] = (0, 0)
    tool_event_format: str = "traymind"  # the agent's; a request's header may override it


def router_context(prior: Sequence[PriorMessage]) -> list[str]:
    return [f"{m.role}: {m.text[:ROUTER_CONTEXT_CHARS]}" for m in prior[-ROUTER_CONTEXT_MESSAGES:]]


class Planner:
    """Plans one request; the agent engine (pydantic-ai) is awaited only when a plan needs it."""

    def __init__(self, state: ServerState, generation: Generation) -> None:
        self._state = state
        self._generation = generation

    async def _engine(self) -> Engine:
        return await self._generation.runtime.get()

    async def _direct_model(self, agent: AgentConfig | None, model_name: str) -> ModelConfig | None:
        """The model config when the direct path can run this (no tools, OpenAI-compatible)."""
        default = await self._generation.runtime.resolved_default()
        model = resolve_model_config(self._generation.config, default, model_name)
        if agent is None:
            return model if model.provider == "openai" else None
        return model if direct_chat.eligible(agent, model) else None

    async def plan(
        self, turn: ChatTurn, target: Target, namespace: str, headers: Mapping[str, str]
    ) -> Plan:
        config = self._generation.config
        background = background_kind(turn) is not None
        if target.kind == "team":
            team = config.teams[target.id]
            model_id = f"team/{target.id}"
            if background:
                return await self._plain(model_id, team.model, turn)
            teams = (await self._engine()).teams
            session = session_ref(headers, namespace, model_id, turn.user_session)
            facts = TurnFacts(
                session_id=session.session_id if session else None,
                namespace=namespace,
                client=client_kind(headers),
                stream=turn.stream,
            )
            return Plan(
                model_id,
                model_id,
                team.model,
                True,
                lambda s, p: teams.run(target.id, turn.prompt, s, p, facts),
            )
        if target.kind == "auto":
            if background:
                return await self._plain("auto", config.router.model, turn)
            agent_id, usage = await self._route(turn, namespace, headers)
        else:
            agent_id, usage = target.id, (0, 0)
        agent = config.agents[agent_id]
        if background:
            return await self._plain(agent_id, agent.model, turn)
        client = turn.client if agent.client_tools else None
        if turn.approvals and not config.approval_in_band:
            raise InvalidRequest(
                "This server does not let clients approve tool calls themselves "
                "(approval_in_band is off in its config); approvals are asked in its tray "
                "or with `traymind approvals`.",
                param="input",
            )
        # Without approval_in_band, a client that offers to ask is asked nothing: the tray is.
        in_band = config.approval_in_band and (turn.in_band_approvals or bool(turn.approvals))
        runtime_only = client or turn.attachments or in_band
        model = None if runtime_only else await self._direct_model(agent, agent.model)
        if model is not None:
            direct = self._state.direct
            instructions = "\n\n".join(agent_instructions(agent_id, agent))
            return Plan(
                agent_id,
                agent_id,
                agent.model,
                agent.show_tool_calls,
                lambda s, p: direct.run(
                    agent_id, model, instructions, turn.prompt, s, p, stream=turn.stream
                ),
                usage,
                agent.tool_event_format,
            )
        runtime = (await self._engine()).runtime
        session = session_ref(headers, namespace, agent_id, turn.user_session)
        facts = TurnFacts(
            session_id=session.session_id if session else None,
            namespace=namespace,
            client=client_kind(headers),
            stream=turn.stream,
            in_band_approvals=in_band,
        )
        return Plan(
            agent_id,
            agent_id,
            agent.model,
            agent.show_tool_calls,
            lambda s, p: runtime.run_agent(
                agent_id, turn.prompt, s, p, facts, client, turn.attachments, turn.approvals
            ),
            usage,
            agent.tool_event_format,
        )

    async def _plain(self, model_id: str, model_name: str, turn: ChatTurn) -> Plan:
        model = await self._direct_model(None, model_name)
        if model is not None:
            direct = self._state.direct
            return Plan(
                model_id,
                None,
                model_name,
                False,
                lambda s, p: direct.run(
                    model_id, model, None, turn.prompt, [], [], stream=turn.stream
                ),
            )
        runtime = (await self._engine()).runtime
        return Plan(
            model_id,
            None,
            model_name,
            False,
            lambda s, p: runtime.run_plain(model_name, turn.prompt, model_id, turn.stream),
        )

    async def _route(
        self, turn: ChatTurn, namespace: str, headers: Mapping[str, str]
    ) -> tuple[str, tuple[int, int]]:
        """The agent for an ``auto`` turn: sticky within a session, else the router's pick."""
        config = self._generation.config
        candidates = self._generation.catalog.listed_agents()
        names = {a: config.agents[a].display_name or a for a in candidates}
        ref = session_ref(headers, namespace, "auto", turn.user_session)
        store = self._state.store
        saved = await asyncio.to_thread(store.route, namespace, ref.session_id) if ref else None
        recent = saved[1] if saved else []
        agent: str | None = None
        usage = (0, 0)
        if saved and saved[0] in candidates:
            agent = named_agent(turn.user_text, names, saved[0])
            if agent is None and not topic_changed(turn.user_text, recent):
                agent = saved[0]
        if agent is None:
            router = (await self._engine()).router
            result = await router.route(turn.user_text, router_context(turn.prior))
            agent, usage = result.agent, (result.input_tokens, result.output_tokens)
        if ref is not None:
            await asyncio.to_thread(
                store.set_route, namespace, ref.session_id, agent, [*recent, turn.user_text]
            )
        return agent, usage
