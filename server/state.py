"""Everything one running server holds, and the config generation it serves."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path

from server.agents.catalog import Catalog
from server.auth import Authenticator
from server.chat.runtime_loader import RuntimeLoader
from server.chat.turn_task import TurnTask
from server.config import Config
from server.sessions import HistoryStore, SessionLocks
from server.status import AgentStatus, StatusHub


@dataclass(slots=True)
class Generation:
    """What is derived from one config.yaml; a reload swaps it whole."""

    config: Config
    catalog: Catalog
    runtime: RuntimeLoader

    @classmethod
    def of(cls, config: Config) -> Generation:
        return cls(config, Catalog(config, int(time.time())), RuntimeLoader(config))


@dataclass(slots=True)
class ServerState:
    generation: Generation
    authenticator: Authenticator
    store: HistoryStore
    status: StatusHub
    config_path: Path | None = None
    data_dir: Path | None = None
    max_running: int = 64
    max_queued: int = 256
    locks: SessionLocks = field(default_factory=SessionLocks)
    turns: set[TurnTask] = field(default_factory=set)
    _run_slots: asyncio.Semaphore | None = None

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

    def publish_agents(self) -> None:
        config = self.generation.config
        self.status.set_agents(
            [
                AgentStatus(
                    id=agent_id,
                    name=agent.display_name or agent_id,
                    model=agent.model,
                )
                for agent_id, agent in config.agents.items()
            ]
        )

    def interrupt_all(self, reason: str) -> None:
        for task in list(self.turns):
            task.interrupt(reason)
