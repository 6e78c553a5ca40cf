"""Anthropic Messages API shapes the stand-in sends, for agents on ``provider: anthropic``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from .replies import Reply
from .wire import ERROR_TYPES, dumps


def _input(arguments: str) -> dict[str, Any]:
    try:
        parsed = json.loads(arguments or "{}")
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _usage(reply: Reply) -> dict[str, int]:
    prompt, completion = reply.usage or (0, 0)
    return {"input_tokens": prompt, "output_tokens": completion}


def message_body(reply: Reply, message_id: str, model: str) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    if reply.content or not reply.calls:
        content.append({"type": "text", "text": reply.content})
    content += [
        {"type": "tool_use", "id": c.id, "name": c.name, "input": _input(c.arguments)}
        for c in reply.calls
    ]
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": "tool_use" if reply.calls else "end_turn",
        "stop_sequence": None,
        "usage": _usage(reply),
    }


def _event(payload: dict[str, Any]) -> bytes:
    return b"event: " + payload["type"].encode() + b"\ndata: " + dumps(payload) + b"\n\n"


def stream_events(reply: Reply, message_id: str, model: str) -> Iterator[tuple[float, bytes]]:
    """(pause before, event) pairs: message_start, the blocks, message_delta, message_stop."""
    head = message_body(reply, message_id, model)
    head["content"], head["stop_reason"] = [], None
    head["usage"] = {"input_tokens": _usage(reply)["input_tokens"], "output_tokens": 0}
    yield 0.0, _event({"type": "message_start", "message": head})
    index = 0
    if reply.pieces or not reply.calls:
        block = {"type": "text", "text": ""}
        yield 0.0, _event({"type": "content_block_start", "index": 0, "content_block": block})
        for n, piece in enumerate(reply.pieces):
            delta = {"type": "text_delta", "text": piece}
            pause = reply.delay if n else 0.0
            yield pause, _event({"type": "content_block_delta", "index": 0, "delta": delta})
        yield 0.0, _event({"type": "content_block_stop", "index": 0})
        index = 1
    for call in reply.calls:
        block = {"type": "tool_use", "id": call.id, "name": call.name, "input": {}}
        delta = {"type": "input_json_delta", "partial_json": call.arguments}
        yield 0.0, _event({"type": "content_block_start", "index": index, "content_block": block})
        yield 0.0, _event({"type": "content_block_delta", "index": index, "delta": delta})
        yield 0.0, _event({"type": "content_block_stop", "index": index})
        index += 1
    stop = "tool_use" if reply.calls else "end_turn"
    yield (
        0.0,
        _event(
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop, "stop_sequence": None},
                "usage": {"output_tokens": _usage(reply)["output_tokens"]},
            }
        ),
    )
    yield 0.0, _event({"type": "message_stop"})


def error_body(status: int, message: str) -> dict[str, Any]:
    kind = ERROR_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
    return {"type": "error", "error": {"type": kind, "message": message or f"error {status}"}}
