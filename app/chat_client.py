"""The chat window's client of Traymind's ``/v1`` API: models, a streamed answer, errors.

It speaks the API as any chat app does (``GET /v1/models``, ``POST /v1/chat/completions``
with ``stream: true`` and ``stream_options.include_usage``, an ``X-Session-Id``), so the
window shows what a chat app would see. Calls block: the window runs them off the GUI
thread. Every failure becomes ``ChatError`` carrying one sentence for a person.

No Qt here. The credential is an ``Authorization`` value handed in by the caller
(``app.chat_access``); it is never logged nor part of any message or ``repr``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from server.providers.tls import tls_context

CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 180.0  # longer than a provider's default time limit (120 s)
MODELS_TIMEOUT = 10.0


class ChatError(Exception):
    """A failed call; ``str()`` is a sentence for the window, ``status`` the HTTP one if any."""

    def __init__(self, sentence: str, status: int | None = None) -> None:
        super().__init__(sentence)
        self.status = status


@dataclass(frozen=True, slots=True)
class Connection:
    """Where the server is and the credential to send; ``repr`` hides the credential."""

    base_url: str  # ends with /v1
    authorization: str | None = field(default=None, repr=False)

    def headers(self, session_id: str | None = None) -> dict[str, str]:
        headers = {"Authorization": self.authorization} if self.authorization else {}
        if session_id:
            headers["X-Session-Id"] = session_id
        return headers


@dataclass(frozen=True, slots=True)
class ModelChoice:
    """One entry of ``GET /v1/models``: ``auto``, an agent, or ``team/<name>``."""

    id: str
    name: str = ""
    description: str = ""

    @property
    def label(self) -> str:
        if self.id == "auto":
            return "auto: Traymind picks the agent"
        title = self.name if self.name and self.name != self.id else ""
        about = ": ".join(part for part in (title, self.description) if part)
        return f"{self.id} ({about})" if about else self.id


@dataclass(frozen=True, slots=True)
class Delta:
    """A piece of the answer, and the model the server says answered (``auto`` resolved)."""

    text: str
    model: str


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int

    @property
    def text(self) -> str:
        return (
            f"{self.prompt_tokens} prompt + {self.completion_tokens} completion = "
            f"{self.total_tokens} tokens"
        )


ChatEvent = Delta | Usage


def _error_message(response: httpx.Response) -> str:
    try:
        error = response.json().get("error") or {}
        message = error.get("message") if isinstance(error, dict) else None
    except (ValueError, AttributeError):
        message = None
    return str(message).strip() if message else ""


def describe_status(status: int, message: str, model: str, retry_after: str | None) -> str:
    """An HTTP error from Traymind as one sentence (the server's own sentence kept)."""
    said = f" {message}" if message else ""
    if status == 401:
        return f"Traymind refused the chat window's credentials (401).{said}"
    if status == 404 and not model:
        return f"Traymind does not know this address (404).{said}"
    if status == 404:
        return (
            f"There is no agent “{model}” any more (404): the config changed. "
            "Choose another one from the list."
        )
    if status == 429:
        wait = f" Try again in {retry_after} seconds." if retry_after else " Try again shortly."
        return f"Too many requests right now (429).{said}{wait}"
    if status == 503:
        return f"No model is connected (503).{said} Choose “Models…” in the menu to connect one."
    if status == 504:
        return f"The model provider took too long to answer (504).{said}"
    if status >= 500:
        return f"The model provider failed ({status}).{said}"
    return f"Traymind did not accept the message ({status}).{said}"


def _transport_error(exc: httpx.HTTPError, base_url: str) -> ChatError:
    if isinstance(exc, httpx.ConnectError):
        return ChatError(
            f"Traymind's server does not answer at {base_url}: start it from the menu."
        )
    if isinstance(exc, httpx.TimeoutException):
        return ChatError("No answer from Traymind in time; the model may be overloaded.")
    return ChatError("The connection to Traymind broke before the answer was complete.")


def list_models(connection: Connection) -> list[ModelChoice]:
    """``GET /v1/models``: what the window can talk to."""
    try:
        response = httpx.get(
            f"{connection.base_url}/models",
            headers=connection.headers(),
            timeout=MODELS_TIMEOUT,
            trust_env=False,
            verify=tls_context(),
        )
    except httpx.HTTPError as exc:
        raise _transport_error(exc, connection.base_url) from None
    if response.status_code != 200:
        raise ChatError(
            describe_status(
                response.status_code,
                _error_message(response),
                "",
                response.headers.get("retry-after"),
            ),
            response.status_code,
        )
    try:
        data = response.json().get("data") or []
    except (ValueError, AttributeError):
        raise ChatError("Traymind answered the model list with something unreadable.") from None
    return [
        ModelChoice(str(m["id"]), str(m.get("name") or ""), str(m.get("description") or ""))
        for m in data
        if isinstance(m, dict) and m.get("id")
    ]


def chat_body(model: str, messages: Sequence[Mapping[str, str]]) -> dict[str, Any]:
    return {
        "model": model,
        "messages": [dict(m) for m in messages],
        "stream": True,
        "stream_options": {"include_usage": True},
    }


def _chunk_events(chunk: dict[str, Any]) -> Iterator[ChatEvent]:
    error = chunk.get("error")
    if error:
        message = error.get("message") if isinstance(error, dict) else str(error)
        raise ChatError(f"The answer failed: {message}")
    model = str(chunk.get("model") or "")
    for choice in chunk.get("choices") or []:
        content = (choice.get("delta") or {}).get("content")
        if content:
            yield Delta(str(content), model)
    usage = chunk.get("usage")
    if isinstance(usage, dict):
        prompt = int(usage.get("prompt_tokens") or 0)
        completion = int(usage.get("completion_tokens") or 0)
        yield Usage(prompt, completion, int(usage.get("total_tokens") or prompt + completion))


def stream_chat(
    connection: Connection,
    model: str,
    messages: Sequence[Mapping[str, str]],
    session_id: str,
    cancelled: Callable[[], bool] = lambda: False,
) -> Iterator[ChatEvent]:
    """The answer's events as they stream in; stops early once ``cancelled()`` holds."""
    timeout = httpx.Timeout(READ_TIMEOUT, connect=CONNECT_TIMEOUT)
    url = f"{connection.base_url}/chat/completions"
    done = False
    try:
        with (
            httpx.Client(timeout=timeout, trust_env=False, verify=tls_context()) as client,
            client.stream(
                "POST", url, json=chat_body(model, messages), headers=connection.headers(session_id)
            ) as response,
        ):
            if response.status_code != 200:
                response.read()
                raise ChatError(
                    describe_status(
                        response.status_code,
                        _error_message(response),
                        model,
                        response.headers.get("retry-after"),
                    ),
                    response.status_code,
                )
            for line in response.iter_lines():
                if cancelled():
                    return
                if not line.startswith("data:"):
                    continue
                data = line.removeprefix("data:").strip()
                if data == "[DONE]":
                    done = True
                    break
                try:
                    chunk = json.loads(data)
                except ValueError:
                    raise ChatError(
                        "Traymind sent a piece of the answer that is not JSON."
                    ) from None
                if isinstance(chunk, dict):
                    yield from _chunk_events(chunk)
    except httpx.HTTPError as exc:
        if cancelled():
            return
        raise _transport_error(exc, connection.base_url) from None
    if not done and not cancelled():
        raise ChatError("The answer was cut off: the stream ended before it was complete.")
