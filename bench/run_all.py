"""Every benchmark with modest sizes, then one table of the targets: ``make bench``.

``python -m bench.run_all [--json-dir DIR] [--quick]``. Takes a few minutes on
two cores. Each benchmark runs its own stand-in and Traymind processes; a
benchmark that fails is reported and the others still run (the exit status is
then 1). ``--quick`` runs smaller sizes, for a smoke check.
"""

from __future__ import annotations

import argparse
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

from bench import agent_paths, cold_start, concurrency, latency, long_sessions, storage, ttft
from bench._harness import (
    Report,
    Row,
    machine,
    print_report,
    save_report,
    table,
)
from bench._procfs import wait_for_quiet

FULL: dict[str, list[str]] = {
    "latency": ["--requests", "200", "--warmup", "20"],
    "ttft": ["--requests", "150", "--warmup", "20"],
    "concurrency": ["--levels", "10,100,500", "--rounds", "2"],
    "long_sessions": ["--requests", "20", "--warmup", "3"],
    "cold_start": ["--runs", "5", "--settle", "3"],
    "agent_paths": ["--requests", "100", "--warmup", "10"],
    "storage": ["--requests", "100", "--warmup", "10"],
}
QUICK: dict[str, list[str]] = {
    "latency": ["--requests", "40", "--warmup", "10"],
    "ttft": ["--requests", "30", "--warmup", "10"],
    "concurrency": ["--levels", "10,100", "--rounds", "1"],
    "long_sessions": ["--requests", "5", "--warmup", "2", "--lengths", "10,1000"],
    "cold_start": ["--runs", "2", "--settle", "2"],
    "agent_paths": ["--requests", "20", "--warmup", "5"],
    "storage": ["--requests", "20", "--warmup", "5"],
}
MODULES: dict[str, ModuleType] = {
    "latency": latency,
    "ttft": ttft,
    "concurrency": concurrency,
    "long_sessions": long_sessions,
    "cold_start": cold_start,
    "agent_paths": agent_paths,
    "storage": storage,  # needs PostgreSQL's binaries; skipped without them
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run_all", description=__doc__)
    parser.add_argument("--json-dir", type=Path, help="write each report as NAME.json here")
    parser.add_argument("--quick", action="store_true", help="smaller sizes")
    parser.add_argument("--only", help="comma-separated benchmark names")
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="before each benchmark, wait up to this long for other processes to go quiet",
    )
    return parser.parse_args(argv)


def run_one(name: str, sizes: list[str], json_dir: Path | None) -> Report | None:
    module = MODULES[name]
    run: Callable[[argparse.Namespace], Report] = module.run
    started = time.monotonic()
    try:
        report = run(module.parse_args(sizes))
    except Exception:
        print(f"\n## {name}: FAILED\n\n```\n{traceback.format_exc()}```")
        return None
    report.note(
        f"`python -m bench.{name} {' '.join(sizes)}` took {time.monotonic() - started:.0f} s."
    )
    print_report(report)
    if json_dir:
        json_dir.mkdir(parents=True, exist_ok=True)
        save_report(report, str(json_dir / f"{name}.json"))
    return report


def postgres_installed() -> bool:
    from tests.postgres_server import binaries

    return binaries() is not None


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = QUICK if args.quick else FULL
    names = args.only.split(",") if args.only else list(sizes)
    reports = {}
    for name in names:
        if name == "storage" and not postgres_installed():
            print("\n## storage: skipped (PostgreSQL is not installed: apt-get install postgresql)")
            continue
        if args.wait_quiet:
            cores = wait_for_quiet(args.wait_quiet)
            print(f"\n(other processes at {cores:.2f} cores before {name})")
        reports[name] = run_one(name, sizes[name], args.json_dir)
    targets: list[Row] = [
        row for report in reports.values() if report for row in report.rows if row.met is not None
    ]
    info = machine()
    print(f"\n## Targets ({info['cores']} cores, Python {info['python']})\n")
    print(table(targets))
    failed = [name for name, report in reports.items() if report is None]
    if failed:
        print(f"\nFailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
