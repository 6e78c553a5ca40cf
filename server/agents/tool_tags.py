"""Tool events rendered inline in the content, in the seed's ``<tool>`` tag format.

Chat apps show these as text, so they are bounded (values 250 characters, the
argument list 1200, the result 500) and HTML-escaped; a start and its done tag
share one id, counted from 1 per response.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping

VALUE_LIMIT = 250
ARGS_LIMIT = 1200
RESULT_LIMIT = 500


def truncate(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, ending with an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def format_value(value: object) -> str:
    text = (
        value
        if isinstance(value, str)
        else json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    )
    return truncate(text.replace("\r\n", " ").replace("\n", " ").replace("\r", " "), VALUE_LIMIT)


def format_call(name: str, args: Mapping[str, object]) -> str:
    """``name(k=v, ...)`` with each value and the whole list bounded (not yet escaped)."""
    arg_list = ", ".join(f"{key}={format_value(value)}" for key, value in args.items())
    return f"{name}({truncate(arg_list, ARGS_LIMIT)})"


def start_tag(tool_id: int, name: str, args: Mapping[str, object]) -> str:
    body = html.escape(format_call(name, args), quote=True)
    return f'<tool id="{tool_id}" state="start">{body}</tool>'


def done_tag(tool_id: int, name: str, args: Mapping[str, object], result: object) -> str:
    result_text = result if isinstance(result, str) else format_value_full(result)
    body = f"{format_call(name, args)}\n{truncate(result_text, RESULT_LIMIT)}"
    return f'<tool id="{tool_id}" state="done">{html.escape(body, quote=True)}</tool>'


def interrupted_tag(tool_id: int) -> str:
    return f'<tool id="{tool_id}" state="done">(interrupted)</tool>'


def format_value_full(value: object) -> str:
    """A non-string tool result as JSON text, before truncation."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
