"""Agent memory: facts an agent keeps across sessions, scoped to that agent.

``MemoryService`` is the entry point for the server and the CLI; ``TurnFacts``
is what the runtime passes per run so that background requests stay out of memory.
"""

from server.memory.service import MemoryService
from server.memory.store import Memory, MemoryNotFound, MemoryStore, memory_path
from server.memory.turn import TurnFacts, TurnGetter, turn_from_deps

__all__ = [
    "Memory",
    "MemoryNotFound",
    "MemoryService",
    "MemoryStore",
    "TurnFacts",
    "TurnGetter",
    "memory_path",
    "turn_from_deps",
]
