"""The ``claude_agent`` tool: hand a task to Claude Code, in a session that lasts across turns.

Built on the official Claude Agent SDK (``claude-agent-sdk``), which runs the Claude
Code CLI as a child process and talks to it over stdin/stdout. A session is one
connected ``ClaudeSDKClient`` (one CLI process), kept under the key (agent id,
Traymind session id, ``session_label``): the next call with the same key, in a later
turn of the same chat, goes to the same process and so continues the same Claude
conversation. Calls on one session wait for each other (a lock per session); calls
with different labels run at the same time.

A session that has been idle for ``session_ttl_minutes`` is closed (its process ends)
and the next call starts a new one; an agent keeps at most ``max_sessions``, the least
recently used idle one being closed to make room. A call that was cancelled or failed
midway closes its process (the CLI may still be working on that prompt) and keeps the
Claude session id, so the next call resumes the conversation in a new process
(``--resume``); so does a call that finds the process gone. Requests without a
Traymind session (ephemeral ones, team members' sub-tasks) get a fresh session that
is closed when the call ends.

The sessions live in ``claude_sessions``, which ``build`` imports (with pydantic-ai);
the SDK is imported when a first session starts, so validating a config stays cheap.
``ClaudeAgentTool.aclose`` closes every session; ``registry.close_tools`` calls it when
the runtime that built the tool stops.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

if TYPE_CHECKING:
    from pydantic_ai import Tool

SUMMARY = "Hands tasks to Claude Code, in a session that continues across the turns of a chat."

PermissionMode = Literal["default", "acceptEdits", "plan", "bypassPermissions", "dontAsk", "auto"]


class Options(BaseModel):
    """``claude_agent`` options."""

    model_config = ConfigDict(extra="forbid")

    cwd: str = "~"
    """The folder Claude Code works in (absolute or ``~/...``)."""
    model: str | None = None
    """The Claude model, e.g. ``claude-sonnet-4-5``; default: Claude Code's own choice."""
    permission_mode: PermissionMode = "default"
    """What Claude Code may do without asking (it cannot ask here, so the rest is refused)."""
    cli_path: str | None = None
    """The ``claude`` program: a path or a name on ``PATH``; default: the SDK's own search."""
    session_ttl_minutes: float = Field(default=60, gt=0)
    """Sessions idle for this long are closed; the next call starts a new one."""
    max_sessions: int = Field(default=200, gt=0)
    """The most live sessions one agent keeps; the least recently used idle one makes room."""

    @field_validator("cwd")
    @classmethod
    def _absolute(cls, cwd: str) -> str:
        if not (os.path.isabs(cwd) or cwd.startswith("~")):
            raise ValueError(f"'{cwd}' must be an absolute path or start with ~")
        return cwd


def build(options: Options) -> list[Tool]:
    from pydantic_ai import Tool

    from server.tools.claude_sessions import ClaudeAgentTool

    tool = ClaudeAgentTool(options)
    description = (
        f"Give a task or question to Claude Code, a coding agent working in "
        f"{tool.sessions.cwd} (it reads files, and edits them and runs commands as its "
        f"permission mode '{options.permission_mode}' allows), and return its answer. "
        "The conversation continues across calls in this chat: Claude Code remembers "
        "earlier calls, so a follow-up can refer to them."
    )
    return [Tool(tool.claude_agent, name="claude_agent", takes_ctx=True, description=description)]
