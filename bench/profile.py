"""Where Traymind's time goes: py-spy on the real process, strace counts, import times.

``python -m bench.profile MODE`` with MODE one of

- ``nonstream``: sequential non-streaming requests, ephemeral;
- ``persisted``: the same with ``X-Session-Id`` (conversations of 5 turns);
- ``stream``: sequential streaming requests, the stand-in streaming 50 deltas;
- ``imports``: ``python -X importtime -m server``, to its first ``/v1/models``.

The request modes start the stand-in and Traymind as processes (as the
benchmarks do), warm up, then run ``py-spy record --gil --native`` on
Traymind's process while the load runs, and print the share of on-CPU samples
per package and per function (``bench._stacks``). ``--strace`` also counts
Traymind's system calls per request. py-spy is ``pip install py-spy``; where it
cannot attach (no ptrace), run with ``--pyinstrument`` instead, which profiles
the server in this process (``server.runner.ServerHandle``) with pyinstrument.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

from bench import _client, _stacks, agent_paths
from bench._harness import (
    AGENT,
    SERVER_ENV,
    host_port,
    processes,
    start_traymind,
    start_upstream,
    traymind_config,
    workspace,
)
from bench.import_times import import_report
from bench.long_sessions import CHARS_PER_TOKEN, populate, session_id

QUESTION = [{"role": "user", "content": "Explain what a reverse proxy does, in two sentences."}]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("mode", choices=("nonstream", "persisted", "stream", "imports"))
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--rate", type=int, default=400, help="py-spy samples per second")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--strace", action="store_true", help="count system calls per request")
    parser.add_argument(
        "--chunks",
        type=int,
        default=None,
        help="stand-in streams in N deltas (default: 50 for stream, else per word)",
    )
    parser.add_argument(
        "--history",
        type=int,
        default=0,
        metavar="MESSAGES",
        help="persisted: each turn continues a stored conversation of this many messages",
    )
    parser.add_argument(
        "--agent",
        default=AGENT,
        help="the model to ask: the default tool-less agent, or one of bench.agent_paths' "
        "(tools, auto, team/pair, with --prompt marks such as CALL:calculator)",
    )
    parser.add_argument("--prompt", default=None, help="the user message (default: a question)")
    parser.add_argument("--pyinstrument", action="store_true", help="profile in-process instead")
    parser.add_argument("--out", type=Path, default=None, help="keep raw profiles here")
    return parser.parse_args(argv)


def upstream_chunks(args: argparse.Namespace) -> int | None:
    return args.chunks or (50 if args.mode == "stream" else None)


MODEL = {"name": AGENT, "messages": QUESTION}  # set from --agent / --prompt


def request_bytes(url: str, mode: str, i: int, history: int = 0) -> bytes:
    host, port = host_port(url)
    session = session_id(history, i) if history else f"profile-{i // 5}"
    headers = {"X-Session-Id": session} if mode == "persisted" else None
    return _client.chat_request(
        host, port, MODEL["name"], MODEL["messages"], stream=mode == "stream", headers=headers
    )


async def load(url: str, mode: str, count: int, offset: int = 0, history: int = 0) -> float:
    """Send ``count`` sequential requests; the mean seconds per request."""
    host, port = host_port(url)
    client = _client.Client(host, port)
    started = time.perf_counter()
    for i in range(offset, offset + count):
        data = request_bytes(url, mode, i, history)
        exchange = await client.request(data, stream=mode == "stream")
        problem = _client.check(exchange, stream=mode == "stream")
        if problem:
            raise RuntimeError(problem)
    client.close()
    return (time.perf_counter() - started) / count


def _attach(tool: list[str], out_dir: Path, name: str) -> subprocess.Popen[bytes]:
    log = (out_dir / f"{name}.log").open("w")
    proc = subprocess.Popen(tool, stdout=log, stderr=subprocess.STDOUT)
    time.sleep(1.0)  # let it attach before the load starts
    return proc


def profile_process(args: argparse.Namespace, out_dir: Path) -> None:
    with workspace("profile") as tmp, processes() as started:
        history = args.history if args.mode == "persisted" else 0
        if history:  # sessions 0..29 warm up, the next ones are profiled, then straced
            (tmp / "data").mkdir()
            populate(tmp / "data", [history], 30 + 2 * args.requests, CHARS_PER_TOKEN * 32_768)
        paths = args.agent != AGENT
        upstream = start_upstream(tmp, chunks=upstream_chunks(args), agentic=paths)
        started.append(upstream)
        config = agent_paths.config_text(upstream.url) if paths else None
        traymind = start_traymind(tmp, upstream.url, config_text=config)
        started.append(traymind)
        _client.run(
            load(traymind.url, args.mode, 30, offset=0 if history else 10_000, history=history)
        )
        py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        raw = out_dir / f"{args.mode}.collapsed"
        tool = [
            py_spy,
            "record",
            "--pid",
            str(traymind.pid),
            "--gil",
            "--native",
            "--rate",
            str(args.rate),
            "--format",
            "raw",
            "--output",
            str(raw),
        ]
        spy = _attach(tool, out_dir, "py-spy")
        per_request = _client.run(
            load(traymind.url, args.mode, args.requests, offset=30, history=history)
        )
        spy.send_signal(2)  # SIGINT: write the output and detach
        spy.wait(60)
        print(
            f"{args.mode}: {per_request * 1000:.1f} ms per request while profiled "
            f"({args.requests} requests)\n"
        )
        if raw.exists():
            print(_stacks.summarize(_stacks.load(raw), args.top))
        else:
            print(f"py-spy wrote nothing; see {out_dir / 'py-spy.log'}")
        if args.strace:  # a second pass: only one tracer can attach at a time
            tracer = _attach(
                ["strace", "-f", "-c", "-p", str(traymind.pid), "-o", str(out_dir / "strace.txt")],
                out_dir,
                "strace",
            )
            offset = 30 + args.requests if history else 20_000
            _client.run(load(traymind.url, args.mode, args.requests, offset, history))
            tracer.send_signal(2)
            tracer.wait(60)
            print_syscalls(out_dir / "strace.txt", args.requests)


def print_syscalls(path: Path, requests: int) -> None:
    print("\nsystem calls per request (strace -c; tracing slows the process):")
    for line in path.read_text().splitlines()[2:]:
        parts = line.split()
        if len(parts) >= 5 and parts[3].isdigit() and not line.startswith("-"):
            name = parts[-1]
            print(f"  {int(parts[3]) / requests:8.1f}  {name}")


def profile_in_process(args: argparse.Namespace) -> None:
    """pyinstrument on the server's own thread: started and stopped on its event loop."""
    import os

    from pyinstrument import Profiler

    from server.runner import ServeOptions, ServerHandle

    with workspace("profile") as tmp, processes() as started:
        upstream = start_upstream(tmp, chunks=upstream_chunks(args))
        started.append(upstream)
        config = tmp / "config.yaml"
        config.write_text(traymind_config(upstream.url), encoding="utf-8")
        os.environ.update({**SERVER_ENV, "TRAYMIND_LOG_DIR": str(tmp / "log")})
        handle = ServerHandle(ServeOptions(config=str(config), port=0, data_dir=str(tmp / "d")))
        handle.start()
        try:
            url = handle.url
            _client.run(load(url, args.mode, 30, offset=10_000))
            profiler = Profiler(interval=0.0005, async_mode="disabled")
            loop = handle._loop  # the server's loop: pyinstrument profiles one thread
            assert loop is not None
            loop.call_soon_threadsafe(profiler.start)
            time.sleep(0.2)
            per_request = _client.run(load(url, args.mode, args.requests))
            loop.call_soon_threadsafe(profiler.stop)
            time.sleep(0.2)
        finally:
            handle.stop()
    print(f"{args.mode}: {per_request * 1000:.1f} ms per request while profiled")
    print(profiler.output_text(unicode=True, color=False, show_all=False))


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    MODEL["name"] = args.agent
    if args.prompt:
        MODEL["messages"] = [{"role": "user", "content": args.prompt}]
    if args.mode == "imports":
        print(import_report(args.top))
        return
    if args.pyinstrument:
        profile_in_process(args)
        return
    out_dir = args.out or Path(f"/tmp/traymind-profile-{args.mode}")
    out_dir.mkdir(parents=True, exist_ok=True)
    profile_process(args, out_dir)
    print(f"\nraw profile: {out_dir}")


if __name__ == "__main__":
    main()
