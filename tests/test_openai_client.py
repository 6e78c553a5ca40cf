"""``AsyncOpenAIChat`` sends what the SDK's own client sends, without its per-message walk.

The same pydantic-ai agent runs the same turns (a system prompt, a long history, a tool
call and its result, an image, model settings) once with the SDK's ``AsyncOpenAI`` and once
with ``AsyncOpenAIChat``, against the loopback stand-in: the request bodies it records
must be equal, streaming and not.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from openai import AsyncOpenAI
from pydantic_ai import Agent, BinaryContent
from pydantic_ai.messages import ModelRequest, ModelResponse, TextPart, UserPromptPart
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.providers.openai import OpenAIProvider

from server.providers.openai_client import AsyncOpenAIChat
from tests.upstream import Reply, Upstream

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


def history(turns: int) -> list[Any]:
    messages: list[Any] = []
    for i in range(turns):
        messages.append(ModelRequest(parts=[UserPromptPart(f"question {i}")]))
        messages.append(ModelResponse(parts=[TextPart(f"answer {i}")]))
    return messages


def weather(city: str, days: int = 1) -> str:
    """The forecast for a city."""
    return f"sunny in {city} for {days} days"


async def bodies(upstream: Upstream, client_class: type[AsyncOpenAI], stream: bool) -> list[Any]:
    upstream.clear()
    client = client_class(api_key="x", base_url=upstream.base_url, max_retries=0)
    model = OpenAIChatModel("test-model", provider=OpenAIProvider(openai_client=client))
    agent = Agent(model, instructions="Be brief.", tools=[weather])
    upstream.script(
        Reply.tool_calls([("weather", {"city": "Lyon", "days": 2})]), Reply.text("Sunny.")
    )
    prompt = ["What is this, and the weather?", BinaryContent(PNG, media_type="image/png")]
    settings = {"temperature": 0.2, "max_tokens": 50, "seed": 7}
    if stream:
        async with agent.run_stream(
            prompt, message_history=history(20), model_settings=settings
        ) as run:
            assert await run.get_output() == "Sunny."
    else:
        result = await agent.run(prompt, message_history=history(20), model_settings=settings)
        assert result.output == "Sunny."
    await client.close()
    return [request.body for request in upstream.chat_requests]


@pytest.mark.parametrize("stream", [False, True])
def test_the_requests_are_the_sdks_own(upstream: Upstream, stream: bool) -> None:
    sdk = asyncio.run(bodies(upstream, AsyncOpenAI, stream))
    ours = asyncio.run(bodies(upstream, AsyncOpenAIChat, stream))
    assert len(sdk) == 2 and ours == sdk
    first = ours[0]
    assert len(first["messages"]) == 42 and first["tools"][0]["function"]["name"] == "weather"
    assert first["temperature"] == 0.2 and first["seed"] == 7
    assert ours[1]["messages"][-1]["role"] == "tool"


def test_a_copy_keeps_the_plain_body(upstream: Upstream) -> None:
    asyncio.run(copy_keeps_the_plain_body(upstream))


async def copy_keeps_the_plain_body(upstream: Upstream) -> None:
    client = AsyncOpenAIChat(api_key="x", base_url=upstream.base_url, max_retries=0)
    copied = client.with_options(max_retries=0, timeout=5)
    assert type(copied) is AsyncOpenAIChat
    upstream.script(Reply.text("ok"))
    answer = await copied.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "hi"}], extra_body={"x_extra": 1}
    )
    assert answer.choices[0].message.content == "ok"
    assert upstream.chat_requests[-1].body["messages"] == [{"role": "user", "content": "hi"}]
    assert upstream.chat_requests[-1].body["x_extra"] == 1  # the caller's extra body stays
    await client.close()


async def replies(upstream: Upstream, client_class: type[AsyncOpenAI], *scripted: Reply) -> Any:
    """What each client makes of the same replies: a completion, then a stream's chunks."""
    client = client_class(api_key="x", base_url=upstream.base_url, max_retries=0)
    upstream.script(*scripted)
    ask = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    completion = await client.chat.completions.create(**ask)
    stream = await client.chat.completions.create(**ask, stream=True)
    chunks = [chunk async for chunk in stream]
    await client.close()
    return [type(completion), same(completion)], [same(c) for c in chunks]


def same(reply: Any) -> dict[str, Any]:
    """A parsed reply without what differs between two requests (its id and time)."""
    return {k: v for k, v in reply.model_dump().items() if k not in ("id", "created")}


def test_completions_and_chunks_read_as_the_sdk_reads_them(upstream: Upstream) -> None:
    calls = [("weather", {"city": "Lyon"}), ("weather", {"city": "Oslo"})]
    for scripted in [
        (Reply.text("Sunny in Lyon."), Reply.text("Sunny, then rain, then sun again.")),
        (Reply.tool_calls(calls), Reply.tool_calls(calls)),
    ]:
        sdk = asyncio.run(replies(upstream, AsyncOpenAI, *scripted))
        ours = asyncio.run(replies(upstream, AsyncOpenAIChat, *scripted))
        assert ours == sdk
        assert len(ours[1]) > 3  # a real stream, chunk by chunk


def test_a_sloppy_providers_completion_is_still_read(upstream: Upstream) -> None:
    # no "created" and no "object", as some OpenAI-compatible servers answer
    sloppy = (
        '{"id": "x", "model": "m", "choices": [{"index": 0, "finish_reason": "stop",'
        ' "message": {"role": "assistant", "content": "hi there"}}]}'
    )
    json_reply = Reply.error(200, body=sloppy, headers={"content-type": "application/json"})

    async def read(client_class: type[AsyncOpenAI]) -> Any:
        client = client_class(api_key="x", base_url=upstream.base_url, max_retries=0)
        upstream.script(json_reply)
        completion = await client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "hi"}]
        )
        await client.close()
        return completion

    sdk, ours = asyncio.run(read(AsyncOpenAI)), asyncio.run(read(AsyncOpenAIChat))
    assert ours.choices[0].message.content == "hi there"
    assert ours.model_dump() == sdk.model_dump()
