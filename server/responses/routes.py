"""``POST /v1/responses`` and ``GET /v1/responses/{id}``: authenticate, parse, run, encode."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from server.openai.chat_request import decode_body
from server.openai.disconnect import unless_disconnected
from server.openai.routes import caller_of, read_body, requested_model
from server.openai.streaming import json_or_stream
from server.responses.service import ResponsesService
from server.status import note_request

router = APIRouter(prefix="/v1")


@router.post("/responses")
async def create_response(request: Request) -> Response:
    caller = caller_of(request)
    state = request.app.state.traymind
    raw = await read_body(request, state.generation.config.server.max_body_bytes)
    body = decode_body(raw)
    note_request(model=requested_model(body))
    return json_or_stream(
        await unless_disconnected(
            request, ResponsesService(state).create(body, caller, request.headers)
        ),
        state.generation.config.server.stream_keepalive_seconds,
    )


@router.get("/responses/{response_id}")
async def get_response(request: Request, response_id: str) -> JSONResponse:
    caller = caller_of(request)
    service = ResponsesService(request.app.state.traymind)
    return JSONResponse(await service.retrieve(response_id, caller))
