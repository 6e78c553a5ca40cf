"""Added latency of a non-streaming request: Traymind against the stand-in called directly.

``python -m bench.latency [--requests N]``. Sequential requests, one at a time,
each target on its own keep-alive connection, interleaved in blocks:

- ``null``: the null server (the load generator's own floor);
- ``direct``: the stand-in itself;
- ``ephemeral``: Traymind, an agent without tools, no session header;
- ``persisted``: Traymind with ``X-Session-Id`` (history read and written every
  turn), in conversations of ``--turns`` turns each;
- ``relay``: ``bench._floor_proxy``, the same job on the same stack without
  the agent runtime (a reference for what is achievable, not a target).

Traymind asks the provider for a stream even when its client does not; the
stand-in then streams its reply word by word (about 60 deltas), as a real
provider streams tokens. ``--chunks 1`` makes it a single delta, which
separates Traymind's fixed cost per request from its cost per upstream chunk.
"""

from __future__ import annotations

import argparse
import uuid

from bench import _client
from bench._harness import (
    AGENT,
    UPSTREAM_MODEL,
    Report,
    Row,
    median,
    p99,
    processes,
    run_benchmark,
    start_floor,
    start_null,
    start_traymind,
    start_upstream,
    workspace,
)
from bench._procfs import OtherLoad
from bench._sequential import Series, measure, series

QUESTION = [{"role": "user", "content": "Explain what a reverse proxy does, in two sentences."}]
TARGETS = {"ephemeral": (2.0, 10.0), "persisted": (4.0, 10.0)}  # added p50, p99 limits (ms)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.latency", description=__doc__)
    parser.add_argument("--requests", type=int, default=400, help="measured requests per target")
    parser.add_argument("--warmup", type=int, default=40, help="unmeasured requests per target")
    parser.add_argument("--block", type=int, default=20, help="requests per interleaved block")
    parser.add_argument("--turns", type=int, default=5, help="turns per persisted conversation")
    parser.add_argument(
        "--chunks",
        type=int,
        default=None,
        help="stand-in streams its reply in N deltas (default: word by word)",
    )
    parser.add_argument("--no-relay", action="store_true", help="skip the reference relay")
    parser.add_argument(
        "--also-python",
        metavar="PYTHON",
        help="also run a second Traymind under this interpreter (an A/B in the same run)",
    )
    parser.add_argument("--json", metavar="PATH", help="also write the report as JSON")
    return parser.parse_args(argv)


def builder(model: str, session_prefix: str | None, turns: int):
    def build(host: str, port: int, i: int) -> bytes:
        headers = {"X-Session-Id": f"{session_prefix}-{i // turns}"} if session_prefix else None
        return _client.chat_request(host, port, model, QUESTION, headers=headers)

    return build


def build_report(by_name: dict[str, Series]) -> Report:
    report = Report("Added latency, non-streaming (sequential)")
    direct = by_name["direct"].totals_ms
    for name, (p50_limit, p99_limit) in TARGETS.items():
        times = by_name[name].totals_ms
        for label, fn, limit in (("p50", median, p50_limit), ("p99", p99, p99_limit)):
            tm, dr = fn(times), fn(direct)
            report.add(
                Row(f"{name}, {label}", tm, dr, target=f"+< {limit:g} ms", met=tm - dr < limit)
            )
    for name in TARGETS:
        report.add(
            Row(
                f"{name}: Traymind CPU per request",
                by_name[name].cpu_ms_per_request("traymind"),
                None,
            )
        )
    for name in TARGETS:
        relay = by_name.get(f"relay {name}")
        if relay is not None:
            report.add(
                Row(f"reference relay, {name}, p50", median(relay.totals_ms), median(direct))
            )
            report.add(Row(f"reference relay, {name}, p99", p99(relay.totals_ms), p99(direct)))
            report.add(
                Row(
                    f"reference relay, {name}: its CPU per request",
                    relay.cpu_ms_per_request("relay"),
                    None,
                )
            )
    for name in TARGETS:
        other = by_name.get(f"other {name}")
        if other is not None:
            report.add(
                Row(f"--also-python, {name}, p50", median(other.totals_ms), median(direct)),
                Row(f"--also-python, {name}, p99", p99(other.totals_ms), p99(direct)),
                Row(f"--also-python, {name}: CPU", other.cpu_ms_per_request("other"), None),
            )
    report.add(
        Row(
            "stand-in CPU per request (via Traymind vs direct)",
            by_name["ephemeral"].cpu_ms_per_request("upstream"),
            by_name["direct"].cpu_ms_per_request("upstream"),
        )
    )
    null = by_name["null"]
    floor50, floor99 = median(null.totals_ms), p99(null.totals_ms)
    generator_us = 1000 * null.cpu_ms_per_request("generator")
    report.add(Row("load generator vs null server, p50", floor50, None))
    report.add(Row("load generator vs null server, p99", floor99, None))
    report.note(
        f"Load generator floor (null server): p50 {floor50:.3f} ms, p99 {floor99:.3f} ms, "
        f"about {generator_us:.0f} µs of its CPU per request: "
        f"{100 * floor50 / median(direct):.0f}% of the direct p50, so the generator is not "
        "the bottleneck."
    )
    errors = {name: len(s.errors) for name, s in by_name.items()}
    report.note(f"Errors: {errors}; {len(direct)} measured requests per target.")
    for name, target in by_name.items():
        if target.errors:
            report.note(f"First {name} error: {target.errors[0]}")
    report.extra = {name: target.summary() for name, target in by_name.items()}
    return report


def run(args: argparse.Namespace) -> Report:
    with workspace("latency") as tmp, processes() as started:
        upstream = start_upstream(tmp, chunks=args.chunks)
        started.append(upstream)
        traymind = start_traymind(tmp, upstream.url)
        started.append(traymind)
        null = start_null(tmp)
        started.append(null)
        tag = uuid.uuid4().hex[:8]
        pids = {"traymind": traymind.pid, "upstream": upstream.pid}
        targets = [
            series("null", null.url, builder("null", None, 1)),
            series("direct", upstream.url, builder(UPSTREAM_MODEL, None, 1)),
            series("ephemeral", traymind.url, builder(AGENT, None, 1)),
            series("persisted", traymind.url, builder(AGENT, f"bench-{tag}", args.turns)),
        ]
        if args.also_python:
            other = start_traymind(tmp, upstream.url, python=args.also_python, name="other")
            started.append(other)
            pids["other"] = other.pid
            targets += [
                series("other ephemeral", other.url, builder(AGENT, None, 1)),
                series("other persisted", other.url, builder(AGENT, f"other-{tag}", args.turns)),
            ]
        if not args.no_relay:
            relay = start_floor(tmp, upstream.url)
            started.append(relay)
            pids["relay"] = relay.pid
            targets += [
                series("relay ephemeral", relay.url, builder(AGENT, None, 1)),
                series("relay persisted", relay.url, builder(AGENT, f"relay-{tag}", args.turns)),
            ]
        load = OtherLoad([p.pid for p in started])
        load.start()
        _client.run(
            measure(targets, pids, requests=args.requests, warmup=args.warmup, block=args.block)
        )
        report = build_report({t.name: t for t in targets})
        report.note(load.note())
        chunks = f"{args.chunks} delta(s)" if args.chunks else "word by word"
        report.note(
            f"Persisted: conversations of {args.turns} turns (0 to "
            f"{2 * (args.turns - 1)} stored messages read per turn). Stand-in reply "
            f"streamed to Traymind {chunks}."
        )
    return report


def main(argv: list[str] | None = None) -> None:
    run_benchmark(parse_args, run, argv)


if __name__ == "__main__":
    main()
