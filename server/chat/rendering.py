"""Run events rendered as the text a chat app shows: content with inline tool tags.

Two formats: Traymind's ``<tool>`` tags (the default), or Open WebUI's own
``<details type="tool_calls">`` blocks (``X-Tool-Event-Format: openwebui`` or an
agent's ``tool_event_format: openwebui``).
"""

from __future__ import annotations

from server.agents import tool_tags
from server.agents.events import RunEvent, TextDelta, ToolFinished, ToolStarted
from server.agents.openwebui_details import details_block

TOOL_EVENT_FORMATS = ("traymind", "openwebui")


class ContentRenderer:
    """Numbers tool calls from 1 per response and renders them, unless tool calls are hidden."""

    def __init__(self, *, show_tool_calls: bool, tool_format: str = "traymind") -> None:
        self._show = show_tool_calls
        self._openwebui = tool_format == "openwebui"
        self._next_id = 1
        self._open: dict[str, tuple[int, ToolStarted]] = {}

    def render(self, event: RunEvent) -> str:
        if isinstance(event, TextDelta):
            return event.text
        if isinstance(event, ToolStarted):
            tool_id = self._next_id
            self._next_id += 1
            self._open[event.call_id] = (tool_id, event)
            if not self._show or self._openwebui:
                return ""
            return tool_tags.start_tag(tool_id, event.name, event.args)
        if isinstance(event, ToolFinished):
            opened = self._open.pop(event.call_id, None)
            if opened is None:
                tool_id = self._next_id
                self._next_id += 1
            else:
                tool_id = opened[0]
            if not self._show:
                return ""
            if self._openwebui:
                return details_block(event.call_id, event.name, event.args, event.result)
            return tool_tags.done_tag(tool_id, event.name, event.args, event.result)
        return ""

    def close_interrupted(self) -> str:
        """Done tags for tools still running when the run failed."""
        opened, self._open = sorted(self._open.values(), key=lambda o: o[0]), {}
        if not self._show:
            return ""
        if self._openwebui:
            return "".join(
                details_block(e.call_id, e.name, e.args, "(interrupted)") for _, e in opened
            )
        return "".join(tool_tags.interrupted_tag(i) for i, _ in opened)
