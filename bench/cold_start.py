"""Cold start: process start to the first ``/v1/models`` 200, and idle memory.

``python -m bench.cold_start [--runs 5]``. Each run starts a fresh process on a
free port with a fresh data dir and polls ``GET /v1/models`` every 2 ms:

- ``traymind serve`` (the console script when installed, else
  ``python -m app.cli serve``, its entry point);
- the tray app, ``python -m app.cli`` with ``QT_QPA_PLATFORM=offscreen`` and a
  temporary HOME (only when ``app/main.py`` exists);
- ``direct``: the stand-in (``python -m tests.upstream``), the floor of a
  Python uvicorn server, as the baseline in the same run.

Also measured per run: the first chat answer (sent as soon as ``/v1/models``
answers; it waits for the agent runtime that loads in the background), RSS
when ``/v1/models`` first answers, and RSS once idle (``--settle`` seconds
after start, the runtime loaded and one chat served). Medians are reported.
"""

from __future__ import annotations

import argparse
import http.client
import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bench._harness import (
    AGENT,
    ROOT,
    SERVER_ENV,
    Report,
    Row,
    median,
    processes,
    run_benchmark,
    server_python,
    start_upstream,
    traymind_config,
    workspace,
)
from bench._procfs import OtherLoad, proc_sample

START_TARGET_S = 1.5
IDLE_RSS_TARGET_MB = 150
POLL_SECONDS = 0.002
TIMEOUT = 60.0
CHAT_BODY = b'{"model":"' + AGENT.encode() + b'","messages":[{"role":"user","content":"hi"}]}'


@dataclass(slots=True)
class Start:
    ready: float  # seconds from spawn to the first /v1/models 200
    first_chat: float | None  # seconds from spawn to the first chat 200
    rss_ready_mb: float
    rss_idle_mb: float


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.cold_start", description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--settle", type=float, default=4.0, help="seconds before idle RSS")
    parser.add_argument("--json", metavar="PATH", help="also write the report as JSON")
    return parser.parse_args(argv)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_status(port: int, method: str, path: str, body: bytes | None = None) -> int | None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body=body, headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        response.read()
        return response.status
    except OSError:
        return None
    finally:
        conn.close()


def serve_command() -> list[str]:
    script = shutil.which("traymind", path=str(Path(server_python()).parent))
    return [script, "serve"] if script else [server_python(), "-m", "app.cli", "serve"]


def measure_start(
    command: list[str], env: dict[str, str], port: int, settle: float, chat: bool
) -> Start:
    started = time.perf_counter()
    proc = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        while http_status(port, "GET", "/v1/models") != 200:
            if proc.poll() is not None or time.perf_counter() - started > TIMEOUT:
                raise RuntimeError(f"{command} did not serve /v1/models (exit {proc.poll()})")
            time.sleep(POLL_SECONDS)
        ready = time.perf_counter() - started
        rss_ready = proc_sample(proc.pid).rss_kib / 1024
        first_chat = None
        if chat and http_status(port, "POST", "/v1/chat/completions", CHAT_BODY) == 200:
            first_chat = time.perf_counter() - started
        time.sleep(max(0.0, settle - (time.perf_counter() - started)))
        rss_idle = proc_sample(proc.pid).rss_kib / 1024
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    return Start(ready, first_chat, rss_ready, rss_idle)


def traymind_env(tmp: Path, gui: bool) -> dict[str, str]:
    env = {**os.environ, **SERVER_ENV, "TRAYMIND_LOG_DIR": str(tmp / "log")}
    if gui:
        home = tmp / "home"
        env.update(
            {
                "QT_QPA_PLATFORM": "offscreen",
                "HOME": str(home),
                "XDG_CONFIG_HOME": str(home / ".config"),
                "XDG_DATA_HOME": str(home / ".local/share"),
                "XDG_STATE_HOME": str(home / ".local/state"),
            }
        )
    return env


def run_kind(kind: str, tmp: Path, upstream_url: str, args: argparse.Namespace) -> list[Start]:
    config = tmp / "config.yaml"
    config.write_text(traymind_config(upstream_url), encoding="utf-8")
    results = []
    for run in range(args.runs):
        port = free_port()
        data = [
            "--config",
            str(config),
            "--port",
            str(port),
            "--data-dir",
            str(tmp / f"{kind}-data-{run}"),
        ]
        if kind == "direct":
            command = [sys.executable, "-m", "tests.upstream", "--port", str(port)]
            results.append(measure_start(command, dict(os.environ), port, args.settle, False))
        elif kind == "serve":
            command = [*serve_command(), *data]
            results.append(
                measure_start(command, traymind_env(tmp, False), port, args.settle, True)
            )
        else:
            command = [server_python(), "-m", "app.cli", *data]
            results.append(measure_start(command, traymind_env(tmp, True), port, args.settle, True))
    return results


def build_report(by_kind: dict[str, list[Start]], args: argparse.Namespace) -> Report:
    report = Report(f"Cold start (median of {args.runs})")
    direct = by_kind["direct"]
    base_ready = median([s.ready for s in direct]) * 1000
    base_rss = median([s.rss_idle_mb for s in direct])
    for kind, label in (("serve", "traymind serve"), ("tray", "tray app (offscreen)")):
        starts = by_kind.get(kind)
        if not starts:
            continue
        ready = median([s.ready for s in starts]) * 1000
        chats = [s.first_chat for s in starts if s.first_chat is not None]
        idle = median([s.rss_idle_mb for s in starts])
        report.add(
            Row(
                f"{label}: start to /v1/models 200",
                ready,
                base_ready,
                target=f"< {START_TARGET_S * 1000:g} ms",
                met=ready < START_TARGET_S * 1000,
            ),
            Row(
                f"{label}: start to first chat answer",
                median(chats) * 1000 if chats else float("nan"),
                None,
            ),
            Row(
                f"{label}: RSS at first /v1/models",
                median([s.rss_ready_mb for s in starts]),
                median([s.rss_ready_mb for s in direct]),
                unit="MiB",
            ),
            Row(
                f"{label}: idle RSS ({args.settle:g} s, runtime loaded)",
                idle,
                base_rss,
                unit="MiB",
                target=f"< {IDLE_RSS_TARGET_MB} MB",
                met=idle * 1.048576 < IDLE_RSS_TARGET_MB,
            ),
        )
        if len(chats) < len(starts):
            report.note(f"{label}: {len(starts) - len(chats)} first chats failed.")
    if "tray" not in by_kind:
        report.note("Tray app: not yet measurable (app/main.py does not exist).")
    report.note(
        "'direct' is the stand-in (uvicorn and a bare ASGI app): the floor of a Python "
        f"server. Command: {' '.join(serve_command())}."
    )
    report.extra = {
        kind: [{f: getattr(s, f) for f in Start.__slots__} for s in starts]
        for kind, starts in by_kind.items()
    }
    return report


def run(args: argparse.Namespace) -> Report:
    with workspace("cold") as tmp, processes() as started:
        upstream = start_upstream(tmp)
        started.append(upstream)
        load = OtherLoad([upstream.pid])
        load.start()
        kinds = ["direct", "serve"] + (["tray"] if (ROOT / "app" / "main.py").exists() else [])
        by_kind = {kind: run_kind(kind, tmp, upstream.url, args) for kind in kinds}
        report = build_report(by_kind, args)
        report.note(load.note())
    return report


def main(argv: list[str] | None = None) -> None:
    run_benchmark(parse_args, run, argv)


if __name__ == "__main__":
    main()
