"""The live status hub: what the tray's status window and ``/api/status`` show.

Services report here (runs starting and finishing, server state); listeners are
told that something changed and read a snapshot. Listeners are called on the
server's thread: the tray app hands the news to its GUI thread itself.
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

Listener = Callable[[str], None]

RECENT_REQUESTS = 100
CHART_MINUTES = 60
SESSION_LIMIT = 500


@dataclass(slots=True)
class AgentStatus:
    id: str
    name: str
    model: str  # the key under models:
    provider: str = ""  # e.g. "openai at http://127.0.0.1:11434/v1"
    model_id: str = ""  # the provider's model id
    running: int = 0
    requests: int = 0
    last_used: float | None = None
    last_error: str | None = None
    failing: bool = False  # its last run failed on the provider's side (5xx); cleared by a success


@dataclass(slots=True)
class SessionStatus:
    key: str
    agent: str
    client: str
    key_source: str = ""
    turns: int = 0
    last_activity: float = 0.0
    streaming: bool = False
    namespace: str | None = None  # the client key's; filters snapshots, never shown


@dataclass(slots=True)
class RequestRecord:
    """One ``/v1`` request as Recent requests shows it: failed ones too (401, 404, 429...)."""

    time: float
    model: str  # what the client asked for ("" when the body was never read)
    session: str | None
    status: int
    latency_ms: float
    namespace: str | None = None  # the client key's; filters snapshots, never shown
    path: str = ""  # e.g. /v1/chat/completions, /v1/models
    client: str = ""  # client_kind
    key_source: str = ""
    agent: str = ""  # the agent, team or route that ran (``auto`` shows the chosen agent)
    error: str | None = None  # the sentence the client got
    streaming: bool = False
    first_event_ms: float | None = None  # from the request to the run's first event
    tools: list[str] = field(default_factory=list)  # the agent's tool calls, in order
    input_tokens: int = 0
    output_tokens: int = 0


@dataclass(slots=True)
class MinuteStats:
    """The requests of one clock minute, for the status window's chart of the last hour."""

    minute: int  # time.time() // 60
    requests: int = 0
    errors: int = 0
    latency_ms_total: float = 0.0
    latency_ms_max: float = 0.0

    def as_json(self) -> dict[str, Any]:
        average = self.latency_ms_total / self.requests if self.requests else 0.0
        return {
            "minute": self.minute * 60,
            "requests": self.requests,
            "errors": self.errors,
            "latency_ms_avg": round(average, 2),
            "latency_ms_max": round(self.latency_ms_max, 2),
        }


# The record of the request being served: set by ``RequestRecorder``, read by the runs it
# starts (a run's task copies the context), so a run fills in its request's record.
CURRENT_REQUEST: contextvars.ContextVar[RequestRecord | None] = contextvars.ContextVar(
    "traymind_request", default=None
)


def note_request(**fields: Any) -> None:
    """Facts about the request being served (its model, its caller), when it is recorded."""
    record = CURRENT_REQUEST.get()
    if record is not None:
        for name, value in fields.items():
            setattr(record, name, value)


@dataclass(slots=True)
class RunTicket:
    agent: str
    model: str
    session: str | None
    started: float = field(default_factory=time.monotonic)
    namespace: str | None = None
    stored_turns: int | None = None  # the session's turns in the history store, once saved
    record: RequestRecord | None = None  # the request's, which the run fills in


def _shown(record: SessionStatus | RequestRecord) -> dict[str, Any]:
    """A record as a snapshot shows it: without the key namespace it is filtered by."""
    shown = asdict(record)
    del shown["namespace"]
    return shown


def client_kind(headers: Mapping[str, str]) -> str:
    """A guess at the chat app behind a request, from its headers."""
    agent = headers.get("user-agent", "").lower()
    if "x-librechat-conversation-id" in headers or "librechat" in agent:
        return "LibreChat"
    if "x-openwebui-chat-id" in headers or "openwebui" in agent or "open-webui" in agent:
        return "Open WebUI"
    if agent.startswith("openai/") or agent.startswith("asyncopenai/"):
        return "OpenAI SDK"
    if "langchain" in agent:
        return "LangChain"
    if agent.startswith("curl/"):
        return "curl"
    return "other"


class StatusHub:
    """Thread-safe live counters and tables, with change listeners."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._listeners: list[Listener] = []
        self.server: dict[str, Any] = {"state": "stopped"}
        self.started_at: float | None = None
        self.requests_served = 0
        self.errors = 0
        self.agents: dict[str, AgentStatus] = {}
        self.sessions: dict[str, SessionStatus] = {}
        self.recent: deque[RequestRecord] = deque(maxlen=RECENT_REQUESTS)
        self.minutes: deque[MinuteStats] = deque(maxlen=CHART_MINUTES)
        self.extra: dict[str, Any] = {}

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        with self._lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe

    def _notify(self, what: str) -> None:
        for listener in list(self._listeners):
            listener(what)

    def set_server(self, **fields: Any) -> None:
        with self._lock:
            self.server.update(fields)
            if fields.get("state") == "running":
                self.started_at = time.time()
        self._notify("server")

    def set_extra(self, name: str, value: Any) -> None:
        """Other parts' status (default model, knowledge bases...), shown as they are."""
        with self._lock:
            self.extra[name] = value
        self._notify(name)

    def set_agents(self, agents: list[AgentStatus]) -> None:
        with self._lock:
            old = self.agents
            self.agents = {a.id: a for a in agents}
            for agent in self.agents.values():
                if agent.id in old:
                    prev = old[agent.id]
                    agent.running, agent.requests = prev.running, prev.requests
                    agent.last_used, agent.last_error = prev.last_used, prev.last_error
                    agent.failing = prev.failing
        self._notify("agents")

    def run_started(
        self,
        agent: str,
        model: str,
        session: str | None,
        client: str,
        streaming: bool,
        *,
        key_source: str = "",
        namespace: str | None = None,
    ) -> RunTicket:
        now = time.time()
        with self._lock:
            status = self.agents.get(agent)
            if status is not None:
                status.running += 1
                status.last_used = now
            if session is not None:
                entry = self.sessions.get(session)
                if entry is None:
                    if len(self.sessions) >= SESSION_LIMIT:
                        oldest = min(self.sessions.values(), key=lambda s: s.last_activity)
                        del self.sessions[oldest.key]
                    entry = self.sessions[session] = SessionStatus(
                        session, agent, client, key_source, namespace=namespace
                    )
                entry.last_activity, entry.streaming = now, streaming
        self._notify("run")
        record = CURRENT_REQUEST.get()
        if record is not None:
            record.model, record.agent, record.session = model, agent, session
            record.namespace, record.key_source = namespace, key_source
            record.streaming = streaming
        return RunTicket(agent, model, session, namespace=namespace, record=record)

    def run_finished(self, ticket: RunTicket, status: int, error: str | None = None) -> None:
        latency_ms = (time.monotonic() - ticket.started) * 1000
        record = ticket.record
        if record is not None:  # its request's record says the rest when the response ends
            record.error = error or record.error
            if status >= 400:
                record.status = status
        with self._lock:
            agent = self.agents.get(ticket.agent)
            if agent is not None:
                agent.running = max(0, agent.running - 1)
                agent.requests += 1
                if error:
                    agent.last_error = error
                if status >= 500 or status < 400:  # a client's own mistake says nothing of it
                    agent.failing = status >= 500
            if record is None:  # a run outside any recorded request counts by itself
                self.requests_served += 1
                if error or status >= 400:
                    self.errors += 1
            if ticket.session is not None and ticket.session in self.sessions:
                entry = self.sessions[ticket.session]
                entry.streaming = False
                entry.last_activity = time.time()
                if status < 400:  # the stored count: it survives restarts, unlike this hub
                    stored = ticket.stored_turns
                    entry.turns = stored if stored is not None else entry.turns + 1
            if record is None:
                self.recent.append(
                    RequestRecord(
                        time.time(),
                        ticket.model,
                        ticket.session,
                        status,
                        latency_ms,
                        ticket.namespace,
                        agent=ticket.agent,
                        error=error,
                    )
                )
        self._notify("run")

    def request_done(self, record: RequestRecord) -> None:
        """A recorded ``/v1`` request has been answered (or its stream has ended)."""
        minute = int(record.time // 60)
        failed = record.status >= 400 or bool(record.error)
        with self._lock:
            self.requests_served += 1
            if failed:
                self.errors += 1
            self.recent.append(record)
            if not self.minutes or self.minutes[-1].minute != minute:
                self.minutes.append(MinuteStats(minute))
            stats = self.minutes[-1]
            stats.requests += 1
            stats.errors += failed
            stats.latency_ms_total += record.latency_ms
            stats.latency_ms_max = max(stats.latency_ms_max, record.latency_ms)
        self._notify("request")

    def active_sessions(self, within_seconds: float = 900) -> int:
        cutoff = time.time() - within_seconds
        with self._lock:
            return sum(
                1 for s in self.sessions.values() if s.streaming or s.last_activity >= cutoff
            )

    def snapshot(self, namespace: str | None = None) -> dict[str, Any]:
        """Everything (the tray, in-process), or with ``namespace`` what one client key may see.

        A key's view lists only its own sessions and requests: session ids name other
        clients' conversations. Counters, agents and extras stay shared.
        """
        with self._lock:
            sessions = [
                s for s in self.sessions.values() if namespace is None or s.namespace == namespace
            ]
            recent = [r for r in self.recent if namespace is None or r.namespace == namespace]
            uptime = time.time() - self.started_at if self.started_at else 0.0
            return {
                "server": dict(self.server),
                "uptime_seconds": round(uptime, 1),
                "requests_served": self.requests_served,
                "errors": self.errors,
                "agents": [asdict(a) for a in self.agents.values()],
                "sessions": [_shown(s) for s in sessions],
                "recent_requests": [_shown(r) for r in recent],
                "per_minute": [m.as_json() for m in self.minutes],
                **{k: v for k, v in self.extra.items()},
            }
