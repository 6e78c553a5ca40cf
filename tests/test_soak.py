"""Soak: minutes of steady mixed traffic with periodic disconnects; memory and fds stay flat.

Slow by design (bounded to ``SOAK_SECONDS``, default 120): ``make test-slow`` runs it.
"""

from __future__ import annotations

import os
import random
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.harness import ServeProcess, agent_config, write_config
from tests.upstream import Reply, Upstream

pytestmark = pytest.mark.slow
KEY = "sk-soak"
SOAK_SECONDS = float(os.environ.get("SOAK_SECONDS", "120"))
WORKERS = 8


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def test_memory_and_file_descriptors_stay_flat(tmp_path: Path) -> None:
    with Upstream() as up:
        up.default = Reply.deltas([f"t{i} " for i in range(30)], delay=0.005)
        config = write_config(
            tmp_path, agent_config(up.base_url, general={"tools": ["calculator"]})
        )
        proc = ServeProcess(
            [
                "-m",
                "server",
                "--config",
                str(config),
                "--port",
                "0",
                "--data-dir",
                str(tmp_path / "d"),
            ],
            env={"OPENAI_COMPAT_API_KEYS": KEY},
        )
        url = proc.wait_ready()
        pid = proc.proc.pid
        stop = threading.Event()
        errors: list[str] = []
        counts = {"done": 0, "abandoned": 0}

        def worker(n: int) -> None:
            rng = random.Random(n)
            with httpx.Client(timeout=30) as h:
                while not stop.is_set():
                    headers = {"Authorization": f"Bearer {KEY}"}
                    if rng.random() < 0.5:
                        headers["X-Session-Id"] = f"s{n}-{rng.randint(0, 20)}"
                    body = {
                        "model": "general",
                        "stream": rng.random() < 0.7,
                        "messages": [{"role": "user", "content": "soak"}],
                    }
                    try:
                        if body["stream"] and rng.random() < 0.3:
                            with h.stream(
                                "POST", f"{url}/chat/completions", headers=headers, json=body
                            ) as response:
                                for line in response.iter_lines():
                                    if "t3" in line:
                                        break
                            counts["abandoned"] += 1
                            continue
                        response = h.post(f"{url}/chat/completions", headers=headers, json=body)
                        if response.status_code != 200:
                            errors.append(f"{response.status_code} {response.text[:200]}")
                        counts["done"] += 1
                    except httpx.HTTPError as exc:
                        errors.append(repr(exc))

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(WORKERS)]
        for t in threads:
            t.start()
        try:
            time.sleep(min(20.0, SOAK_SECONDS / 4))  # warm-up: caches, pools, imports
            rss_start, fds_start = rss_kib(pid), open_fds(pid)
            time.sleep(SOAK_SECONDS)
            rss_end, fds_end = rss_kib(pid), open_fds(pid)
        finally:
            stop.set()
            for t in threads:
                t.join(30)
            proc.stop()
    print(f"soak: {counts}, rss {rss_start} -> {rss_end} KiB, fds {fds_start} -> {fds_end}")
    assert errors == []
    assert counts["done"] > 100 and counts["abandoned"] > 10
    assert rss_end - rss_start < 20 * 1024, "memory grew by more than 20 MiB"
    assert fds_end - fds_start <= 5, "file descriptors leaked"
