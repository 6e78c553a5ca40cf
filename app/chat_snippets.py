"""Ready-to-paste setup for chat apps: LibreChat, Open WebUI, the OpenAI SDK.

Plain text from a few facts (port, listen address, agent ids), no Qt, so tests can
parse what a user would paste. The LibreChat endpoint sends the conversation id as
``X-Session-Id`` (LibreChat fills the template), titles with the chat's own model,
and drops the parameters Traymind's agents do not take. It comes as the entry to add
under ``endpoints: custom:`` of an existing librechat.yaml (pasting a whole file's
``version:`` and ``endpoints:`` into one would repeat those keys), and as a whole file
for a new one. Docker commands appear only when the chat app runs in Docker, and then
with what Traymind's listen address means for it.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

import yaml

from server.runner import url_host
from server.security.host_guard import is_loopback_host

DOCKER_HOST = "host.docker.internal"
DOCKER_BRIDGE = "172.17.0.1"
DROP_PARAMS = ("stop", "user", "frequency_penalty", "presence_penalty")
SESSION_HEADER_TEMPLATE = "{{LIBRECHAT_BODY_CONVERSATIONID}}"


@dataclass(frozen=True, slots=True)
class Pairing:
    """What the snippets need to know about the running server."""

    host: str
    port: int
    agents: tuple[str, ...]
    docker: bool = False

    @property
    def base_url(self) -> str:
        if self.docker:
            return f"http://{DOCKER_HOST}:{self.port}/v1"
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        return f"http://{url_host(host)}:{self.port}/v1"

    @property
    def loopback_only(self) -> bool:
        return is_loopback_host(self.host)


def _librechat_endpoint(p: Pairing) -> dict[str, object]:
    return {
        "name": "Traymind",
        "apiKey": "${TRAYMIND_API_KEY}",
        "baseURL": p.base_url,
        "models": {"default": list(p.agents) or ["general"], "fetch": True},
        "titleConvo": True,
        "titleModel": "current_model",
        "modelDisplayLabel": "Traymind",
        "headers": {"X-Session-Id": SESSION_HEADER_TEMPLATE},
        "dropParams": list(DROP_PARAMS),
    }


def _dump(data: object) -> str:
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=None, width=100)


def librechat_entry(p: Pairing) -> str:
    """The custom endpoint alone, indented to go under ``endpoints:`` → ``custom:``."""
    entry = "".join(f"    {line}\n" for line in _dump([_librechat_endpoint(p)]).splitlines())
    return (
        "# Add this under endpoints: → custom: in your librechat.yaml (keep the rest).\n"
        "# Put your key in LibreChat's .env: TRAYMIND_API_KEY=sk-tm-...\n"
        "# No librechat.yaml yet? The “LibreChat (new file)” tab has a whole one.\n" + entry
    )


def librechat_yaml(p: Pairing) -> str:
    """A complete ``librechat.yaml`` with Traymind as its custom endpoint."""
    body = _dump({"version": "1.2.1", "endpoints": {"custom": [_librechat_endpoint(p)]}})
    return (
        "# librechat.yaml: a custom endpoint for Traymind.\n"
        "# Put your key in LibreChat's .env: TRAYMIND_API_KEY=sk-tm-...\n"
        "# (create one in Traymind's API keys… window).\n" + body
    )


def loopback_warning(p: Pairing) -> str:
    """For a chat app in Docker: can it reach Traymind where Traymind listens?"""
    if p.loopback_only:
        text = (
            f"⚠ Traymind listens on {p.host} only (this computer, not its containers), so a "
            "container cannot reach it yet. On Linux, choose all interfaces (0.0.0.0) or the "
            f"Docker bridge address (usually {DOCKER_BRIDGE}) as the listen address in "
            "Settings…; every request then needs an API key. (Docker Desktop on macOS and "
            f"Windows forwards {DOCKER_HOST} to this computer as it is.)"
        )
    else:
        text = f"Traymind listens on {p.host}, so containers can reach it (with an API key)."
    return textwrap.fill(text, width=86) + "\n"


def openwebui_text(p: Pairing) -> str:
    head = (
        "Open WebUI: Admin Panel → Settings → Connections → OpenAI API → Add connection\n\n"
        f"  URL:  {p.base_url}\n"
        "  Key:  an API key from Traymind's API keys… window\n\n"
        "Start Open WebUI with this environment variable, so it sends each chat's id\n"
        "and every chat keeps its own session in Traymind:\n\n"
        "  ENABLE_FORWARD_USER_INFO_HEADERS=true\n\n"
    )
    if not p.docker:
        return head + (
            "For example, installed with pip on this computer:\n"
            "  ENABLE_FORWARD_USER_INFO_HEADERS=true open-webui serve\n\n"
            "(Open WebUI in Docker? Tick the box above for its URL and command.)\n"
        )
    return (
        head + "For example:\n"
        "  docker run -d -p 3000:8080 -e ENABLE_FORWARD_USER_INFO_HEADERS=true \\\n"
        f"    --add-host={DOCKER_HOST}:host-gateway ghcr.io/open-webui/open-webui:main\n\n"
        + loopback_warning(p)
    )


def sdk_text(p: Pairing) -> str:
    agent = p.agents[0] if p.agents else "general"
    return (
        "from openai import OpenAI\n\n"
        f'client = OpenAI(base_url="{p.base_url}", api_key="sk-tm-...")\n'
        "reply = client.chat.completions.create(\n"
        f'    model="{agent}",  # an agent id, or "auto"\n'
        '    messages=[{"role": "user", "content": "Hello"}],\n'
        '    extra_headers={"X-Session-Id": "my-conversation"},  # keeps the session\n'
        ")\n"
        "print(reply.choices[0].message.content)\n"
    )


def docker_note(p: Pairing) -> str:
    """Why 127.0.0.1 does not work from a container on Linux, and what to do instead."""
    listening = (
        f"Traymind listens on {p.host} (this computer only) right now."
        if p.loopback_only
        else f"Traymind listens on {p.host}, beyond this computer: every request needs a key."
    )
    return (
        "Chat app in Docker? Inside a container, 127.0.0.1 is the container itself.\n"
        f"Use http://{DOCKER_HOST}:{p.port}/v1 as the URL (tick the box above).\n\n"
        "• macOS and Windows (Docker Desktop): that name reaches Traymind as it is.\n"
        f'• Linux: add  extra_hosts: ["{DOCKER_HOST}:host-gateway"]  to the container\n'
        f"  (or --add-host={DOCKER_HOST}:host-gateway), and make Traymind listen where the\n"
        f"  container can reach it: the Docker bridge address (usually {DOCKER_BRIDGE}) or\n"
        "  all interfaces (0.0.0.0), in Settings…. Listening beyond loopback means every\n"
        "  request needs an API key: unauthenticated access is for this computer only.\n\n"
        + listening
    )
