"""Chat apps' background requests (titles, tags, follow-ups), recognised in one place.

They are answered by one direct model call: no tools, no knowledge, no memory,
never stored in the session, so they stay fast and out of the agents' history.

Patterns recognised:

- Open WebUI: a single user message starting with ``### Task:`` (title, tags and
  follow-up suggestions; Open WebUI asks for JSON).
- LibreChat: its title prompt, "Provide a concise, 5-word-or-less title for the
  conversation..." (sent as the user or the system message).
"""

from __future__ import annotations

import re

from server.openai.chat_request import ChatTurn

OPEN_WEBUI_TASK = "### Task:"
LIBRECHAT_TITLE = re.compile(
    r"5-word-or-less title|concise,? .{0,40}title for the conversation", re.IGNORECASE
)


def background_kind(turn: ChatTurn) -> str | None:
    """Which chat app's background request this is, or None for a real chat turn."""
    if not turn.prior and turn.user_text.lstrip().startswith(OPEN_WEBUI_TASK):
        return "open-webui-task"
    if LIBRECHAT_TITLE.search(turn.prompt):
        return "librechat-title"
    return None
