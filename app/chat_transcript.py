"""A test chat's turns, the messages sent for the next one, and the transcript as HTML.

No Qt here: the chat window shows ``transcript_html`` in a text browser. Tool events
in an answer become blocks (name, arguments, result) through ``app.tool_blocks``, and
its text is Markdown, rendered as chat apps render it (CommonMark plus tables; raw
HTML in an answer is shown as text, never interpreted). Questions stay plain text.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Literal

from markdown_it import MarkdownIt

from app.chat_client import Usage
from app.tool_blocks import Text, ToolBlock, parse

TurnState = Literal["streaming", "done", "failed", "stopped"]

TOOL_STYLE = 'bgcolor="#eef1f7" cellpadding="6" cellspacing="0" border="1"'
STATE_WORDS = {"running": "running…", "done": "done", "interrupted": "interrupted"}
MARKDOWN = MarkdownIt("commonmark", {"html": False}).enable("table")


@dataclass(slots=True)
class Turn:
    """One question and its answer as it streams in."""

    question: str
    requested: str  # what was chosen in the list: an agent, ``auto`` or ``team/x``
    answer: str = ""  # the content as the server sent it, tool tags included
    agent: str | None = None  # the chunks' ``model``: what ``auto`` resolved to
    usage: Usage | None = None
    error: str | None = None
    state: TurnState = "streaming"

    @property
    def answered_by(self) -> str:
        """``code (chosen by auto)`` for auto, else the agent or team."""
        agent = self.agent or self.requested
        if self.requested == "auto" and self.agent and self.agent != "auto":
            return f"{agent} (chosen by auto)"
        return agent


def messages_for(turns: list[Turn], question: str) -> list[dict[str, str]]:
    """The conversation as a chat app sends it: answered turns, then the new question.

    The server keeps the session's history itself (``X-Session-Id``); sending the
    earlier turns too is what chat apps do, and lets a newly chosen agent see them.
    """
    messages: list[dict[str, str]] = []
    for turn in turns:
        if turn.state == "done" and turn.answer:
            messages.append({"role": "user", "content": turn.question})
            messages.append({"role": "assistant", "content": turn.answer})
    messages.append({"role": "user", "content": question})
    return messages


def _text_html(text: str) -> str:
    return html.escape(text).replace("\n", "<br>")


def markdown_html(text: str) -> str:
    """An answer's Markdown as HTML; raw HTML in it comes out escaped."""
    return MARKDOWN.render(text)


def tool_html(block: ToolBlock) -> str:
    state = STATE_WORDS[block.state]
    rows = [
        f"<tr><td><b>Tool: {html.escape(block.name)}</b> ({state})</td></tr>",
        f"<tr><td>Arguments: <code>{html.escape(block.arguments) or '(none)'}</code></td></tr>",
    ]
    if block.result is not None:
        rows.append(f"<tr><td>Result:<pre>{html.escape(block.result)}</pre></td></tr>")
    return f"<table {TOOL_STYLE} width='100%'>{''.join(rows)}</table>"


def answer_html(turn: Turn) -> str:
    parts: list[str] = []
    for segment in parse(turn.answer, final=turn.state != "streaming"):
        if isinstance(segment, Text):
            parts.append(markdown_html(segment.text))
        else:
            parts.append(tool_html(segment))
    return "".join(parts)


def turn_html(turn: Turn) -> str:
    out = [f"<p><b>You</b><br>{_text_html(turn.question)}</p>"]
    body = answer_html(turn)
    if turn.state == "streaming" and not body:
        body = "<i>…</i>"
    if body:
        out.append(f"<p><b>{html.escape(turn.answered_by)}</b></p><div>{body}</div>")
    if turn.usage is not None:
        out.append(f"<p><small style='color:#666'>{html.escape(turn.usage.text)}</small></p>")
    if turn.state == "stopped":
        out.append("<p><small style='color:#666'>(stopped)</small></p>")
    if turn.error:
        out.append(f"<p style='color:#a01010'>{_text_html(turn.error)}</p>")
    return "".join(out)


def transcript_html(turns: list[Turn]) -> str:
    return "<hr>".join(turn_html(t) for t in turns)
