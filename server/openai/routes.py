"""The ``/v1`` routes: authenticate, parse, call one service, serialize."""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from server.agents.model_config import resolve_model_config
from server.chat.service import Caller, ChatService
from server.config import ModelConfig
from server.embeddings.relay import parse_embeddings, relay_embeddings
from server.errors import NotFound, PayloadTooLarge
from server.openai.chat_request import decode_body
from server.openai.disconnect import unless_disconnected
from server.openai.request_schema import CHAT_COMPLETIONS_OPENAPI, MODELS_OPENAPI
from server.openai.streaming import EventStreamResponse
from server.openai.wire import ModelList
from server.state import ServerState
from server.status import note_request

router = APIRouter(prefix="/v1")


def _state(request: Request) -> ServerState:
    return request.app.state.traymind


def caller_of(request: Request) -> Caller:
    """Who is asking, from the bearer key (401 without a valid one, unless open locally)."""
    state = _state(request)
    peer = request.client.host if request.client else None
    headers = request.headers
    identity = state.authenticator.authenticate(
        headers.get("authorization"), peer, headers.get("host")
    )
    note_request(namespace=identity.namespace, key_source=identity.source)
    return Caller(identity.namespace, identity.source)


def requested_model(body: dict[str, object]) -> str:
    """The body's model, as Recent requests shows it (cut: it is the client's text)."""
    model = body.get("model")
    return model[:100] if isinstance(model, str) else ""


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, refused with a 413 as soon as it passes ``limit``."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"The request body is larger than {limit} bytes.")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"The request body is larger than {limit} bytes.")
        chunks.append(chunk)
    return b"".join(chunks)


@router.get("/models", openapi_extra=MODELS_OPENAPI)
async def list_models(request: Request) -> Response:
    caller_of(request)
    cards = _state(request).generation.catalog.cards()
    return Response(ModelList(data=cards).model_dump_json(), media_type="application/json")


@router.get("/models/{model_id:path}", openapi_extra=MODELS_OPENAPI)
async def get_model(request: Request, model_id: str) -> Response:
    caller_of(request)
    card = _state(request).generation.catalog.card(model_id)
    return Response(card.model_dump_json(), media_type="application/json")


@router.post("/chat/completions", openapi_extra=CHAT_COMPLETIONS_OPENAPI)
async def chat_completions(request: Request) -> Response:
    caller = caller_of(request)
    state = _state(request)
    raw = await read_body(request, state.generation.config.server.max_body_bytes)
    body = decode_body(raw)
    note_request(model=requested_model(body))
    result = await unless_disconnected(
        request, ChatService(state).complete(body, caller, request.headers)
    )
    if isinstance(result, AsyncIterator):
        return EventStreamResponse(result, state.generation.config.server.stream_keepalive_seconds)
    return Response(result.model_dump_json(), media_type="application/json")


@router.post("/embeddings")
async def embeddings(request: Request) -> Response:
    caller_of(request)
    state = _state(request)
    raw = await read_body(request, state.generation.config.server.max_body_bytes)
    requested, body = parse_embeddings(decode_body(raw))
    model = await _embeddings_model(state)
    answer = await relay_embeddings(state.direct.http_client(model), model, requested, body)
    return JSONResponse(answer)


async def _embeddings_model(state: ServerState) -> ModelConfig:
    """``embeddings.model`` of config.yaml, else the default model (configured or detected)."""
    generation = state.generation
    config = generation.config
    if config.embeddings_model is not None:
        return config.embeddings_model
    default = await generation.runtime.resolved_default()
    return resolve_model_config(config, default, "default")


@router.api_route(
    "/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False
)
async def unknown_path(request: Request, path: str) -> JSONResponse:
    caller_of(request)
    raise NotFound(
        f"Unknown path /v1/{path}. Traymind serves /v1/models, /v1/chat/completions, "
        "/v1/embeddings, /v1/responses, /v1/messages and the other endpoints listed in "
        "its docs/api.md."
    )
