"""The sentences a provider failure becomes, shared by the agent runtime and the direct path.

They name the agent and the provider URL, never a key; a provider rejecting
Traymind's credentials is a 502 (the client's own key was fine), a 429 keeps its
``Retry-After``.
"""

from __future__ import annotations

from server.errors import ProviderError, ProviderRateLimited, ProviderTimeout


def where(agent_id: str, base_url: str) -> str:
    return f"Agent '{agent_id}' could not get an answer from its model provider at {base_url}"


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
        "check the model's api_key_env."
    )


def unreachable(agent_id: str, base_url: str) -> ProviderError:
    return ProviderError(f"{where(agent_id, base_url)}: the provider cannot be reached.")


def http_status(agent_id: str, base_url: str, status: int) -> ProviderError:
    return ProviderError(f"{where(agent_id, base_url)}: the provider answered HTTP {status}.")


def unreadable(agent_id: str, base_url: str) -> ProviderError:
    return ProviderError(
        f"{where(agent_id, base_url)}: the provider sent an answer Traymind could not read."
    )
