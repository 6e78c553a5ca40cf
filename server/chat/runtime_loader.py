"""Loads the agent runtime off the request path.

pydantic-ai and the provider SDKs take about two seconds to import, and finding
the default model takes a probe of local servers; both start in the background
when the server starts, so ``/v1/models`` answers at once and the first chat
waits only for what is not done yet.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from server.agents.default_model import DefaultModel, resolve_default_model
from server.config import Config
from server.status import StatusHub

if TYPE_CHECKING:
    from server.agents.engine import Engine
    from server.approvals.broker import ApprovalBroker
    from server.knowledge import KnowledgeService
    from server.mcp.pool import McpPool
    from server.memory import MemoryService

log = logging.getLogger(__name__)


def _import_engine() -> type[Engine]:
    from server.agents.engine import Engine

    return Engine


class RuntimeLoader:
    """The engine of one config, built once, on first need or in the background."""

    def __init__(
        self,
        config: Config,
        status: StatusHub | None = None,
        knowledge: KnowledgeService | None = None,
        memory: MemoryService | None = None,
        approvals: ApprovalBroker | None = None,
        mcp_pool: McpPool | None = None,
    ) -> None:
        self._config = config
        self._approvals = approvals
        self._mcp_pool = mcp_pool
        self._status = status
        self._knowledge = knowledge
        self._memory = memory
        self._task: asyncio.Task[Engine] | None = None
        self._default_task: asyncio.Task[DefaultModel] | None = None
        self.default_model: DefaultModel | None = None
        if "default" in config.models:
            m = config.models["default"]
            self.default_model = DefaultModel("config", m.id, m.base_url, m.api_key_env)

    def start(self) -> None:
        if self._task is None:
            loop = asyncio.get_running_loop()
            self._default_task = loop.create_task(self._default())
            self._task = loop.create_task(self._load())

    async def _load(self) -> Engine:
        assert self._default_task is not None
        engine_class, default = await asyncio.gather(
            asyncio.to_thread(_import_engine), asyncio.shield(self._default_task)
        )
        engine = engine_class(
            self._config,
            default,
            on_mcp_status=self._publish_mcp,
            knowledge=self._knowledge,
            memory=self._memory,
            approvals=self._approvals,
            mcp_pool=self._mcp_pool,
        )
        await engine.runtime.mcp.start()
        return engine

    def _publish_mcp(self, servers: dict[str, object]) -> None:
        if self._status is not None:
            self._status.set_extra("mcp_servers", servers)

    async def stop(self, *, shutting_down: bool = False) -> None:
        """Stop what the engine keeps running (MCP servers, Claude Code sessions).

        When the server shuts down an unfinished load is cancelled; after a reload it is
        left to finish (requests may still be waiting for it) and then stopped.
        """
        task = self._task
        if task is None:
            return
        if not task.done():
            if not shutting_down:
                await asyncio.wait([task])
            else:
                pending = [t for t in (task, self._default_task) if t is not None]
                for t in pending:
                    t.cancel()
                await asyncio.wait(pending)
                return
        if not task.cancelled() and not task.exception():
            await task.result().runtime.stop(shutting_down=shutting_down)

    async def _default(self) -> DefaultModel:
        if self.default_model is None:
            self.default_model = await resolve_default_model()
        return self.default_model

    async def resolved_default(self) -> DefaultModel:
        """The default model, once the (brief) probe has finished."""
        self.start()
        assert self._default_task is not None
        return await asyncio.shield(self._default_task)

    async def get(self) -> Engine:
        self.start()
        assert self._task is not None
        return await asyncio.shield(self._task)
