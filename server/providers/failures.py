"""A provider's failure as the error a client gets: one sentence, one status, on both paths.

The sentences name the agent and the provider URL, never a key; a provider
rejecting Traymind's credentials is a 502 (the client's own key was fine), a 429
keeps its ``Retry-After``. ``for_status`` maps an HTTP status for the direct path
and for pydantic-ai's ``ModelHTTPError`` alike, so the two cannot drift apart.
"""

from __future__ import annotations

from pydantic_ai import exceptions as pai

from server.errors import ProviderError, ProviderRateLimited, ProviderTimeout, TraymindError


def where(agent_id: str, base_url: str) -> str:
    """Who failed where: an agent (``general``), a team (``team/support``), or a part of
    Traymind named in words (``the embeddings relay``: ids never hold spaces)."""
    if " " in agent_id:
        who = agent_id[0].upper() + agent_id[1:]
    elif agent_id.startswith("team/"):
        who = f"Team '{agent_id.removeprefix('team/')}'"
    else:
        who = f"Agent '{agent_id}'"
    return f"{who} could not get an answer from its model provider at {base_url}"


def rate_limited(agent_id: str, base_url: str, retry_after: str | None) -> ProviderRateLimited:
    headers = {"Retry-After": retry_after} if retry_after else {}
    return ProviderRateLimited(
        f"{where(agent_id, base_url)}: the provider is rate limiting; try again later.",
        headers=headers,
    )


def timed_out(agent_id: str, base_url: str) -> ProviderTimeout:
    return ProviderTimeout(f"{where(agent_id, base_url)}: the provider timed out.")


def credentials_rejected(agent_id: str, base_url: str) -> ProviderError:
    return ProviderError(
        f"{where(agent_id, base_url)}: the provider rejected Traymind's credentials; "
        "check the model's api_key_env or api_key_keyring."
    )


def unreachable(agent_id: str, base_url: str) -> ProviderError:
    return ProviderError(f"{where(agent_id, base_url)}: the provider cannot be reached.")


def http_status(agent_id: str, base_url: str, status: int) -> ProviderError:
    return ProviderError(f"{where(agent_id, base_url)}: the provider answered HTTP {status}.")


def unreadable(agent_id: str, base_url: str) -> ProviderError:
    return ProviderError(
        f"{where(agent_id, base_url)}: the provider sent an answer Traymind could not read."
    )


def for_status(
    agent_id: str, base_url: str, status: int, retry_after: str | None = None
) -> TraymindError:
    """An HTTP error status from the provider."""
    if status == 429:
        return rate_limited(agent_id, base_url, retry_after)
    if status in (401, 403):
        return credentials_rejected(agent_id, base_url)
    return http_status(agent_id, base_url, status)


def from_model_error(exc: BaseException, agent_id: str, base_url: str) -> TraymindError:
    """pydantic-ai's model errors (and its SDKs' through it) as the same failures."""
    if isinstance(exc, pai.ModelHTTPError):
        headers = {k.lower(): v for k, v in (exc.headers or {}).items()}
        retry_after = headers.get("retry-after") or _seconds(getattr(exc, "retry_after", None))
        return for_status(agent_id, base_url, exc.status_code, retry_after)
    if isinstance(exc, pai.ModelRateLimitError):
        return rate_limited(agent_id, base_url, _seconds(getattr(exc, "retry_after", None)))
    if isinstance(exc, pai.ModelTimeoutError | pai.ModelRequestTimeout):
        return timed_out(agent_id, base_url)
    if isinstance(exc, pai.ModelAuthenticationError):
        return credentials_rejected(agent_id, base_url)
    if isinstance(exc, pai.ModelConnectionError):
        return unreachable(agent_id, base_url)
    if isinstance(exc, pai.UnexpectedModelBehavior | pai.ModelAPIError):
        return unreadable(agent_id, base_url)
    return ProviderError(f"{where(agent_id, base_url)}: {type(exc).__name__}.")


def _seconds(value: object) -> str | None:
    return str(max(1, round(value))) if isinstance(value, int | float) and value else None
