"""Every failure of ``/v1`` as ``{"error": {message, type, param, code}}``, in one place.

The Messages API's paths (``/v1/messages``) answer in Anthropic's shape instead, from
the same handlers: its clients read nothing else.
"""

from __future__ import annotations

import json
import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from server.anthropic.encoding import error_payload
from server.anthropic.errors import anthropic_error_response, error_type, speaks_anthropic
from server.errors import TraymindError
from server.openai.wire import ErrorBody, ErrorResponse

log = logging.getLogger(__name__)

_STATUS_TYPES = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    403: "invalid_request_error",
    404: "invalid_request_error",
    405: "invalid_request_error",
    408: "invalid_request_error",
    413: "invalid_request_error",
    415: "invalid_request_error",
    421: "invalid_request_error",
    431: "invalid_request_error",
    429: "rate_limit_error",
}


def error_response(
    status: int,
    message: str,
    *,
    type_: str | None = None,
    param: str | None = None,
    code: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = ErrorResponse(
        error=ErrorBody(
            message=message,
            type=type_ or _STATUS_TYPES.get(status, "server_error"),
            param=param,
            code=code,
        )
    )
    return JSONResponse(body.model_dump(), status_code=status, headers=headers)


def error_json(status: int, message: str, *, code: str | None = None, path: str = "") -> bytes:
    """The same body as raw bytes, for layers below FastAPI (the host and connection guards)."""
    if speaks_anthropic(path):
        return json.dumps(error_payload(error_type(status), message)).encode()
    body = ErrorResponse(
        error=ErrorBody(
            message=message, type=_STATUS_TYPES.get(status, "server_error"), param=None, code=code
        )
    )
    return body.model_dump_json().encode()


def _answer(
    request: Request,
    status: int,
    message: str,
    *,
    param: str | None = None,
    code: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    if speaks_anthropic(request.url.path):
        return anthropic_error_response(status, message, headers)
    return error_response(status, message, param=param, code=code, headers=headers)


def from_exception(exc: TraymindError) -> JSONResponse:
    return error_response(
        exc.status,
        exc.message,
        type_=exc.type,
        param=exc.param,
        code=exc.code,
        headers=exc.headers,
    )


async def _traymind_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, TraymindError)
    if speaks_anthropic(request.url.path):
        return anthropic_error_response(exc.status, exc.message, exc.headers)
    return from_exception(exc)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 404:
        return _answer(request, 404, "Unknown path. See GET /v1/models.", code="not_found")
    if exc.status_code == 405:
        message = "Method not allowed on this path."
        return _answer(request, 405, message, code="method_not_allowed")
    return _answer(request, exc.status_code, str(exc.detail), headers=exc.headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {}
    loc = [str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path")]
    message = f"Invalid request: {first.get('msg', 'bad input')}"
    return _answer(request, 400, message, param=".".join(loc) or None)


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return _answer(request, 500, "Internal error in Traymind; see its log for details.")


async def _client_disconnect(request: Request, exc: Exception) -> Response:
    """The client left while sending its body: one line, nothing to answer to."""
    peer = request.client.host if request.client else "unknown"
    log.info("client %s disconnected while sending %s %s", peer, request.method, request.url.path)
    return Response(status_code=400)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ClientDisconnect, _client_disconnect)
    app.add_exception_handler(TraymindError, _traymind_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected_error)
