"""Parsing a ``POST /v1/chat/completions`` body into one agent turn.

Clients send far more than an agent needs (sampling settings, 28 Open WebUI tools,
``user``...): those are accepted and ignored, since the agent's config governs
them. What matters is the model, the stream flags, and the conversation turned
into a prompt by the rules in ``docs/api.md``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from server.agents.openwebui_details import without_details
from server.errors import InvalidRequest
from server.openai.attachments import Attachment, attachments_of
from server.openai.client_tools import ClientToolUse, parse_client_tools
from server.sessions.ids import user_session

ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})


@dataclass(frozen=True, slots=True)
class PriorMessage:
    """A message the client sent before the current one (user or assistant text)."""

    role: str
    text: str


@dataclass(frozen=True, slots=True)
class ChatTurn:
    """What the agent runtime needs from one request."""

    model: str
    prompt: str  # the last user message, with system/developer text prepended
    user_text: str  # the last user message alone
    prior: list[PriorMessage] = field(default_factory=list)
    stream: bool = False
    include_usage: bool = False
    client: ClientToolUse | None = None  # the client's own tools, and results it sends back
    user_session: str | None = None  # a session from the body's ``user``, when it has one
    attachments: tuple[Attachment, ...] = ()  # images and PDFs of the last user message
    in_band_approvals: bool = False  # the client asks its user itself (Responses API)
    approvals: tuple[tuple[str, bool], ...] = ()  # its answers: (tool call id, approved)


def decode_body(raw: bytes) -> dict[str, Any]:
    """JSON object from the raw body; UTF-8 with or without BOM."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidRequest("The request body is not valid UTF-8.") from None
    if not text.strip():
        raise InvalidRequest("The request body is empty; send a JSON object.")
    try:
        body = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        detail = exc.msg if isinstance(exc, json.JSONDecodeError) else "nested too deeply"
        raise InvalidRequest(f"The request body is not valid JSON: {detail}.") from None
    except ValueError:  # Python's guard against quadratic int parsing: > 4,300 digits
        raise InvalidRequest("The request body has a number with too many digits.") from None
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    if SURROGATE_ESCAPE.search(text) and _has_lone_surrogate(body):
        raise InvalidRequest(
            "The request body has a string with a lone surrogate (an unpaired \\ud800-\\udfff "
            "escape), which is not Unicode text."
        )
    return body


# A JSON escape of a UTF-16 surrogate; paired ones decode to one character, lone ones
# stay in the string and cannot be encoded (to the provider, to SQLite) later.
SURROGATE_ESCAPE = re.compile(r"\\u[dD][89abcdefABCDEF]")


def _has_lone_surrogate(value: object) -> bool:
    """Walk the parsed body (only when the raw text has a surrogate escape)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def content_text(content: object, index: int) -> str:
    """The text of a message's content: a string, or the text parts of an array joined."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for part in content:
            if isinstance(part, str):
                texts.append(part)
            elif isinstance(part, dict) and part.get("type") == "text":
                text = part.get("text")
                if not isinstance(text, str):
                    raise InvalidRequest(
                        "A text content part needs a string 'text'.",
                        param=f"messages[{index}].content",
                    )
                texts.append(text)
            elif not isinstance(part, dict):
                raise InvalidRequest(
                    "Content parts must be objects.", param=f"messages[{index}].content"
                )
        return " ".join(texts)
    raise InvalidRequest(
        "Message content must be a string or an array of parts.",
        param=f"messages[{index}].content",
    )


def _flag(body: dict[str, Any], name: str) -> bool:
    value = body.get(name, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise InvalidRequest(f"'{name}' must be a boolean.", param=name)
    return value


def _include_usage(body: dict[str, Any]) -> bool:
    options = body.get("stream_options")
    if options is None:
        return False
    if not isinstance(options, dict):
        raise InvalidRequest("'stream_options' must be an object.", param="stream_options")
    value = options.get("include_usage", False)
    return bool(value) if isinstance(value, bool) else False


def _validated_messages(body: dict[str, Any]) -> list[tuple[str, str]]:
    messages = body.get("messages")
    if messages is None:
        raise InvalidRequest("'messages' is required.", param="messages")
    if not isinstance(messages, list):
        raise InvalidRequest("'messages' must be an array.", param="messages")
    if not messages:
        raise InvalidRequest("'messages' must not be empty.", param="messages")
    result = []
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise InvalidRequest("Each message must be an object.", param=f"messages[{i}]")
        role = message.get("role")
        if not isinstance(role, str) or role not in ROLES:
            raise InvalidRequest(
                f"messages[{i}].role must be one of {', '.join(sorted(ROLES))}.",
                param=f"messages[{i}].role",
            )
        text = content_text(message.get("content"), i)
        # Open WebUI sends its tool panels back inside the assistant's text: not for a model.
        result.append((role, without_details(text) if role == "assistant" else text))
    return result


def _has_attachment(body: dict[str, Any], index: int) -> bool:
    content = body["messages"][index].get("content")
    kinds = ("image_url", "file")
    return isinstance(content, list) and any(
        isinstance(p, dict) and p.get("type") in kinds for p in content
    )


def parse_model(body: dict[str, Any]) -> str:
    model = body.get("model")
    if model is None:
        raise InvalidRequest("'model' is required.", param="model")
    if not isinstance(model, str) or not model.strip():
        raise InvalidRequest("'model' must be a non-empty string.", param="model")
    return model.strip()


def parse_chat_turn(body: dict[str, Any], max_image_bytes: int = 20_000_000) -> ChatTurn:
    """The agent turn a request asks for; raises ``InvalidRequest`` with the offending param."""
    model = parse_model(body)
    stream = _flag(body, "stream")
    include_usage = _include_usage(body)
    messages = _validated_messages(body)

    last_user = max((i for i, (role, _) in enumerate(messages) if role == "user"), default=-1)
    if last_user < 0 or not (messages[last_user][1].strip() or _has_attachment(body, last_user)):
        raise InvalidRequest("The request has no user message text.", param="messages")
    system_text = "\n\n".join(
        text for role, text in messages if role in ("system", "developer") and text.strip()
    )
    user_text = messages[last_user][1]
    prompt = f"{system_text}\n\n{user_text}" if system_text else user_text
    client = parse_client_tools(body, body["messages"], [text for _, text in messages], last_user)
    first_user = next(text for role, text in messages if role == "user")
    raw_last = body["messages"][last_user].get("content")
    attachments = attachments_of(raw_last, last_user, max_image_bytes)
    prior = [
        PriorMessage(role, text)
        for role, text in messages[:last_user]
        if role in ("user", "assistant") and text.strip()
    ]
    return ChatTurn(
        model=model,
        prompt=prompt,
        user_text=user_text,
        prior=prior,
        stream=stream,
        include_usage=include_usage,
        client=client,
        user_session=user_session(body.get("user"), model, first_user),
        attachments=attachments,
    )
