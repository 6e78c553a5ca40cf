"""The ``claude_agent`` tool against a stand-in Claude Code CLI (``tests/fake_claude``).

The stand-in speaks the Agent SDK's stream-json protocol and records, per process,
its start (arguments, folder, resumed session), each prompt (with start and end times)
and its exit, so the tests read what happened from the processes themselves: one
process per session, reuse across calls, concurrency, expiry and closing. The last
test runs an agent over real HTTP for two turns of one chat.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic_ai import Agent, RunContext, Tool
from pydantic_ai.models.test import TestModel
from pydantic_ai.usage import RunUsage

from server.agents.turn import TurnFacts
from server.tools import ToolRef, build_tools, validate_tool_options
from server.tools.registry import close_tools
from tests.fake_claude import LOG_NAME, launcher, read_log
from tests.harness import agent_config, client, running_server
from tests.upstream import Reply, Upstream

pytestmark = pytest.mark.skipif(os.name != "posix", reason="the stand-in CLI is a POSIX script")

KEY = "sk-test-claude"
MISSING = "install it with `npm install -g @anthropic-ai/claude-code`"


class Chat:
    """One built ``claude_agent`` tool, called as an agent's run would call it."""

    def __init__(self, tmp_path: Path, **options: object) -> None:
        options = {"cli_path": str(launcher(tmp_path)), "cwd": str(tmp_path), **options}
        self.log = Path(str(options["cwd"])) / LOG_NAME  # the stand-in logs in its folder
        (self.tool,) = build_tools([ToolRef(name="claude_agent", options=options)])
        self.agents: dict[str, Agent[TurnFacts, str]] = {}

    async def call(
        self, prompt: str, label: str | None = None, *, session: str | None = "s1", agent="coder"
    ) -> str:
        function: Callable[..., Awaitable[str]] = self.tool.function
        return await function(self.context(session, agent), prompt, label)

    def context(self, session: str | None, agent: str) -> RunContext[TurnFacts]:
        owner = self.agents.setdefault(agent, Agent(TestModel(), name=agent, deps_type=TurnFacts))
        return RunContext(
            deps=TurnFacts(session_id=session), model=TestModel(), usage=RunUsage(), agent=owner
        )

    def events(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in read_log(self.log) if e["event"] == kind]

    def pids(self) -> list[int]:
        return [e["pid"] for e in self.events("start")]

    def live(self) -> list[tuple[str, str, str | None]]:
        return self.tool.function.__self__.sessions.live()

    async def exited(self, pid: int, timeout: float = 10) -> None:
        """Wait until the process ``pid`` has recorded its exit."""
        deadline = time.monotonic() + timeout
        while not any(e["pid"] == pid for e in self.events("exit")):
            assert time.monotonic() < deadline, f"Claude Code process {pid} did not exit"
            await asyncio.sleep(0.02)

    async def close(self) -> None:
        await close_tools([self.tool])


def scenario(tmp_path: Path, body: Callable[[Chat], Awaitable[None]], **options: object) -> Chat:
    """Run ``body`` in one event loop (as the server's), closing the tool's sessions after."""
    chat = Chat(tmp_path, **options)

    async def run() -> None:
        try:
            await body(chat)
        finally:
            await chat.close()

    asyncio.run(run())
    return chat


def session_of(answer: str) -> str:
    """The Claude session id in a stand-in answer ``[<id> #<turn>] <prompt>``."""
    return answer[1:].split(" #", 1)[0]


def test_the_same_chat_continues_one_session_in_one_process(tmp_path: Path) -> None:
    answers: list[str] = []

    async def body(chat: Chat) -> None:
        answers.append(await chat.call("write hello.py"))
        answers.append(await chat.call("now add a test"))
        assert len(chat.live()) == 1

    chat = scenario(tmp_path, body)
    claude_session = session_of(answers[0])
    assert answers == [
        f"[{claude_session} #1] write hello.py",
        f"[{claude_session} #2] now add a test",
    ]
    (pid,) = chat.pids()
    assert [(e["pid"], e["session_id"]) for e in chat.events("prompt")] == [
        (pid, claude_session)
    ] * 2
    assert [e["pid"] for e in chat.events("exit")] == [pid]  # closed with the tool


def test_the_options_reach_claude_code(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()

    async def body(chat: Chat) -> None:
        await chat.call("hi")

    options = {"cwd": str(work), "model": "claude-test-model", "permission_mode": "acceptEdits"}
    chat = scenario(tmp_path, body, **options)
    (start,) = chat.events("start")
    assert start["cwd"] == str(work)
    argv = start["argv"]
    assert argv[argv.index("--model") + 1] == "claude-test-model"
    assert argv[argv.index("--permission-mode") + 1] == "acceptEdits"
    assert "--system-prompt" not in argv  # Claude Code's own system prompt, not an empty one
    assert start["resumed"] is None


def test_each_agent_chat_and_label_has_its_own_session(tmp_path: Path) -> None:
    answers: dict[str, str] = {}

    async def body(chat: Chat) -> None:
        answers["main"] = await chat.call("one")
        answers["label"] = await chat.call("one", "review")
        answers["other chat"] = await chat.call("one", session="s2")
        answers["other agent"] = await chat.call("one", agent="writer")
        answers["main again"] = await chat.call("two")
        answers["label again"] = await chat.call("two", "review")
        assert sorted(chat.live(), key=str) == sorted(
            [
                ("coder", "s1", None),
                ("coder", "s1", "review"),
                ("coder", "s2", None),
                ("writer", "s1", None),
            ],
            key=str,
        )

    chat = scenario(tmp_path, body)
    firsts = [answers[k] for k in ("main", "label", "other chat", "other agent")]
    assert len({session_of(a) for a in firsts}) == 4
    assert len(chat.pids()) == 4
    assert answers["main again"] == f"[{session_of(answers['main'])} #2] two"
    assert answers["label again"] == f"[{session_of(answers['label'])} #2] two"


def test_different_labels_run_at_the_same_time(tmp_path: Path) -> None:
    async def body(chat: Chat) -> None:
        await asyncio.gather(chat.call("[sleep 0.5] a", "a"), chat.call("[sleep 0.5] b", "b"))

    chat = scenario(tmp_path, body)
    a, b = sorted(chat.events("prompt"), key=lambda e: e["prompt"])
    assert a["pid"] != b["pid"]
    assert a["start"] < b["end"] and b["start"] < a["end"]  # the two answers overlapped


def test_calls_on_one_session_wait_for_each_other(tmp_path: Path) -> None:
    """The stand-in answers concurrent prompts in parallel: only the session lock orders them."""
    answers: list[str] = []

    async def body(chat: Chat) -> None:
        await chat.call("start")  # the process is up: both calls below go to it
        answers.extend(
            await asyncio.gather(chat.call("[sleep 0.3] first"), chat.call("[sleep 0.3] second"))
        )

    chat = scenario(tmp_path, body)
    _, first, second = sorted(chat.events("prompt"), key=lambda e: e["start"])
    assert len(chat.pids()) == 1
    assert first["end"] <= second["start"]  # the second began after the first was answered
    claude_session = first["session_id"]
    assert answers == [  # in the order they asked
        f"[{claude_session} #2] [sleep 0.3] first",
        f"[{claude_session} #3] [sleep 0.3] second",
    ]


def test_idle_sessions_expire(tmp_path: Path) -> None:
    answers: list[str] = []

    async def body(chat: Chat) -> None:
        answers.append(await chat.call("one"))
        (pid,) = chat.pids()
        await chat.exited(pid)  # closed by the tool once idle for the TTL, with no call
        assert chat.live() == []
        answers.append(await chat.call("two"))

    chat = scenario(tmp_path, body, session_ttl_minutes=0.005)  # 0.3 s
    assert session_of(answers[0]) != session_of(answers[1])
    assert answers[1].endswith("#1] two")  # a new conversation, not a resumed one
    assert [e["resumed"] for e in chat.events("start")] == [None, None]


def test_the_least_recently_used_idle_session_makes_room(tmp_path: Path) -> None:
    async def body(chat: Chat) -> None:
        await chat.call("one", "a")
        await chat.call("one", "b")
        await chat.call("two", "a")  # b is now the least recently used
        await chat.call("one", session="s1", agent="writer")  # another agent: its own count
        assert len(chat.pids()) == 3
        await chat.call("one", "c")
        await chat.exited(chat.pids()[1])  # b's process
        assert [key[2] for key in chat.live() if key[0] == "coder"] == ["a", "c"]

    scenario(tmp_path, body, max_sessions=2)


def test_requests_without_a_session_get_a_fresh_one_each_call(tmp_path: Path) -> None:
    async def body(chat: Chat) -> None:
        for prompt in ("one", "two"):
            answer = await chat.call(prompt, session=None)
            assert answer.endswith(f"#1] {prompt}")
            pid = chat.pids()[-1]
            assert any(e["pid"] == pid for e in chat.events("exit"))  # closed before returning
        assert chat.live() == []

    chat = scenario(tmp_path, body)
    assert len(set(chat.pids())) == 2


def test_a_process_that_stopped_is_resumed(tmp_path: Path) -> None:
    answers: list[str] = []

    async def body(chat: Chat) -> None:
        answers.append(await chat.call("one [exit after reply]"))
        await chat.exited(chat.pids()[0])
        answers.append(await chat.call("two"))

    chat = scenario(tmp_path, body)
    claude_session = session_of(answers[0])
    assert answers[1] == f"[{claude_session} #1] two"  # turn 1 of the new process
    assert [e["resumed"] for e in chat.events("start")] == [None, claude_session]


def test_a_cancelled_call_ends_its_process_and_the_next_call_resumes(tmp_path: Path) -> None:
    answers: list[str] = []

    async def body(chat: Chat) -> None:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(chat.call("[sleep 20] slow"), 1)
        await chat.exited(chat.pids()[0])
        answers.append(await chat.call("next"))

    chat = scenario(tmp_path, body)
    first, second = chat.events("start")
    assert second["resumed"] == first["session_id"]
    assert answers == [f"[{first['session_id']} #1] next"]
    assert [e["prompt"] for e in chat.events("prompt")] == ["next"]


def test_an_error_result_is_reported(tmp_path: Path) -> None:
    answers: list[str] = []

    async def body(chat: Chat) -> None:
        answers.append(await chat.call("[fail] do it"))
        answers.append(await chat.call("again"))

    chat = scenario(tmp_path, body)
    assert answers[0] == "Error: Claude Code could not finish: the stand-in was told to fail"
    assert answers[1].endswith("#2] again")  # the session goes on
    assert len(chat.pids()) == 1


@pytest.mark.parametrize("cli", ["absolute", "name"])
def test_a_missing_cli_is_one_sentence(tmp_path: Path, cli: str) -> None:
    path = str(tmp_path / "no-such-claude") if cli == "absolute" else "no-such-claude-cli"
    answers: list[str] = []

    async def body(chat: Chat) -> None:
        answers.append(await chat.call("hi"))

    scenario(tmp_path, body, cli_path=path)
    assert answers == [
        f"Error: Claude Code is not installed on this machine (no `claude` program at {path}); "
        f"{MISSING} (see https://claude.ai/code) or set the tool's `cli_path` option."
    ]


def test_a_missing_working_folder_and_an_empty_prompt(tmp_path: Path) -> None:
    missing = tmp_path / "missing"
    answers: list[str] = []

    async def body(chat: Chat) -> None:
        answers.append(await chat.call("hi"))
        answers.append(await chat.call("  "))

    chat = scenario(tmp_path, body, cwd=str(missing))
    assert answers == [
        f"Error: the working folder {missing} does not exist.",
        "Error: the prompt is empty",
    ]
    assert chat.pids() == []


def test_closing_the_tool_ends_every_session(tmp_path: Path) -> None:
    answers: list[str] = []

    async def body(chat: Chat) -> None:
        await asyncio.gather(
            chat.call("one"), chat.call("one", "b"), chat.call("one", session="s2")
        )
        await chat.close()
        assert sorted(e["pid"] for e in chat.events("exit")) == sorted(chat.pids())
        answers.append(await chat.call("two"))

    chat = scenario(tmp_path, body)
    assert len(chat.pids()) == 3
    assert answers == ["Error: Claude Code sessions are closed because the server is stopping."]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"permision_mode": "plan"}, "did you mean 'permission_mode'?"),
        ({"permission_mode": "yolo"}, "option 'permission_mode' of tool 'claude_agent'"),
        ({"session_ttl_minutes": 0}, "option 'session_ttl_minutes' of tool 'claude_agent'"),
        ({"max_sessions": 0}, "option 'max_sessions' of tool 'claude_agent'"),
        ({"cwd": "projects"}, "'projects' must be an absolute path or start with ~"),
    ],
)
def test_option_mistakes_are_explained(options: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError) as caught:
        validate_tool_options("claude_agent", options)
    assert message in str(caught.value)


def test_the_defaults() -> None:
    validate_tool_options("claude_agent", {})
    (tool,) = build_tools([ToolRef(name="claude_agent")])
    assert isinstance(tool, Tool) and tool.takes_ctx
    options = tool.function.__self__.options
    assert (options.session_ttl_minutes, options.max_sessions) == (60, 200)
    assert (options.cwd, options.permission_mode, options.model) == ("~", "default", None)
    assert tool.function_schema.json_schema["required"] == ["prompt"]


def test_a_chat_continues_its_claude_session_across_turns(
    tmp_path: Path, upstream: Upstream
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    cli = launcher(tmp_path)
    config = agent_config(
        upstream.base_url,
        coder={
            "tools": [
                {"claude_agent": {"cli_path": str(cli), "cwd": str(work), "approval": "auto"}}
            ]
        },
    )
    upstream.script(
        Reply.tool_calls([("claude_agent", {"prompt": "write hello.py"})]),
        Reply.text("done"),
        Reply.tool_calls([("claude_agent", {"prompt": "add a test"})]),
        Reply.text("done"),
    )
    log = work / LOG_NAME
    answers = []
    try:
        secrets = {"OPENAI_COMPAT_API_KEYS": KEY, "PGPASSWORD": "db-secret", "PGPASSFILE": "/x"}
        with running_server(tmp_path, config, env=secrets) as handle:
            sdk = client(handle, KEY, **{"X-Session-Id": "chat-1"})
            for text in ("start", "go on"):
                answer = sdk.chat.completions.create(
                    model="coder", messages=[{"role": "user", "content": text}]
                )
                answers.append(answer.choices[0].message.content)
    finally:
        _end_stand_ins(log)
    (start,) = [e for e in read_log(log) if e["event"] == "start"]
    claude_session = start["session_id"]
    assert start["traymind_keys"] == ""  # Traymind's API keys stay out of Claude Code
    assert start["database_secrets"] == {}  # and so does the database's password
    for number, prompt in ((1, "write hello.py"), (2, "add a test")):
        call = f"claude_agent(prompt={prompt})"
        assert answers[number - 1] == (
            f'<tool id="1" state="start">{call}</tool>'
            f'<tool id="1" state="done">{call}\n[{claude_session} #{number}] {prompt}</tool>'
            "done"
        )
    prompts = [e for e in read_log(log) if e["event"] == "prompt"]
    assert [(e["pid"], e["prompt"]) for e in prompts] == [
        (start["pid"], "write hello.py"),
        (start["pid"], "add a test"),
    ]
    tool_message = upstream.chat_requests[3].body["messages"][-1]
    assert tool_message["content"] == f"[{claude_session} #2] add a test"


def _end_stand_ins(log: Path) -> None:
    """End the stand-in processes still running after the server stopped (by pid, from
    their log): sessions close at server stop only where the runtime calls ``close_tools``."""
    events = read_log(log)
    exited = {e["pid"] for e in events if e["event"] == "exit"}
    for pid in {e["pid"] for e in events if e["event"] == "start"} - exited:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
