"""The database schema, as numbered SQL steps applied once each, in order.

Why versioned SQL and not Alembic: a few tables, no ORM (the stores write their own
SQL), and one dependency fewer. ``schema_version`` records the steps applied. Replicas
that start at the same moment take a transaction-level advisory lock first, so exactly
one of them applies a step and the others find it done; a step that fails is rolled
back whole with its version row.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)

MIGRATION_LOCK = 0x7472_6179_6D69  # "traymi": the advisory lock key of migrations

STEPS: tuple[tuple[int, str], ...] = (
    (
        1,
        """
        CREATE TABLE turns (
            namespace TEXT NOT NULL,
            session TEXT NOT NULL,
            agent TEXT NOT NULL,
            seq INTEGER NOT NULL,
            messages BYTEA NOT NULL,
            chars INTEGER NOT NULL,
            created DOUBLE PRECISION NOT NULL,
            PRIMARY KEY (namespace, session, agent, seq)
        );
        CREATE TABLE routes (
            namespace TEXT NOT NULL,
            session TEXT NOT NULL,
            agent TEXT NOT NULL,
            recent TEXT NOT NULL,
            updated DOUBLE PRECISION NOT NULL,
            PRIMARY KEY (namespace, session)
        );
        CREATE TABLE responses (
            namespace TEXT NOT NULL,
            id TEXT NOT NULL,
            session TEXT NOT NULL,
            prompt TEXT NOT NULL,
            body TEXT NOT NULL,
            created DOUBLE PRECISION NOT NULL,
            PRIMARY KEY (namespace, id)
        );
        """,
    ),
    (
        2,
        """
        CREATE TABLE client_keys (
            id TEXT PRIMARY KEY,
            label TEXT NOT NULL UNIQUE,
            created TEXT NOT NULL,
            last_used TEXT,
            fingerprint TEXT NOT NULL,
            owner BOOLEAN NOT NULL DEFAULT FALSE,
            record TEXT NOT NULL
        );
        """,
    ),
    (
        3,
        """
        CREATE TABLE memories (
            id BIGSERIAL PRIMARY KEY,
            agent TEXT NOT NULL,
            namespace TEXT NOT NULL,
            text TEXT NOT NULL,
            session TEXT,
            created DOUBLE PRECISION NOT NULL,
            vector BYTEA,
            embedder TEXT,
            words TSVECTOR GENERATED ALWAYS AS (to_tsvector('english', text)) STORED
        );
        CREATE UNIQUE INDEX memories_once ON memories (agent, namespace, lower(text));
        CREATE INDEX memories_newest ON memories (agent, namespace, created);
        CREATE INDEX memories_words ON memories USING GIN (words);
        """,
    ),
    (
        4,
        """
        CREATE TABLE knowledge_bases (
            base TEXT PRIMARY KEY,
            version BIGINT NOT NULL
        );
        CREATE TABLE knowledge_meta (
            base TEXT NOT NULL,
            key TEXT NOT NULL,
            value TEXT NOT NULL,
            PRIMARY KEY (base, key)
        );
        CREATE TABLE knowledge_files (
            base TEXT NOT NULL,
            path TEXT NOT NULL,
            hash TEXT NOT NULL,
            size BIGINT NOT NULL,
            mtime_ns BIGINT NOT NULL,
            chunks INTEGER NOT NULL,
            error TEXT,
            indexed_at DOUBLE PRECISION NOT NULL,
            PRIMARY KEY (base, path)
        );
        CREATE TABLE knowledge_chunks (
            id BIGSERIAL PRIMARY KEY,
            base TEXT NOT NULL,
            path TEXT NOT NULL,
            ordinal INTEGER NOT NULL,
            span_start INTEGER NOT NULL,
            span_end INTEGER NOT NULL,
            unit TEXT NOT NULL,
            heading TEXT NOT NULL,
            text TEXT NOT NULL,
            vector BYTEA,
            words TSVECTOR GENERATED ALWAYS AS (
                setweight(to_tsvector('english', heading), 'A')
                || setweight(to_tsvector('english', text), 'B')
                || setweight(
                    to_tsvector('english', regexp_replace(path, '[^[:alnum:]]+', ' ', 'g')), 'C'
                )
            ) STORED
        );
        CREATE INDEX knowledge_chunks_path ON knowledge_chunks (base, path);
        CREATE INDEX knowledge_chunks_words ON knowledge_chunks USING GIN (words);
        """,
    ),
)


def migrate(connection: Any) -> list[int]:
    """Apply the steps this database lacks (under the advisory lock); the ones applied."""
    applied: list[int] = []
    with connection.transaction():
        connection.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        connection.execute(
            "CREATE TABLE IF NOT EXISTS schema_version ("
            "version INTEGER PRIMARY KEY, applied DOUBLE PRECISION NOT NULL)"
        )
        done = {row[0] for row in connection.execute("SELECT version FROM schema_version")}
        for version, sql in STEPS:
            if version in done:
                continue
            connection.execute(sql)
            connection.execute(
                "INSERT INTO schema_version VALUES (%s, extract(epoch from now()))", (version,)
            )
            applied.append(version)
    if applied:
        log.info("PostgreSQL schema: applied step(s) %s", ", ".join(map(str, applied)))
    return applied
