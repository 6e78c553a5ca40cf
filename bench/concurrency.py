"""Concurrent streaming sessions: Traymind against the stand-in called directly.

``python -m bench.concurrency [--levels 10,100,500] [--rounds 2]``. The
stand-in streams ``--deltas`` deltas ``--delay`` seconds apart (50 at 20 ms:
about a second, a realistic 50 tokens/s). At each level N, N sessions, each on
its own keep-alive connection and starting at a random moment within the first
stream's duration, run ``--rounds`` streams back to back: first against the
stand-in directly, then through Traymind. Reported per level: errors (a stream
is good only if it is a 200 with every delta and ``[DONE]``), TTFT and
inter-chunk delay (p50, p99), throughput, Traymind's CPU (share of one core)
and its peak RSS (``VmHWM``, reset before each level), and the generator's own
CPU share, to show it was not the bottleneck.

Traymind runs at most ``server.max_concurrent_runs`` turns at once (64 by
default) and queues the rest; this benchmark raises it to the largest level so
that every session streams at once. ``--default-limits`` keeps the shipped
defaults instead.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from dataclasses import dataclass, field

from bench import _client
from bench._harness import (
    AGENT,
    REPLY_TEXT,
    UPSTREAM_MODEL,
    Report,
    Row,
    host_port,
    median,
    ms,
    p99,
    processes,
    run_benchmark,
    start_traymind,
    start_upstream,
    workspace,
)
from bench._procfs import OtherLoad, proc_sample, reset_peak, self_cpu_seconds

QUESTION = [{"role": "user", "content": "Tell me a story about a lighthouse keeper."}]


@dataclass
class Phase:
    """One level against one target."""

    target: str
    sessions: int
    exchanges: list[_client.Exchange] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    wall: float = 0.0
    server_cpu: float = 0.0
    upstream_cpu: float = 0.0
    generator_cpu: float = 0.0
    peak_rss_kib: int = 0
    peak_active: int = 0

    @property
    def ttfts_ms(self) -> list[float]:
        return [ms(e.ttft) for e in self.exchanges if e.ttft is not None]

    @property
    def gaps_ms(self) -> list[float]:
        return [ms(gap) for e in self.exchanges for gap in e.gaps()]

    def deltas_per_second(self) -> float:
        return sum(len(e.token_times) for e in self.exchanges) / self.wall if self.wall else 0.0

    def summary(self) -> dict[str, object]:
        return {
            "sessions": self.sessions,
            "streams": len(self.exchanges),
            "errors": len(self.errors),
            "wall_s": self.wall,
            "ttft_p50_ms": median(self.ttfts_ms),
            "ttft_p99_ms": p99(self.ttfts_ms),
            "gap_p50_ms": median(self.gaps_ms),
            "gap_p99_ms": p99(self.gaps_ms),
            "deltas_per_s": self.deltas_per_second(),
            "server_cpu_s": self.server_cpu,
            "upstream_cpu_s": self.upstream_cpu,
            "generator_cpu_s": self.generator_cpu,
            "peak_rss_kib": self.peak_rss_kib,
            "first_errors": self.errors[:3],
        }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.concurrency", description=__doc__)
    parser.add_argument("--levels", default="10,100,500", help="concurrent sessions per level")
    parser.add_argument("--rounds", type=int, default=2, help="streams per session")
    parser.add_argument("--deltas", type=int, default=50)
    parser.add_argument("--delay", type=float, default=0.02, help="seconds between deltas")
    parser.add_argument("--persisted", action="store_true", help="each session sends X-Session-Id")
    parser.add_argument(
        "--default-limits",
        action="store_true",
        help="keep Traymind's default max_concurrent_runs/max_queued_runs",
    )
    parser.add_argument(
        "--tools",
        action="store_true",
        help="the agent has calculator and current_time (the agent runtime, not the direct path)",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", metavar="PATH", help="also write the report as JSON")
    return parser.parse_args(argv)


async def session(
    url: str,
    model: str,
    index: int,
    args: argparse.Namespace,
    start: float,
    phase: Phase,
    active: list[int],
) -> None:
    host, port = host_port(url)
    client = _client.Client(host, port)
    headers = {"X-Session-Id": f"conc-{phase.sessions}-{index}"} if args.persisted else None
    await asyncio.sleep(start)
    for _ in range(args.rounds):
        data = _client.chat_request(host, port, model, QUESTION, stream=True, headers=headers)
        active[0] += 1
        phase.peak_active = max(phase.peak_active, active[0])
        exchange = await client.request(data, stream=True)
        active[0] -= 1
        problem = _client.check(exchange, stream=True, tokens=args.deltas)
        if problem:
            phase.errors.append(problem)
        else:
            phase.exchanges.append(exchange)
    client.close()


async def run_phase(
    url: str,
    model: str,
    sessions: int,
    args: argparse.Namespace,
    server_pid: int | None,
    upstream_pid: int,
) -> Phase:
    phase = Phase("traymind" if server_pid else "direct", sessions)
    spread = args.deltas * args.delay
    rng = random.Random(args.seed + sessions)
    starts = [rng.uniform(0, spread) for _ in range(sessions)]
    if server_pid:
        reset_peak(server_pid)
    before_server = proc_sample(server_pid).cpu_seconds if server_pid else 0.0
    before_upstream = proc_sample(upstream_pid).cpu_seconds
    before_generator = self_cpu_seconds()
    started = time.perf_counter()
    active = [0]
    await asyncio.gather(
        *(session(url, model, i, args, starts[i], phase, active) for i in range(sessions))
    )
    phase.wall = time.perf_counter() - started
    phase.generator_cpu = self_cpu_seconds() - before_generator
    phase.upstream_cpu = proc_sample(upstream_pid).cpu_seconds - before_upstream
    if server_pid:
        sample = proc_sample(server_pid)
        phase.server_cpu = sample.cpu_seconds - before_server
        phase.peak_rss_kib = sample.hwm_kib
    return phase


def level_rows(direct: Phase, tm: Phase) -> list[Row]:
    n = tm.sessions
    allowed = n / 100.0  # ms of extra p99 inter-chunk delay
    extra_gap = p99(tm.gaps_ms) - p99(direct.gaps_ms)
    return [
        Row(
            f"{n} streams: errors",
            len(tm.errors),
            len(direct.errors),
            unit="",
            target="0",
            met=not tm.errors,
        ),
        Row(f"{n} streams: TTFT p50", median(tm.ttfts_ms), median(direct.ttfts_ms)),
        Row(f"{n} streams: TTFT p99", p99(tm.ttfts_ms), p99(direct.ttfts_ms)),
        Row(f"{n} streams: inter-chunk p50", median(tm.gaps_ms), median(direct.gaps_ms)),
        Row(
            f"{n} streams: inter-chunk p99",
            p99(tm.gaps_ms),
            p99(direct.gaps_ms),
            target=f"+<= {allowed:g} ms",
            met=extra_gap <= allowed,
        ),
        Row(
            f"{n} streams: throughput",
            tm.deltas_per_second(),
            direct.deltas_per_second(),
            unit="deltas/s",
        ),
        Row(f"{n} streams: Traymind CPU", 100 * tm.server_cpu / tm.wall, None, unit="% of a core"),
        Row(f"{n} streams: Traymind peak RSS", tm.peak_rss_kib / 1024, None, unit="MiB"),
    ]


async def run_levels(
    args: argparse.Namespace,
    upstream_url: str,
    traymind_url: str,
    traymind_pid: int,
    upstream_pid: int,
) -> list[tuple[Phase, Phase]]:
    results = []
    for sessions in (int(x) for x in args.levels.split(",")):
        direct = await run_phase(upstream_url, UPSTREAM_MODEL, sessions, args, None, upstream_pid)
        tm = await run_phase(traymind_url, AGENT, sessions, args, traymind_pid, upstream_pid)
        results.append((direct, tm))
    return results


def run(args: argparse.Namespace) -> Report:
    levels = [int(x) for x in args.levels.split(",")]
    limits = (
        {}
        if args.default_limits
        else {"max_concurrent_runs": max(levels), "max_queued_runs": max(levels)}
    )
    with workspace("concurrency") as tmp, processes() as started:
        text = (REPLY_TEXT * (1 + 2 * args.deltas // len(REPLY_TEXT)))[: 8 * args.deltas]
        upstream = start_upstream(tmp, text=text, chunks=args.deltas, delay=args.delay)
        started.append(upstream)
        traymind = start_traymind(tmp, upstream.url, tools=1 if args.tools else None, **limits)
        started.append(traymind)
        idle = traymind.sample()
        _client.run(_warm(traymind.url))
        load = OtherLoad([p.pid for p in started])
        load.start()
        results = _client.run(
            run_levels(args, upstream.url, traymind.url, traymind.pid, upstream.pid)
        )
        other = load.note()
    report = Report(
        f"Concurrent streams ({args.deltas} deltas, {args.delay * 1000:g} ms apart, "
        f"{args.rounds} per session, {'persisted' if args.persisted else 'ephemeral'})"
    )
    for direct, tm in results:
        report.add(*level_rows(direct, tm))
        for phase in (direct, tm):
            share = 100 * phase.generator_cpu / phase.wall
            report.note(
                f"{phase.sessions} {phase.target}: {len(phase.exchanges)} good streams, "
                f"{len(phase.errors)} errors, peak {phase.peak_active} open at once, "
                f"{phase.wall:.1f} s; load generator CPU {share:.0f}% of a core, "
                f"stand-in {100 * phase.upstream_cpu / phase.wall:.0f}%."
            )
            if phase.errors:
                report.note(f"first {phase.target} error at {phase.sessions}: {phase.errors[0]}")
    report.note(
        f"Traymind RSS at start {idle.rss_kib / 1024:.0f} MiB; limits: "
        f"{limits or 'defaults (max_concurrent_runs 64, max_queued_runs 256)'}."
    )
    report.note(other)
    report.extra = {
        f"{tm.sessions}": {"direct": d.summary(), "traymind": tm.summary()} for d, tm in results
    }
    return report


async def _warm(url: str) -> None:
    host, port = host_port(url)
    client = _client.Client(host, port)
    for _ in range(3):
        await client.request(
            _client.chat_request(host, port, AGENT, QUESTION, stream=True), stream=True
        )
    client.close()


def main(argv: list[str] | None = None) -> None:
    run_benchmark(parse_args, run, argv)


if __name__ == "__main__":
    main()
