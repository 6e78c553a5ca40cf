"""Conversation sessions: ids from client headers, stored history, per-session locks."""

from server.sessions.ids import SessionRef, session_ref
from server.sessions.locks import SessionLocks
from server.sessions.store import HistoryStore, StorageError

__all__ = ["HistoryStore", "SessionLocks", "SessionRef", "StorageError", "session_ref"]
