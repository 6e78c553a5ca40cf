"""Turning a chat completions body into one agent turn."""

from __future__ import annotations

import pytest

from server.errors import InvalidRequest
from server.openai.chat_request import PriorMessage, decode_body, parse_chat_turn


def turn(messages: list[dict[str, object]], **extra: object):
    return parse_chat_turn({"model": "general", "messages": messages, **extra})


def test_system_and_developer_text_is_prepended_to_the_last_user_message() -> None:
    t = turn(
        [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello!"},
            {"role": "developer", "content": "Answer in French."},
            {"role": "user", "content": "How are you?"},
        ]
    )
    assert t.prompt == "Be brief.\n\nAnswer in French.\n\nHow are you?"
    assert t.user_text == "How are you?"
    assert t.prior == [PriorMessage("user", "Hi"), PriorMessage("assistant", "Hello!")]


def test_content_arrays_keep_text_parts_joined_with_a_space() -> None:
    t = turn(
        [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Look at"},
                    {"type": "image_url", "image_url": {"url": "data:,"}},
                    {"type": "text", "text": "this"},
                ],
            }
        ]
    )
    assert t.prompt == "Look at this"


def test_tool_messages_and_anything_after_the_last_user_message_are_ignored() -> None:
    t = turn(
        [
            {"role": "user", "content": "Q"},
            {"role": "tool", "content": "tool output", "tool_call_id": "x"},
            {"role": "assistant", "content": "trailing"},
        ]
    )
    assert t.prompt == "Q"
    assert t.prior == []


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"messages": [{"role": "user", "content": "x"}]}, "model"),
        ({"model": "", "messages": [{"role": "user", "content": "x"}]}, "model"),
        ({"model": 3, "messages": [{"role": "user", "content": "x"}]}, "model"),
        ({"model": "m"}, "messages"),
        ({"model": "m", "messages": []}, "messages"),
        ({"model": "m", "messages": "hi"}, "messages"),
        ({"model": "m", "messages": [{"role": "wizard", "content": "x"}]}, "messages[0].role"),
        ({"model": "m", "messages": ["hi"]}, "messages[0]"),
        ({"model": "m", "messages": [{"role": "system", "content": "x"}]}, "messages"),
        ({"model": "m", "messages": [{"role": "user", "content": "  "}]}, "messages"),
        ({"model": "m", "messages": [{"role": "user", "content": 5}]}, "messages[0].content"),
        ({"model": "m", "stream": "yes", "messages": [{"role": "user", "content": "x"}]}, "stream"),
    ],
)
def test_invalid_bodies_name_the_offending_param(body: dict[str, object], param: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        parse_chat_turn(body)
    assert info.value.param == param
    assert info.value.status == 400


def test_body_decoding_accepts_a_bom_and_rejects_non_objects() -> None:
    assert decode_body('\ufeff{"a": 1}'.encode()) == {"a": 1}
    for raw in (b"", b"[1]", b"{nope", b"\xff\xfe", b'"text"'):
        with pytest.raises(InvalidRequest):
            decode_body(raw)


def test_stream_options_include_usage() -> None:
    t = turn(
        [{"role": "user", "content": "x"}], stream=True, stream_options={"include_usage": True}
    )
    assert t.stream and t.include_usage
