"""Keys from the key store are accepted beside the environment's, and revocation is live."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.harness import ROOT, ServeProcess, agent_config, running_server

ENV_KEY = "sk-env-key"


def traymind(*args: str, data: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "app.cli",
            "keys",
            *args,
            "--data-dir",
            str(data),
            "--keystore",
            "file",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env=ServeProcess.base_env(),
    )


def status_with(handle, key: str) -> int:
    with httpx.Client(timeout=5) as h:
        return h.get(f"{handle.url}/models", headers={"Authorization": f"Bearer {key}"}).status_code


def wait_for_status(handle, key: str, expected: int, within: float = 2.5) -> float:
    start = time.monotonic()
    while status_with(handle, key) != expected:
        assert time.monotonic() - start < within, f"not {expected} within {within}s"
        time.sleep(0.05)
    return time.monotonic() - start


def test_cli_key_is_honoured_and_revoked_while_running(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {"OPENAI_COMPAT_API_KEYS": ENV_KEY}
    with running_server(tmp_path, agent_config(None), env=env, data_dir=data) as handle:
        created = traymind("create", "--label", "laptop", data=data)
        assert created.returncode == 0, created.stderr
        key = created.stdout.strip()
        assert key.startswith("sk-") and "\n" not in key
        wait_for_status(handle, key, 200)
        assert status_with(handle, ENV_KEY) == 200

        listing = traymind("list", data=data)
        assert "laptop" in listing.stdout and key not in listing.stdout
        # using the key records when it was last used (written off the request path)
        deadline = time.monotonic() + 5
        while "never" in (
            row := next(
                line for line in traymind("list", data=data).stdout.splitlines() if "laptop" in line
            )
        ):
            assert time.monotonic() < deadline, row
            time.sleep(0.1)

        assert traymind("revoke", "laptop", data=data).returncode == 0
        wait_for_status(handle, key, 401)
        assert status_with(handle, ENV_KEY) == 200
    for path in data.rglob("*"):
        if path.is_file():
            assert key.encode() not in path.read_bytes(), f"key in plaintext in {path}"
