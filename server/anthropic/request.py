"""A Messages API body as one agent turn: system, messages, tools, images, tool results.

The prompt is the last user message that carries no ``tool_result``; the assistant
``tool_use`` blocks and the user ``tool_result`` blocks after it are the client tool
rounds that resume a paused run, exactly as chat completions' ``role: "tool"`` do.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from server.errors import InvalidRequest, PayloadTooLarge
from server.openai.attachments import Attachment
from server.openai.chat_request import ChatTurn, PriorMessage
from server.openai.client_tools import ClientCall, ClientTool, ClientToolUse, ToolRound

CHARS_PER_TOKEN = 4  # count_tokens' estimate: no provider here counts Anthropic tokens
Block = dict[str, Any]


def _blocks(content: object, where: str) -> list[Block]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if not isinstance(content, list) or not all(isinstance(b, dict) for b in content):
        message = f"{where} must be a string or an array of content blocks."
        raise InvalidRequest(message, param=where)
    return content


def _text(blocks: list[Block]) -> str:
    return "\n".join(
        b["text"] for b in blocks if b.get("type") == "text" and isinstance(b.get("text"), str)
    )


def _attachment(block: Block, where: str, limit: int) -> Attachment | None:
    kind = "image" if block.get("type") == "image" else "document"
    source = block.get("source")
    if not isinstance(source, dict):
        raise InvalidRequest(f"An {kind} block needs a 'source'.", param=where)
    if source.get("type") == "url" and isinstance(source.get("url"), str):
        return Attachment(kind, url=source["url"])
    if source.get("type") == "base64" and isinstance(source.get("data"), str):
        if len(source["data"]) * 3 // 4 > limit:
            raise PayloadTooLarge(
                f"An {kind} is larger than {limit} bytes (server.max_image_bytes).", param=where
            )
        try:
            data = base64.b64decode(source["data"], validate=True)
        except (binascii.Error, ValueError):
            raise InvalidRequest(f"The {kind}'s base64 data is not valid.", param=where) from None
        fallback = "image/png" if kind == "image" else "application/pdf"
        media_type = source.get("media_type")
        return Attachment(kind, data=data, media_type=str(media_type or fallback)) if data else None
    if source.get("type") == "text":
        return None  # a plain-text document: its text reaches the model as text
    raise InvalidRequest(f"An {kind} block's source must be base64, url or text.", param=where)


def _document_text(blocks: list[Block]) -> list[str]:
    sources = [b.get("source") for b in blocks if b.get("type") == "document"]
    return [
        s["data"]
        for s in sources
        if isinstance(s, dict) and s.get("type") == "text" and isinstance(s.get("data"), str)
    ]


def _result_text(block: Block) -> str:
    content = block.get("content")
    if isinstance(content, str):
        text = content
    elif isinstance(content, list):
        text = _text([b for b in content if isinstance(b, dict)])
    else:
        text = ""
    return f"Error: {text}" if block.get("is_error") else text


def _tools(body: dict[str, Any]) -> tuple[ClientTool, ...]:
    raw = body.get("tools") or []
    if not isinstance(raw, list):
        raise InvalidRequest("'tools' must be an array.", param="tools")
    tools = []
    for i, tool in enumerate(raw):
        if not isinstance(tool, dict) or not isinstance(tool.get("name"), str):
            raise InvalidRequest(f"tools[{i}] needs a 'name'.", param=f"tools[{i}]")
        if tool.get("type") not in (None, "custom"):
            continue  # Anthropic's own server tools (web search, bash...) are not ours to run
        schema = tool.get("input_schema")
        description = tool.get("description")
        tools.append(
            ClientTool(
                tool["name"],
                description if isinstance(description, str) else None,
                schema if isinstance(schema, dict) else {"type": "object", "properties": {}},
            )
        )
    return tuple(tools)


def _choice(body: dict[str, Any]) -> tuple[str, str | None, bool | None]:
    raw = body.get("tool_choice")
    if raw is None:
        return "auto", None, None
    kind = raw.get("type") if isinstance(raw, dict) else None
    parallel = False if isinstance(raw, dict) and raw.get("disable_parallel_tool_use") else None
    if kind in ("auto", "none"):
        return kind, None, parallel
    if kind == "any":
        return "required", None, parallel
    if kind == "tool" and isinstance(raw.get("name"), str):
        return "required", raw["name"], parallel
    raise InvalidRequest(
        "'tool_choice' must be {'type': 'auto' | 'any' | 'none'} or {'type': 'tool', 'name': ...}.",
        param="tool_choice",
    )


def _has_results(blocks: list[Block]) -> bool:
    return any(b.get("type") == "tool_result" for b in blocks)


def _rounds(tail: list[tuple[str, list[Block]]]) -> tuple[ToolRound, ...]:
    rounds: list[ToolRound] = []
    for role, blocks in tail:
        if role == "assistant":
            calls = tuple(
                ClientCall(str(b.get("id")), str(b.get("name")), json.dumps(b.get("input") or {}))
                for b in blocks
                if b.get("type") == "tool_use"
            )
            if calls:
                rounds.append(ToolRound(_text(blocks), calls, {}))
        elif rounds:
            wanted = {c.id for c in rounds[-1].calls}
            for block in blocks:
                if block.get("type") == "tool_result" and block.get("tool_use_id") in wanted:
                    rounds[-1].results[str(block["tool_use_id"])] = _result_text(block)
    if rounds and not rounds[-1].results:
        raise InvalidRequest(
            "The conversation ends with tool_use blocks but no tool_result.", param="messages"
        )
    return tuple(rounds)


def _parsed(messages: object) -> list[tuple[str, list[Block]]]:
    if not isinstance(messages, list) or not messages:
        raise InvalidRequest("'messages' must be a non-empty array.", param="messages")
    parsed = []
    for i, message in enumerate(messages):
        role = message.get("role") if isinstance(message, dict) else None
        if role not in ("user", "assistant", "system"):  # Claude Code sends "system" ones too
            where = f"messages[{i}].role"
            raise InvalidRequest(f"{where} must be 'user', 'assistant' or 'system'.", param=where)
        parsed.append((str(role), _blocks(message.get("content"), f"messages[{i}].content")))
    return parsed


def parse_messages(body: dict[str, Any], max_image_bytes: int) -> ChatTurn:
    """The turn a Messages request asks for; raises ``InvalidRequest`` naming the param."""
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise InvalidRequest("'model' is required.", param="model")
    everything = _parsed(body.get("messages"))
    system = body.get("system")
    system_texts = [_text(_blocks(system, "system"))] if system is not None else []
    system_texts += [_text(blocks) for role, blocks in everything if role == "system"]
    system_text = "\n\n".join(t for t in system_texts if t.strip())
    parsed = [(role, blocks) for role, blocks in everything if role != "system"]
    prompts = [i for i, (role, b) in enumerate(parsed) if role == "user" and not _has_results(b)]
    if not prompts:
        raise InvalidRequest("The request has no user message.", param="messages")
    at = prompts[-1]
    blocks = parsed[at][1]
    attachments = []
    for j, block in enumerate(blocks):
        if block.get("type") in ("image", "document"):
            found = _attachment(block, f"messages[{at}].content[{j}]", max_image_bytes)
            if found is not None:
                attachments.append(found)
    user_text = "\n\n".join(t for t in [_text(blocks), *_document_text(blocks)] if t)
    if not user_text.strip() and not attachments:
        raise InvalidRequest(f"messages[{at}] has no text.", param=f"messages[{at}].content")
    prompt = f"{system_text}\n\n{user_text}" if system_text.strip() else user_text
    prior = [PriorMessage(role, _text(b)) for role, b in parsed[:at] if _text(b).strip()]
    rounds = _rounds(parsed[at + 1 :])
    tools = _tools(body)
    choice, forced, parallel = _choice(body)
    client = ClientToolUse(tools, choice, forced, parallel, rounds) if tools or rounds else None
    return ChatTurn(
        model=model.strip(),
        prompt=prompt,
        user_text=user_text,
        prior=prior,
        stream=body.get("stream") is True,
        client=client,
        attachments=tuple(attachments),
    )


def estimate_tokens(body: dict[str, Any]) -> int:
    """An estimate for ``count_tokens``: characters of system, messages and tools over four."""
    parts = [body.get("system") or "", body.get("messages") or [], body.get("tools") or []]
    text = "".join(p if isinstance(p, str) else json.dumps(p, ensure_ascii=False) for p in parts)
    return max(1, len(text) // CHARS_PER_TOKEN)
