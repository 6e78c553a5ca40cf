"""PostgreSQL storage, for replicas of ``traymind serve`` that share one database.

On a desktop SQLite in the data dir stays the default; with ``storage.url`` (or
``TRAYMIND_STORAGE_URL``) the session history, ``auto`` routes and stored Responses
live in PostgreSQL, so a conversation continued on another replica keeps its history.
``schema`` creates and migrates the tables; ``history_store`` is the session store;
``key_store`` holds the client keys, so a key made through one replica works on all;
``memory_store`` the agents' memories; ``database`` is the connection they share the
handling of (a lost database is a 503 sentence).
"""
