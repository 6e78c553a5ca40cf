"""Ready-to-paste setup for coding tools: Continue, Cline, Aider, Zed, Claude Code, Codex CLI.

The first four speak chat completions and send their own tools, which agents can call
(``docs/api.md``, Client tools). Claude Code speaks the Anthropic Messages API
(``/v1/messages``, so its base URL has no ``/v1``), Codex CLI the Responses API. Each
snippet carries the ``sk-tm-...`` placeholder the Welcome window fills with a new key.
"""

from __future__ import annotations

from app.chat_snippets import Pairing

KEY = "sk-tm-..."


def _agent(p: Pairing) -> str:
    return p.agents[0] if p.agents else "general"


def continue_text(p: Pairing) -> str:
    return (
        "# Continue: add to ~/.continue/config.yaml (or the workspace's .continue/)\n"
        "models:\n"
        f"  - name: Traymind {_agent(p)}\n"
        "    provider: openai\n"
        f"    model: {_agent(p)}\n"
        f"    apiBase: {p.base_url}\n"
        f"    apiKey: {KEY}\n"
        "    roles: [chat, edit, apply]\n"
    )


def cline_text(p: Pairing) -> str:
    return (
        "Cline: Settings → API Configuration\n\n"
        "  API Provider:  OpenAI Compatible\n"
        f"  Base URL:      {p.base_url}\n"
        f"  API Key:       {KEY}\n"
        f"  Model ID:      {_agent(p)}   (an agent id, or auto)\n"
    )


def aider_text(p: Pairing) -> str:
    return (
        "# Aider: the openai/ prefix means any OpenAI-compatible server\n"
        f"export OPENAI_API_BASE={p.base_url}\n"
        f"export OPENAI_API_KEY={KEY}\n"
        f"aider --model openai/{_agent(p)}\n"
    )


def zed_text(p: Pairing) -> str:
    return (
        "// Zed: add to settings.json, then give the key in the Agent panel's settings\n"
        '"language_models": {\n'
        '  "openai_compatible": {\n'
        '    "Traymind": {\n'
        f'      "api_url": "{p.base_url}",\n'
        '      "available_models": [\n'
        f'        {{"name": "{_agent(p)}", "display_name": "Traymind {_agent(p)}", '
        '"max_tokens": 32768}\n'
        "      ]\n"
        "    }\n"
        "  }\n"
        "}\n"
        f"// Key: {KEY}\n"
    )


def claude_code_text(p: Pairing) -> str:
    root = p.base_url.removesuffix("/v1")
    return (
        "# Claude Code: the Anthropic Messages API at Traymind's root (no /v1)\n"
        f"export ANTHROPIC_BASE_URL={root}\n"
        f"export ANTHROPIC_AUTH_TOKEN={KEY}\n"
        f"export ANTHROPIC_MODEL={_agent(p)}\n"
        "claude\n\n"
        "# Claude Code also asks for claude-… models by name (its background tasks);\n"
        "# send them to an agent in Traymind's config.yaml:\n"
        "#   server:\n"
        '#     model_aliases: {"claude-*": ' + _agent(p) + "}\n"
    )


def codex_text(p: Pairing) -> str:
    return (
        "# Codex CLI: add to ~/.codex/config.toml (it speaks the Responses API)\n"
        f'model = "{_agent(p)}"\n'
        'model_provider = "traymind"\n\n'
        "[model_providers.traymind]\n"
        'name = "Traymind"\n'
        f'base_url = "{p.base_url}"\n'
        'env_key = "TRAYMIND_API_KEY"\n'
        'wire_api = "responses"\n\n'
        f"# then: export TRAYMIND_API_KEY={KEY}\n"
    )
