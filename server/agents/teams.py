"""Teams (``team/<name>``): a leader that delegates (coordinate) or synthesizes (collaborate).

Member tool calls and each delegation appear as tool events, numbered with the
team run's one counter. Members never stream their text: in ``collaborate`` mode
each member's answer is shown as that member's tool event once it is complete, so
parallel members cannot interleave. A member's failure is told to the leader in
its answer; the leader's failure fails the request like an agent's.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic_ai import Agent, RunContext, Tool
from pydantic_ai.usage import RunUsage

from server.agents.agent_runs import agent_events
from server.agents.event_mapping import EventMapper
from server.agents.events import RunDone, RunEvent, TextDelta, ToolFinished, ToolStarted
from server.agents.runtime import AgentRuntime, Emit
from server.agents.turn import TurnFacts
from server.config import TeamConfig
from server.errors import TraymindError
from server.openai.chat_request import PriorMessage
from server.providers.failures import from_model_error
from server.providers.history import conversation, exchange, messages_json

DELEGATE = "delegate_task"


@dataclass(slots=True)
class TeamDeps:
    emit: Emit
    facts: TurnFacts  # whose turn it is: members use that caller's memory


def member_roles(runtime: AgentRuntime, team: TeamConfig) -> str:
    lines = []
    for member in team.agents:
        spec = runtime.config.agents[member]
        lines.append(f"- {member} ({spec.display_name or member}): {spec.role or 'no role given'}")
    return "\n".join(lines)


def leader_instructions(name: str, team: TeamConfig, runtime: AgentRuntime) -> str:
    role = team.role or "a team of agents"
    if team.mode == "coordinate":
        how = (
            f"Delegate sub-tasks to members with the {DELEGATE} tool, as many rounds as needed, "
            "then write the final answer for the user yourself."
        )
    else:
        how = "Every member answered the user's message; synthesize their answers into one reply."
    return (
        f"You lead the team '{team.display_name or name}': {role}.\n"
        f"Members:\n{member_roles(runtime, team)}\n{how}"
    )


def delegate_tool(runtime: AgentRuntime, members: Sequence[str]) -> Tool[TeamDeps]:
    async def delegate_task(ctx: RunContext[TeamDeps], member: str, task: str) -> str:
        """Give one sub-task to a team member and get their answer back."""
        args = {"member": member, "task": task}
        call_id = ctx.tool_call_id or f"delegate-{member}"
        ctx.deps.emit(ToolStarted(call_id, DELEGATE, args))
        try:
            answer = await runtime.run_member(
                member, task, ctx.deps.emit, usage=ctx.usage, facts=ctx.deps.facts
            )
        except TraymindError as exc:
            answer = f"Member '{member}' failed: {exc.message}"
        ctx.deps.emit(ToolFinished(call_id, DELEGATE, args, answer))
        return answer

    delegate_task.__annotations__ = {
        "ctx": RunContext[TeamDeps],
        "member": Literal[tuple(members)],
        "task": str,
        "return": str,
    }
    return Tool(delegate_task, name=DELEGATE)


class TeamRunner:
    """Runs the teams of one config on the shared runtime."""

    def __init__(self, runtime: AgentRuntime) -> None:
        self._runtime = runtime
        self._leaders: dict[str, Agent[TeamDeps, str]] = {}

    def leader(self, name: str) -> Agent[TeamDeps, str]:
        leader = self._leaders.get(name)
        if leader is None:
            team = self._runtime.config.teams[name]
            tools = [delegate_tool(self._runtime, team.agents)] if team.mode == "coordinate" else []
            leader = Agent(
                self._runtime.models.get(team.model).model,
                name=f"team/{name}",
                deps_type=TeamDeps,
                instructions=leader_instructions(name, team, self._runtime),
                tools=tools,
            )
            self._leaders[name] = leader
        return leader

    async def run(
        self,
        name: str,
        prompt: str,
        stored: Sequence[bytes],
        prior: Sequence[PriorMessage],
        facts: TurnFacts | None = None,
    ) -> AsyncIterator[RunEvent]:
        """The team's turn; ``facts`` says whose it is (unknown: members get no memory)."""
        team = self._runtime.config.teams[name]
        facts = facts or TurnFacts(namespace=None)
        if team.mode == "coordinate":
            async for event in self._coordinate(name, prompt, stored, prior, facts):
                yield event
        else:
            async for event in self._collaborate(name, prompt, stored, prior, facts):
                yield event

    async def _coordinate(
        self,
        name: str,
        prompt: str,
        stored: Sequence[bytes],
        prior: Sequence[PriorMessage],
        facts: TurnFacts,
    ) -> AsyncIterator[RunEvent]:
        queue: asyncio.Queue[RunEvent | BaseException | None] = asyncio.Queue()
        leader = self.leader(name)
        mapper = EventMapper(skip_tools={DELEGATE})

        async def pump() -> None:
            try:
                history = conversation(stored, prior)
                async with agent_events(
                    leader,
                    prompt,
                    stream=facts.stream,
                    message_history=history,
                    deps=TeamDeps(queue.put_nowait, facts),
                ) as events:
                    async for event in events:
                        mapped = mapper.map(event)
                        if mapped is not None:
                            queue.put_nowait(mapped)
                    usage = events.usage
                    to_store = events.new_messages() if stored else events.all_messages()
                queue.put_nowait(
                    RunDone(usage.input_tokens, usage.output_tokens, messages_json(to_store))
                )
            except asyncio.CancelledError:
                raise
            except BaseException as exc:  # handed to the consumer below
                queue.put_nowait(exc)
            queue.put_nowait(None)

        task = asyncio.create_task(pump())
        try:
            while (item := await queue.get()) is not None:
                if isinstance(item, BaseException):
                    raise self._leader_error(name, item)
                yield item
        finally:
            task.cancel()
            await asyncio.wait({task})

    def _leader_error(self, name: str, exc: BaseException) -> BaseException:
        if isinstance(exc, TraymindError):
            return exc
        team = self._runtime.config.teams[name]
        return from_model_error(exc, f"team/{name}", self._runtime.base_url(team.model))

    async def _collaborate(
        self,
        name: str,
        prompt: str,
        stored: Sequence[bytes],
        prior: Sequence[PriorMessage],
        facts: TurnFacts,
    ) -> AsyncIterator[RunEvent]:
        team = self._runtime.config.teams[name]
        usage = RunUsage()

        async def member_answer(member: str) -> tuple[str, list[RunEvent], str]:
            events: list[RunEvent] = []
            try:
                answer = await self._runtime.run_member(
                    member, prompt, events.append, usage, facts=facts
                )
            except TraymindError as exc:
                answer = f"(failed: {exc.message})"
            return member, events, answer

        tasks = [asyncio.create_task(member_answer(m)) for m in team.agents]
        answers: dict[str, str] = {}
        try:
            for next_done in asyncio.as_completed(tasks):
                member, events, answer = await next_done
                answers[member] = answer
                call_id = f"member-{member}"
                yield ToolStarted(call_id, member, {"task": prompt})
                for event in events:
                    yield event
                yield ToolFinished(call_id, member, {"task": prompt}, answer)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.wait(tasks)

        synthesis = "\n\n".join(f"### {m}\n{answers[m]}" for m in team.agents)
        leader_prompt = f"{prompt}\n\nYour team's answers:\n\n{synthesis}"
        parts: list[str] = []
        mapper = EventMapper()
        try:
            async with agent_events(
                self.leader(name),
                leader_prompt,
                stream=facts.stream,
                message_history=conversation(stored, prior),
                deps=TeamDeps(lambda _: None, facts),
                usage=usage,
            ) as run:
                async for event in run:
                    mapped = mapper.map(event)
                    if isinstance(mapped, TextDelta):
                        parts.append(mapped.text)
                        yield mapped
                total = run.usage
        except (TraymindError, asyncio.CancelledError, GeneratorExit):
            raise
        except Exception as exc:
            raise self._leader_error(name, exc) from exc
        turn = exchange(prompt, "".join(parts))
        to_store = turn if stored else [*conversation([], prior), *turn]
        yield RunDone(total.input_tokens, total.output_tokens, messages_json(to_store))
