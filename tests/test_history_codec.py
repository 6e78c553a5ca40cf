"""The one stored-history codec: pydantic-ai's adapter writes it, both chat paths read it."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from pydantic_ai.messages import (
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
from server.providers.history import (
    conversation,
    exchange,
    history_from_json,
    messages_json,
    openai_messages,
)

WHEN = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


def feedback() -> ModelRequest:
    """pydantic-ai's note when an answer failed validation (made the way it reads one)."""
    legacy = {"part_kind": "retry-prompt", "content": "Answer in one line.", "tool_name": None}
    (request,) = ModelMessagesTypeAdapter.validate_python(
        [{"kind": "request", "parts": [{**legacy, "timestamp": WHEN}]}]
    )
    assert isinstance(request, ModelRequest) and isinstance(request.parts[0], RetryFeedbackPart)
    return request


def a_turn_with_tools() -> list:
    return [
        ModelRequest(parts=[UserPromptPart("What is 6*7, and the time?", timestamp=WHEN)]),
        ModelResponse(
            parts=[
                TextPart("Let me check."),
                ToolCallPart("calculator", {"expression": "6*7"}, "call_a"),
                ToolCallPart("current_time", '{"zone": "UTC"}', "call_b"),
            ],
            model_name="test-model",
            timestamp=WHEN,
        ),
        ModelRequest(
            parts=[
                ToolReturnPart("calculator", "42", "call_a", timestamp=WHEN),
                ToolReturnPart(
                    "current_time",
                    "bad zone",
                    "call_b",
                    outcome="retried",
                    timestamp=WHEN,
                ),
            ]
        ),
        ModelResponse(parts=[TextPart("6*7 is 42.")], model_name="test-model", timestamp=WHEN),
        feedback(),
        ModelResponse(parts=[TextPart("42.")], model_name="test-model", timestamp=WHEN),
    ]


def test_a_stored_turn_round_trips_through_pydantic_ais_adapter() -> None:
    turn = a_turn_with_tools()
    stored = messages_json(turn)
    assert stored == ModelMessagesTypeAdapter.dump_json(turn)
    assert history_from_json([stored, stored]) == turn + turn


def test_the_direct_path_reads_every_call_with_its_result() -> None:
    stored = messages_json(a_turn_with_tools())
    assert openai_messages(history_from_json([stored])) == [
        {"role": "user", "content": "What is 6*7, and the time?"},
        {
            "role": "assistant",
            "content": "Let me check.",
            "tool_calls": [
                {
                    "id": "call_a",
                    "type": "function",
                    "function": {"name": "calculator", "arguments": '{"expression":"6*7"}'},
                },
                {
                    "id": "call_b",
                    "type": "function",
                    "function": {"name": "current_time", "arguments": '{"zone":"UTC"}'},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "call_a", "content": "42"},
        {"role": "tool", "tool_call_id": "call_b", "content": '{"error":"bad zone"}'},
        {"role": "assistant", "content": "6*7 is 42."},
        {"role": "user", "content": feedback().parts[0].model_response()},
        {"role": "assistant", "content": "42."},
    ]


def test_turns_stored_by_earlier_versions_still_load() -> None:
    """The direct path once wrote its turns by hand, and older pydantic-ai wrote retry-prompt
    parts; sessions stored then must keep their history."""
    hand_written = [
        {
            "kind": "request",
            "parts": [
                {"part_kind": "user-prompt", "content": "hi", "timestamp": "2026-11-01T10:00:00Z"}
            ],
        },
        {
            "kind": "response",
            "parts": [{"part_kind": "text", "content": "hello"}],
            "timestamp": "2026-11-01T10:00:01Z",
            "model_name": "test-model",
        },
        {
            "kind": "request",
            "parts": [
                {
                    "part_kind": "retry-prompt",
                    "content": "bad args",
                    "tool_name": "calculator",
                    "tool_call_id": "call_z",
                    "timestamp": "2026-11-01T10:00:02Z",
                }
            ],
        },
    ]
    history = history_from_json([json.dumps(hand_written).encode()])
    assert openai_messages(history)[:2] == [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello"},
    ]
    retried = openai_messages(history)[2]
    assert retried["role"] == "tool" and retried["tool_call_id"] == "call_z"
    assert "bad args" in retried["content"]


def test_a_direct_turn_is_what_the_agent_runtime_stores() -> None:
    prior = [PriorMessage("user", "earlier"), PriorMessage("assistant", "reply")]
    turn = [*conversation([], prior), *exchange("now?", "now.", "test-model")]
    back = history_from_json([messages_json(turn)])
    assert [type(m) for m in back] == [ModelRequest, ModelResponse] * 2
    assert back[-1].model_name == "test-model"
    assert openai_messages(back) == [
        {"role": "user", "content": "earlier"},
        {"role": "assistant", "content": "reply"},
        {"role": "user", "content": "now?"},
        {"role": "assistant", "content": "now."},
    ]
