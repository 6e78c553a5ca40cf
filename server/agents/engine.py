"""Everything that runs models for one config: agents, the ``auto`` router and teams."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from server.agents.default_model import DefaultModel
from server.agents.router import Router
from server.agents.runtime import AgentRuntime
from server.agents.teams import TeamRunner
from server.approvals.broker import ApprovalBroker
from server.config import Config
from server.knowledge import KnowledgeService
from server.mcp.manager import McpManager
from server.mcp.pool import McpPool
from server.memory import MemoryService


class Engine:
    def __init__(
        self,
        config: Config,
        default_model: DefaultModel,
        *,
        on_mcp_status: Callable[[dict[str, Any]], None] | None = None,
        knowledge: KnowledgeService | None = None,
        memory: MemoryService | None = None,
        approvals: ApprovalBroker | None = None,
        mcp_pool: McpPool | None = None,
    ) -> None:
        mcp = McpManager(config, on_status=on_mcp_status, pool=mcp_pool)
        self.runtime = AgentRuntime(
            config, default_model, mcp=mcp, knowledge=knowledge, memory=memory, approvals=approvals
        )
        listed = [agent_id for agent_id, agent in config.agents.items() if agent.listable]
        self.router = Router(config, self.runtime.models, listed)
        self.teams = TeamRunner(self.runtime)
