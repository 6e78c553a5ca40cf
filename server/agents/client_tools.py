"""Client tools in an agent run: offered as pydantic-ai external tools, resumed with results.

A call to a client tool defers (pydantic-ai's ``DeferredToolRequests``): the run
ends, the client gets ``tool_calls``, runs them and sends the results back. The
paused run's messages are kept here for a while, so the resumed run sees exactly
what the model did (its own tools' calls and results included). After a restart,
or on another server, the run is rebuilt from what the client sent back instead.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic_ai import DeferredToolResults, RunContext
from pydantic_ai.capabilities import AbstractCapability
from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    TextPart,
    ToolCallPart,
    UserPromptPart,
)
from pydantic_ai.settings import ModelSettings
from pydantic_ai.tools import ToolDefinition
from pydantic_ai.toolsets import ExternalToolset

from server.errors import InvalidRequest
from server.openai.client_tools import ClientToolUse, ToolRound

PENDING_SECONDS = 3600.0
MAX_PENDING = 1000
NO_RESULT = "The client sent no result for this call."


def toolset(use: ClientToolUse, own_names: set[str]) -> ExternalToolset[Any] | None:
    """The client's tools for this run; a 400 naming both when one collides with the agent's."""
    offered = use.offered
    for tool in offered:
        if tool.name in own_names:
            raise InvalidRequest(
                f"The client tool '{tool.name}' has the same name as the agent's own tool "
                f"'{tool.name}'; rename the client tool.",
                param="tools",
            )
    if not offered:
        return None
    return ExternalToolset(
        [
            ToolDefinition(
                name=tool.name,
                description=tool.description,
                parameters_json_schema=tool.parameters,
                strict=tool.strict,
            )
            for tool in offered
        ]
    )


@dataclass
class FirstStepToolChoice(AbstractCapability[Any]):
    """``tool_choice`` ``required`` or a named function, for the run's first model call.

    OpenAI's ``tool_choice`` governs the one response a request asks for; forcing every
    step would keep the agent from ever answering after its own tools ran.
    """

    choice: str | list[str]

    def get_model_settings(self) -> Any:
        def settings(ctx: RunContext[Any]) -> ModelSettings:
            return {"tool_choice": self.choice} if ctx.run_step <= 1 else {}  # type: ignore[typeddict-item]

        return settings


def capabilities(use: ClientToolUse) -> list[AbstractCapability[Any]]:
    if use.choice != "required" or not use.offered:
        return []
    return [FirstStepToolChoice([use.forced] if use.forced else "required")]


def model_settings(use: ClientToolUse) -> ModelSettings | None:
    return {"parallel_tool_calls": use.parallel} if use.parallel is not None else None


def deferred_results(use: ClientToolUse) -> DeferredToolResults:
    """The results of the last round; a call left without one gets a sentence saying so."""
    last = use.rounds[-1]
    return DeferredToolResults(
        calls={call.id: last.results.get(call.id, NO_RESULT) for call in last.calls}
    )


def rebuilt_turn(prompt: str, rounds: Sequence[ToolRound]) -> list[ModelMessage]:
    """The paused turn as the client saw it: the prompt, each round's calls and results.

    Used when the paused run is not kept here (a restart): the calls of the agent's own
    tools in those responses are not known, only the text the client was shown.
    """
    from pydantic_ai.messages import ToolReturnPart

    messages: list[ModelMessage] = [ModelRequest(parts=[UserPromptPart(prompt)])]
    for index, tool_round in enumerate(rounds):
        parts: list[Any] = [TextPart(tool_round.text)] if tool_round.text else []
        parts += [ToolCallPart(c.name, c.arguments, c.id) for c in tool_round.calls]
        messages.append(ModelResponse(parts=parts))
        if index < len(rounds) - 1:
            returns = [
                ToolReturnPart(c.name, tool_round.results.get(c.id, NO_RESULT), c.id)
                for c in tool_round.calls
            ]
            messages.append(ModelRequest(parts=returns))
    return messages


@dataclass(frozen=True, slots=True, eq=False)
class PausedRun:
    """A run waiting for the client's tool results."""

    agent_id: str
    messages: list[ModelMessage]
    stored_count: int  # how many of ``messages`` are the stored history before the turn
    at: float
    asked: tuple[str, ...] = ()  # the calls waiting for the client user's approval (in-band)


class PausedRuns:
    """Paused runs by (key namespace, call id); bounded in number and age, in memory only."""

    def __init__(self) -> None:
        self._runs: OrderedDict[tuple[str, str], PausedRun] = OrderedDict()

    def keep(self, namespace: str, call_ids: Sequence[str], run: PausedRun) -> None:
        self._expire()
        for call_id in call_ids:
            self._runs[(namespace, call_id)] = run
        while len(self._runs) > MAX_PENDING:
            self._runs.popitem(last=False)

    def take(self, namespace: str, agent_id: str, call_ids: Sequence[str]) -> PausedRun | None:
        """The paused run all these calls belong to (and forget it), or None."""
        self._expire()
        runs = [self._runs.get((namespace, call_id)) for call_id in call_ids]
        run = runs[0] if runs else None
        if run is None or run.agent_id != agent_id or any(r is not run for r in runs):
            return None
        for key in [k for k, v in self._runs.items() if v is run]:
            del self._runs[key]
        return run

    def _expire(self) -> None:
        cutoff = time.monotonic() - PENDING_SECONDS
        while self._runs:
            key, run = next(iter(self._runs.items()))
            if run.at >= cutoff:
                return
            del self._runs[key]
