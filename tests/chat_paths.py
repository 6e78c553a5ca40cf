"""The two paths a chat completion can take, so contract tests can run on both.

An agent without tools, knowledge or memory on an OpenAI-compatible model takes
the **direct** path (``server.agents.direct_chat``: one HTTP call of its own); an
agent with tools takes the **agent** path (pydantic-ai). Clients must not be able
to tell them apart, so the provider-facing contract tests run once per path:

    @pytest.mark.parametrize("chat_path", PATHS)
    def test_something(server, upstream: Upstream, chat_path: ChatPath) -> None:
        ...  # the module's ``server`` fixture builds its agent with agent_spec(chat_path)
        assert_path(upstream, chat_path)

The stand-in shows which path answered: the agent path sends the agent's tools to
the provider, the direct path sends no ``tools`` key at all. ``assert_path`` checks
that, so a test cannot silently run the wrong path (an agent spec that drifts
onto the other one, a server that changes which agents qualify).
"""

from __future__ import annotations

from typing import Literal

from tests.upstream import Upstream

ChatPath = Literal["direct", "agent"]

PATHS: tuple[ChatPath, ...] = ("direct", "agent")
"""Parametrise with these; the ids read ``[direct]`` and ``[agent]``."""

TOOLS = ["calculator", "current_time"]
"""Built-in tools that need no folder and no network; an agent with them takes the agent path."""


def agent_spec(path: ChatPath, **fields: object) -> dict[str, object]:
    """An agent's config entry on ``path``: ``fields`` (display name...), plus tools for agent."""
    if path not in PATHS:
        raise ValueError(f"unknown chat path {path!r}; expected one of {PATHS}")
    spec = dict(fields)
    spec.pop("tools", None)  # the path alone decides whether the agent has tools
    if path == "agent":
        spec["tools"] = list(TOOLS)
    return spec


def assert_path(upstream: Upstream, path: ChatPath) -> None:
    """The last chat request the stand-in received went through ``path``."""
    requests = upstream.chat_requests
    assert requests, f"the provider received no chat request (expected the {path} path)"
    body = requests[-1].body
    assert isinstance(body, dict), f"the last chat request had no JSON body: {requests[-1].raw!r}"
    if path == "direct":
        assert "tools" not in body, f"expected the direct path, the request sent tools: {body}"
    else:
        tools = body.get("tools")
        assert tools, f"expected the agent path, the request sent no tools: {body}"
        names = {tool["function"]["name"] for tool in tools}
        assert set(TOOLS) <= names, f"expected the agent's tools {TOOLS}, the request sent {names}"
