"""``ApprovalToolset``: an agent's tools, each call that asks waiting for the broker.

It wraps a toolset (the agent's built-in tools, or its MCP toolset) and, for a tool
whose rule says "ask", holds the call until a person decides. The run stays paused
in place (a stream has already shown the tool's start tag), so nothing about the
turn changes but the wait. A denied call is not an error: the model is told that
the user denied it (or that no one answered) as the tool's result, and carries on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic_ai import RunContext
from pydantic_ai.exceptions import ApprovalRequired
from pydantic_ai.toolsets import ToolsetTool, WrapperToolset

from server.agents.turn import turn_from_deps
from server.approvals.broker import ApprovalBroker, ApprovalRequest, Decision
from server.approvals.policy import ApprovalRule

RuleFor = Callable[[str], ApprovalRule | None]
IN_BAND_ALLOWED = Decision(True, "the client's user (in-band)")
Preview = Callable[[str, dict[str, Any]], str | None]


@dataclass
class ApprovalToolset(WrapperToolset[Any]):
    """Calls of tools with a rule wait for ``broker``; the others go straight through."""

    agent_id: str = ""
    broker: ApprovalBroker | None = None
    rule_for: RuleFor = lambda name: None
    timeout: Callable[[], float | None] = lambda: None
    preview: Preview | None = None

    async def call_tool(
        self, name: str, tool_args: dict[str, Any], ctx: RunContext[Any], tool: ToolsetTool[Any]
    ) -> Any:
        rule = self.rule_for(name)
        if rule is None or self.broker is None:
            return await self.wrapped.call_tool(name, tool_args, ctx, tool)
        facts = turn_from_deps(ctx)
        if facts.in_band_approvals:  # the client asks its user: pause the turn for the answer
            if not ctx.tool_call_approved:
                raise ApprovalRequired()
            self.broker.record(self._request(name, tool_args, rule, facts), IN_BAND_ALLOWED)
            return await self.wrapped.call_tool(name, tool_args, ctx, tool)
        request = ApprovalRequest(
            agent=self.agent_id,
            tool=name,
            arguments=dict(tool_args),
            rule=rule,
            client=facts.client,
            session=facts.session_id,
            preview=await self._preview(name, tool_args),
        )
        decision = await self.broker.ask(request, self.timeout())
        if not decision.allowed:
            return decision.message
        return await self.wrapped.call_tool(name, tool_args, ctx, tool)

    def _request(
        self, name: str, tool_args: dict[str, Any], rule: ApprovalRule, facts: Any
    ) -> ApprovalRequest:
        return ApprovalRequest(
            self.agent_id, name, dict(tool_args), rule, facts.client, facts.session_id
        )

    async def _preview(self, name: str, tool_args: dict[str, Any]) -> str | None:
        if self.preview is None:
            return None
        try:  # off the loop: it may read a large file
            return await asyncio.to_thread(self.preview, name, tool_args)
        except Exception:  # a preview is a courtesy: never the reason a call fails
            return None
