"""Client keys on PostgreSQL (#18): one store for every replica, against a real PostgreSQL.

Two real ``traymind serve`` processes share one database: a key made through
``traymind keys create`` is honoured by both within two seconds, and a revoke takes
it away from both; the store itself keeps the file stores' promises (a hash only,
constant-time matching, labels unique, near misses refused).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from server.keys.backends import KeyStoreError
from server.postgres.key_store import PostgresKeyStore
from tests.harness import BASE_ENV, ROOT, ServeProcess, agent_config, write_config
from tests.postgres_server import binaries, wait_for
from tests.upstream import Upstream

pytest_plugins = ("tests.postgres_conftest",)
pytestmark = pytest.mark.skipif(
    binaries() is None, reason="PostgreSQL is not installed (apt-get install postgresql)"
)


def test_a_key_is_a_hash_in_one_row_and_matches_only_itself(database: str) -> None:
    import psycopg

    store = PostgresKeyStore.open(database)
    other = PostgresKeyStore.open(database)  # a second replica
    try:
        assert not store.has_keys()
        info, key = store.create("librechat", owner=True)
        with psycopg.connect(database) as db:
            rows = db.execute("SELECT label, record FROM client_keys").fetchall()
        assert [r[0] for r in rows] == ["librechat"]
        assert key not in rows[0][1] and rows[0][1].startswith("hmac-sha256$")
        assert wait_for(lambda: other.match(key) is not None, 2.0)
        found = other.match(key)
        assert found is not None and found.key_id == "librechat" and found.owner
        assert found.source == "postgres"
        for near in (key[:-1] + ("A" if key[-1] != "A" else "B"), key + "x", key.upper(), ""):
            assert other.match(near) is None
        with pytest.raises(ValueError, match="already exists"):
            store.create("librechat")
        assert [i.label for i in other.list()] == ["librechat"] and info.source == "postgres"

        store.revoke("librechat")
        assert wait_for(lambda: other.match(key) is None, 2.0)
        assert not other.has_keys()
        with pytest.raises(KeyError, match="no key labelled"):
            store.revoke("librechat")
    finally:
        store.close()
        other.close()


def test_an_unreachable_database_is_a_sentence_without_the_password(tmp_path: Path) -> None:
    os.environ.setdefault("PGCONNECT_TIMEOUT", "2")
    with pytest.raises(KeyStoreError) as caught:
        PostgresKeyStore.open("postgresql://traymind@127.0.0.1:9/none")
    assert str(caught.value).startswith("The key database (PostgreSQL at 127.0.0.1:9/none)")


def keys_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "server.cli", "keys", *args],
        cwd=ROOT,
        env={**os.environ, **BASE_ENV, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_two_serve_processes_honour_a_key_made_through_the_cli_within_two_seconds(
    tmp_path: Path, upstream: Upstream, database: str
) -> None:
    config = write_config(
        tmp_path, {**agent_config(upstream.base_url), "storage": {"url": database}}
    )
    env = {"TRAYMIND_STORAGE_URL": database, "OPENAI_COMPAT_API_KEYS": ""}
    replicas = [
        ServeProcess(
            [
                "-m",
                "server",
                "--config",
                str(config),
                "--port",
                "0",
                "--data-dir",
                str(tmp_path / f"data{i}"),
            ],
            env=env,
        )
        for i in range(2)
    ]
    try:
        urls = [replica.wait_ready() for replica in replicas]
        made = keys_cli("create", "--label", "team-chat", env=env)
        assert made.returncode == 0, made.stderr
        key = made.stdout.strip()
        assert "PostgreSQL at" in made.stderr and key not in made.stderr
        started = time.monotonic()

        def everyone(status: int) -> bool:
            codes = [
                httpx.get(f"{url}/models", headers={"Authorization": f"Bearer {key}"}).status_code
                for url in urls
            ]
            return codes == [status, status]

        assert wait_for(lambda: everyone(200), 5.0)
        assert time.monotonic() - started < 2.0
        listed = keys_cli("list", env=env)
        assert "team-chat" in listed.stdout and "postgres" in listed.stdout
        assert key not in listed.stdout

        assert keys_cli("revoke", "team-chat", env=env).returncode == 0
        started = time.monotonic()
        assert wait_for(lambda: everyone(401), 5.0)
        assert time.monotonic() - started < 2.0
        for i in range(2):  # the desktop's own stores were never used
            assert not (tmp_path / f"data{i}" / "keys.json").exists()
    finally:
        for replica in replicas:
            replica.stop()


def test_a_refused_start_leaves_no_key_poller_or_connection(
    tmp_path: Path, upstream: Upstream, database: str
) -> None:
    import threading

    import psycopg

    from server.runner import ServeOptions, ServerHandle, StartupError

    config = write_config(
        tmp_path, {**agent_config(upstream.base_url), "storage": {"url": database}}
    )
    for _ in range(2):  # listening beyond loopback with no key at all: refused
        handle = ServerHandle(
            ServeOptions(config=str(config), host="0.0.0.0", port=0, data_dir=str(tmp_path / "d"))
        )
        with pytest.raises(StartupError, match="needs at least one API key"):
            handle.start()
    assert not [t for t in threading.enumerate() if t.name == "traymind-keys-postgres"]
    with psycopg.connect(database) as db:
        (left,) = db.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'traymind-keys'"
        ).fetchone()
    assert left == 0


def test_a_storage_url_that_cannot_be_read_is_a_sentence_without_the_password(
    tmp_path: Path,
) -> None:
    env = {"TRAYMIND_STORAGE_URL": "bob:S3cret@db/app"}
    listed = keys_cli("list", env=env)
    assert listed.returncode == 1
    assert "S3cret" not in listed.stdout + listed.stderr
    assert "Traceback" not in listed.stderr and "storage URL cannot be read" in listed.stderr


def test_keys_find_the_storage_of_the_config_in_the_current_folder(
    tmp_path: Path, upstream: Upstream, database: str
) -> None:
    write_config(tmp_path, {**agent_config(upstream.base_url), "storage": {"url": database}})
    made = subprocess.run(
        [sys.executable, "-m", "server.cli", "keys", "create", "--label", "here"],
        cwd=tmp_path,
        env={**os.environ, **BASE_ENV, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert made.returncode == 0, made.stderr
    assert "PostgreSQL at" in made.stderr  # as `traymind serve` in this folder would use
    store = PostgresKeyStore.open(database)
    assert [i.label for i in store.list()] == ["here"]
    store.close()
