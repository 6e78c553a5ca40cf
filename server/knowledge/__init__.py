"""Knowledge bases: folders and Git repositories indexed in the background, searched by agents.

``KnowledgeService`` is the one entry point for the server; the modules below it
are one concern each: which files (``files``), their text (``extract``), passages
(``chunking``), the SQLite index (``store``), ranking (``search``, with vectors from
``server.embeddings``), a pass (``indexer``), Git (``git_sync``), the background thread
(``worker``) and what agents get (``agent_tools``, the only one importing pydantic-ai;
the agent runtime builds those tools from the service).
"""

from server.knowledge.search import Passage
from server.knowledge.service import KnowledgeService, UnknownKnowledgeBase, index_path
from server.knowledge.worker import BaseStatus

__all__ = ["BaseStatus", "KnowledgeService", "Passage", "UnknownKnowledgeBase", "index_path"]
