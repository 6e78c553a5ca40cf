"""Provider names MindRoom configs use, mapped onto Traymind's two providers.

Traymind talks to ``openai`` (any OpenAI-compatible endpoint) and ``anthropic``.
Ollama, OpenRouter, Groq, Cerebras, DeepSeek and Gemini all serve an
OpenAI-compatible API, so a MindRoom model entry naming them still works: it
becomes ``openai`` with that service's endpoint and usual key variable.
"""

from __future__ import annotations

from dataclasses import dataclass

PROVIDERS: tuple[str, ...] = ("openai", "anthropic")

OLLAMA_DEFAULT_HOST = "http://localhost:11434"


@dataclass(frozen=True, slots=True)
class CompatibleService:
    """An OpenAI-compatible service: its endpoint and the env var its key usually lives in."""

    base_url: str
    api_key_env: str | None


SERVICES: dict[str, CompatibleService] = {
    "ollama": CompatibleService(f"{OLLAMA_DEFAULT_HOST}/v1", None),
    "openrouter": CompatibleService("https://openrouter.ai/api/v1", "OPENROUTER_API_KEY"),
    "groq": CompatibleService("https://api.groq.com/openai/v1", "GROQ_API_KEY"),
    "cerebras": CompatibleService("https://api.cerebras.ai/v1", "CEREBRAS_API_KEY"),
    "deepseek": CompatibleService("https://api.deepseek.com/v1", "DEEPSEEK_API_KEY"),
    "google": CompatibleService(
        "https://generativelanguage.googleapis.com/v1beta/openai", "GOOGLE_API_KEY"
    ),
    "gemini": CompatibleService(
        "https://generativelanguage.googleapis.com/v1beta/openai", "GOOGLE_API_KEY"
    ),
}


def ollama_base_url(host: str) -> str:
    """MindRoom's Ollama ``host`` (``http://box:11434``) as its OpenAI-compatible base URL."""
    host = host.rstrip("/")
    return host if host.endswith("/v1") else f"{host}/v1"


def translate_provider(data: dict[str, object]) -> dict[str, object]:
    """A model mapping with a MindRoom provider name (and ``host``) rewritten for Traymind."""
    data = dict(data)
    provider = data.get("provider")
    host = data.pop("host", None)
    name = provider.lower() if isinstance(provider, str) else ""
    service = SERVICES.get(name)
    if not isinstance(host, str) or not host.strip():
        host = None
    if service is not None:
        data["provider"] = "openai"
        if not data.get("api_key_env"):
            data["api_key_env"] = service.api_key_env
    if not data.get("base_url"):
        if host and name == "ollama":
            data["base_url"] = ollama_base_url(host)
        elif host:
            data["base_url"] = host
        elif service is not None:
            data["base_url"] = service.base_url
    return data
