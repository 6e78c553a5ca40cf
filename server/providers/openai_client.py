"""The OpenAI SDK's client, minus its walks over every request and every streamed chunk.

Before sending, the SDK passes the whole request body through a type-driven transform
(renaming aliased keys, formatting dates and files). Chat messages and tool
definitions have nothing to rename or format, but the walk costs about 0.15 ms per
message and more per tool schema: 15.9 ms for a history of 108 messages, more than the
rest of the turn, paid again on every turn of a long conversation (``bench.long_sessions
--tools``). ``AsyncOpenAIChat`` hands ``messages`` and ``tools`` to the SDK in
``extra_body``, which it merges into the JSON after the transform, as given: the bytes
on the wire are the same. Replies are read the same way round: the SDK builds each
completion and each streamed chunk with a lenient construction that walks its types
(about 65 µs a chunk); ``AsyncOpenAIChat`` validates them with pydantic-core instead
(about 3 µs), falling back to the SDK's way for a body that does not validate. pydantic-ai
drives it like any ``AsyncOpenAI``, and the SDK's ``copy()`` (``with_options``) keeps the
class.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from openai import AsyncOpenAI
from openai.resources.chat import AsyncChat
from openai.resources.chat.completions import AsyncCompletions
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from pydantic import ValidationError

# what the transform would walk for nothing; everything else still goes through it
PLAIN_FIELDS = ("messages", "tools")
# what pydantic-core validates in ~3 µs where the SDK's construction takes ~65 µs
VALIDATED = (ChatCompletion, ChatCompletionChunk)


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

    def _process_response_data(self, *, data: object, cast_to: Any, response: Any) -> Any:
        """Completions and streamed chunks validated by pydantic-core instead of built by the
        SDK's lenient, type-walking construction, which cost every streamed delta about 65 µs;
        a body that does not validate (a provider that leaves a field out) is still built
        the SDK's way."""
        if cast_to in VALIDATED and isinstance(data, dict):
            try:
                return cast_to.model_validate(data)
            except ValidationError:
                pass
        return super()._process_response_data(data=data, cast_to=cast_to, response=response)
