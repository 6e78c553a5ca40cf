"""OpenAI wire shapes the stand-in sends: completions, chunks, errors, models, embeddings."""

from __future__ import annotations

import base64
import hashlib
import http
import json
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .replies import Reply, ToolCall, Usage

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    409: "conflict_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
}


def dumps(value: Any) -> bytes:
    """Compact JSON bytes."""
    return json.dumps(value, separators=(",", ":")).encode()


def sse(value: Any) -> bytes:
    """One server-sent event carrying `value` as JSON (or a raw string such as `[DONE]`)."""
    data = value if isinstance(value, str) else dumps(value).decode()
    return f"data: {data}\n\n".encode()


def usage_body(usage: Usage) -> dict[str, int] | None:
    """OpenAI's `usage` object from `(prompt_tokens, completion_tokens)`."""
    if usage is None:
        return None
    prompt, completion = usage
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def error_body(status: int, message: str = "") -> dict[str, Any]:
    """OpenAI's error JSON for an HTTP status."""
    try:
        phrase = http.HTTPStatus(status).phrase
    except ValueError:
        phrase = ""
    kind = ERROR_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    return {
        "error": {
            "message": message or f"Upstream error {status} {phrase}".strip(),
            "type": kind,
            "param": None,
            "code": None,
        }
    }


def _tool_call_body(call: ToolCall) -> dict[str, Any]:
    return {
        "id": call.id,
        "type": "function",
        "function": {"name": call.name, "arguments": call.arguments},
    }


@dataclass(frozen=True)
class Envelope:
    """What every completion or chunk of one response shares."""

    id: str
    model: str
    created: int


def completion_body(reply: Reply, env: Envelope) -> dict[str, Any]:
    """A non-streaming `chat.completion` for a text or tool-call reply."""
    message: dict[str, Any] = {
        "role": "assistant",
        "content": reply.content if reply.pieces or not reply.calls else None,
        "refusal": None,
        "annotations": [],
    }
    if reply.calls:
        message["tool_calls"] = [_tool_call_body(call) for call in reply.calls]
    body: dict[str, Any] = {
        "id": env.id,
        "object": "chat.completion",
        "created": env.created,
        "model": env.model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": reply.finish_reason,
            }
        ],
    }
    if reply.usage is not None:
        body["usage"] = usage_body(reply.usage)
    return body


class ChunkWriter:
    """Builds the `chat.completion.chunk` events of one streamed response."""

    def __init__(self, env: Envelope, *, include_usage: bool) -> None:
        self.env = env
        self.include_usage = include_usage

    def chunk(self, delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
        """One SSE event with a single choice."""
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        return sse(self._envelope([choice], None))

    def usage_chunk(self, usage: Usage) -> bytes:
        """The final `choices: []` event carrying usage (for `stream_options.include_usage`)."""
        return sse(self._envelope([], usage_body(usage or (0, 0))))

    def _envelope(self, choices: list[Any], usage: dict[str, int] | None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.env.id,
            "object": "chat.completion.chunk",
            "created": self.env.created,
            "model": self.env.model,
            "choices": choices,
        }
        if self.include_usage:
            body["usage"] = usage
        return body


def stream_events(reply: Reply, writer: ChunkWriter) -> Iterator[tuple[float, bytes]]:
    """`(pause before, event bytes)` pairs for a streamed text/tool-call reply, `[DONE]` last."""
    yield from content_events(reply, writer)
    for index, call in enumerate(reply.calls):
        yield 0.0, writer.chunk({"tool_calls": [_tool_call_head(index, call)]})
        for piece in _split_arguments(call.arguments):
            yield 0.0, writer.chunk({"tool_calls": [_tool_call_args(index, piece)]})
    yield 0.0, writer.chunk({}, reply.finish_reason)
    if writer.include_usage:
        yield 0.0, writer.usage_chunk(reply.usage)
    yield 0.0, sse("[DONE]")


def content_events(reply: Reply, writer: ChunkWriter) -> Iterator[tuple[float, bytes]]:
    """One event per content delta; the first also carries `role` (an empty one if none)."""
    if not reply.pieces:
        content = None if reply.calls else ""
        yield 0.0, writer.chunk({"role": "assistant", "content": content})
        return
    for index, piece in enumerate(reply.pieces):
        delta = {"role": "assistant", "content": piece} if index == 0 else {"content": piece}
        yield (reply.delay if index else 0.0), writer.chunk(delta)


def _tool_call_head(index: int, call: ToolCall) -> dict[str, Any]:
    return {
        "index": index,
        "id": call.id,
        "type": "function",
        "function": {"name": call.name, "arguments": ""},
    }


def _tool_call_args(index: int, piece: str) -> dict[str, Any]:
    return {"index": index, "function": {"arguments": piece}}


def _split_arguments(arguments: str) -> list[str]:
    """Arguments split in up to three pieces, as real providers fragment them."""
    if len(arguments) < 3:
        return [arguments] if arguments else []
    third = len(arguments) // 3
    return [arguments[:third], arguments[third : 2 * third], arguments[2 * third :]]


GARBAGE_BODY = b'<html><body>this is not JSON {"choices": [</body></html>'
GARBAGE_EVENTS = (b"data: {this is not json\n\n", b"data: \x00garbage\xff\n\n", b"data: [DONE]\n\n")


def models_body(ids: list[str]) -> dict[str, Any]:
    """`GET /v1/models`."""
    return {"object": "list", "data": [model_body(model) for model in ids]}


def model_body(model: str) -> dict[str, Any]:
    """One entry of the model list."""
    return {"id": model, "object": "model", "created": 0, "owned_by": "upstream"}


def fake_embedding(text: str, dims: int = 8) -> list[float]:
    """A deterministic vector in [-1, 1] derived from a hash of `text`."""
    digest = hashlib.sha256(text.encode()).digest()
    return [round(digest[i] / 127.5 - 1.0, 6) for i in range(dims)]


def embeddings_body(body: dict[str, Any]) -> dict[str, Any]:
    """`POST /v1/embeddings`: one fake vector per input, float list or base64 float32."""
    raw = body.get("input", "")
    if isinstance(raw, str):
        inputs = [raw]
    elif raw and all(isinstance(item, int) for item in raw):
        inputs = [json.dumps(raw)]
    else:
        inputs = [item if isinstance(item, str) else json.dumps(item) for item in raw]
    as_base64 = body.get("encoding_format") == "base64"
    data = []
    for index, text in enumerate(inputs):
        vector = fake_embedding(text)
        encoded: Any = vector
        if as_base64:
            encoded = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
        data.append({"object": "embedding", "index": index, "embedding": encoded})
    tokens = sum(max(1, len(text.split())) for text in inputs)
    return {
        "object": "list",
        "data": data,
        "model": body.get("model", "test-embedding"),
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }
