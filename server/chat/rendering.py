"""Run events rendered as the text a chat app shows: content with inline tool tags."""

from __future__ import annotations

from server.agents import tool_tags
from server.agents.events import RunEvent, TextDelta, ToolFinished, ToolStarted


class ContentRenderer:
    """Numbers tool calls from 1 per response and renders them, unless tool calls are hidden."""

    def __init__(self, *, show_tool_calls: bool) -> None:
        self._show = show_tool_calls
        self._next_id = 1
        self._open: dict[str, int] = {}

    def render(self, event: RunEvent) -> str:
        if isinstance(event, TextDelta):
            return event.text
        if isinstance(event, ToolStarted):
            tool_id = self._next_id
            self._next_id += 1
            self._open[event.call_id] = tool_id
            return tool_tags.start_tag(tool_id, event.name, event.args) if self._show else ""
        if isinstance(event, ToolFinished):
            tool_id = self._open.pop(event.call_id, None)
            if tool_id is None:
                tool_id = self._next_id
                self._next_id += 1
            if not self._show:
                return ""
            return tool_tags.done_tag(tool_id, event.name, event.args, event.result)
        return ""

    def close_interrupted(self) -> str:
        """Done tags for tools still running when the run failed."""
        ids, self._open = sorted(self._open.values()), {}
        return "".join(tool_tags.interrupted_tag(i) for i in ids) if self._show else ""
