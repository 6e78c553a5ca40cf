"""The shared database's password (#18): from the environment or the OS keyring, never the file.

Against a real PostgreSQL that asks for a password (scram-sha-256). The keyring is the
documented file fallback here (``--keystore file``), which goes through the same
provider-key store as the OS keyring.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness import BASE_ENV, ROOT, ServeProcess, agent_config, client, write_config
from tests.postgres_server import binaries, postgres_server
from tests.upstream import Reply, Upstream

pytestmark = pytest.mark.skipif(
    binaries() is None, reason="PostgreSQL is not installed (apt-get install postgresql)"
)
PASSWORD = "correct horse battery staple"
KEY = "sk-password-test"


@pytest.fixture(scope="module")
def guarded() -> Iterator[str]:
    with postgres_server(password=PASSWORD) as url:
        yield url


def env() -> dict[str, str]:
    values = {**os.environ, **BASE_ENV}
    values.pop("PGPASSWORD", None)
    return values


def cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "server.cli", *args],
        cwd=ROOT,
        env=env(),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def serve(config: Path, data: Path, extra: dict[str, str] | None = None) -> ServeProcess:
    logs = {"TRAYMIND_LOG_DIR": str(data.parent / "logs")}  # read back below
    return ServeProcess(
        ["-m", "server", "--config", str(config), "--port", "0", "--data-dir", str(data),
         "--keystore", "file"],
        env={**env(), "OPENAI_COMPAT_API_KEYS": KEY, **logs, **(extra or {})},
        replace_env=True,
    )  # fmt: skip


def everything_written(tmp_path: Path, replica: ServeProcess) -> str:
    """What the server printed and logged, and every file it left beside its data."""
    out = (replica.proc.stdout.read() if replica.proc.stdout else "") + (
        replica.proc.stderr.read() if replica.proc.stderr else ""
    )
    files = [p for p in tmp_path.rglob("*") if p.is_file() and p.name != "provider-keys.json"]
    assert any(p.name == "traymind.log" for p in files)  # the log was read too
    return out + "".join(p.read_bytes().decode("utf-8", "replace") for p in files)


def test_the_password_comes_from_the_keyring_and_never_shows(
    tmp_path: Path, upstream: Upstream, guarded: str
) -> None:
    data = tmp_path / "data"
    config = write_config(
        tmp_path,
        {
            **agent_config(upstream.base_url),
            "storage": {"url": guarded, "password_keyring": "team-db"},
        },
    )
    refused = serve(config, data)
    refused.proc.wait(30)
    err = refused.proc.stderr.read() if refused.proc.stderr else ""
    assert refused.proc.returncode != 0
    assert "no password is stored under that name" in err
    assert "traymind storage password --name team-db" in err and "Traceback" not in err

    stored = cli("storage", "password", "--config", str(config), "--keystore", "file",
                 "--data-dir", str(data), stdin=PASSWORD + "\n")  # fmt: skip
    assert stored.returncode == 0, stored.stderr
    assert "Stored the database password under 'team-db'" in stored.stderr
    assert PASSWORD not in stored.stdout + stored.stderr

    replica = serve(config, data)
    try:
        replica.wait_ready()
        upstream.script(Reply.text("stored answer"))
        answer = client(replica, KEY, **{"X-Session-Id": "s1"}).chat.completions.create(
            model="general", messages=[{"role": "user", "content": "hello"}]
        )
        assert answer.choices[0].message.content == "stored answer"
        import psycopg

        with psycopg.connect(guarded, password=PASSWORD) as db:
            rows = db.execute("SELECT count(*) FROM turns WHERE session = 's1'").fetchone()
        assert rows == (1,)  # the turn went to the guarded database
    finally:
        replica.stop()
    assert PASSWORD not in everything_written(tmp_path, replica)  # config.yaml included


def test_a_password_in_the_environments_url_is_used(
    tmp_path: Path, upstream: Upstream, guarded: str
) -> None:
    with_secret = guarded.replace("traymind@", "traymind:" + PASSWORD.replace(" ", "%20") + "@")
    config = write_config(tmp_path, agent_config(upstream.base_url))
    replica = serve(config, tmp_path / "data", {"TRAYMIND_STORAGE_URL": with_secret})
    try:
        replica.wait_ready()
        upstream.script(Reply.text("env answer"))
        answer = client(replica, KEY, **{"X-Session-Id": "s2"}).chat.completions.create(
            model="general", messages=[{"role": "user", "content": "hello"}]
        )
        assert answer.choices[0].message.content == "env answer"
    finally:
        replica.stop()
    written = everything_written(tmp_path, replica)
    assert PASSWORD.replace(" ", "%20") not in written and PASSWORD not in written


def test_a_password_that_would_be_misread_is_refused_without_showing_it(
    tmp_path: Path, upstream: Upstream, guarded: str
) -> None:
    unencoded = guarded.replace("traymind@", "traymind:s3cr/et@")  # '/' not written as %2F
    config = write_config(tmp_path, agent_config(upstream.base_url))
    refused = serve(config, tmp_path / "data", {"TRAYMIND_STORAGE_URL": unencoded})
    refused.proc.wait(30)
    assert refused.proc.returncode != 0
    err = refused.proc.stderr.read() if refused.proc.stderr else ""
    assert "TRAYMIND_STORAGE_URL is not usable" in err and "%2F" in err
    assert "s3cr" not in err and "et@" not in err and "Traceback" not in err


def test_a_password_as_a_url_parameter_is_a_config_error_too(tmp_path: Path) -> None:
    from server.config import ConfigError, load_config

    path = write_config(
        tmp_path, {"storage": {"url": "postgresql://app@db/traymind?sslmode=require&password=s3"}}
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert "a password does not belong in config.yaml" in str(caught.value)
    assert "s3" not in str(caught.value).replace("https", "")


def test_a_model_cannot_send_a_database_password_as_its_key(tmp_path: Path) -> None:
    from server.config import ConfigError, parse_config

    with pytest.raises(ConfigError, match="never sent to a model provider"):
        parse_config(
            {
                "models": {"default": {"provider": "openai", "id": "m",
                                       "api_key_keyring": "database.team-db"}},
                "agents": {"a": {}},
            }
        )  # fmt: skip


def test_without_the_driver_the_commands_say_what_to_install(tmp_path: Path) -> None:
    # the outside world without psycopg: its import fails, as on an install without the extra
    blocked = "import sys; sys.modules['psycopg'] = None; from server.cli.main import main; "
    config = write_config(tmp_path, {"storage": {"url": "postgresql://app@db/traymind"},
                                     "agents": {"a": {}}})  # fmt: skip
    for args in (["keys", "list"], ["serve", "--port", "0"]):
        ran = subprocess.run(
            [sys.executable, "-c", blocked + f"raise SystemExit(main({args!r}))"],
            cwd=ROOT,
            env={**env(), "TRAYMIND_CONFIG": str(config), "TRAYMIND_LOG_DIR": str(tmp_path)},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert ran.returncode != 0, args
        assert "pip install 'traymind[postgres]'" in ran.stderr, (args, ran.stderr)
        assert "Traceback" not in ran.stderr, (args, ran.stderr)


def test_a_refused_login_is_told_apart_from_a_database_away(
    tmp_path: Path, upstream: Upstream, guarded: str
) -> None:
    config = write_config(
        tmp_path, {**agent_config(upstream.base_url), "storage": {"url": guarded}}
    )
    refused = serve(config, tmp_path / "data")  # no password anywhere
    refused.proc.wait(30)
    err = refused.proc.stderr.read() if refused.proc.stderr else ""
    assert refused.proc.returncode != 0
    assert "refused the login: check the password" in err and "Traceback" not in err
    missing = write_config(
        tmp_path,
        {
            **agent_config(upstream.base_url),
            "storage": {"url": guarded.replace("/postgres", "/nodb")},
        },
    )
    gone = serve(missing, tmp_path / "data", {"PGPASSWORD": PASSWORD})
    gone.proc.wait(30)
    err = gone.proc.stderr.read() if gone.proc.stderr else ""
    assert "does not exist on that server" in err and PASSWORD not in err
