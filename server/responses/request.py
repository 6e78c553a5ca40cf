"""A Responses API body as the chat completions body it means, then as one agent turn.

Why translate: the chat parser already validates messages, client tools and their
results, images and PDFs; a Responses request is the same conversation in other
words (``input`` items, ``instructions``, flat function tools). Errors keep the
chat parser's sentences, which name the chat field (``messages[1]``).
"""

from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import dataclass
from typing import Any

from server.errors import InvalidRequest
from server.openai.chat_request import ChatTurn, parse_chat_turn
from server.responses.encoding import APPROVAL_PREFIX, SERVER_LABEL

log = logging.getLogger(__name__)

Item = dict[str, Any]


@dataclass(frozen=True, slots=True)
class ResponsesTurn:
    turn: ChatTurn
    body: dict[str, Any]  # the request, for echoing instructions, tools, tool_choice
    previous_id: str | None
    store: bool
    prompt_json: str  # the user message answered, in chat form: resumes need it


@dataclass(frozen=True, slots=True)
class Previous:
    """A stored response this request continues."""

    session: str
    prompt_json: str
    calls: list[Item]  # its function_call output items


def _part(part: object, where: str) -> dict[str, Any]:
    if isinstance(part, str):
        return {"type": "text", "text": part}
    if not isinstance(part, dict):
        raise InvalidRequest(f"{where} must be a content part object.", param=where)
    kind = part.get("type")
    if kind in ("input_text", "output_text", "text"):
        return {"type": "text", "text": part.get("text", "")}
    if kind == "input_image":
        url = part.get("image_url")
        if not isinstance(url, str):
            raise InvalidRequest(
                f"{where}.image_url must be a URL (file ids are not served).", param=where
            )
        return {"type": "image_url", "image_url": {"url": url}}
    if kind == "input_file":
        file: dict[str, Any] = {}
        if isinstance(part.get("file_data"), str):
            file["file_data"] = part["file_data"]
        if isinstance(part.get("filename"), str):
            file["filename"] = part["filename"]
        if isinstance(part.get("file_url"), str):
            file["file_data"] = part["file_url"]
        if "file_data" not in file:
            raise InvalidRequest(f"{where} needs file_data or file_url.", param=where)
        return {"type": "file", "file": file}
    return {"type": "text", "text": ""}  # refusal, audio...: nothing an agent reads


def _content(content: object, where: str) -> str | list[dict[str, Any]]:
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise InvalidRequest(f"{where} must be a string or an array of parts.", param=where)
    return [_part(p, f"{where}[{i}]") for i, p in enumerate(content)]


def _messages(items: list[Item]) -> list[dict[str, Any]]:
    """Chat messages from input items; consecutive function calls become one assistant turn."""
    messages: list[dict[str, Any]] = []
    for i, item in enumerate(items):
        where = f"input[{i}]"
        if not isinstance(item, dict):
            raise InvalidRequest(f"{where} must be an object.", param=where)
        kind = item.get("type", "message")
        if kind == "message":
            role = item.get("role")
            if role not in ("user", "assistant", "system", "developer"):
                raise InvalidRequest(
                    f"{where}.role must be user, assistant, system or developer.", param=where
                )
            messages.append({"role": role, "content": _content(item.get("content"), where)})
        elif kind == "function_call":
            call = {
                "id": str(item.get("call_id") or item.get("id")),
                "type": "function",
                "function": {"name": item.get("name"), "arguments": item.get("arguments") or "{}"},
            }
            last = messages[-1] if messages else None
            if last and last["role"] == "assistant" and "tool_calls" in last:
                last["tool_calls"].append(call)
            else:
                messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
        elif kind == "mcp_approval_response":
            continue  # read by ``approvals``
        elif kind == "function_call_output":
            output = item.get("output")
            text = output if isinstance(output, str) else json.dumps(output)
            messages.append({"role": "tool", "tool_call_id": item.get("call_id"), "content": text})
        # reasoning, web_search_call and other items carry nothing an agent reads
    return messages


def approvals(raw: object) -> tuple[tuple[str, bool], ...]:
    """The ``mcp_approval_response`` items of ``input``: (tool call id, approved)."""
    if not isinstance(raw, list):
        return ()
    answers = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict) or item.get("type") != "mcp_approval_response":
            continue
        where = f"input[{i}]"
        request_id = item.get("approval_request_id")
        if not isinstance(request_id, str) or not request_id.startswith(APPROVAL_PREFIX):
            raise InvalidRequest(
                f"{where}.approval_request_id must be the id of an mcp_approval_request.",
                param=where,
            )
        if not isinstance(item.get("approve"), bool):
            raise InvalidRequest(f"{where}.approve must be true or false.", param=where)
        answers.append((request_id.removeprefix(APPROVAL_PREFIX), item["approve"]))
    return tuple(answers)


def asks_in_band(raw: object) -> bool:
    """The client shows approvals itself: it declares Traymind's MCP label as a tool and
    does not say ``require_approval: never``."""
    return isinstance(raw, list) and any(
        isinstance(tool, dict)
        and tool.get("type") == "mcp"
        and tool.get("server_label") == SERVER_LABEL
        and tool.get("require_approval") != "never"
        for tool in raw
    )


def _tools(raw: object) -> list[dict[str, Any]] | None:
    if raw is None:
        return None
    if not isinstance(raw, list):
        raise InvalidRequest("'tools' must be an array.", param="tools")
    tools = []
    for tool in raw:
        if isinstance(tool, dict) and tool.get("type") == "function":
            function = {k: tool[k] for k in ("name", "description", "parameters") if k in tool}
            tools.append({"type": "function", "function": function})
        elif isinstance(tool, dict) and tool.get("server_label") == SERVER_LABEL:
            continue  # the agent's own tools: the client asks to see their approvals
        else:
            kind = tool.get("type") if isinstance(tool, dict) else type(tool).__name__
            log.warning("Responses request: tool type %r skipped (only function tools run)", kind)
    return tools


def _tool_choice(raw: object) -> object:
    if isinstance(raw, dict) and raw.get("type") == "function":
        return {"type": "function", "function": {"name": raw.get("name")}}
    if isinstance(raw, dict):  # a hosted tool or allowed_tools: let the model choose
        return "auto"
    return raw


def _with_previous(messages: list[dict[str, Any]], previous: Previous) -> list[dict[str, Any]]:
    """A resume that sends only the tool outputs: the user message and the calls come back."""
    if any(m["role"] == "user" for m in messages) or not previous.calls:
        return messages
    calls = [
        {
            "id": c["call_id"],
            "type": "function",
            "function": {"name": c["name"], "arguments": c["arguments"]},
        }
        for c in previous.calls
    ]
    assistant = {"role": "assistant", "content": None, "tool_calls": calls}
    return [json.loads(previous.prompt_json), assistant, *messages]


def chat_body(body: dict[str, Any], previous: Previous | None) -> dict[str, Any]:
    """The chat completions body a Responses request means."""
    raw = body.get("input")
    if isinstance(raw, str):
        items: list[Item] = [{"type": "message", "role": "user", "content": raw}]
    elif isinstance(raw, list) and raw:
        items = raw
    else:
        raise InvalidRequest("'input' must be a string or a non-empty array.", param="input")
    messages = _messages(items)
    if previous is not None:
        messages = _with_previous(messages, previous)
        if approvals(items) and not any(m["role"] == "user" for m in messages):
            messages.insert(0, json.loads(previous.prompt_json))  # the answered turn's prompt
    instructions = body.get("instructions")
    if isinstance(instructions, str) and instructions.strip():
        messages.insert(0, {"role": "system", "content": instructions})
    chat: dict[str, Any] = {"model": body.get("model"), "messages": messages}
    tools = _tools(body.get("tools"))
    if tools:
        chat["tools"] = tools
    if "tool_choice" in body and tools:
        chat["tool_choice"] = _tool_choice(body["tool_choice"])
    if isinstance(body.get("parallel_tool_calls"), bool) and tools:
        chat["parallel_tool_calls"] = body["parallel_tool_calls"]
    if body.get("stream") is True:
        chat["stream"] = True
    return chat


def parse_responses(
    body: dict[str, Any], previous: Previous | None, max_image_bytes: int
) -> ResponsesTurn:
    chat = chat_body(body, previous)
    turn = parse_chat_turn(chat, max_image_bytes)
    store = body.get("store") is not False
    users = [m for m in chat["messages"] if m["role"] == "user"]
    prompt_json = json.dumps(users[-1] if users else {"role": "user", "content": ""})
    if previous is not None:
        turn = dataclasses.replace(turn, user_session=previous.session)
    answers = approvals(body.get("input"))
    if answers and previous is None:
        raise InvalidRequest(
            "An mcp_approval_response needs the previous_response_id of the response that asked.",
            param="previous_response_id",
        )
    turn = dataclasses.replace(
        turn, in_band_approvals=asks_in_band(body.get("tools")), approvals=answers
    )
    previous_id = body.get("previous_response_id")
    return ResponsesTurn(
        turn, body, previous_id if isinstance(previous_id, str) else None, store, prompt_json
    )
