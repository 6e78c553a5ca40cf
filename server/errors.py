"""Domain errors raised by services; ``server.openai.errors`` maps them to OpenAI shapes.

Each error carries the HTTP status and OpenAI ``type``/``code`` it becomes, and a
message that is safe to show a user: no traceback, no key.
"""

from __future__ import annotations


class TraymindError(Exception):
    """An error with a user-facing sentence and its OpenAI wire mapping."""

    status: int = 500
    type: str = "server_error"
    code: str | None = None

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        if code is not None:
            self.code = code
        self.headers = headers or {}


class InvalidRequest(TraymindError):
    status = 400
    type = "invalid_request_error"


class AuthenticationFailed(TraymindError):
    status = 401
    type = "invalid_request_error"
    code = "invalid_api_key"


class PermissionDenied(TraymindError):
    status = 403
    type = "invalid_request_error"
    code = "permission_denied"


class NotFound(TraymindError):
    status = 404
    type = "invalid_request_error"
    code = "not_found"


class ModelNotFound(NotFound):
    code = "model_not_found"


class UnsupportedWorkerScope(InvalidRequest):
    code = "unsupported_worker_scope"


class PayloadTooLarge(TraymindError):
    status = 413
    type = "invalid_request_error"
    code = "request_too_large"


class RateLimited(TraymindError):
    status = 429
    type = "rate_limit_error"
    code = "rate_limit_exceeded"


class ProviderError(TraymindError):
    """The LLM provider failed: unreachable, 5xx, garbage, or rejected our credentials."""

    status = 502
    type = "server_error"
    code = "provider_error"


class ProviderTimeout(ProviderError):
    status = 504
    code = "provider_timeout"


class ProviderRateLimited(ProviderError):
    status = 429
    type = "rate_limit_error"
    code = "rate_limit_exceeded"


class NoProvider(TraymindError):
    """No model is configured or detected for the agent."""

    status = 503
    type = "server_error"
    code = "no_provider"


class Overloaded(TraymindError):
    status = 429
    type = "rate_limit_error"
    code = "server_overloaded"
