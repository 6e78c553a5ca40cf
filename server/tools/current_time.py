"""The ``current_time`` tool: models have no clock, so they ask for one."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from pydantic_ai import Tool

SUMMARY = "Tells the current date and time (ISO-8601) in any IANA timezone."

# UTC works even where no timezone database is installed.
_UTC_NAMES = frozenset({"UTC", "Z", "ETC/UTC", "GMT", "ETC/GMT"})


class Options(BaseModel):
    """``current_time`` takes no options."""

    model_config = ConfigDict(extra="forbid")


def current_time(timezone: str = "UTC") -> str:
    """Return the current date and time as ISO-8601, e.g. 2025-01-31T14:05:09+01:00.

    Use this whenever you need today's date or the current time.

    Args:
        timezone: An IANA timezone name such as "Europe/Berlin" or "America/New_York"; default UTC.
    """
    zone = _zone(timezone.strip())
    if zone is None:
        return f"Error: unknown timezone '{timezone}'"
    return datetime.now(zone).isoformat(timespec="seconds")


def build(options: Options) -> list[Tool]:
    # Imported here: pydantic-ai is slow to import and config loading must not pay for it.
    from pydantic_ai import Tool

    return [Tool(current_time, name="current_time", takes_ctx=False)]


def _zone(name: str) -> tzinfo | None:
    if name.upper() in _UTC_NAMES:
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None
