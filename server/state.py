"""Everything one running server holds, and the config generation it serves."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path

from server.agents.catalog import Catalog
from server.agents.direct_chat import DirectChat
from server.approvals.broker import ApprovalBroker
from server.chat.runtime_loader import RuntimeLoader
from server.chat.turn_task import TurnTask
from server.config import Config
from server.knowledge import KnowledgeService
from server.mcp.pool import McpPool
from server.memory import MemoryService
from server.security.auth import Authenticator
from server.sessions import SessionLocks
from server.sessions.store import SessionStore
from server.status import AgentStatus, StatusHub


@dataclass(slots=True)
class Generation:
    """What is derived from one config.yaml; a reload swaps it whole."""

    config: Config
    catalog: Catalog
    runtime: RuntimeLoader

    @classmethod
    def of(
        cls,
        config: Config,
        status: StatusHub | None = None,
        knowledge: KnowledgeService | None = None,
        memory: MemoryService | None = None,
        approvals: ApprovalBroker | None = None,
        mcp_pool: McpPool | None = None,
    ) -> Generation:
        loader = RuntimeLoader(config, status, knowledge, memory, approvals, mcp_pool)
        return cls(config, Catalog(config, int(time.time())), loader)


@dataclass(slots=True)
class ServerState:
    generation: Generation
    authenticator: Authenticator
    store: SessionStore
    status: StatusHub
    config_path: Path | None = None
    data_dir: Path | None = None
    max_running: int = 512
    max_queued: int = 1024
    direct: DirectChat = field(default_factory=DirectChat)  # pooled, shared across reloads
    knowledge: KnowledgeService | None = None
    memory: MemoryService | None = None
    approvals: ApprovalBroker = field(default_factory=ApprovalBroker)
    mcp_pool: McpPool = field(default_factory=McpPool)  # MCP servers, kept across reloads
    locks: SessionLocks = field(default_factory=SessionLocks)
    turns: set[TurnTask] = field(default_factory=set)
    background: set[asyncio.Task[None]] = field(default_factory=set)  # e.g. stopping old MCP
    _run_slots: asyncio.Semaphore | None = None

    def __post_init__(self) -> None:
        # The stores tell the status hub when saving fails or their files were deleted.
        self.store.report = self.report_storage
        if self.memory is not None:
            self.memory.store.report = self.report_storage
        if hasattr(self.locks, "report"):  # across replicas, the locks live in the database
            self.locks.report = self.report_storage

    def report_storage(self, state: str, message: str) -> None:
        """The ``storage`` status extra: ``ok``, or ``error`` with one sentence saying why."""
        self.status.set_extra("storage", {"state": state, "message": message})

    @property
    def max_turns(self) -> int:
        """Runs in progress plus runs waiting for a slot; past it, requests get 429."""
        return self.max_running + self.max_queued

    @property
    def run_slots(self) -> asyncio.Semaphore:
        """At most ``max_running`` runs at once; the rest wait in line (made on the loop)."""
        if self._run_slots is None:
            self._run_slots = asyncio.Semaphore(self.max_running)
        return self._run_slots

    def describe_model(self, name: str) -> tuple[str, str]:
        """``(provider, model id)`` of a key under ``models:``, for people to read."""
        config = self.generation.config
        if name in config.models:
            model = config.models[name]
            where = model.base_url or ("OpenAI" if model.provider == "openai" else "Anthropic")
            return f"{model.provider} at {where}", model.id
        default = self.generation.runtime.default_model
        if name == "default" and default is not None and default.id:
            return f"openai at {default.base_url} ({default.source})", default.id
        if name == "default" and default is not None:
            return "none connected", ""
        return "detecting…", ""

    def publish_agents(self) -> None:
        """The agents of the current config, with their models, to the status hub."""
        config = self.generation.config
        agents = []
        for agent_id, agent in config.agents.items():
            provider, model_id = self.describe_model(agent.model)
            agents.append(
                AgentStatus(
                    id=agent_id,
                    name=agent.display_name or agent_id,
                    model=agent.model,
                    provider=provider,
                    model_id=model_id,
                )
            )
        self.status.set_agents(agents)
        default = self.generation.runtime.default_model
        if default is not None:
            self.status.set_extra("default_model", default.as_status())

    def interrupt_all(self, reason: str) -> None:
        for task in list(self.turns):
            task.interrupt(reason)
