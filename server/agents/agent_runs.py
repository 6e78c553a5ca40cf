"""One way to run a pydantic-ai agent and read its events, streamed from the model or not.

Why: ``run_stream_events`` asks the provider for a stream and pushes every delta through
pydantic-ai's event layers and the SDK's typed chunk models, about 0.3 ms of CPU per
delta (``docs/benchmarks.md``). A client that did not ask for a stream, a team member
(whose text is never streamed) and a team's leader answering such a client need only the
run's parts, so they run with ``agent.iter`` instead: one model request per step, and
the same events made from the finished parts (text, tool calls before they run, tool
results after), which ``EventMapper`` maps as it maps streamed ones. The agent loop is
pydantic-ai's either way: the tools, toolsets, approvals, deferred calls and history are
the same; only the model request differs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from typing import Any

from pydantic_ai import Agent
from pydantic_ai.messages import (
    FunctionToolCallEvent,
    FunctionToolResultEvent,
    ModelMessage,
    ModelResponse,
    PartStartEvent,
    RetryPromptPart,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
)
from pydantic_ai.usage import RunUsage


class StepRun:
    """A run driven node by node: ``run_stream_events``' interface (events, ``usage``,
    ``result``, ``all_messages``, ``new_messages``) over non-streamed model requests."""

    def __init__(self, run: Any, answered: Collection[str] = (), resumed: object = None) -> None:
        """``resumed``: the paused model response a resumed run starts from, whose calls were
        shown in an earlier request; of those, only the ``answered`` ones (approvals) run
        now and are shown again."""
        self._run = run
        self._answered = frozenset(answered)
        self._resumed = resumed
        self._asked: set[str] = set()  # tool calls shown, waiting for their results

    def __aiter__(self) -> AsyncIterator[object]:
        return self._events()

    async def _events(self) -> AsyncIterator[object]:
        async for node in self._run:
            if Agent.is_model_request_node(node):
                for event in self._results(node.request.parts):
                    yield event
            elif Agent.is_call_tools_node(node):
                earlier = self._resumed is not None and node.model_response == self._resumed
                for index, part in enumerate(node.model_response.parts):
                    if earlier:  # shown by the request that paused; only answered calls run
                        if isinstance(part, ToolCallPart) and part.tool_call_id in self._answered:
                            self._asked.add(part.tool_call_id)
                            yield FunctionToolCallEvent(part=part)
                    elif isinstance(part, TextPart) and part.content:
                        yield PartStartEvent(index=index, part=part)
                    elif isinstance(part, ToolCallPart) and not _output_tool(part):
                        self._asked.add(part.tool_call_id)
                        yield FunctionToolCallEvent(part=part)
        # the last step's tool results are in the run's messages, not in a next request
        for message in self._run.all_messages()[-1:]:
            for event in self._results(getattr(message, "parts", ())):
                yield event

    def _results(self, parts: Any) -> list[object]:
        """Result events for the shown calls that ``parts`` answer."""
        events: list[object] = []
        for part in parts:
            if isinstance(part, ToolReturnPart | RetryPromptPart) and (
                part.tool_call_id in self._asked
            ):
                self._asked.discard(part.tool_call_id)
                events.append(FunctionToolResultEvent(part=part))
        return events

    @property
    def usage(self) -> RunUsage:
        return self._run.usage

    @property
    def result(self) -> Any:
        return self._run.result

    def all_messages(self) -> list[ModelMessage]:
        return self._run.all_messages()

    def new_messages(self) -> list[ModelMessage]:
        return self._run.new_messages()


@asynccontextmanager
async def agent_events(
    agent: Agent[Any, Any],
    prompt: Any,
    *,
    stream: bool,
    answered: Collection[str] = (),
    **options: Any,
) -> AsyncIterator[Any]:
    """``agent``'s run on ``prompt`` as events: streamed from the model when ``stream``,
    else step by step (``StepRun``; ``answered``: the approved or denied calls it resumes).
    ``options`` are ``run_stream_events``' keywords."""
    if stream:
        async with agent.run_stream_events(prompt, **options) as events:
            yield events
        return
    history = options.get("message_history") or []
    responses = [m for m in history if isinstance(m, ModelResponse)]
    resumed = responses[-1] if prompt is None and responses else None
    async with agent.iter(prompt, **options) as run:
        yield StepRun(run, answered, resumed)


def _output_tool(part: ToolCallPart) -> bool:
    """A structured output's tool call (``final_result``): a stream does not show it."""
    return part.tool_name.startswith("final_result")
