"""The OpenAPI validator accepts real OpenAI bodies and rejects broken ones."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.openapi_validation import SPEC_PATH, requires_spec, spec_available, validate

pytestmark = requires_spec

COMPLETION: dict[str, Any] = {
    "id": "chatcmpl-abc123",
    "object": "chat.completion",
    "created": 1741570283,
    "model": "assistant",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Hello! How can I help?", "refusal": None},
            "logprobs": None,
            "finish_reason": "stop",
        }
    ],
    "usage": {"prompt_tokens": 12, "completion_tokens": 7, "total_tokens": 19},
}

TOOL_CALL_COMPLETION: dict[str, Any] = {
    **COMPLETION,
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": None,
                "refusal": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                    }
                ],
            },
            "logprobs": None,
            "finish_reason": "tool_calls",
        }
    ],
}

CHUNK: dict[str, Any] = {
    "id": "chatcmpl-abc123",
    "object": "chat.completion.chunk",
    "created": 1741570283,
    "model": "assistant",
    "choices": [
        {"index": 0, "delta": {"role": "assistant", "content": "Hel"}, "finish_reason": None}
    ],
    "usage": None,
}

USAGE_CHUNK: dict[str, Any] = {
    **CHUNK,
    "choices": [],
    "usage": {"prompt_tokens": 12, "completion_tokens": 7, "total_tokens": 19},
}

MODELS: dict[str, Any] = {
    "object": "list",
    "data": [
        {
            "id": "assistant",
            "object": "model",
            "created": 1741570283,
            "owned_by": "traymind",
            "name": "Assistant",
            "description": "A general helper",
        }
    ],
}

ERROR: dict[str, Any] = {
    "error": {
        "message": "Incorrect API key provided.",
        "type": "invalid_request_error",
        "param": None,
        "code": "invalid_api_key",
    }
}


def test_spec_is_found() -> None:
    assert spec_available()
    assert SPEC_PATH is not None and SPEC_PATH.is_file()


@pytest.mark.parametrize(
    ("schema", "instance"),
    [
        ("CreateChatCompletionResponse", COMPLETION),
        ("CreateChatCompletionResponse", TOOL_CALL_COMPLETION),
        ("CreateChatCompletionStreamResponse", CHUNK),
        ("CreateChatCompletionStreamResponse", USAGE_CHUNK),
        ("ListModelsResponse", MODELS),
        ("ErrorResponse", ERROR),
    ],
    ids=["completion", "tool-calls", "chunk", "usage-chunk", "models", "error"],
)
def test_valid_bodies_pass(schema: str, instance: dict[str, Any]) -> None:
    validate(schema, instance)


def test_relaxed_fields_may_be_omitted() -> None:
    # CHUNK carries no `logprobs`: relaxed on purpose for stream choices only.
    assert "logprobs" not in CHUNK["choices"][0]
    validate("CreateChatCompletionStreamResponse", CHUNK)


@pytest.mark.parametrize(
    "drop", [("logprobs",), ("message", "refusal")], ids=["logprobs", "refusal"]
)
def test_a_completion_without_logprobs_or_refusal_fails(drop: tuple[str, ...]) -> None:
    """Not relaxed for whole completions: what we return carries both, as null."""
    completion = copy.deepcopy(COMPLETION)
    holder = completion["choices"][0]
    for key in drop[:-1]:
        holder = holder[key]
    del holder[drop[-1]]
    with pytest.raises(AssertionError):
        validate("CreateChatCompletionResponse", completion)


def test_final_chunk_with_finish_reason_passes() -> None:
    chunk = copy.deepcopy(CHUNK)
    chunk["choices"][0].update(delta={}, finish_reason="stop")
    validate("CreateChatCompletionStreamResponse", chunk)


def test_nullable_fields_accept_null_but_not_other_types() -> None:
    # `finish_reason` and `usage` are 3.0-style `nullable: true` in the stream schema.
    validate("CreateChatCompletionStreamResponse", CHUNK)
    chunk = copy.deepcopy(CHUNK)
    chunk["choices"][0]["finish_reason"] = "exploded"
    with pytest.raises(AssertionError, match=r"\$\.choices\[0\]\.finish_reason"):
        validate("CreateChatCompletionStreamResponse", chunk)


def test_content_stays_required_in_the_message() -> None:
    body = copy.deepcopy(TOOL_CALL_COMPLETION)
    del body["choices"][0]["message"]["content"]
    with pytest.raises(AssertionError, match="'content' is a required property"):
        validate("CreateChatCompletionResponse", body)


def test_finish_reason_stays_required_in_chunks() -> None:
    chunk = copy.deepcopy(CHUNK)
    del chunk["choices"][0]["finish_reason"]
    with pytest.raises(AssertionError, match="'finish_reason' is a required property"):
        validate("CreateChatCompletionStreamResponse", chunk)


def test_wrong_object_fails_with_its_path() -> None:
    with pytest.raises(AssertionError) as failure:
        validate("CreateChatCompletionResponse", {**COMPLETION, "object": "chat.completions"})
    message = str(failure.value)
    assert "1 error(s) validating against CreateChatCompletionResponse" in message
    assert "at $.object: 'chat.completions' is not one of ['chat.completion']" in message


def test_missing_choices_fails() -> None:
    body = {key: value for key, value in COMPLETION.items() if key != "choices"}
    with pytest.raises(AssertionError, match="'choices' is a required property"):
        validate("CreateChatCompletionResponse", body)


def test_error_without_message_fails() -> None:
    body = {"error": {key: value for key, value in ERROR["error"].items() if key != "message"}}
    with pytest.raises(AssertionError, match=r"at \$\.error: 'message' is a required property"):
        validate("ErrorResponse", body)


def test_error_without_param_and_code_fails() -> None:
    body = {"error": {"message": "nope", "type": "invalid_request_error"}}
    with pytest.raises(AssertionError, match="2 error"):
        validate("ErrorResponse", body)


def test_model_without_owner_fails() -> None:
    body = copy.deepcopy(MODELS)
    del body["data"][0]["owned_by"]
    with pytest.raises(AssertionError, match=r"at \$\.data\[0\]: 'owned_by' is a required"):
        validate("ListModelsResponse", body)


def test_every_error_is_listed() -> None:
    body = {"id": 5, "object": "chat.completion", "created": "now", "model": "m", "choices": []}
    with pytest.raises(AssertionError) as failure:
        validate("CreateChatCompletionResponse", body)
    assert "2 error(s)" in str(failure.value)
    assert "at $.id:" in str(failure.value) and "at $.created:" in str(failure.value)


def test_unknown_schema_is_a_key_error() -> None:
    with pytest.raises(KeyError, match="NoSuchSchema"):
        validate("NoSuchSchema", {})
