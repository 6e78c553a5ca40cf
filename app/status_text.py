"""Words for the status: the tray's status line, durations, times. No Qt, no I/O."""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any

STATUS_LINE_MAX = 110
LOCKED = (
    "locked: no API keys yet, and unauthenticated local access is off, so nothing gets in. "
    "Create a key in API keys…, or turn on “Allow unauthenticated local access” in the menu."
)


def plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def status_line(
    phase: str, url: str | None, agents: int, active_sessions: int, error: str | None
) -> str:
    """``Running on http://127.0.0.1:8765/v1 · 3 agents · 1 active session``, Stopped, Error: ..."""
    if phase == "running" and url:
        return f"Running on {url} · {plural(agents, 'agent')} · " + plural(
            active_sessions, "active session"
        )
    if phase == "error":
        return shorten(f"Error: {error or 'the server is not running'}")
    return {"starting": "Starting…", "stopping": "Stopping…"}.get(phase, "Stopped")


def shorten(text: str, limit: int = STATUS_LINE_MAX) -> str:
    line = text.splitlines()[0] if text else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"


def duration(seconds: float) -> str:
    """``4 s``, ``12 min``, ``3 h 05 min``, ``2 d 4 h``."""
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 86400:
        return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
    return f"{seconds // 86400} d {seconds % 86400 // 3600} h"


def clock(timestamp: float | None) -> str:
    """A wall-clock time of today (``14:03:22``), or the date for older ones."""
    if not timestamp:
        return "never"
    when = datetime.fromtimestamp(timestamp)
    if time.time() - timestamp < 86400:
        return when.strftime("%H:%M:%S")
    return when.strftime("%Y-%m-%d %H:%M")


def iso_local(value: str | None) -> str:
    """An ISO 8601 time (as the key store writes it) in local time, or ``never``."""
    if not value:
        return "never"
    try:
        return datetime.fromisoformat(value).astimezone().strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return value


def auth_text(mode: str | None) -> str:
    """How requests get in, in words: ``locked`` says why and what to do about it."""
    if not mode:
        return "—"
    return LOCKED if mode == "locked" else mode


def default_model_text(default: Mapping[str, Any] | None) -> str:
    """``llama3.2 at http://127.0.0.1:11434/v1 (detected)``, or how to connect one."""
    if not default:
        return "detecting…"
    source = default.get("source") or "none"
    model_id = default.get("id")
    if source == "none" or not model_id:
        return "none connected — open Models… or start Ollama/LM Studio"
    base_url = default.get("base_url")
    return f"{model_id} at {base_url} ({source})" if base_url else f"{model_id} ({source})"


def agent_model_text(model: str, provider: str | None, model_id: str | None) -> str:
    """``default → llama3.2 (openai at http://...)``; ``default → none connected``."""
    if model_id:
        where = provider or ""
        nested = re.fullmatch(r"(.*) \((\w+)\)", where)  # "openai at URL (detected)"
        if nested:
            where = f"{nested[1]}, {nested[2]}"
        return f"{model} → {model_id} ({where})" if where else f"{model} → {model_id}"
    return f"{model} → {provider}" if provider else model


def knowledge_state_text(base: Mapping[str, Any]) -> str:
    """``ready``, ``indexing 3/10 files``, ``syncing <repo> (main)``, ``error``."""
    state = base.get("state") or "unknown"
    message = base.get("message")
    if state == "indexing":
        total = base.get("total") or 0
        if total:
            return f"indexing {base.get('done') or 0}/{total} files"
        return f"indexing ({message})" if message else "indexing"
    if state == "syncing":
        return message or "syncing"
    if state == "error" and base.get("searchable"):
        return "error (the last index is still searched)"
    return str(state)


def knowledge_problem_text(base: Mapping[str, Any]) -> str:
    """The error of a failed base, or the notes of a ready one (unreadable files...)."""
    if base.get("state") in ("error", "ready"):
        return base.get("message") or ""
    return ""


def mcp_state_text(server: Mapping[str, Any]) -> str:
    """``running``, ``failed (restarted 2 times)``..."""
    state = str(server.get("state") or "unknown")
    restarts = server.get("restarts") or 0
    return f"{state} (restarted {plural(restarts, 'time')})" if restarts else state


def config_problem_text(config: Mapping[str, Any] | None) -> str | None:
    """The banner for a config.yaml edited into an invalid state, or None when it loads."""
    if not config or config.get("state") != "error":
        return None
    path = config.get("path") or "config.yaml"
    return (
        f"The config file {path} was changed but cannot be loaded, so the previous config "
        "keeps serving. Fix it and save: it is reloaded by itself.\n"
        f"{config.get('message') or 'The file is not valid.'}"
    )
