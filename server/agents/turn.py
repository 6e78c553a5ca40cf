"""What memory needs to know about the request behind a run, passed as the run's deps.

The agent is built once, but whether a turn may touch memory depends on the
request: a chat app's background request (a title or tags for the conversation)
must neither see nor write memories. The runtime passes a ``TurnFacts`` per run
(``deps=``) and the memory tools and instructions read it from ``RunContext``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic_ai import RunContext


@dataclass(frozen=True, slots=True)
class TurnFacts:
    """The request behind one agent run."""

    session_id: str | None = None
    """The stored conversation it continues; None for an ephemeral request."""
    background: bool = False
    """A chat app's own request (title, tags, follow-ups): memory stays out of it."""
    namespace: str | None = "noauth"
    """The caller's key namespace, whose memory the agent uses (``noauth``: no key).
    None: the caller is not known (a team member's run), so per-key memory stays out."""
    client: str = ""
    """The chat app behind the request (``client_kind``), shown when a tool call asks."""
    stream: bool = True
    """The client reads a stream, so the model is asked for one; otherwise each step is one
    plain model request (``agent_runs``), which costs far less per token."""
    in_band_approvals: bool = False
    """A call that asks is put to the client (which shows its user), not to the tray."""


TurnGetter = Callable[["RunContext[Any]"], TurnFacts]


def turn_from_deps(ctx: RunContext[Any]) -> TurnFacts:
    """The run's deps when they are ``TurnFacts``; otherwise an ephemeral foreground turn."""
    return ctx.deps if isinstance(ctx.deps, TurnFacts) else TurnFacts()
