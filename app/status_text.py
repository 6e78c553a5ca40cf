"""Words for the status: the tray's status line, durations, times. No Qt, no I/O."""

from __future__ import annotations

import time
from datetime import datetime

STATUS_LINE_MAX = 110


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
