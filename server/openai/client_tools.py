"""The client's own tools in a chat completions request, and the results it sends back.

Cline, Continue, Zed and Open WebUI's native mode send ``tools`` and expect native
``tool_calls`` back. An agent may call them next to its own tools; a call to one
ends the turn, and the client's next request (the assistant's ``tool_calls``
message and ``role: "tool"`` results after the last user message) resumes it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from server.errors import InvalidRequest

TOOL_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
CHOICES = ("auto", "none", "required")


@dataclass(frozen=True, slots=True)
class ClientTool:
    """A function the client offers: its name, description and JSON Schema parameters."""

    name: str
    description: str | None
    parameters: dict[str, Any]
    strict: bool | None = None


@dataclass(frozen=True, slots=True)
class ClientCall:
    """A call of a client tool, as the assistant made it (and the client sent it back)."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class ToolRound:
    """One assistant message with client tool calls, and the results the client sent."""

    text: str
    calls: tuple[ClientCall, ...]
    results: dict[str, str]


@dataclass(frozen=True, slots=True)
class ClientToolUse:
    """What a request says about client tools; ``rounds`` non-empty means a resumed turn."""

    tools: tuple[ClientTool, ...] = ()
    choice: str = "auto"
    forced: str | None = None
    parallel: bool | None = None
    rounds: tuple[ToolRound, ...] = ()

    @property
    def offered(self) -> tuple[ClientTool, ...]:
        """The tools the model may see: none when ``tool_choice`` is ``none``."""
        return () if self.choice == "none" else self.tools

    @property
    def resumes(self) -> bool:
        return bool(self.rounds)


def _tool(raw: object, index: int) -> ClientTool:
    where = f"tools[{index}]"
    if not isinstance(raw, dict) or raw.get("type", "function") != "function":
        kind = raw.get("type") if isinstance(raw, dict) else None
        raise InvalidRequest(
            f"{where} must be a function tool ({{'type': 'function', 'function': {{...}}}})"
            + (f", not type {kind!r}." if kind else "."),
            param=where,
        )
    function = raw.get("function")
    if not isinstance(function, dict):
        raise InvalidRequest(f"{where}.function must be an object.", param=f"{where}.function")
    name = function.get("name")
    if not isinstance(name, str) or not TOOL_NAME.fullmatch(name):
        raise InvalidRequest(
            f"{where}.function.name must be 1 to 64 letters, digits, '_' or '-'.",
            param=f"{where}.function.name",
        )
    description = function.get("description")
    if description is not None and not isinstance(description, str):
        raise InvalidRequest(
            f"{where}.function.description must be a string.",
            param=f"{where}.function.description",
        )
    parameters = function.get("parameters")
    if parameters is None:
        parameters = {"type": "object", "properties": {}}
    if not isinstance(parameters, dict):
        raise InvalidRequest(
            f"{where}.function.parameters must be a JSON Schema object.",
            param=f"{where}.function.parameters",
        )
    strict = function.get("strict")
    return ClientTool(name, description, parameters, strict if isinstance(strict, bool) else None)


def _tools(body: dict[str, Any]) -> tuple[ClientTool, ...]:
    raw = body.get("tools")
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise InvalidRequest("'tools' must be an array.", param="tools")
    tools = tuple(_tool(item, i) for i, item in enumerate(raw))
    seen: set[str] = set()
    for i, tool in enumerate(tools):
        if tool.name in seen:
            raise InvalidRequest(
                f"Two tools are named '{tool.name}'.", param=f"tools[{i}].function.name"
            )
        seen.add(tool.name)
    return tools


def _choice(body: dict[str, Any], tools: tuple[ClientTool, ...]) -> tuple[str, str | None]:
    raw = body.get("tool_choice")
    if raw is None:
        return "auto", None
    if isinstance(raw, str):
        if raw not in CHOICES:
            raise InvalidRequest(
                "'tool_choice' must be 'auto', 'none', 'required' or a named function.",
                param="tool_choice",
            )
        if raw == "required" and not tools:
            raise InvalidRequest(
                "'tool_choice' is 'required' but the request has no tools.", param="tool_choice"
            )
        return raw, None
    function = raw.get("function") if isinstance(raw, dict) else None
    name = function.get("name") if isinstance(function, dict) else None
    if not isinstance(name, str):
        raise InvalidRequest(
            "A named 'tool_choice' is {'type': 'function', 'function': {'name': ...}}.",
            param="tool_choice",
        )
    if name not in {t.name for t in tools}:
        raise InvalidRequest(
            f"'tool_choice' names '{name}', which is not one of the request's tools.",
            param="tool_choice",
        )
    return "required", name


def _calls(message: dict[str, Any], index: int) -> tuple[ClientCall, ...]:
    raw = message.get("tool_calls")
    if not isinstance(raw, list):
        raise InvalidRequest(
            f"messages[{index}].tool_calls must be an array.", param=f"messages[{index}].tool_calls"
        )
    calls = []
    for j, call in enumerate(raw):
        where = f"messages[{index}].tool_calls[{j}]"
        function = call.get("function") if isinstance(call, dict) else None
        call_id = call.get("id") if isinstance(call, dict) else None
        name = function.get("name") if isinstance(function, dict) else None
        if not (isinstance(call_id, str) and call_id and isinstance(name, str) and name):
            raise InvalidRequest(
                f"{where} needs an 'id' and a 'function' with a 'name'.", param=where
            )
        arguments = function.get("arguments") if isinstance(function, dict) else None
        if not isinstance(arguments, str):
            arguments = json.dumps(arguments if arguments is not None else {})
        calls.append(ClientCall(call_id, name, arguments))
    return tuple(calls)


def _rounds(messages: list[Any], texts: list[str], last_user: int) -> tuple[ToolRound, ...]:
    """The assistant ``tool_calls`` messages after the last user message, with their results."""
    rounds: list[ToolRound] = []
    for i in range(last_user + 1, len(messages)):
        message = messages[i]
        role = message.get("role")
        if role == "assistant" and message.get("tool_calls"):
            rounds.append(ToolRound(texts[i], _calls(message, i), {}))
        elif role == "tool" and rounds:  # a stray result before any call: ignored, as ever
            call_id = message.get("tool_call_id")
            known = {c.id for c in rounds[-1].calls}
            if not isinstance(call_id, str) or call_id not in known:
                raise InvalidRequest(
                    f"messages[{i}] is a tool result for no tool call of the assistant "
                    "message before it; give the call's id as 'tool_call_id'.",
                    param=f"messages[{i}].tool_call_id",
                )
            rounds[-1].results[call_id] = texts[i]
    if rounds and not rounds[-1].results:
        raise InvalidRequest(
            "The conversation ends with tool calls but no tool results; send a 'tool' "
            "message for each call.",
            param="messages",
        )
    return tuple(rounds)


def parse_client_tools(
    body: dict[str, Any], messages: list[Any], texts: list[str], last_user: int
) -> ClientToolUse | None:
    """The request's client tools and pending results; None when it uses neither."""
    tools = _tools(body)
    choice, forced = _choice(body, tools)
    parallel = body.get("parallel_tool_calls")
    if parallel is not None and not isinstance(parallel, bool):
        raise InvalidRequest(
            "'parallel_tool_calls' must be a boolean.", param="parallel_tool_calls"
        )
    rounds = _rounds(messages, texts, last_user)
    if not tools and not rounds:
        return None
    return ClientToolUse(tools, choice, forced, parallel, rounds)
