"""pydantic-ai's model errors turned into our domain errors, with a sentence a user can act on.

Messages name the agent and the provider URL, never a key. The client's own key
was fine, so a provider rejecting *our* credentials is a 502, never a 401.
"""

from __future__ import annotations

from pydantic_ai import exceptions as pai

from server.errors import ProviderError, ProviderRateLimited, ProviderTimeout, TraymindError


def provider_error(exc: BaseException, agent_id: str, base_url: str) -> TraymindError:
    where = f"Agent '{agent_id}' could not get an answer from its model provider at {base_url}"
    if isinstance(exc, pai.ModelRateLimitError) or (
        isinstance(exc, pai.ModelHTTPError) and exc.status_code == 429
    ):
        retry_after = getattr(exc, "retry_after", None)
        headers = {"Retry-After": str(max(1, round(retry_after)))} if retry_after else {}
        if isinstance(exc, pai.ModelHTTPError) and exc.headers:
            raw = {k.lower(): v for k, v in exc.headers.items()}.get("retry-after")
            if raw:
                headers = {"Retry-After": raw}
        return ProviderRateLimited(
            f"{where}: the provider is rate limiting; try again later.", headers=headers
        )
    if isinstance(exc, pai.ModelTimeoutError | pai.ModelRequestTimeout):
        return ProviderTimeout(f"{where}: the provider timed out.")
    if isinstance(exc, pai.ModelAuthenticationError) or (
        isinstance(exc, pai.ModelHTTPError) and exc.status_code in (401, 403)
    ):
        return ProviderError(
            f"{where}: the provider rejected Traymind's credentials; check the model's api_key_env."
        )
    if isinstance(exc, pai.ModelConnectionError):
        return ProviderError(f"{where}: the provider cannot be reached.")
    if isinstance(exc, pai.ModelHTTPError):
        return ProviderError(f"{where}: the provider answered HTTP {exc.status_code}.")
    if isinstance(exc, pai.UnexpectedModelBehavior | pai.ModelAPIError):
        return ProviderError(f"{where}: the provider sent an answer Traymind could not read.")
    return ProviderError(f"{where}: {type(exc).__name__}.")
