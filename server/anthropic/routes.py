"""``POST /v1/messages`` and ``/v1/messages/count_tokens``: authenticate, parse, run, encode.

Anthropic clients send their key as ``x-api-key`` (the SDK) or as a bearer token
(Claude Code with ``ANTHROPIC_AUTH_TOKEN``); either is one of Traymind's client keys.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from server.anthropic.request import estimate_tokens
from server.anthropic.service import MessagesService
from server.chat.service import Caller
from server.openai.chat_request import decode_body
from server.openai.disconnect import unless_disconnected
from server.openai.routes import read_body, requested_model
from server.openai.streaming import json_or_stream
from server.state import ServerState
from server.status import note_request

router = APIRouter(prefix="/v1")


def _caller(request: Request) -> tuple[ServerState, Caller]:
    state: ServerState = request.app.state.traymind
    headers = request.headers
    authorization = headers.get("authorization")
    if authorization is None and headers.get("x-api-key"):
        authorization = f"Bearer {headers['x-api-key']}"
    peer = request.client.host if request.client else None
    identity = state.authenticator.authenticate(authorization, peer, headers.get("host"))
    note_request(namespace=identity.namespace, key_source=identity.source)
    return state, Caller(identity.namespace, identity.source)


@router.post("/messages")
async def create_message(request: Request) -> Response:
    state, caller = _caller(request)
    raw = await read_body(request, state.generation.config.server.max_body_bytes)
    body = decode_body(raw)
    note_request(model=requested_model(body))
    return json_or_stream(
        await unless_disconnected(
            request, MessagesService(state).create(body, caller, request.headers)
        ),
        state.generation.config.server.stream_keepalive_seconds,
    )


@router.post("/messages/count_tokens")
async def count_tokens(request: Request) -> JSONResponse:
    state, _ = _caller(request)
    raw = await read_body(request, state.generation.config.server.max_body_bytes)
    return JSONResponse({"input_tokens": estimate_tokens(decode_body(raw))})
