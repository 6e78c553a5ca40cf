"""The Claude Code sessions behind the ``claude_agent`` tool (see ``claude_agent``).

Imports pydantic-ai (the tool function's ``RunContext`` must resolve when the tool is
built), so only ``claude_agent.build`` imports this module; the Claude Agent SDK is
imported when a session first starts.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic_ai import RunContext

if TYPE_CHECKING:
    from server.tools.claude_agent import Options


INSTALL = (
    "install it with `npm install -g @anthropic-ai/claude-code` (see https://claude.ai/code) "
    "or set the tool's `cli_path` option"
)
CLOSED = "Error: Claude Code sessions are closed because the server is stopping."
STDERR_LINES = 20  # the end of a CLI's stderr kept for error messages
MIN_REAP_SECONDS = 0.05

# Traymind's own secrets the CLI (and the commands it runs) must not see: client keys,
# and the shared database's URL and password (the URL may carry it).
HIDDEN_ENV = ("OPENAI_COMPAT_API_KEYS", "TRAYMIND_STORAGE_URL", "PGPASSWORD", "PGPASSFILE")

log = logging.getLogger(__name__)

SessionKey = tuple[str, str, str | None]  # agent id, Traymind session id, session label


class ClaudeAgentProblem(Exception):
    """A failure to report to the model as one sentence (the message)."""


@dataclass(eq=False, slots=True)
class ClaudeSession:
    """One Claude Code conversation and, while connected, its CLI process."""

    key: SessionKey | None  # None: an ephemeral session, closed after its call
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    client: Any = None  # the connected ClaudeSDKClient
    claude_session_id: str | None = None  # known after the first answer; for resuming
    last_used: float = field(default_factory=time.monotonic)
    users: int = 0  # calls running on it or waiting for its lock
    closed: bool = False
    stderr: collections.deque[str] = field(
        default_factory=lambda: collections.deque(maxlen=STDERR_LINES)
    )


class ClaudeSessions:
    """The Claude Code sessions of one built tool (one agent), by key."""

    def __init__(self, options: Options) -> None:
        self.options = options
        self.cwd = os.path.expanduser(options.cwd)
        self._sessions: collections.OrderedDict[SessionKey, ClaudeSession] = (
            collections.OrderedDict()
        )  # least recently used first
        self._ephemeral: set[ClaudeSession] = set()
        self._reaper: asyncio.Task[None] | None = None
        self._closing: set[asyncio.Task[None]] = set()
        self._closed = False

    @property
    def ttl_seconds(self) -> float:
        return self.options.session_ttl_minutes * 60

    def live(self) -> list[SessionKey]:
        """The keys of the sessions kept now, least recently used first."""
        return list(self._sessions)

    async def ask(self, key: SessionKey | None, prompt: str) -> str:
        """Send ``prompt`` to the session under ``key`` (a fresh one for None); its answer.

        Raises ``ClaudeAgentProblem`` for what the model should be told instead.
        """
        if self._closed:
            raise ClaudeAgentProblem(CLOSED)
        _require_sdk()
        if key is None:
            session = ClaudeSession(None)
            self._ephemeral.add(session)
            try:
                answer = await self._exchange(session, prompt)
                await self._disconnect(session)
                return answer
            finally:
                self._ephemeral.discard(session)
        self._expire()
        session = self._sessions.get(key)
        if session is None:
            self._make_room(key[0])
            session = self._sessions[key] = ClaudeSession(key, last_used=time.monotonic())
            log.info("claude_agent: new session %s", _describe(key))
            self._start_reaper()
        self._sessions.move_to_end(key)
        session.users += 1
        try:
            async with session.lock:
                if session.closed:
                    raise ClaudeAgentProblem(CLOSED)
                return await self._exchange(session, prompt)
        finally:
            session.users -= 1
            session.last_used = time.monotonic()

    async def aclose(self) -> None:
        """Close every session (ending its process) and stop expiring them."""
        self._closed = True
        if self._reaper is not None:
            self._reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reaper
            self._reaper = None
        sessions = [*self._sessions.values(), *self._ephemeral]
        self._sessions.clear()
        for session in sessions:
            session.closed = True
            self._close_later(session)
        while self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)

    # --- one exchange -----------------------------------------------------------------

    async def _exchange(self, session: ClaudeSession, prompt: str) -> str:
        from claude_agent_sdk import AssistantMessage, ResultMessage, SystemMessage, TextBlock

        for attempt in (1, 2):
            fresh = session.client is None
            if fresh:
                session.client = await self._connect(session)
            client = session.client
            texts: list[str] = []
            result: ResultMessage | None = None
            received = False
            try:
                await client.query(prompt)
                async for message in client.receive_response():
                    received = True
                    if isinstance(message, SystemMessage):
                        _note_session_id(session, message.data.get("session_id"))
                    elif isinstance(message, AssistantMessage):
                        _note_session_id(session, message.session_id)
                        if message.parent_tool_use_id is None:  # not a subagent's
                            texts += [b.text for b in message.content if isinstance(b, TextBlock)]
                    elif isinstance(message, ResultMessage):
                        result = message
            except Exception as exc:
                # The CLI may still be working on this prompt: its process cannot take the
                # next one. A later call resumes the conversation in a new process.
                self._close_later(session)
                if self._may_retry(session, fresh, received, attempt):
                    continue
                raise ClaudeAgentProblem(_failure(session, exc)) from exc
            except BaseException:  # cancelled: the same, then let the cancellation go on
                self._close_later(session)
                raise
            if result is None:  # the process ended without answering
                self._close_later(session)
                if self._may_retry(session, fresh, received, attempt):
                    continue
                raise ClaudeAgentProblem(_failure(session, None))
            _note_session_id(session, result.session_id)
            if result.is_error:
                detail = result.result or "; ".join(result.errors or []) or result.subtype
                return f"Error: Claude Code could not finish: {detail}"
            return result.result or "\n\n".join(texts) or "(Claude Code gave no answer)"
        raise AssertionError("unreachable")  # pragma: no cover

    def _may_retry(self, session: ClaudeSession, fresh: bool, received: bool, attempt: int) -> bool:
        """Whether to send the prompt again, to a new process resuming the conversation.

        Only when a kept process failed before answering anything: it had stopped while
        idle and never saw the prompt (a process that answered something may have acted).
        """
        if fresh or received or attempt > 1 or session.closed or self._closed:
            return False
        log.info("claude_agent: %s had stopped; resuming it", _describe(session.key))
        return True

    async def _connect(self, session: ClaudeSession) -> Any:
        from claude_agent_sdk import ClaudeAgentOptions, ClaudeSDKClient, CLINotFoundError

        if self._closed:
            raise ClaudeAgentProblem(CLOSED)
        cli_path = self._cli_path()
        if not os.path.isdir(self.cwd):
            raise ClaudeAgentProblem(f"Error: the working folder {self.cwd} does not exist.")
        resume = session.claude_session_id
        options = ClaudeAgentOptions(
            cwd=self.cwd,
            cli_path=cli_path,
            model=self.options.model,
            permission_mode=self.options.permission_mode,
            system_prompt={"type": "preset", "preset": "claude_code"},
            resume=resume,
            env={name: "" for name in HIDDEN_ENV if name in os.environ},
            stderr=_stderr_sink(session),
        )
        client = ClaudeSDKClient(options)
        try:
            await client.connect()
        except CLINotFoundError:
            raise ClaudeAgentProblem(_missing(cli_path)) from None
        except Exception as exc:
            if resume is not None:
                session.claude_session_id = None  # the next call starts a new conversation
            raise ClaudeAgentProblem(_failure(session, exc)) from exc
        log.info(
            "claude_agent: started Claude Code for %s%s",
            _describe(session.key),
            f" (resuming {resume})" if resume else "",
        )
        return client

    def _cli_path(self) -> str | None:
        configured = self.options.cli_path
        if configured is None:
            return None  # the SDK looks: its bundled CLI, then PATH and the usual places
        found = shutil.which(os.path.expanduser(configured))
        if found is None:
            raise ClaudeAgentProblem(_missing(configured))
        return found

    # --- closing ----------------------------------------------------------------------

    def _close_later(self, session: ClaudeSession) -> None:
        """Disconnect the session's client in the background (safe while being cancelled)."""
        client, session.client = session.client, None
        if client is None:
            return
        task = asyncio.get_running_loop().create_task(_disconnect(client, session.key))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def _disconnect(self, session: ClaudeSession) -> None:
        client, session.client = session.client, None
        if client is not None:
            await _disconnect(client, session.key)

    def _expire(self) -> None:
        """Close the sessions idle for longer than the TTL."""
        now = time.monotonic()
        for key, session in list(self._sessions.items()):
            if session.users == 0 and now - session.last_used >= self.ttl_seconds:
                log.info("claude_agent: %s expired", _describe(key))
                self._drop(key)

    def _make_room(self, agent_id: str) -> None:
        """Below ``max_sessions`` for the agent, closing its least recently used idle one."""
        mine = [key for key in self._sessions if key[0] == agent_id]
        if len(mine) < self.options.max_sessions:
            return
        idle = [key for key in mine if self._sessions[key].users == 0]
        if not idle:
            raise ClaudeAgentProblem(
                f"Error: all {len(mine)} Claude Code sessions of this agent are busy; "
                "try again when one has finished."
            )
        for key in idle[: len(mine) - self.options.max_sessions + 1]:
            log.info("claude_agent: closing %s to make room", _describe(key))
            self._drop(key)

    def _drop(self, key: SessionKey) -> None:
        session = self._sessions.pop(key)
        session.closed = True
        self._close_later(session)

    def _start_reaper(self) -> None:
        if self._reaper is None or self._reaper.done():
            self._reaper = asyncio.get_running_loop().create_task(self._reap())

    async def _reap(self) -> None:
        """Expire idle sessions on time, even when no call comes; ends with the last one."""
        while self._sessions:
            idle = [s.last_used for s in self._sessions.values() if s.users == 0]
            due = (min(idle) if idle else time.monotonic()) + self.ttl_seconds
            await asyncio.sleep(max(MIN_REAP_SECONDS, due - time.monotonic()))
            self._expire()
        self._reaper = None


class ClaudeAgentTool:
    """``claude_agent`` bound to one agent's options and sessions."""

    def __init__(self, options: Options) -> None:
        self.options = options
        self.sessions = ClaudeSessions(options)

    async def claude_agent(
        self, ctx: RunContext[Any], prompt: str, session_label: str | None = None
    ) -> str:
        """Give Claude Code a task or question and return its answer.

        Args:
            prompt: What Claude Code should do or answer, with the context it needs.
            session_label: A name for a separate Claude Code conversation in this chat (calls
                with different labels run at the same time). Leave it out to continue the
                chat's main one.
        """
        from server.agents.turn import turn_from_deps

        if not prompt.strip():
            return "Error: the prompt is empty"
        label = (session_label or "").strip() or None
        turn = turn_from_deps(ctx)
        agent_id = (ctx.agent.name if ctx.agent is not None else None) or ""
        key = None if turn.session_id is None else (agent_id, turn.session_id, label)
        try:
            return await self.sessions.ask(key, prompt)
        except ClaudeAgentProblem as problem:
            log.warning("claude_agent: %s", problem)
            return str(problem)

    async def aclose(self) -> None:
        """Close this tool's Claude Code sessions (called when its runtime stops)."""
        await self.sessions.aclose()


# --- sentences ------------------------------------------------------------------------


def _missing(cli_path: str | None) -> str:
    where = f"no `claude` program at {cli_path}" if cli_path else "no `claude` program found"
    return f"Error: Claude Code is not installed on this machine ({where}); {INSTALL}."


def _failure(session: ClaudeSession, exc: BaseException | None) -> str:
    detail = session.stderr[-1] if session.stderr else (str(exc).splitlines()[0] if exc else "")
    reason = f": {detail}" if detail else ""
    return f"Error: Claude Code stopped before answering{reason}."


def _require_sdk() -> None:
    try:
        import claude_agent_sdk  # noqa: F401
    except ImportError:
        raise ClaudeAgentProblem(
            "Error: the claude-agent-sdk Python package is not installed with Traymind; "
            "install it with `pip install claude-agent-sdk`."
        ) from None


def _stderr_sink(session: ClaudeSession) -> Callable[[str], None]:
    """Keeps the end of the CLI's stderr for error messages, and logs it for debugging."""

    def sink(line: str) -> None:
        session.stderr.append(line)
        log.debug("claude_agent: Claude Code stderr (%s): %s", _describe(session.key), line)

    return sink


def _note_session_id(session: ClaudeSession, session_id: object) -> None:
    if isinstance(session_id, str) and session_id:
        session.claude_session_id = session_id


def _describe(key: SessionKey | None) -> str:
    if key is None:
        return "an ephemeral session"
    agent_id, session_id, label = key
    return f"agent {agent_id!r} session {session_id!r}" + (f" label {label!r}" if label else "")


async def _disconnect(client: Any, key: SessionKey | None) -> None:
    try:
        await client.disconnect()
    except Exception:
        log.warning("claude_agent: closing %s failed", _describe(key), exc_info=True)
    else:
        log.info("claude_agent: closed %s", _describe(key))
