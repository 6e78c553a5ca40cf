"""Starting Traymind for tests: in-process over a real socket, or as a real process.

The in-process server is the same ``ServerHandle`` the tray app uses, listening
on a free loopback port; clients reach it only over HTTP. Environment variables
are set while the server runs and restored after.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import openai
import yaml

from server.providers.tls import tls_context
from server.runner import ServeOptions, ServerHandle

ROOT = Path(__file__).resolve().parent.parent

# Tests never probe the developer's real local LLM servers, nor use their keyring.
BASE_ENV = {
    "TRAYMIND_DETECT_URLS": "",
    "TRAYMIND_KEYSTORE": "file",
    "TRAYMIND_DATA_DIR": "",  # the tray exports its data dir: restored after every test
    "OPENAI_COMPAT_API_KEYS": "",
    "OPENAI_COMPAT_ALLOW_UNAUTHENTICATED": "",
    "OPENAI_BASE_URL": "",
    "OPENAI_API_KEY": "",
}


def agent_config(upstream_url: str | None, **agents: dict[str, object]) -> dict[str, object]:
    """A config with a ``default`` model at the stand-in and the given agents."""
    config: dict[str, object] = {
        "agents": agents or {"general": {"display_name": "GeneralAgent", "role": "Helper"}}
    }
    if upstream_url:
        config["models"] = {
            "default": {"provider": "openai", "id": "test-model", "base_url": upstream_url}
        }
    return config


def write_config(directory: Path, config: Mapping[str, object] | str) -> Path:
    path = directory / "config.yaml"
    text = config if isinstance(config, str) else yaml.safe_dump(dict(config), sort_keys=False)
    path.write_text(text, encoding="utf-8")
    return path


@contextmanager
def environment(values: Mapping[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


@contextmanager
def running_server(
    directory: Path,
    config: Mapping[str, object] | str,
    *,
    env: Mapping[str, str] | None = None,
    data_dir: Path | None = None,
) -> Iterator[ServerHandle]:
    """A started in-process server on a free port; stopped on exit."""
    config_path = write_config(directory, config)
    handle = ServerHandle(
        ServeOptions(
            config=str(config_path),
            port=0,
            data_dir=str(data_dir or directory / "data"),
        )
    )
    with environment({**BASE_ENV, **(env or {})}):
        handle.start()
        try:
            yield handle
        finally:
            handle.stop()


@contextmanager
def replicas(
    directory: Path, config: Mapping[str, object], env: Mapping[str, str], count: int = 2
) -> Iterator[list[ServerHandle]]:
    """``count`` in-process servers on one config (replicas when it names a shared
    ``storage``), each with its own folder and data dir; all stopped on exit."""
    with ExitStack() as stack:
        handles = []
        for i in range(count):
            folder = directory / chr(ord("a") + i)
            folder.mkdir()
            handles.append(stack.enter_context(running_server(folder, config, env=env)))
        yield handles


def kill_during_streams(
    proc: ServeProcess, upstream: Any, headers: Mapping[str, str], sessions: int, streaming: int
) -> None:
    """One streaming turn in each session ``k0``..: SIGKILL the server once ``streaming`` of
    them reach the stand-in, then wait for every client to see its connection end."""

    def stream(i: int) -> None:
        try:
            with (
                httpx.Client(timeout=30) as h,
                h.stream(
                    "POST",
                    f"{proc.url}/chat/completions",
                    headers={**headers, "X-Session-Id": f"k{i}"},
                    json={
                        "model": "general",
                        "stream": True,
                        "messages": [{"role": "user", "content": "killed"}],
                    },
                ) as response,
            ):
                for _ in response.iter_lines():
                    pass
        except httpx.HTTPError:
            pass  # the server was killed under us: expected

    threads = [threading.Thread(target=stream, args=(i,)) for i in range(sessions)]
    for t in threads:
        t.start()
    assert upstream.wait_until(lambda: upstream.active_streams >= streaming, timeout=20)
    proc.proc.send_signal(signal.SIGKILL)
    proc.proc.wait(10)
    for t in threads:
        t.join(30)


def client(handle: ServerHandle, key: str = "unused", **headers: str) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=handle.url,
        api_key=key,
        max_retries=0,
        default_headers=headers or None,
        timeout=30,
        http_client=openai.DefaultHttpxClient(verify=tls_context()),
    )


def http(handle: ServerHandle) -> httpx.Client:
    return httpx.Client(base_url=handle.url.removesuffix("/v1"), timeout=30, verify=tls_context())


class ServeProcess:
    """``python -m server`` (or another command) as a real process, for signals and exits."""

    def __init__(
        self, args: list[str], env: Mapping[str, str] | None = None, *, replace_env: bool = False
    ) -> None:
        base = {} if replace_env else self.base_env()
        full_env = {**base, **(env or {}), "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, *args],
            cwd=ROOT,
            env=full_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.url: str | None = None

    @staticmethod
    def base_env() -> dict[str, str]:
        return {**os.environ, **BASE_ENV}

    def wait_ready(self, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("Traymind serving ") or time.monotonic() > deadline:
            err = self.proc.stderr.read() if self.proc.stderr else ""
            raise AssertionError(f"server did not start: {line!r} {err}")
        self.url = line.strip().removeprefix("Traymind serving ")
        return self.url

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
