"""OpenAI wire models: what ``/v1`` returns, in the field order OpenAI documents.

Requests are parsed leniently in ``server.openai.chat_request`` (clients send many
fields we accept and ignore); responses are built here and only here.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class WireModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ModelCard(WireModel):
    """One entry of ``GET /v1/models``: an agent, ``auto`` or a team."""

    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "traymind"
    name: str
    description: str | None = None


class ModelList(WireModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class Usage(WireModel):
    """Token counts summed over every provider call of one run."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0

    @classmethod
    def of(cls, prompt_tokens: int, completion_tokens: int) -> Usage:
        return cls(
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            total_tokens=prompt_tokens + completion_tokens,
        )


class FunctionCall(WireModel):
    name: str
    arguments: str


class ToolCall(WireModel):
    """A call of one of the client's own tools, for the client to run."""

    id: str
    type: Literal["function"] = "function"
    function: FunctionCall


class AssistantMessage(WireModel):
    role: Literal["assistant"] = "assistant"
    content: str | None
    refusal: None = None  # required by the OpenAPI document; agents never refuse this way
    tool_calls: list[ToolCall] | None = Field(default=None, exclude_if=lambda calls: calls is None)


class Choice(WireModel):
    index: int = 0
    message: AssistantMessage
    logprobs: None = None  # required (nullable) by the OpenAPI document; never computed
    finish_reason: Literal["stop", "tool_calls"] = "stop"


class ChatCompletion(WireModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: Usage


class Delta(WireModel):
    role: Literal["assistant"] | None = None
    content: str | None = None


class ChunkChoice(WireModel):
    index: int = 0
    delta: Delta
    finish_reason: Literal["stop"] | None = None


class ErrorBody(WireModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorResponse(WireModel):
    error: ErrorBody
