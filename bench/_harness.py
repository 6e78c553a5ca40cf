"""What every benchmark shares: the two server processes, /proc readings, statistics, reports.

Each benchmark runs the loopback LLM stand-in (``python -m tests.upstream``) and
Traymind (``python -m server``) as two separate processes, and drives both from
this process (the load generator, ``bench._client``), so that Traymind is always
measured against the stand-in called directly, in the same run.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bench._procfs import ProcSample, proc_sample

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 60.0
AGENT = "general"
UPSTREAM_MODEL = "test-model"

# What Traymind's process gets: no probing of real local LLM servers, no OS keyring, no key.
SERVER_ENV = {
    "OPENAI_COMPAT_ALLOW_UNAUTHENTICATED": "1",
    "OPENAI_COMPAT_API_KEYS": "",
    "TRAYMIND_DETECT_URLS": "",
    "TRAYMIND_KEYSTORE": "file",
    "OPENAI_BASE_URL": "",
    "OPENAI_API_KEY": "",
    "PYTHONUNBUFFERED": "1",
}

REPLY_TEXT = (
    "Sure. A reverse proxy forwards each request to a backend and relays the answer; "
    "what it adds is parsing, routing and re-encoding, and every millisecond of that is "
    "paid by the person waiting. Keep the hot path free of work that can be done once, "
    "reuse connections, and stream as soon as the first byte arrives. That is the whole trick."
)


# Statistics


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100), linear between closest ranks; NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100.0
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def median(values: Sequence[float]) -> float:
    return percentile(values, 50)


def p99(values: Sequence[float]) -> float:
    return percentile(values, 99)


# Reports


@dataclass(slots=True)
class Row:
    """One line of a report: a metric for Traymind and for the direct baseline."""

    metric: str
    traymind: float
    direct: float | None = None
    unit: str = "ms"
    target: str = ""
    met: bool | None = None

    @property
    def difference(self) -> float | None:
        return None if self.direct is None else self.traymind - self.direct

    @property
    def ratio(self) -> float | None:
        if self.direct is None or self.direct == 0:
            return None
        return self.traymind / self.direct


@dataclass(slots=True)
class Report:
    """A benchmark's rows, notes and raw extras, printed as a table and saved as JSON."""

    name: str
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    extra: dict[str, object] = field(default_factory=dict)

    def add(self, *rows: Row) -> None:
        self.rows.extend(rows)

    def note(self, text: str) -> None:
        self.notes.append(text)

    def as_dict(self) -> dict[str, object]:
        rows = []
        for row in self.rows:
            data = asdict(row)
            data["difference"] = row.difference
            data["ratio"] = row.ratio
            rows.append(data)
        return {
            "name": self.name,
            "machine": machine(),
            "rows": rows,
            "notes": self.notes,
            "extra": self.extra,
        }


def machine() -> dict[str, object]:
    return {
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "uvloop": _has("uvloop"),
        "httptools": _has("httptools"),
    }


def _has(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


def _fmt(value: float | None, unit: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if unit == "x":
        return f"{value:.2f}x"
    if float(value).is_integer() and abs(value) < 1e6 and unit in ("", "deltas/s"):
        return f"{int(value)} {unit}".strip()
    if abs(value) >= 100:
        text = f"{value:.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.2f}"
    return f"{text} {unit}".strip()


def table(rows: Sequence[Row]) -> str:
    """The markdown table docs/benchmarks.md shows."""
    head = "| metric | Traymind | direct | difference | ratio | target | met? |"
    lines = [head, "|---|---:|---:|---:|---:|---|---|"]
    for row in rows:
        met = "" if row.met is None else ("yes" if row.met else "**no**")
        lines.append(
            f"| {row.metric} | {_fmt(row.traymind, row.unit)} | {_fmt(row.direct, row.unit)} "
            f"| {_fmt(row.difference, row.unit)} | {_fmt(row.ratio, 'x')} | {row.target} "
            f"| {met} |"
        )
    return "\n".join(lines)


def print_report(report: Report) -> None:
    info = machine()
    print(
        f"\n## {report.name}  ({info['cores']} cores, Python {info['python']}, "
        f"uvloop={info['uvloop']}, httptools={info['httptools']})\n"
    )
    print(table(report.rows))
    for note in report.notes:
        print(f"- {note}")
    sys.stdout.flush()


def save_report(report: Report, path: str | None) -> None:
    if path:
        Path(path).write_text(json.dumps(report.as_dict(), indent=2), encoding="utf-8")


# Processes


@dataclass
class Process:
    """A child process that prints its base URL on its first stdout line."""

    name: str
    proc: subprocess.Popen[str]
    url: str = ""

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def port(self) -> int:
        return int(self.url.split("://", 1)[1].split("/", 1)[0].rsplit(":", 1)[1])

    def sample(self) -> ProcSample:
        return proc_sample(self.pid)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def run_benchmark(
    parse_args: Callable[[list[str] | None], argparse.Namespace],
    run: Callable[[argparse.Namespace], Report],
    argv: list[str] | None = None,
) -> None:
    """A benchmark's command: parse, run, print the report, save it when ``--json`` asks."""
    args = parse_args(argv)
    report = run(args)
    print_report(report)
    save_report(report, args.json)


def spawn(
    name: str,
    args: list[str],
    prefix: str,
    env: dict[str, str] | None = None,
    log_path: Path | None = None,
    python: str | None = None,
) -> Process:
    """Start ``python args...`` in the repository; wait for the line ``prefix URL``."""
    stderr = log_path.open("w") if log_path else subprocess.DEVNULL
    proc = subprocess.Popen(
        [python or sys.executable, *args],
        cwd=ROOT,
        env={**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
    )
    process = Process(name, proc)
    assert proc.stdout is not None
    deadline = time.monotonic() + START_TIMEOUT
    line = proc.stdout.readline()
    if prefix not in line or time.monotonic() > deadline:
        process.stop()
        raise RuntimeError(f"{name} did not start (got {line!r}); see {log_path}")
    process.url = line.strip().split(prefix, 1)[1].strip()
    return process


def start_upstream(
    workdir: Path,
    *,
    text: str = REPLY_TEXT,
    chunks: int | None = None,
    delay: float = 0.0,
    agentic: bool = False,
) -> Process:
    """The loopback LLM stand-in as its own process (``agentic``: it answers tool loops)."""
    args = ["-m", "tests.upstream", "--port", "0", "--text", text, "--delay", str(delay)]
    if chunks:
        args += ["--chunks", str(chunks)]
    if agentic:
        args.append("--agentic")
    return spawn("upstream", args, "upstream listening ", log_path=workdir / "upstream.log")


def traymind_config(
    upstream_url: str,
    *,
    max_concurrent_runs: int | None = None,
    max_queued_runs: int | None = None,
    context_window: int | None = None,
    tools: int | None = None,
) -> str:
    """A config.yaml: one agent on a ``default`` model at the stand-in; without tools
    (the direct path), or with ``calculator`` and ``current_time`` when ``tools``."""
    lines = [
        "models:",
        "  default:",
        "    provider: openai",
        f"    id: {UPSTREAM_MODEL}",
        f"    base_url: {upstream_url}",
    ]
    if context_window:
        lines.append(f"    context_window: {context_window}")
    lines += [
        "agents:",
        f"  {AGENT}:",
        "    display_name: GeneralAgent",
        "    role: General-purpose assistant",
        "    instructions:",
        "      - Give clear, helpful answers.",
    ]
    if tools:
        lines.append("    tools: [calculator, current_time]")
    limits = {"max_concurrent_runs": max_concurrent_runs, "max_queued_runs": max_queued_runs}
    if any(value is not None for value in limits.values()):
        lines.append("server:")
        lines += [f"  {key}: {value}" for key, value in limits.items() if value is not None]
    return "\n".join(lines) + "\n"


def start_traymind(
    workdir: Path,
    upstream_url: str,
    *,
    python: str | None = None,
    name: str = "traymind",
    config_text: str | None = None,
    **config: int | None,
) -> Process:
    """``python -m server`` on a free port, with a temporary config and data dir.

    ``python`` runs it under another interpreter (one with the same dependencies), and
    ``name`` keeps two servers of one run apart (their config, data and log).
    """
    config_path = workdir / f"{name}-config.yaml"
    text = config_text if config_text is not None else traymind_config(upstream_url, **config)
    config_path.write_text(text, encoding="utf-8")
    env = {**SERVER_ENV, "TRAYMIND_LOG_DIR": str(workdir / f"{name}-log")}
    data_dir = workdir / ("data" if name == "traymind" else f"{name}-data")
    args = [
        "-m",
        "server",
        "--config",
        str(config_path),
        "--port",
        "0",
        "--data-dir",
        str(data_dir),
    ]
    return spawn(
        name,
        args,
        "Traymind serving ",
        env,
        log_path=workdir / f"{name}.log",
        python=python or server_python(),
    )


def server_python() -> str:
    """The interpreter Traymind runs under: ``TRAYMIND_BENCH_PYTHON`` or this one."""
    return os.environ.get("TRAYMIND_BENCH_PYTHON") or sys.executable


@contextlib.contextmanager
def workspace(name: str) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix=f"traymind-bench-{name}-") as tmp:
        yield Path(tmp)


@contextlib.contextmanager
def processes() -> Iterator[list[Process]]:
    """Stop every started process on exit, whatever happens."""
    started: list[Process] = []
    try:
        yield started
    finally:
        for process in reversed(started):
            process.stop()


def host_port(url: str) -> tuple[str, int]:
    """``http://127.0.0.1:PORT/v1`` as (host, port)."""
    netloc = url.split("://", 1)[1].split("/", 1)[0]
    host, _, port = netloc.rpartition(":")
    return host, int(port)


def ms(seconds: float) -> float:
    return seconds * 1000.0


def start_null(workdir: Path) -> Process:
    """The null server (``bench._null_server``): the load generator's floor."""
    return spawn(
        "null", ["-m", "bench._null_server"], "null listening ", log_path=workdir / "null.log"
    )


def start_floor(workdir: Path, upstream_url: str) -> Process:
    """The reference relay without the agent runtime (``bench._floor_proxy``)."""
    return spawn(
        "floor",
        ["-m", "bench._floor_proxy", "--upstream", upstream_url],
        "floor listening ",
        log_path=workdir / "floor.log",
    )
