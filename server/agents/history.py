"""Conversation history as pydantic-ai messages: from a client's messages, to and from storage."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic_ai.messages import (
    ModelMessage,
    ModelMessagesTypeAdapter,
    ModelRequest,
    ModelResponse,
    TextPart,
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


def exchange(prompt: str, answer: str) -> list[ModelMessage]:
    """One user prompt and one answer, for runs whose inner messages are not worth keeping."""
    return [ModelRequest(parts=[UserPromptPart(prompt)]), ModelResponse(parts=[TextPart(answer)])]
