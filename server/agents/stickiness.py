"""When an ``auto`` session keeps its agent and when it asks the router again.

A session that ``auto`` routed stays with that agent, because switching agents
mid-conversation loses the thread. It moves when:

- the message names another listed agent (``@code``, its id or its display name):
  that agent takes over directly, without a router call;
- the topic changed: the message has at least three content words and shares
  none with the session's recent user messages; then the router is asked again.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

WORD = re.compile(r"[^\W_]{4,}", re.UNICODE)
STOP = frozenset(
    [
        "this",
        "that",
        "with",
        "have",
        "from",
        "what",
        "when",
        "where",
        "which",
        "would",
        "could",
        "should",
        "about",
        "there",
        "their",
        "them",
        "then",
        "than",
        "your",
        "yours",
        "please",
        "thanks",
        "thank",
        "into",
        "just",
        "also",
        "some",
        "more",
        "very",
        "will",
        "been",
        "were",
        "does",
        "make",
        "like",
        "want",
        "need",
        "know",
        "tell",
        "give",
        "help",
        "here",
    ]
)


def content_words(text: str) -> set[str]:
    return {w for w in (m.lower() for m in WORD.findall(text)) if w not in STOP}


def named_agent(message: str, names: Mapping[str, str], current: str) -> str | None:
    """Another listed agent the message addresses: ``@id``, ``@Display Name``, or a display
    name that differs from its id (``CodeAgent``). Bare ids are not enough: ``code`` or
    ``general`` are ordinary words."""
    lowered = message.lower()
    for agent_id, display in names.items():
        if agent_id == current:
            continue
        patterns = [f"@{re.escape(agent_id.lower())}", f"@{re.escape(display.lower())}"]
        if display.lower() != agent_id.lower():
            patterns.append(re.escape(display.lower()))
        for pattern in patterns:
            if re.search(rf"(?<![\w@/]){pattern}(?![\w/])", lowered):
                return agent_id
    return None


def topic_changed(message: str, recent_user_messages: Sequence[str]) -> bool:
    words = content_words(message)
    if len(words) < 3 or not recent_user_messages:
        return False
    earlier: set[str] = set()
    for text in recent_user_messages[-3:]:
        earlier |= content_words(text)
    return not (words & earlier)
