"""A real PostgreSQL for the tests: ``initdb`` into a temporary folder, on a loopback port.

Debian's ``postgresql`` package provides the binaries (``.ci/run`` installs it). PostgreSQL
refuses to run as root, so as root the cluster belongs to the ``postgres`` user and its
commands run through ``runuser``. The server is stopped (``pg_ctl stop -m immediate``)
and its folder removed when the test session ends.
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

START_TIMEOUT = 30.0


def binaries() -> Path | None:
    """The folder of ``initdb`` and ``pg_ctl``: Debian's newest version, or the PATH's."""
    for folder in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if (Path(folder) / "initdb").exists():
            return Path(folder)
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _as_owner(args: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


@contextmanager
def postgres_server(password: str | None = None) -> Iterator[str]:
    """A running cluster; yields a ``postgresql://`` URL of its ``postgres`` database (with
    ``password``, the cluster asks for it: the URL does not carry it)."""
    folder = binaries()
    if folder is None:
        raise RuntimeError("PostgreSQL is not installed (Debian: apt-get install postgresql)")
    root = Path(tempfile.mkdtemp(prefix="traymind-pg-"))
    data, sockets = root / "data", root / "run"
    sockets.mkdir()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(sockets, "postgres")
    port = _free_port()
    auth = ["--auth=trust"]
    if password is not None:
        secret = root / "password"
        secret.write_text(password + "\n")
        if os.geteuid() == 0:
            shutil.chown(secret, "postgres")
        auth = ["--auth=scram-sha-256", f"--pwfile={secret}"]
    subprocess.run(
        _as_owner(
            [
                str(folder / "initdb"),
                "-D",
                str(data),
                "-U",
                "traymind",
                *auth,
                "-E",
                "UTF8",
            ]
        ),
        check=True,
        capture_output=True,
        timeout=120,
    )
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {sockets} -c fsync=off"
    subprocess.run(
        _as_owner(
            [str(folder / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(root / "log"),
             "-w", "-t", str(int(START_TIMEOUT)), "start"]
        ),
        check=True,
        capture_output=True,
        timeout=START_TIMEOUT + 10,
    )  # fmt: skip
    try:
        yield f"postgresql://traymind@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            _as_owner([str(folder / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(root, ignore_errors=True)


_NAMES = (f"db{i}" for i in itertools.count())


def new_name() -> str:
    """A database name no other test of this run took."""
    return next(_NAMES)


def drop_connections(url: str, where: str) -> None:
    """End the server's connections matching ``where`` (SQL on ``pg_stat_activity``), as a
    restart would, and wait until those backends are gone (their sockets then closed)."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as admin:
        pids = [
            row[0]
            for row in admin.execute(
                f"SELECT pid FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND {where}"
            )
        ]
        for pid in pids:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))

        def gone() -> bool:
            rows = admin.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s)", (pids,)
            ).fetchone()
            return rows is not None and rows[0] == 0

        assert wait_for(gone, 10.0)


def fresh_database(url: str, name: str) -> str:
    """A new, empty database on the cluster of ``url``; its URL."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as db:
        db.execute(f'DROP DATABASE IF EXISTS "{name}"')
        db.execute(f'CREATE DATABASE "{name}"')
    return url.rsplit("/", 1)[0] + f"/{name}"


def wait_for(condition, timeout: float = 5.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False
