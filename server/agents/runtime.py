"""Agent runs on pydantic-ai: one ``Agent`` per config entry, its events mapped to ours.

This module imports pydantic-ai and the provider SDKs (about 2 s of imports), so
the API imports it lazily, after the server already answers.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

from pydantic_ai import Agent
from pydantic_ai.messages import (
    FunctionToolCallEvent,
    FunctionToolResultEvent,
    ModelMessage,
    ModelMessagesTypeAdapter,
    ModelRequest,
    ModelResponse,
    PartDeltaEvent,
    PartStartEvent,
    TextPart,
    TextPartDelta,
    UserPromptPart,
)

from server.agents.default_model import DefaultModel
from server.agents.events import RunDone, RunEvent, TextDelta, ToolFinished, ToolStarted
from server.agents.models import ModelRegistry
from server.agents.provider_errors import provider_error
from server.config import AgentConfig, Config
from server.errors import TraymindError
from server.openai.chat_request import PriorMessage
from server.tools import build_tools


def agent_instructions(agent_id: str, agent: AgentConfig) -> list[str]:
    """The agent's identity (name and role) followed by its configured instructions."""
    name = agent.display_name or agent_id
    identity = f"You are {name}." + (f" Your role: {agent.role}." if agent.role else "")
    return [identity, *agent.instructions]


def history_from_prior(prior: Sequence[PriorMessage]) -> list[ModelMessage]:
    """A client's earlier messages as the conversation so far."""
    messages: list[ModelMessage] = []
    for message in prior:
        if message.role == "user":
            messages.append(ModelRequest(parts=[UserPromptPart(message.text)]))
        else:
            messages.append(ModelResponse(parts=[TextPart(message.text)]))
    return messages


def history_from_json(chunks: Sequence[bytes]) -> list[ModelMessage]:
    """Stored turns (each a JSON list of messages) as one history."""
    messages: list[ModelMessage] = []
    for chunk in chunks:
        messages.extend(ModelMessagesTypeAdapter.validate_json(chunk))
    return messages


def messages_json(messages: Sequence[ModelMessage]) -> bytes:
    return ModelMessagesTypeAdapter.dump_json(list(messages))


class AgentRuntime:
    """Builds each agent once per config and runs it."""

    def __init__(self, config: Config, default_model: DefaultModel) -> None:
        self._config = config
        self._models = ModelRegistry(config, default_model)
        self._agents: dict[str, Agent[None, str]] = {}

    def base_url(self, agent_id: str) -> str:
        return self._models.get(self._config.agents[agent_id].model).base_url

    def agent(self, agent_id: str) -> Agent[None, str]:
        agent = self._agents.get(agent_id)
        if agent is None:
            spec = self._config.agents[agent_id]
            built = self._models.get(spec.model)
            agent = Agent(
                built.model,
                name=agent_id,
                instructions=agent_instructions(agent_id, spec),
                tools=build_tools(spec.tools),
            )
            self._agents[agent_id] = agent
        return agent

    async def run(
        self,
        agent_id: str,
        prompt: str,
        stored: Sequence[bytes],
        prior: Sequence[PriorMessage],
    ) -> AsyncIterator[RunEvent]:
        """Run one turn after the stored turns, or else after the client's earlier messages.

        The final ``RunDone`` carries what to store: the new messages when continuing a
        stored history, the whole conversation when starting one. Provider failures
        raise ``TraymindError`` subclasses.
        """
        history = history_from_json(stored) if stored else history_from_prior(prior)
        agent = self.agent(agent_id)
        base_url = self._models.get(self._config.agents[agent_id].model).base_url
        calls: dict[str, ToolStarted] = {}
        try:
            async with agent.run_stream_events(prompt, message_history=history) as events:
                async for event in events:
                    mapped = _map_event(event, calls)
                    if mapped is not None:
                        yield mapped
                usage = events.usage
                to_store = events.new_messages() if stored else events.all_messages()
        except (TraymindError, asyncio.CancelledError, GeneratorExit):
            raise
        except Exception as exc:
            raise provider_error(exc, agent_id, base_url) from exc
        yield RunDone(usage.input_tokens, usage.output_tokens, messages_json(to_store))


def _map_event(event: object, calls: dict[str, ToolStarted]) -> RunEvent | None:
    if isinstance(event, PartStartEvent) and isinstance(event.part, TextPart):
        return TextDelta(event.part.content) if event.part.content else None
    if isinstance(event, PartDeltaEvent) and isinstance(event.delta, TextPartDelta):
        return TextDelta(event.delta.content_delta) if event.delta.content_delta else None
    if isinstance(event, FunctionToolCallEvent):
        part = event.part
        try:
            args = part.args_as_dict()
        except ValueError:
            args = {"arguments": part.args}
        started = ToolStarted(part.tool_call_id, part.tool_name, args)
        calls[part.tool_call_id] = started
        return started
    if isinstance(event, FunctionToolResultEvent):
        result = event.part
        started = calls.pop(result.tool_call_id, None)
        args = started.args if started else {}
        return ToolFinished(result.tool_call_id, result.tool_name, args, result.content)
    return None
