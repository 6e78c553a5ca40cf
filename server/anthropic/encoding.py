"""The Messages API's answer: one ``message`` object, or its named SSE events.

A stream is ``message_start``, then per content block ``content_block_start``,
deltas (``text_delta``, or ``input_json_delta`` for a client tool call) and
``content_block_stop``, then ``message_delta`` (stop reason, output tokens) and
``message_stop``. ``tests/test_anthropic_messages.py`` reads both with the
``anthropic`` SDK, which rebuilds the message from the events.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from typing import Any

from server.openai.client_tools import ClientCall

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def message_id() -> str:
    return "msg_" + secrets.token_hex(12)


def tool_input(call: ClientCall) -> dict[str, Any]:
    """A call's arguments as the object ``tool_use.input`` must be."""
    try:
        parsed = json.loads(call.arguments or "{}")
    except json.JSONDecodeError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def message(
    msg_id: str,
    model: str,
    text: str,
    calls: Sequence[ClientCall],
    input_tokens: int,
    output_tokens: int,
) -> dict[str, Any]:
    content: list[dict[str, Any]] = [{"type": "text", "text": text}] if text or not calls else []
    content += [
        {"type": "tool_use", "id": c.id, "name": c.name, "input": tool_input(c)} for c in calls
    ]
    return {
        "id": msg_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": "tool_use" if calls else "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens},
    }


def sse(name: str, payload: dict[str, Any]) -> bytes:
    """One named event, as Anthropic sends them."""
    return b"event: " + name.encode() + b"\ndata: " + _dumps(payload).encode("utf-8") + b"\n\n"


def error_payload(kind: str, text: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": kind, "message": text}}


class MessageEvents:
    """The events of one streamed message; opens and closes content blocks as needed."""

    def __init__(self, msg_id: str, model: str) -> None:
        self._id = msg_id
        self._model = model
        self._index = -1
        self._text_open = False

    def start(self, input_tokens: int = 0) -> bytes:
        head = message(self._id, self._model, "", (), input_tokens, 0)
        head["content"], head["stop_reason"] = [], None
        return sse("message_start", {"type": "message_start", "message": head}) + sse(
            "ping", {"type": "ping"}
        )

    def text(self, text: str) -> bytes:
        opened = b""
        if not self._text_open:
            self._index += 1
            self._text_open = True
            block = {"type": "text", "text": ""}
            opened = sse(
                "content_block_start",
                {"type": "content_block_start", "index": self._index, "content_block": block},
            )
        delta = {"type": "text_delta", "text": text}
        return opened + sse(
            "content_block_delta",
            {"type": "content_block_delta", "index": self._index, "delta": delta},
        )

    def _close_text(self) -> bytes:
        if not self._text_open:
            return b""
        self._text_open = False
        return sse("content_block_stop", {"type": "content_block_stop", "index": self._index})

    def tool_calls(self, calls: Sequence[ClientCall]) -> bytes:
        out = [self._close_text()]
        for call in calls:
            self._index += 1
            block = {"type": "tool_use", "id": call.id, "name": call.name, "input": {}}
            delta = {"type": "input_json_delta", "partial_json": _dumps(tool_input(call))}
            out += [
                sse(
                    "content_block_start",
                    {"type": "content_block_start", "index": self._index, "content_block": block},
                ),
                sse(
                    "content_block_delta",
                    {"type": "content_block_delta", "index": self._index, "delta": delta},
                ),
                sse("content_block_stop", {"type": "content_block_stop", "index": self._index}),
            ]
        return b"".join(out)

    def finish(self, stop_reason: str, output_tokens: int) -> bytes:
        # An empty answer still has its one (empty) text block.
        empty = self.text("") if self._index < 0 else b""
        delta = {
            "type": "message_delta",
            "delta": {"stop_reason": stop_reason, "stop_sequence": None},
            "usage": {"output_tokens": output_tokens},
        }
        return (
            empty
            + self._close_text()
            + sse("message_delta", delta)
            + sse("message_stop", {"type": "message_stop"})
        )

    def error(self, kind: str, text: str) -> bytes:
        """A failure after the stream began: Anthropic's ``error`` event ends it."""
        return sse("error", error_payload(kind, text))
