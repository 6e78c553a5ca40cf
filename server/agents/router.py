"""The ``auto`` model: one structured call picks the listed agent for a message.

The router's output can only be one of the listed agent ids (an enum in the output
schema) plus a short reason. Routing never fails a request: a router error or an
unusable answer falls back to the first listed agent, and the log says why.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, Field, create_model
from pydantic_ai import Agent

from server.agents.models import ModelRegistry
from server.config import Config

log = logging.getLogger(__name__)

ROUTER_INSTRUCTIONS = (
    "You route a user's message to the one agent best suited to answer it. "
    "Pick exactly one agent id from the candidates and give a short reason."
)
HISTORY_TURNS = 6
HISTORY_CHARS = 200


@dataclass(frozen=True, slots=True)
class RouteResult:
    agent: str
    reason: str
    input_tokens: int = 0
    output_tokens: int = 0
    fallback: bool = False


def candidate_card(agent_id: str, config: Config) -> str:
    agent = config.agents[agent_id]
    tools = ", ".join(ref.name for ref in agent.tools) or "none"
    first = agent.instructions[0] if agent.instructions else ""
    return (
        f"- id: {agent_id}\n  name: {agent.display_name or agent_id}\n"
        f"  role: {agent.role or 'not given'}\n  tools: {tools}\n"
        f"  instructions: {first[:HISTORY_CHARS]}"
    )


def router_prompt(candidates: list[str], config: Config, message: str, recent: list[str]) -> str:
    cards = "\n".join(candidate_card(a, config) for a in candidates)
    conversation = "\n".join(recent) or "(none)"
    return (
        f"Candidates:\n{cards}\n\nRecent conversation:\n{conversation}\n\n"
        f"Message to route:\n{message[:2000]}"
    )


def decision_type(candidates: list[str]) -> type[BaseModel]:
    return create_model(
        "RouteDecision",
        agent=(Literal[tuple(candidates)], Field(description="The id of the chosen agent.")),
        reason=(str, Field(description="Why, in one short sentence.")),
    )


class Router:
    """Routes messages among the listed agents of one config."""

    def __init__(self, config: Config, models: ModelRegistry, candidates: list[str]) -> None:
        self._config = config
        self._models = models
        self._candidates = candidates
        self._agent: Agent[None, BaseModel] | None = None

    def _router_agent(self) -> Agent[None, BaseModel]:
        if self._agent is None:
            self._agent = Agent(
                self._models.get(self._config.router.model).model,
                output_type=decision_type(self._candidates),
                instructions=ROUTER_INSTRUCTIONS,
                name="router",
            )
        return self._agent

    async def route(self, message: str, recent: list[str]) -> RouteResult:
        first = self._candidates[0]
        if len(self._candidates) == 1:
            return RouteResult(first, "the only listed agent")
        try:
            result = await self._router_agent().run(
                router_prompt(self._candidates, self._config, message, recent)
            )
        except Exception as exc:  # routing must never fail the request
            log.warning("router failed (%s); using the first agent '%s'", type(exc).__name__, first)
            return RouteResult(first, "router failed", fallback=True)
        usage = result.usage
        chosen = getattr(result.output, "agent", None)
        if chosen not in self._candidates:
            log.warning("router answered %r; using the first agent '%s'", chosen, first)
            return RouteResult(
                first,
                "unusable router answer",
                usage.input_tokens,
                usage.output_tokens,
                fallback=True,
            )
        reason = str(getattr(result.output, "reason", ""))[:200]
        log.info("routed to %s: %s", chosen, reason)
        return RouteResult(chosen, reason, usage.input_tokens, usage.output_tokens)
