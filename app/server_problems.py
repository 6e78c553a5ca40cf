"""Problems a person must know about the server, each as sentences, and how to find them.

A failed start, a rejected reload or a warning becomes a ``Problem``: a message to
show, and the one-click fix when there is one (the next free port). No Qt here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import httpx

from server.config import ConfigError
from server.providers.tls import tls_context
from server.runner import PortInUse, StartupError, bind_socket

log = logging.getLogger(__name__)

ProblemKind = Literal["port_in_use", "config", "reload", "provider", "other"]
PROBE_TIMEOUT = 3.0


@dataclass(frozen=True, slots=True)
class Problem:
    """Something a person must know: a failed start, a rejected reload, a warning."""

    kind: ProblemKind
    message: str
    config_path: Path | None = None
    free_port: int | None = None

    @property
    def headline(self) -> str:
        """The first line, for the tray's status line and notifications."""
        return self.message.splitlines()[0] if self.message else ""


def next_free_port(host: str, after: int, tries: int = 100) -> int | None:
    """The first port above ``after`` that ``host`` can listen on, or None."""
    for port in range(after + 1, min(after + 1 + tries, 65536)):
        try:
            bind_socket(host, port).close()
        except StartupError:
            continue
        return port
    return None


def describe_failure(exc: BaseException) -> Problem:
    """A start-up exception as one human sentence (and the one-click fix, when there is one)."""
    if isinstance(exc, PortInUse):
        return Problem(
            "port_in_use",
            f"Port {exc.port} on {exc.host} is already in use by another program.",
            free_port=next_free_port(exc.host, exc.port),
        )
    if isinstance(exc, ConfigError):
        return Problem("config", str(exc), config_path=exc.path)
    if isinstance(exc, StartupError | ValueError):
        return Problem("other", str(exc))
    log.error("the server could not start", exc_info=exc)
    return Problem("other", f"The server could not start: {exc}. See the log for details.")


def probe_provider(url: str) -> Problem | None:
    """Warn when no model answers; the server runs either way. Blocking: call off the GUI."""
    root = url.removesuffix("/v1")
    with httpx.Client(timeout=PROBE_TIMEOUT, trust_env=False, verify=tls_context()) as client:
        try:
            health = client.get(f"{root}/api/health").json()
        except (httpx.HTTPError, ValueError):
            return None
        default = health.get("default_model") or {}
        if default.get("source") == "none":
            return Problem(
                "provider",
                "No model is connected: chats answer 503 until config.yaml names one "
                "(or Ollama / LM Studio runs on this computer). Open config to add one.",
            )
        base_url = default.get("base_url")
        if not base_url:
            return None
        try:
            client.get(f"{str(base_url).rstrip('/')}/models")
        except httpx.HTTPError:
            return Problem(
                "provider",
                f"The model provider at {base_url} does not answer; Traymind runs, "
                "but chats fail until it does.",
            )
    return None


def runtime_problems(snapshot: dict[str, Any]) -> dict[str, str]:
    """What is wrong while the server runs, by a stable key, each as one sentence.

    An agent whose provider failed on its last run (until a run succeeds again), an MCP
    server that failed or died, a knowledge base in error, conversations that cannot be
    saved. The key lets the tray tell each problem once, however many requests repeat it.
    """
    problems: dict[str, str] = {}
    for agent in snapshot.get("agents") or []:
        if agent.get("failing"):
            name = agent.get("name") or agent.get("id")
            problems[f"agent:{agent.get('id')}"] = (
                f"Agent '{name}' cannot reach its model: {agent.get('last_error') or 'it failed'}"
            )
    for name, server in sorted((snapshot.get("mcp_servers") or {}).items()):
        if isinstance(server, dict) and server.get("state") == "failed":
            problems[f"mcp:{name}"] = (
                f"The MCP server '{name}' is not running: {server.get('error') or 'it failed'}"
            )
    for name, base in sorted((snapshot.get("knowledge_bases") or {}).items()):
        if isinstance(base, dict) and base.get("state") == "error":
            problems[f"kb:{name}"] = (
                f"The knowledge base '{name}' has a problem: {base.get('message') or 'see the log'}"
            )
    storage = snapshot.get("storage") or {}
    if isinstance(storage, dict) and storage.get("state") == "error":
        problems["storage"] = str(storage.get("message") or "Conversations cannot be saved.")
    return problems
