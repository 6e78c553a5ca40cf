"""Added latency with the sessions on PostgreSQL against SQLite, in one run (#18).

``python -m bench.storage [--requests N] [--turns T]``. Starts the stand-in, a
PostgreSQL cluster in a temporary folder (``tests/postgres_server.py``: Debian's
``postgresql`` binaries, initdb as a non-root user) and two Traymind processes on
the same config, one with ``storage.url`` on that database and one on SQLite in its
data dir. Sequential non-streaming requests, interleaved in blocks: the stand-in
called directly, then each Traymind with ``X-Session-Id`` (the history read, the
session's lock taken and the turn written every turn, in conversations of
``--turns`` turns) and without (nothing stored). The difference between the two
backends is what PostgreSQL costs a turn: a lock on its own connection, a read and
a write over a loopback socket instead of a file.
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
    start_traymind,
    start_upstream,
    traymind_config,
    workspace,
)
from bench._procfs import OtherLoad
from bench._sequential import Series, measure, series
from bench.latency import builder

BACKENDS = ("sqlite", "postgres")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.storage", description=__doc__)
    parser.add_argument("--requests", type=int, default=200, help="measured requests per target")
    parser.add_argument("--warmup", type=int, default=20, help="unmeasured requests per target")
    parser.add_argument("--block", type=int, default=20, help="requests per interleaved block")
    parser.add_argument("--turns", type=int, default=5, help="turns per stored conversation")
    parser.add_argument("--json", metavar="PATH", help="also write the report as JSON")
    return parser.parse_args(argv)


def build_report(by_name: dict[str, Series], turns: int) -> Report:
    report = Report("Sessions on PostgreSQL vs SQLite (sequential, non-streaming)")
    direct = by_name["direct"].totals_ms
    for kind in ("persisted", "ephemeral"):
        for label, fn in (("p50", median), ("p99", p99)):
            for backend in BACKENDS:
                times = by_name[f"{backend} {kind}"].totals_ms
                report.add(Row(f"{backend}, {kind}, {label}", fn(times), fn(direct)))
        sqlite = median(by_name[f"sqlite {kind}"].totals_ms)
        postgres = median(by_name[f"postgres {kind}"].totals_ms)
        report.add(Row(f"PostgreSQL minus SQLite, {kind}, p50", postgres, sqlite))
    for backend in BACKENDS:
        report.add(
            Row(
                f"{backend}, persisted: Traymind CPU per request",
                by_name[f"{backend} persisted"].cpu_ms_per_request(backend),
                None,
            )
        )
    errors = {name: len(s.errors) for name, s in by_name.items()}
    report.note(f"Errors: {errors}; {len(direct)} measured requests per target.")
    for name, target in by_name.items():
        if target.errors:
            report.note(f"First {name} error: {target.errors[0]}")
    report.note(
        f"Persisted: conversations of {turns} turns (0 to {2 * (turns - 1)} stored messages "
        "read per turn); ephemeral: no session header, nothing stored. The agent has no "
        "tools (the direct path), so the store is a large share of what Traymind adds."
    )
    report.extra = {name: target.summary() for name, target in by_name.items()}
    return report


def run(args: argparse.Namespace) -> Report:
    from tests.postgres_server import fresh_database, postgres_server

    with workspace("storage") as tmp, processes() as started, postgres_server() as cluster:
        database = fresh_database(cluster, "bench")
        upstream = start_upstream(tmp)
        started.append(upstream)
        base = traymind_config(upstream.url)
        servers = {
            "sqlite": start_traymind(tmp, upstream.url, name="sqlite", config_text=base),
            "postgres": start_traymind(
                tmp,
                upstream.url,
                name="postgres",
                config_text=base + f"storage:\n  url: {database}\n",
            ),
        }
        started.extend(servers.values())
        pids = {name: server.pid for name, server in servers.items()}
        pids["upstream"] = upstream.pid
        tag = uuid.uuid4().hex[:8]
        targets = [series("direct", upstream.url, builder(UPSTREAM_MODEL, None, 1))]
        for name, server in servers.items():
            stored = builder(AGENT, f"{name}-{tag}", args.turns)
            targets += [
                series(f"{name} persisted", server.url, stored),
                series(f"{name} ephemeral", server.url, builder(AGENT, None, 1)),
            ]
        load = OtherLoad([p.pid for p in started])
        load.start()
        _client.run(
            measure(targets, pids, requests=args.requests, warmup=args.warmup, block=args.block)
        )
        report = build_report({t.name: t for t in targets}, args.turns)
        report.note(load.note())
    return report


def main(argv: list[str] | None = None) -> None:
    run_benchmark(parse_args, run, argv)


if __name__ == "__main__":
    main()
