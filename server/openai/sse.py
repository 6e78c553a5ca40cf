"""The one SSE encoder for ``chat.completion.chunk`` streams.

Chunks are the hot path of streaming, so they are built as JSON text directly
rather than through a model per delta; ``tests/test_stream_wire.py`` validates
every kind of chunk against the official OpenAPI schema.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from server.openai.client_tools import ClientCall

DONE = b"data: [DONE]\n\n"

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def event(payload_json: str) -> bytes:
    """One ``data:`` event holding a JSON document."""
    return b"data: " + payload_json.encode("utf-8") + b"\n\n"


class ChunkEncoder:
    """Encodes the chunks of one streamed completion: shared id, created and model."""

    def __init__(self, completion_id: str, created: int, model: str, *, include_usage: bool):
        self._head = (
            '{"id":'
            + _dumps(completion_id)
            + ',"object":"chat.completion.chunk","created":'
            + str(int(created))
            + ',"model":'
            + _dumps(model)
            + ',"choices":'
        )
        self._tail = ',"usage":null}' if include_usage else "}"

    def role(self) -> bytes:
        return event(
            self._head
            + '[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]'
            + self._tail
        )

    def content(self, text: str) -> bytes:
        return event(
            self._head
            + '[{"index":0,"delta":{"content":'
            + _dumps(text)
            + '},"finish_reason":null}]'
            + self._tail
        )

    def tool_calls(self, calls: Sequence[ClientCall]) -> bytes:
        """Each client tool call as OpenAI streams one: id and name first, then arguments."""
        events = []
        for index, call in enumerate(calls):
            head = '[{"index":0,"delta":{"tool_calls":[{"index":' + str(index)
            events.append(
                event(
                    self._head
                    + head
                    + ',"id":'
                    + _dumps(call.id)
                    + ',"type":"function","function":{"name":'
                    + _dumps(call.name)
                    + ',"arguments":""}}]},"finish_reason":null}]'
                    + self._tail
                )
            )
            events.append(
                event(
                    self._head
                    + head
                    + ',"function":{"arguments":'
                    + _dumps(call.arguments)
                    + '}}]},"finish_reason":null}]'
                    + self._tail
                )
            )
        return b"".join(events)

    def finish(self, reason: str = "stop") -> bytes:
        return event(
            self._head
            + '[{"index":0,"delta":{},"finish_reason":'
            + _dumps(reason)
            + "}]"
            + self._tail
        )

    def usage(self, prompt_tokens: int, completion_tokens: int) -> bytes:
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }
        return event(self._head + '[],"usage":' + _dumps(usage) + "}")
