"""pydantic-ai's model errors turned into our domain errors (sentences in provider_failures)."""

from __future__ import annotations

from pydantic_ai import exceptions as pai

from server.agents import provider_failures as fail
from server.errors import ProviderError, TraymindError


def provider_error(exc: BaseException, agent_id: str, base_url: str) -> TraymindError:
    if isinstance(exc, pai.ModelRateLimitError) or (
        isinstance(exc, pai.ModelHTTPError) and exc.status_code == 429
    ):
        retry_after = getattr(exc, "retry_after", None)
        value = str(max(1, round(retry_after))) if retry_after else None
        if isinstance(exc, pai.ModelHTTPError) and exc.headers:
            value = {k.lower(): v for k, v in exc.headers.items()}.get("retry-after") or value
        return fail.rate_limited(agent_id, base_url, value)
    if isinstance(exc, pai.ModelTimeoutError | pai.ModelRequestTimeout):
        return fail.timed_out(agent_id, base_url)
    if isinstance(exc, pai.ModelAuthenticationError) or (
        isinstance(exc, pai.ModelHTTPError) and exc.status_code in (401, 403)
    ):
        return fail.credentials_rejected(agent_id, base_url)
    if isinstance(exc, pai.ModelConnectionError):
        return fail.unreachable(agent_id, base_url)
    if isinstance(exc, pai.ModelHTTPError):
        return fail.http_status(agent_id, base_url, exc.status_code)
    if isinstance(exc, pai.UnexpectedModelBehavior | pai.ModelAPIError):
        return fail.unreadable(agent_id, base_url)
    return ProviderError(f"{fail.where(agent_id, base_url)}: {type(exc).__name__}.")
