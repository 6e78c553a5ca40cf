"""Anthropic's error shape, ``{"type": "error", "error": {"type", "message"}}``, by status.

The Messages paths answer in it because the ``anthropic`` SDK and Claude Code read
it (the SDK picks its exception class from the status and shows ``error.message``).
"""

from __future__ import annotations

from fastapi.responses import JSONResponse

from server.anthropic.encoding import error_payload

MESSAGES_PATHS = ("/v1/messages",)

_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    503: "overloaded_error",
    529: "overloaded_error",
}


def error_type(status: int) -> str:
    if status in _TYPES:
        return _TYPES[status]
    return "invalid_request_error" if 400 <= status < 500 else "api_error"


def speaks_anthropic(path: str) -> bool:
    """Whether a request path is one of the Messages API's."""
    return any(path == p or path.startswith(p + "/") for p in MESSAGES_PATHS)


def anthropic_error_response(
    status: int, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        error_payload(error_type(status), message), status_code=status, headers=headers
    )
