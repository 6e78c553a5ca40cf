"""Time-to-first-token overhead of a stream: Traymind against the stand-in called directly.

``python -m bench.ttft [--requests N] [--deltas 50] [--delay 0]``. The stand-in
streams ``--deltas`` content deltas (``--delay`` seconds apart); each target is
asked for a stream, sequentially, interleaved in blocks:

- ``direct``: the stand-in itself;
- ``traymind``: an agent without tools, ephemeral;
- ``relay``: ``bench._floor_proxy`` (reference, not a target).

TTFT is the arrival of the first event with non-empty content (Traymind's
leading ``role`` event does not count); total is the arrival of the end of the
response, after ``[DONE]``. A stream counts as an error unless it is a 200 with
exactly ``--deltas`` content events and ``[DONE]``.
"""

from __future__ import annotations

import argparse

from bench import _client
from bench._harness import (
    AGENT,
    REPLY_TEXT,
    UPSTREAM_MODEL,
    Report,
    Row,
    median,
    p99,
    processes,
    run_benchmark,
    start_floor,
    start_traymind,
    start_upstream,
    workspace,
)
from bench._procfs import OtherLoad
from bench._sequential import Series, measure, series

QUESTION = [{"role": "user", "content": "Explain what a reverse proxy does, in two sentences."}]
TTFT_TARGET_MS = 3.0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.ttft", description=__doc__)
    parser.add_argument("--requests", type=int, default=300, help="measured streams per target")
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--block", type=int, default=20)
    parser.add_argument("--deltas", type=int, default=50, help="content deltas per stream")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds between deltas")
    parser.add_argument("--no-relay", action="store_true", help="skip the reference relay")
    parser.add_argument("--json", metavar="PATH", help="also write the report as JSON")
    return parser.parse_args(argv)


def builder(model: str):
    def build(host: str, port: int, i: int) -> bytes:
        return _client.chat_request(host, port, model, QUESTION, stream=True)

    return build


def build_report(by_name: dict[str, Series], args: argparse.Namespace) -> Report:
    report = Report(
        f"Streaming: time to first token and total ({args.deltas} deltas, "
        f"{args.delay * 1000:g} ms apart)"
    )
    direct = by_name["direct"]
    for name in ("traymind", "relay"):
        target = by_name.get(name)
        if target is None:
            continue
        label = "Traymind" if name == "traymind" else "reference relay"
        ttft50 = median(target.ttfts_ms)
        is_tm = name == "traymind"
        report.add(
            Row(
                f"{label}: TTFT p50",
                ttft50,
                median(direct.ttfts_ms),
                target=f"+< {TTFT_TARGET_MS:g} ms" if is_tm else "",
                met=(ttft50 - median(direct.ttfts_ms) < TTFT_TARGET_MS) if is_tm else None,
            ),
            Row(f"{label}: TTFT p99", p99(target.ttfts_ms), p99(direct.ttfts_ms)),
            Row(f"{label}: total p50", median(target.totals_ms), median(direct.totals_ms)),
            Row(f"{label}: total p99", p99(target.totals_ms), p99(direct.totals_ms)),
        )
    tm = by_name["traymind"]
    report.add(Row("Traymind CPU per stream", tm.cpu_ms_per_request("traymind"), None))
    per_delta = 1000 * tm.cpu_ms_per_request("traymind") / max(1, args.deltas)
    report.note(f"Traymind CPU per relayed delta (whole stream / deltas): {per_delta:.0f} µs.")
    errors = {name: len(s.errors) for name, s in by_name.items()}
    report.note(f"Errors: {errors}; {len(direct.exchanges)} measured streams per target.")
    for name, target in by_name.items():
        if target.errors:
            report.note(f"First {name} error: {target.errors[0]}")
    report.extra = {name: target.summary() for name, target in by_name.items()}
    return report


def run(args: argparse.Namespace) -> Report:
    with workspace("ttft") as tmp, processes() as started:
        text = (REPLY_TEXT * (1 + 2 * args.deltas // len(REPLY_TEXT)))[: 8 * args.deltas]
        upstream = start_upstream(tmp, text=text, chunks=args.deltas, delay=args.delay)
        started.append(upstream)
        traymind = start_traymind(tmp, upstream.url)
        started.append(traymind)
        pids = {"traymind": traymind.pid, "upstream": upstream.pid}
        targets = [
            series(
                "direct", upstream.url, builder(UPSTREAM_MODEL), stream=True, tokens=args.deltas
            ),
            series("traymind", traymind.url, builder(AGENT), stream=True, tokens=args.deltas),
        ]
        if not args.no_relay:
            relay = start_floor(tmp, upstream.url)
            started.append(relay)
            pids["relay"] = relay.pid
            targets.append(
                series("relay", relay.url, builder(AGENT), stream=True, tokens=args.deltas)
            )
        load = OtherLoad([p.pid for p in started])
        load.start()
        _client.run(
            measure(targets, pids, requests=args.requests, warmup=args.warmup, block=args.block)
        )
        report = build_report({t.name: t for t in targets}, args)
        report.note(load.note())
        return report


def main(argv: list[str] | None = None) -> None:
    run_benchmark(parse_args, run, argv)


if __name__ == "__main__":
    main()
