"""The one codec of stored conversations: pydantic-ai's message format, on both chat paths.

A session stores each turn as the JSON of pydantic-ai's ``ModelMessagesTypeAdapter``,
whichever path ran it, so an agent can move between the direct path and the agent
runtime (gain a tool, lose one) without losing its history. The direct path reads
that history back as OpenAI chat messages with ``openai_messages``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from pydantic_ai.messages import (
    ModelMessage,
    ModelMessagesTypeAdapter,
    ModelRequest,
    ModelResponse,
    RetryFeedbackPart,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)

from server.openai.chat_request import PriorMessage


def history_from_prior(prior: Sequence[PriorMessage]) -> list[ModelMessage]:
    """A client's earlier messages as the conversation so far."""
    messages: list[ModelMessage] = []
    for message in prior:
        if message.role == "user":
            messages.append(ModelRequest(parts=[UserPromptPart(message.text)]))
        else:
            messages.append(ModelResponse(parts=[TextPart(message.text)]))
    return messages


def history_from_json(chunks: Sequence[bytes]) -> list[ModelMessage]:
    """Stored turns (each a JSON list of messages) as one history."""
    messages: list[ModelMessage] = []
    for chunk in chunks:
        messages.extend(ModelMessagesTypeAdapter.validate_json(chunk))
    return messages


def conversation(stored: Sequence[bytes], prior: Sequence[PriorMessage]) -> list[ModelMessage]:
    """The stored history when there is one, else the client's earlier messages."""
    return history_from_json(stored) if stored else history_from_prior(prior)


def messages_json(messages: Sequence[ModelMessage]) -> bytes:
    return ModelMessagesTypeAdapter.dump_json(list(messages))


def exchange(prompt: str, answer: str, model_name: str | None = None) -> list[ModelMessage]:
    """One user prompt and one answer, for runs whose inner messages are not worth keeping."""
    return [
        ModelRequest(parts=[UserPromptPart(prompt)]),
        ModelResponse(parts=[TextPart(answer)], model_name=model_name),
    ]


def _text(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, Sequence):
        return " ".join(p for p in content if isinstance(p, str))
    return json.dumps(content, ensure_ascii=False, default=str)


def openai_messages(messages: Sequence[ModelMessage]) -> list[dict[str, Any]]:
    """A history as OpenAI chat messages: prompts, answers, tool calls and their results.

    Every tool call keeps its result (a tool's return, or the error pydantic-ai sent
    for a retried call), as OpenAI-compatible providers refuse a call left without one;
    pydantic-ai reads older ``retry-prompt`` parts as those two when the JSON is loaded.
    """
    result: list[dict[str, Any]] = []
    for message in messages:
        if isinstance(message, ModelRequest):
            for part in message.parts:
                if isinstance(part, UserPromptPart):
                    result.append({"role": "user", "content": _text(part.content)})
                elif isinstance(part, ToolReturnPart):
                    result.append(
                        {
                            "role": "tool",
                            "tool_call_id": part.tool_call_id,
                            "content": part.model_response_str(),
                        }
                    )
                elif isinstance(part, RetryFeedbackPart):
                    result.append({"role": "user", "content": part.model_response()})
            continue
        texts = [p.content for p in message.parts if isinstance(p, TextPart)]
        calls = [
            {
                "id": p.tool_call_id,
                "type": "function",
                "function": {"name": p.tool_name, "arguments": p.args_as_json_str()},
            }
            for p in message.parts
            if isinstance(p, ToolCallPart)
        ]
        if texts or calls:
            assistant: dict[str, Any] = {"role": "assistant", "content": "".join(texts) or None}
            if calls:
                assistant["tool_calls"] = calls
            result.append(assistant)
    return result
