"""Agent memory: facts an agent keeps across sessions, scoped to that agent.

``MemoryService`` is the entry point for the server and the CLI; ``agent_tools``
gives an agent ``remember``/``recall`` (the runtime builds them, reading the run's
``server.agents.turn.TurnFacts`` so that background requests stay out of memory).
"""

from server.memory.service import MemoryService
from server.memory.store import Memory, MemoryNotFound, MemoryStore, memory_path

__all__ = [
    "Memory",
    "MemoryNotFound",
    "MemoryService",
    "MemoryStore",
    "memory_path",
]
