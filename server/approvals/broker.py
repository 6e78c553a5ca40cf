"""``ApprovalBroker``: the tool calls waiting for a person, and how each was decided.

One broker serves the whole process and outlives config reloads and server restarts
(the tray owns it, like the status hub), so a request can be decided from any route:
the tray's dialog calls ``decide`` on its GUI thread, ``/api/approvals`` on the server's
loop, and a decision made by one is gone from the others (``decide`` answers None for
an id that is no longer pending). The waiting run's future lives on the server's loop;
``decide`` resolves it there, thread-safely.

Listeners hear of every change (a request arriving, one decided); they are called on
whichever thread made the change and must only hand the news on.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from server.approvals.policy import ApprovalRule

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_SECONDS = 120.0
RECENT_DECISIONS = 100
SUMMARY_CHARS = 200

DENIED = "The user denied this action, so it was not run."
UNANSWERED = "No one answered the request to approve this action in time, so it was not run."

Listener = Callable[[str], None]  # told "approvals", like the status hub's listeners
AlwaysHandler = Callable[["PendingApproval"], bool]


@dataclass(frozen=True, slots=True)
class ApprovalRequest:
    """One tool call that needs a person's consent."""

    agent: str
    tool: str
    arguments: dict[str, Any]
    rule: ApprovalRule
    client: str = ""
    session: str | None = None
    preview: str | None = None  # e.g. the diff a file write would make


@dataclass(slots=True)
class PendingApproval:
    """A request waiting for a decision, as every route shows it."""

    id: str
    request: ApprovalRequest
    created: float  # time.time()
    deadline: float  # time.time() after which no one answered
    _future: asyncio.Future[Decision] = field(repr=False)
    _loop: asyncio.AbstractEventLoop = field(repr=False)

    def as_json(self) -> dict[str, Any]:
        r = self.request
        return {
            "id": self.id,
            "agent": r.agent,
            "tool": r.tool,
            "arguments": r.arguments,
            "preview": r.preview,
            "client": r.client,
            "session": r.session,
            "created": self.created,
            "expires": self.deadline,
        }


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of one request: allowed, and by whom (``tray``, a key's label...)."""

    allowed: bool
    by: str
    always: bool = False

    @property
    def message(self) -> str:
        """What the model is told instead of the tool's result when it was not allowed."""
        return UNANSWERED if self.by == "timeout" else DENIED


@dataclass(frozen=True, slots=True)
class DecisionRecord:
    """A decision as the status window shows it."""

    time: float
    agent: str
    tool: str
    summary: str  # the arguments, shortened
    client: str
    session: str | None
    allowed: bool
    by: str

    def as_json(self) -> dict[str, Any]:
        return {
            "time": self.time,
            "agent": self.agent,
            "tool": self.tool,
            "summary": self.summary,
            "client": self.client,
            "session": self.session,
            "allowed": self.allowed,
            "by": self.by,
        }


def arguments_text(arguments: dict[str, Any]) -> str:
    """The arguments as a person reads them: text as it is (a command, a file's content),
    anything else as JSON; nothing shortened."""
    parts = []
    for name, value in arguments.items():
        if isinstance(value, str):
            parts.append(f"{name}:\n{value}" if "\n" in value else f"{name}: {value}")
        else:
            parts.append(f"{name}: {json.dumps(value, ensure_ascii=False, indent=2)}")
    return "\n".join(parts) or "(no arguments)"


def arguments_summary(arguments: dict[str, Any]) -> str:
    text = json.dumps(arguments, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= SUMMARY_CHARS else text[: SUMMARY_CHARS - 1] + "…"


class ApprovalBroker:
    """Pending approvals by id; decisions from any thread; a short history of decisions."""

    def __init__(self, timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS) -> None:
        self.timeout_seconds = timeout_seconds
        self.on_always: AlwaysHandler | None = None  # writes "always allow" to config.yaml
        self._lock = threading.Lock()
        self._pending: dict[str, PendingApproval] = {}
        self._remembered: dict[tuple[str, str], bool] = {}  # (agent, tool) -> written to config
        self._recent: deque[DecisionRecord] = deque(maxlen=RECENT_DECISIONS)
        self._listeners: list[Listener] = []

    # --- for routes and windows ------------------------------------------------------

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        with self._lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe

    def pending(self) -> list[PendingApproval]:
        with self._lock:
            return sorted(self._pending.values(), key=lambda p: p.created)

    def get(self, approval_id: str) -> PendingApproval | None:
        with self._lock:
            return self._pending.get(approval_id)

    def recent(self) -> list[DecisionRecord]:
        with self._lock:
            return list(self._recent)

    def decide(
        self, approval_id: str, allow: bool, *, by: str, always: bool = False
    ) -> PendingApproval | None:
        """Decide a pending request (from any thread); None when it is no longer pending.

        ``always`` (with ``allow``) also lets this agent use the tool from now on without
        asking: remembered here at once, and written to config.yaml by ``on_always``.
        """
        always = always and allow
        with self._lock:
            pending = self._pending.pop(approval_id, None)
            if pending is not None and always:
                key = (pending.request.agent, pending.request.tool)
                self._remembered[key] = False
        if pending is None:
            return None
        decision = Decision(allow, by, always)
        self.record(pending.request, decision)
        with contextlib.suppress(RuntimeError):  # a stopped server's loop: the run is gone
            pending._loop.call_soon_threadsafe(_resolve, pending._future, decision)
        if always and self.on_always is not None:
            written = False
            try:
                written = self.on_always(pending)
            except Exception as exc:  # the decision stands; only remembering it failed
                log.warning("could not write 'always allow' to config.yaml: %s", exc)
            with self._lock:
                self._remembered[(pending.request.agent, pending.request.tool)] = written
        return pending

    def config_reloaded(self) -> None:
        """A new config is in force: what "always allow" wrote there now speaks for itself
        (and a user who set ``ask`` again by hand is asked again)."""
        with self._lock:
            self._remembered = {k: w for k, w in self._remembered.items() if not w}

    # --- for agent runs --------------------------------------------------------------

    async def ask(self, request: ApprovalRequest, timeout: float | None = None) -> Decision:
        """Wait until someone decides ``request``, or the timeout denies it."""
        with self._lock:
            if (request.agent, request.tool) in self._remembered:
                remembered = True
            else:
                remembered = False
                loop = asyncio.get_running_loop()
                now = time.time()
                wait = self.timeout_seconds if timeout is None else timeout
                pending = PendingApproval(
                    secrets.token_hex(8), request, now, now + wait, loop.create_future(), loop
                )
                self._pending[pending.id] = pending
        if remembered:
            decision = Decision(True, "always allowed")
            self.record(request, decision)
            return decision
        log.info(
            "approval %s asked: agent %s wants %s (client %s)",
            pending.id, request.agent, request.tool, request.client or "unknown",
        )  # fmt: skip
        self._notify()
        try:
            return await asyncio.wait_for(asyncio.shield(pending._future), wait)
        except TimeoutError:
            if self._withdraw(pending.id):
                decision = Decision(False, "timeout")
                self.record(request, decision)
                return decision
            return await pending._future  # decided just as the time ran out
        except asyncio.CancelledError:
            if self._withdraw(pending.id):
                self.record(request, Decision(False, "cancelled (the client left)"))
            raise

    # --- inside ----------------------------------------------------------------------

    def _withdraw(self, approval_id: str) -> bool:
        with self._lock:
            return self._pending.pop(approval_id, None) is not None

    def record(self, request: ApprovalRequest, decision: Decision) -> None:
        """Log a decision and keep it for the status window (also one made in-band)."""
        record = DecisionRecord(
            time.time(),
            request.agent,
            request.tool,
            arguments_summary(request.arguments),
            request.client,
            request.session,
            decision.allowed,
            decision.by,
        )
        with self._lock:
            self._recent.append(record)
        self._notify()
        log.info(
            "approval: agent %s, tool %s: %s by %s%s",
            request.agent, request.tool, "allowed" if decision.allowed else "denied",
            decision.by, " (always, for this agent)" if decision.always else "",
        )  # fmt: skip

    def _notify(self) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            with contextlib.suppress(Exception):
                listener("approvals")


def _resolve(future: asyncio.Future[Decision], decision: Decision) -> None:
    if not future.done():
        future.set_result(decision)
