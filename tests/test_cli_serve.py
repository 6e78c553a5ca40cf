"""``traymind serve`` / ``python -m server`` as a real process: readiness, signals, exits."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.harness import ROOT, ServeProcess, agent_config, write_config
from tests.upstream import Reply, Upstream

KEY = "sk-cli-test"


def serve_args(config: Path, data: Path, *extra: str) -> list[str]:
    return ["-m", "server", "--config", str(config), "--port", "0", "--data-dir", str(data), *extra]


def test_prints_one_line_once_serving_and_exits_0_on_sigterm(tmp_path: Path) -> None:
    config = write_config(tmp_path, agent_config(None))
    proc = ServeProcess(serve_args(config, tmp_path / "d"), env={"OPENAI_COMPAT_API_KEYS": KEY})
    try:
        url = proc.wait_ready()
        assert url.startswith("http://127.0.0.1:") and url.endswith("/v1")
        # the line is printed only once the socket accepts connections
        response = httpx.get(url.removesuffix("/v1") + "/api/health", timeout=5)
        assert response.status_code == 200
        proc.proc.send_signal(signal.SIGTERM)
        assert proc.proc.wait(5) == 0
        assert proc.proc.stdout is not None
        assert proc.proc.stdout.read() == ""  # exactly one line on stdout
    finally:
        proc.stop()


def test_sigint_with_an_open_stream_stops_within_5_seconds(tmp_path: Path) -> None:
    with Upstream() as up:
        up.default = Reply.deltas([f"w{i} " for i in range(1000)], delay=0.05)
        config = write_config(tmp_path, agent_config(up.base_url))
        proc = ServeProcess(serve_args(config, tmp_path / "d"), env={"OPENAI_COMPAT_API_KEYS": KEY})
        try:
            url = proc.wait_ready()
            with (
                httpx.Client(timeout=10) as client,
                client.stream(
                    "POST",
                    f"{url}/chat/completions",
                    headers={"Authorization": f"Bearer {KEY}"},
                    json={
                        "model": "general",
                        "stream": True,
                        "messages": [{"role": "user", "content": "long"}],
                    },
                ) as response,
            ):
                lines = response.iter_lines()
                for line in lines:
                    if "w3" in line:
                        break
                started = time.monotonic()
                proc.proc.send_signal(signal.SIGINT)
                rest = list(lines)
            assert proc.proc.wait(5) == 0
            assert time.monotonic() - started < 5
            assert rest[-2:] == ["data: [DONE]", ""] or rest[-1] == "data: [DONE]"
            text = "".join(
                json.loads(line[6:])["choices"][0]["delta"].get("content") or ""
                for line in rest
                if line.startswith("data: {")
            )
            assert "shutting down" in text
        finally:
            proc.stop()


def test_port_in_use_is_one_line_and_exit_2(tmp_path: Path) -> None:
    config = write_config(tmp_path, agent_config(None))
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "server",
                "--config",
                str(config),
                "--port",
                str(port),
                "--data-dir",
                str(tmp_path / "d"),
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=30,
            env={**ServeProcess.base_env()},
        )
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert str(port) in lines[0] and "already in use" in lines[0]
    assert "Traceback" not in result.stderr


def test_bad_config_is_a_clear_message_and_check_config_exits_non_zero(tmp_path: Path) -> None:
    config = write_config(tmp_path, "agents:\n  general:\n    instruction: [x]\n")
    serve = subprocess.run(
        [
            sys.executable,
            "-m",
            "server",
            "--config",
            str(config),
            "--port",
            "0",
            "--data-dir",
            str(tmp_path / "d"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        env=ServeProcess.base_env(),
    )
    assert serve.returncode == 2
    assert "agents.general.instruction" in serve.stderr and "instructions" in serve.stderr
    assert str(config.name) in serve.stderr
    assert "Traceback" not in serve.stderr

    check = subprocess.run(
        [sys.executable, "-m", "app.cli", "check-config", str(config)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        env=ServeProcess.base_env(),
    )
    assert check.returncode != 0
    assert "did you mean 'instructions'" in check.stderr

    good = write_config(tmp_path, agent_config(None))
    ok = subprocess.run(
        [sys.executable, "-m", "app.cli", "check-config", str(good)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        env=ServeProcess.base_env(),
    )
    assert ok.returncode == 0, ok.stderr
    assert "OK" in ok.stdout


def test_traymind_serve_subcommand_takes_the_same_options(tmp_path: Path) -> None:
    config = write_config(tmp_path, agent_config(None))
    proc = ServeProcess(
        [
            "-m",
            "app.cli",
            "serve",
            "--config",
            str(config),
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--data-dir",
            str(tmp_path / "d"),
        ],
        env={"OPENAI_COMPAT_ALLOW_UNAUTHENTICATED": "true"},
    )
    try:
        url = proc.wait_ready()
        models = httpx.get(f"{url}/models", timeout=5).json()
        assert [m["id"] for m in models["data"]] == ["auto", "general"]
        proc.proc.send_signal(signal.SIGINT)
        assert proc.proc.wait(5) == 0
    finally:
        proc.stop()


def test_traymind_without_a_display_runs_headless(tmp_path: Path) -> None:
    config = write_config(tmp_path, agent_config(None))
    env = {
        k: v
        for k, v in ServeProcess.base_env().items()
        if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")
    }
    proc = ServeProcess(
        [
            "-m",
            "app.cli",
            "--config",
            str(config),
            "--port",
            "0",
            "--data-dir",
            str(tmp_path / "d"),
        ],
        env=env,
        replace_env=True,
    )
    try:
        proc.wait_ready()
        proc.proc.send_signal(signal.SIGTERM)
        assert proc.proc.wait(5) == 0
        assert proc.proc.stderr is not None
        assert "no display" in proc.proc.stderr.read()
    finally:
        proc.stop()


@pytest.mark.parametrize(
    "module",
    [
        "server",
        "server.cli.main",
        "server.runner",
        "server.api",
        "server.agents.runtime",
        "app.cli",
    ],
)
def test_server_imports_without_pyside6(module: str) -> None:
    """Qt is blocked at import: the headless server must never need it."""
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'PySide6' or name.startswith('PySide6.'):\n"
        "            raise ImportError('PySide6 blocked for this test')\n"
        "sys.meta_path.insert(0, Block())\n"
        f"import {module}\n"
        "assert not any(m.startswith('PySide6') for m in sys.modules)\n"
        "print('ok')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
