"""A stand-in that answers an agent's tool loop by rule, for benchmarks of agent paths.

Scripted replies suit a test that knows each request; a benchmark sends thousands. With
``python -m tests.upstream --agentic``, a chat request with nothing scripted is answered
from what it carries:

- a structured-output tool (``final_result``, what the ``auto`` router asks for) is called
  with the agent named ``ROUTE:<id>`` in the messages, else the first allowed one;
- ``CALL:<tool>`` in the last user message, with that tool offered and not called yet in
  this turn, is called (``calculator`` gets ``6*7``, other tools no arguments);
- ``DELEGATE:<member>`` the same with a team's ``delegate_task``;
- everything else gets the default text reply.
"""

from __future__ import annotations

import json
import re
from typing import Any

from .replies import Reply

MARK = re.compile(r"\b(ROUTE|CALL|DELEGATE):([A-Za-z0-9_\-]+)")
ARGUMENTS: dict[str, dict[str, Any]] = {"calculator": {"expression": "6*7"}}


def _text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def _marks(messages: list[dict[str, Any]]) -> dict[str, str]:
    found: dict[str, str] = {}
    for message in messages:
        for kind, value in MARK.findall(_text(message)):
            found[kind] = value
    return found


def _tools(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    tools = body.get("tools") or []
    return {
        t["function"]["name"]: t["function"]
        for t in tools
        if isinstance(t, dict) and isinstance(t.get("function"), dict)
    }


def respond(body: dict[str, Any], default: Reply) -> Reply:
    """The reply to one chat request, by the rules above."""
    messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
    tools = _tools(body)
    marks = _marks(messages)
    last = messages[-1] if messages else {}
    if "final_result" in tools:
        schema = tools["final_result"].get("parameters") or {}
        allowed = ((schema.get("properties") or {}).get("agent") or {}).get("enum") or []
        agent = marks.get("ROUTE") if marks.get("ROUTE") in allowed else None
        choice = agent or (allowed[0] if allowed else "")
        return Reply.tool_calls([("final_result", {"agent": choice, "reason": "benchmark"})])
    if last.get("role") != "user":
        return default  # the tool ran: now the answer
    if marks.get("DELEGATE") and "delegate_task" in tools:
        return Reply.tool_calls(
            [("delegate_task", {"member": marks["DELEGATE"], "task": "Answer in one line."})]
        )
    wanted = marks.get("CALL")
    if wanted and wanted in tools and MARK.search(_text(last)):
        return Reply.tool_calls([(wanted, json.dumps(ARGUMENTS.get(wanted, {})))])
    return default
