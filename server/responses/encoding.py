"""The Responses API's answer: the ``response`` object, and its typed SSE events.

Every event carries ``type`` and a ``sequence_number`` counting from 0. A stream is
``response.created`` and ``response.in_progress``; then per output item
``response.output_item.added``, its parts and deltas, ``response.output_item.done``;
then exactly one of ``response.completed`` or ``response.failed`` with the whole
response. ``tests/test_responses_api.py`` validates every event and object against
the official OpenAPI spec.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Sequence
from typing import Any

from server.agents.events import (
    ApprovalRequests,
    ClientToolCalls,
    RunEvent,
    TextDelta,
    ToolFinished,
    ToolStarted,
)
from server.agents.tool_tags import format_value_full, truncate
from server.openai.client_tools import ClientCall

SERVER_LABEL = "traymind"  # an agent's own tools run inside Traymind: the client need not run them
APPROVAL_PREFIX = "mcpr_"  # an approval request's id: this prefix and the tool call's id
RESULT_LIMIT = 4000

PLAIN_TEXT = {"format": {"type": "text"}}
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def response_id() -> str:
    return "resp_" + secrets.token_hex(24)


def _item_id(prefix: str) -> str:
    return f"{prefix}_" + secrets.token_hex(24)


def usage(input_tokens: int, output_tokens: int) -> dict[str, Any]:
    return {
        "input_tokens": input_tokens,
        "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "output_tokens": output_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": input_tokens + output_tokens,
    }


def text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def message_item(item_id: str, text: str, status: str = "completed") -> dict[str, Any]:
    content = [text_part(text)] if status == "completed" else []
    return {
        "id": item_id,
        "type": "message",
        "role": "assistant",
        "status": status,
        "content": content,
    }


def call_item(call: ClientCall, item_id: str, status: str = "completed") -> dict[str, Any]:
    return {
        "id": item_id,
        "type": "function_call",
        "call_id": call.id,
        "name": call.name,
        "arguments": call.arguments if status == "completed" else "",
        "status": status,
    }


class ResponseShell:
    """What every snapshot of one response shares: id, model, and the request's echoes."""

    def __init__(self, resp_id: str, model: str, request: dict[str, Any]) -> None:
        self.id = resp_id
        self.created_at = int(time.time())
        self.model = model
        self._request = request

    def snapshot(
        self,
        status: str,
        output: Sequence[dict[str, Any]] = (),
        tokens: tuple[int, int] | None = None,
        error: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        request = self._request
        instructions = request.get("instructions")
        tools = [t for t in request.get("tools") or [] if isinstance(t, dict)]
        choice = request.get("tool_choice", "auto")
        max_output = request.get("max_output_tokens")
        metadata = request.get("metadata")
        text_options = request.get("text")
        snapshot = {
            "id": self.id,
            "object": "response",
            "created_at": self.created_at,
            "status": status,
            "error": error,
            "incomplete_details": None,
            "instructions": instructions if isinstance(instructions, str) else None,
            "max_output_tokens": max_output if isinstance(max_output, int) else None,
            "model": self.model,
            "output": list(output),
            "parallel_tool_calls": request.get("parallel_tool_calls") is not False,
            "previous_response_id": request.get("previous_response_id"),
            "store": request.get("store") is not False,
            "temperature": None,
            "top_p": None,
            "text": text_options
            if isinstance(text_options, dict)
            else {"format": {"type": "text"}},
            "tool_choice": choice if isinstance(choice, str | dict) else "auto",
            "tools": [t for t in tools if t.get("type") == "function"],
            "truncation": "disabled",
            "metadata": metadata if isinstance(metadata, dict) else {},
        }
        if tokens is not None:  # not nullable in the spec: absent until known
            snapshot["usage"] = usage(*tokens)
        return snapshot


def tool_item(event: ToolStarted, item_id: str) -> dict[str, Any]:
    """An agent's own tool call as an ``mcp_call`` item: shown by a client, never run by it."""
    return {
        "type": "mcp_call",
        "id": item_id,
        "server_label": SERVER_LABEL,
        "name": event.name,
        "arguments": json.dumps(dict(event.args), ensure_ascii=False, default=str),
        "output": None,
        "error": None,
        "status": "calling",
    }


class ResponseEvents:
    """The events of one response, numbered; opens a message item on text after a tool.

    The non-streaming answer is built the same way, its bytes unsent, so both agree.
    """

    def __init__(self, shell: ResponseShell, *, show_tools: bool = True) -> None:
        self.shell = shell
        self._show_tools = show_tools
        self._seq = 0
        self.output: list[dict[str, Any]] = []
        self._message: dict[str, Any] | None = None
        self._text: list[str] = []
        self._tools: dict[str, dict[str, Any]] = {}

    def _event(self, kind: str, **fields: Any) -> bytes:
        payload = {"type": kind, "sequence_number": self._seq, **fields}
        self._seq += 1
        return b"event: " + kind.encode() + b"\ndata: " + _dumps(payload).encode() + b"\n\n"

    def start(self) -> bytes:
        snapshot = self.shell.snapshot("in_progress")
        return self._event("response.created", response=snapshot) + self._event(
            "response.in_progress", response=snapshot
        )

    def text(self, delta: str) -> bytes:
        opened = b""
        if self._message is None:
            self._message = message_item(_item_id("msg"), "", status="in_progress")
            self.output.append(self._message)
            index = len(self.output) - 1
            opened = self._event(
                "response.output_item.added", output_index=index, item=self._message
            ) + self._event(
                "response.content_part.added",
                item_id=self._message["id"],
                output_index=index,
                content_index=0,
                part=text_part(""),
            )
        self._text.append(delta)
        return opened + self._event(
            "response.output_text.delta",
            item_id=self._message["id"],
            output_index=self.output.index(self._message),
            content_index=0,
            delta=delta,
            logprobs=[],
        )

    def _close_message(self) -> bytes:
        if self._message is None:
            return b""
        message, self._message = self._message, None
        index = self.output.index(message)
        text, self._text = "".join(self._text), []
        message.update(message_item(message["id"], text))
        where = {"item_id": message["id"], "output_index": index, "content_index": 0}
        return (
            self._event("response.output_text.done", **where, text=text, logprobs=[])
            + self._event("response.content_part.done", **where, part=text_part(text))
            + self._event("response.output_item.done", output_index=index, item=message)
        )

    def add(self, event: RunEvent) -> bytes:
        """The events one run event makes (text, an agent tool, client function calls)."""
        if isinstance(event, TextDelta):
            return self.text(event.text) if event.text else b""
        if isinstance(event, ToolStarted):
            return self.tool_started(event)
        if isinstance(event, ToolFinished):
            return self.tool_finished(event)
        if isinstance(event, ClientToolCalls):
            return self.calls(event.calls)
        if isinstance(event, ApprovalRequests):
            return self.approval_requests(event.calls)
        return b""

    def approval_requests(self, calls: Sequence[ClientCall]) -> bytes:
        """Calls of the agent's tools that wait for the client's user: each ``mcp_call``
        shown so far ends ``incomplete`` with the id of its ``mcp_approval_request``."""
        out = [self._close_message()]
        for call in calls:
            request_id = APPROVAL_PREFIX + call.id
            shown = self._tools.pop(call.id, None)
            if shown is not None:
                shown.update(status="incomplete", approval_request_id=request_id)
                index = self.output.index(shown)
                out.append(self._event("response.output_item.done", output_index=index, item=shown))
            item = {
                "type": "mcp_approval_request",
                "id": request_id,
                "server_label": SERVER_LABEL,
                "name": call.name,
                "arguments": call.arguments,
            }
            self.output.append(item)
            index = len(self.output) - 1
            out.append(self._event("response.output_item.added", output_index=index, item=item))
            out.append(self._event("response.output_item.done", output_index=index, item=item))
        return b"".join(out)

    def tool_started(self, event: ToolStarted) -> bytes:
        if not self._show_tools:
            return b""
        closing = self._close_message()
        item = tool_item(event, _item_id("mcp"))
        self._tools[event.call_id] = item
        self.output.append(item)
        index = len(self.output) - 1
        return closing + self._event("response.output_item.added", output_index=index, item=item)

    def tool_finished(self, event: ToolFinished) -> bytes:
        item = self._tools.pop(event.call_id, None)
        if item is None:
            return b""
        result = event.result if isinstance(event.result, str) else format_value_full(event.result)
        item.update(output=truncate(result, RESULT_LIMIT), status="completed")
        index = self.output.index(item)
        return self._event("response.output_item.done", output_index=index, item=item)

    def _fail_tools(self) -> bytes:
        out = []
        for item in self._tools.values():
            item.update(error="interrupted", status="failed")
            index = self.output.index(item)
            out.append(self._event("response.output_item.done", output_index=index, item=item))
        self._tools = {}
        return b"".join(out)

    def calls(self, calls: Sequence[ClientCall]) -> bytes:
        out = [self._close_message()]
        for call in calls:
            item = call_item(call, _item_id("fc"), status="in_progress")
            self.output.append(item)
            index = len(self.output) - 1
            where = {"item_id": item["id"], "output_index": index}
            out.append(self._event("response.output_item.added", output_index=index, item=item))
            out.append(
                self._event("response.function_call_arguments.delta", **where, delta=call.arguments)
            )
            out.append(
                self._event(
                    "response.function_call_arguments.done",
                    **where,
                    name=call.name,
                    arguments=call.arguments,
                )
            )
            item.update(call_item(call, item["id"]))
            out.append(self._event("response.output_item.done", output_index=index, item=item))
        return b"".join(out)

    def completed(self, tokens: tuple[int, int]) -> tuple[bytes, dict[str, Any]]:
        closing = self._fail_tools()
        answered = ("message", "function_call", "mcp_approval_request")
        if not any(item["type"] in answered for item in self.output):
            closing += self.text("")  # the answer's text, even when empty, is a message
        closing += self._close_message()
        final = self.shell.snapshot("completed", self.output, tokens)
        return closing + self._event("response.completed", response=final), final

    def failed(self, message: str) -> tuple[bytes, dict[str, Any]]:
        closing = self._fail_tools() + self._close_message()
        error = {"code": "server_error", "message": message}
        final = self.shell.snapshot("failed", self.output, error=error)
        return closing + self._event("response.failed", response=final), final
