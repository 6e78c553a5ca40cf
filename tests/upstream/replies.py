"""Scripted replies of the loopback LLM stand-in.

A `Reply` is inert and immutable: the same one can answer many requests (as `Upstream.default`).
The server renders it streaming or not, following what each request asks for.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Literal

ReplyKind = Literal["text", "tool_calls", "error", "garbage", "hang", "broken_stream"]
Usage = tuple[int, int] | None
DEFAULT_USAGE: Usage = (10, 5)

_WORDISH = re.compile(r"\S+\s*|\s+")


@dataclass(frozen=True)
class ToolCall:
    """One function call the stand-in's assistant makes."""

    id: str
    name: str
    arguments: str
    """The arguments as the JSON string sent on the wire (may be deliberately invalid)."""


@dataclass(frozen=True)
class Reply:
    """What the stand-in answers to one chat completion request. Build it with a classmethod."""

    kind: ReplyKind
    pieces: tuple[str, ...] = ()
    """Content pieces, one per streamed chunk; joined for a non-streaming answer."""
    delay: float = 0.0
    """Seconds between two content pieces (also spent before a non-streaming answer)."""
    usage: Usage = DEFAULT_USAGE
    finish_reason: str = "stop"
    calls: tuple[ToolCall, ...] = ()
    status: int = 200
    message: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes | None = None
    seconds: float = 0.0
    then: Reply | None = None
    """For `hang`: the reply sent once the wait is over (None: the upstream's default)."""

    @property
    def content(self) -> str:
        """The whole text content."""
        return "".join(self.pieces)

    @classmethod
    def text(
        cls,
        content: str,
        *,
        usage: Usage = DEFAULT_USAGE,
        chunks: int | None = None,
        finish_reason: str = "stop",
    ) -> Reply:
        """A plain assistant message; streamed in `chunks` equal pieces, else word by word."""
        pieces = _split_even(content, chunks) if chunks else _WORDISH.findall(content)
        return cls("text", pieces=tuple(pieces), usage=usage, finish_reason=finish_reason)

    @classmethod
    def deltas(
        cls, deltas: list[str], *, delay: float = 0.0, usage: Usage = DEFAULT_USAGE
    ) -> Reply:
        """Exactly these content deltas, `delay` seconds apart."""
        return cls("text", pieces=tuple(deltas), delay=delay, usage=usage)

    @classmethod
    def slow_stream(cls, deltas: list[str], delay: float, *, usage: Usage = DEFAULT_USAGE) -> Reply:
        """Alias of `deltas` with a delay."""
        return cls.deltas(deltas, delay=delay, usage=usage)

    @classmethod
    def tool_calls(
        cls, calls: list[tuple[Any, ...]], *, usage: Usage = DEFAULT_USAGE, content: str = ""
    ) -> Reply:
        """An assistant message calling tools: items are `(name, args)` or `(name, args, id)`.

        `args` is a dict (sent as JSON) or a string sent verbatim. Ids default to call_1, call_2...
        """
        built = []
        for index, call in enumerate(calls, start=1):
            name, args, *rest = call
            arguments = args if isinstance(args, str) else json.dumps(args)
            built.append(ToolCall(rest[0] if rest else f"call_{index}", name, arguments))
        return cls(
            "tool_calls",
            pieces=(content,) if content else (),
            calls=tuple(built),
            usage=usage,
            finish_reason="tool_calls",
        )

    @classmethod
    def error(
        cls,
        status: int,
        message: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        body: str | bytes | None = None,
    ) -> Reply:
        """An HTTP error with OpenAI's error JSON, or with `body` sent verbatim."""
        raw = body.encode() if isinstance(body, str) else body
        return cls(
            "error",
            status=status,
            message=message or "",
            headers=tuple((headers or {}).items()),
            body=raw,
        )

    @classmethod
    def garbage(cls) -> Reply:
        """A 200 whose body is not JSON (or, streamed, SSE events that are not JSON)."""
        return cls("garbage")

    @classmethod
    def hang(cls, seconds: float, then: Reply | None = None) -> Reply:
        """Send nothing for `seconds`, then answer with `then` (default: the upstream's default)."""
        return cls("hang", seconds=seconds, then=then)

    @classmethod
    def broken_stream(cls, deltas: list[str], *, delay: float = 0.0) -> Reply:
        """Stream these deltas, then drop the connection: no finish chunk, no `[DONE]`.

        A non-streaming request gets half of its JSON body, then the connection drops.
        """
        return cls("broken_stream", pieces=tuple(deltas), delay=delay)


def _split_even(content: str, parts: int) -> list[str]:
    """Split `content` into `parts` pieces of nearly equal length (fewer if it is shorter)."""
    parts = max(1, min(parts, len(content)))
    size, extra = divmod(len(content), parts)
    pieces, start = [], 0
    for index in range(parts):
        end = start + size + (1 if index < extra else 0)
        pieces.append(content[start:end])
        start = end
    return [piece for piece in pieces if piece]
