"""The OpenAI SDK's client, minus its per-message walk over every request.

Before sending, the SDK passes the whole request body through a type-driven transform
(renaming aliased keys, formatting dates and files). Chat messages and tool
definitions have nothing to rename or format, but the walk costs about 0.15 ms per
message and more per tool schema: 15.9 ms for a history of 108 messages, more than the
rest of the turn, paid again on every turn of a long conversation (``bench.long_sessions
--tools``). ``AsyncOpenAIChat`` hands ``messages`` and ``tools`` to the SDK in
``extra_body``, which it merges into the JSON after the transform, as given: the bytes
on the wire are the same. pydantic-ai drives it like any ``AsyncOpenAI``, and the SDK's
``copy()`` (``with_options``) keeps the class.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from openai import AsyncOpenAI
from openai.resources.chat import AsyncChat
from openai.resources.chat.completions import AsyncCompletions

# what the transform would walk for nothing; everything else still goes through it
PLAIN_FIELDS = ("messages", "tools")


class _PlainCompletions(AsyncCompletions):
    async def create(self, **kwargs: Any) -> Any:  # type: ignore[override]
        plain = dict(kwargs.pop("extra_body", None) or {})
        for name in PLAIN_FIELDS:
            value = kwargs.get(name)
            if isinstance(value, list):
                plain[name] = kwargs.pop(name)
        return await super().create(messages=kwargs.pop("messages", []), extra_body=plain, **kwargs)


class _PlainChat(AsyncChat):
    @cached_property
    def completions(self) -> AsyncCompletions:
        return _PlainCompletions(self._client)


class AsyncOpenAIChat(AsyncOpenAI):
    """``AsyncOpenAI`` whose chat completions send messages and tools untransformed."""

    @cached_property
    def chat(self) -> AsyncChat:
        return _PlainChat(self)
