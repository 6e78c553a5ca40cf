"""What each kind of turn adds: an agent without tools, one with tools, a tool call, ``auto``
(routed and sticky) and a team's delegation, against the stand-in called directly.

``python -m bench.agent_paths`` starts the stand-in in its rule-based mode
(``tests/upstream/agentic.py``: ``CALL:``, ``ROUTE:`` and ``DELEGATE:`` marks in the
message make it call a tool, pick an agent or delegate) and Traymind with four agents
and a team, then runs the paths in interleaved blocks of sequential requests. A path that
makes several model calls is compared with that many direct calls: "added beyond its
upstream calls" is its p50 minus that many direct p50s.

``--litellm`` (or ``$TRAYMIND_BENCH_LITELLM``, the ``litellm`` command of a LiteLLM proxy
installation) also starts LiteLLM's proxy in front of the same stand-in (one worker, a
master key) and measures it in the same run, as the gateway people compare against.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import httpx

from bench import _client
from bench._harness import (
    UPSTREAM_MODEL,
    Process,
    Report,
    Row,
    median,
    p99,
    processes,
    run_benchmark,
    start_traymind,
    start_upstream,
    workspace,
)
from bench._procfs import OtherLoad
from bench._sequential import Series, measure, series

QUESTION = "Explain what a reverse proxy does, in two sentences."
# path: (model, prompt, upstream calls per request, session turns or 0, stream)
PATHS: dict[str, tuple[str, str, float, int, bool]] = {
    "direct": (UPSTREAM_MODEL, QUESTION, 1, 0, False),
    "agent without tools": ("plain", QUESTION, 1, 0, False),
    "agent with calculator + current_time": ("tools", QUESTION, 1, 0, False),
    "a turn with one tool call": ("tools", f"CALL:calculator {QUESTION}", 2, 0, False),
    "auto (router call + agent)": ("auto", f"ROUTE:tools {QUESTION}", 2, 0, False),
    "auto, sticky session (1 turn in 5 routed)": ("auto", f"ROUTE:tools {QUESTION}", 1.2, 5, False),
    "team, coordinate, one delegation": ("team/pair", f"DELEGATE:plain {QUESTION}", 3, 0, False),
    "stream: direct": (UPSTREAM_MODEL, QUESTION, 1, 0, True),
    "stream: agent without tools": ("plain", QUESTION, 1, 0, True),
    "stream: agent with calculator + current_time": ("tools", QUESTION, 1, 0, True),
}
# The targets (ms added beyond the path's own upstream calls), where it sets one.
TARGETS = {
    "agent with calculator + current_time": (2.5, 6.0),
    "auto (router call + agent)": (4.0, None),
    "team, coordinate, one delegation": (8.0, None),
}
TTFT_TARGET = 3.0


def config_text(upstream_url: str) -> str:
    return f"""\
models:
  default: {{provider: openai, id: {UPSTREAM_MODEL}, base_url: "{upstream_url}"}}
agents:
  plain:
    display_name: Plain
    role: General answers
    instructions: ["Give clear, helpful answers."]
  tools:
    display_name: Tools
    role: Arithmetic and the time
    instructions: ["Give clear, helpful answers."]
    tools: [calculator, current_time]
teams:
  pair:
    display_name: Pair
    role: Both agents
    agents: [plain, tools]
    mode: coordinate
"""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.agent_paths", description=__doc__)
    parser.add_argument("--requests", type=int, default=200, help="measured requests per path")
    parser.add_argument("--warmup", type=int, default=20, help="unmeasured requests per path")
    parser.add_argument("--block", type=int, default=20, help="requests per interleaved block")
    parser.add_argument(
        "--chunks", type=int, default=None, help="stand-in streams in N deltas (default: per word)"
    )
    parser.add_argument("--only", help="comma-separated path names (default: all)")
    parser.add_argument(
        "--litellm",
        metavar="COMMAND",
        default=os.environ.get("TRAYMIND_BENCH_LITELLM") or shutil.which("litellm"),
        help="LiteLLM proxy's litellm command: measure it too (default: on PATH, if any)",
    )
    parser.add_argument("--json", metavar="PATH", help="also write the report as JSON")
    return parser.parse_args(argv)


LITELLM_KEY = "sk-bench-litellm"


def start_litellm(command: str, workdir: Path, upstream_url: str) -> Process:
    """LiteLLM's proxy on a free port, one worker, key auth, routing to the stand-in."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = workdir / "litellm.yaml"
    config.write_text(
        "model_list:\n"
        f"  - model_name: {UPSTREAM_MODEL}\n"
        f"    litellm_params: {{model: openai/{UPSTREAM_MODEL}, api_base: '{upstream_url}', "
        "api_key: unused}\n"
        f"general_settings: {{master_key: {LITELLM_KEY}}}\n"
    )
    log = (workdir / "litellm.log").open("w")
    proc = subprocess.Popen(
        [command, "--config", str(config), "--host", "127.0.0.1", "--port", str(port),
         "--num_workers", "1"],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "LITELLM_LOG": "ERROR"},
    )  # fmt: skip
    process = Process("litellm", proc)
    process.url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"LiteLLM exited; see {workdir / 'litellm.log'}")
        try:
            if (
                httpx.get(f"http://127.0.0.1:{port}/health/liveliness", timeout=1).status_code
                == 200
            ):
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    process.stop()
    raise RuntimeError("LiteLLM did not start within 120 s")


def builder(model: str, prompt: str, turns: int, stream: bool, tag: str, key: str | None = None):
    def build(host: str, port: int, i: int) -> bytes:
        headers = {"X-Session-Id": f"{tag}-{i // turns}"} if turns else {}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        messages = [{"role": "user", "content": prompt}]
        return _client.chat_request(host, port, model, messages, stream=stream, headers=headers)

    return build


def build_report(by_name: dict[str, Series]) -> Report:
    report = Report("Agent paths: what each kind of turn adds (sequential)")
    direct = median(by_name["direct"].totals_ms)
    direct99 = p99(by_name["direct"].totals_ms)
    for name, (_, _, calls, _, stream) in PATHS.items():
        if stream or name == "direct" or name not in by_name:
            continue
        times = by_name[name].totals_ms
        p50_limit, p99_limit = TARGETS.get(name, (None, None))
        tm = median(times)
        report.add(
            Row(
                f"{name}: p50 ({calls:g} upstream call{'s' if calls != 1 else ''})",
                tm,
                calls * direct,
                target=f"+< {p50_limit:g} ms" if p50_limit else "",
                met=(tm - calls * direct < p50_limit) if p50_limit else None,
            )
        )
        t99 = p99(times)
        report.add(
            Row(
                f"{name}: p99",
                t99,
                calls * direct99,
                target=f"+< {p99_limit:g} ms" if p99_limit else "",
                met=(t99 - calls * direct99 < p99_limit) if p99_limit else None,
            )
        )
        report.add(
            Row(f"{name}: Traymind CPU per request", by_name[name].cpu_ms_per_request("traymind"))
        )
    litellm = by_name.get("LiteLLM proxy (no agent)")
    if litellm is not None:
        report.add(Row("LiteLLM proxy (no agent): p50", median(litellm.totals_ms), direct))
        report.add(Row("LiteLLM proxy (no agent): p99", p99(litellm.totals_ms), direct99))
        report.add(Row("LiteLLM proxy: its CPU per request", litellm.cpu_ms_per_request("litellm")))
    litellm_stream = by_name.get("stream: LiteLLM proxy (no agent)")
    stream_direct = by_name.get("stream: direct")
    if litellm_stream is not None and stream_direct is not None:
        report.add(
            Row(
                "stream: LiteLLM proxy (no agent): TTFT p50",
                median(litellm_stream.ttfts_ms),
                median(stream_direct.ttfts_ms),
            )
        )
    for name in ("stream: agent without tools", "stream: agent with calculator + current_time"):
        target = by_name.get(name)
        if target is None or stream_direct is None:
            continue
        tm, dr = median(target.ttfts_ms), median(stream_direct.ttfts_ms)
        with_tools = "calculator" in name
        report.add(
            Row(
                f"{name}: TTFT p50",
                tm,
                dr,
                target=f"+< {TTFT_TARGET:g} ms" if with_tools else "",
                met=(tm - dr < TTFT_TARGET) if with_tools else None,
            )
        )
        report.add(Row(f"{name}: TTFT p99", p99(target.ttfts_ms), p99(stream_direct.ttfts_ms)))
    one_call = by_name.get("agent with calculator + current_time")
    tool_turn = by_name.get("a turn with one tool call")
    if one_call and tool_turn:
        added_one = median(one_call.totals_ms) - direct
        added_two = median(tool_turn.totals_ms) - 2 * direct
        report.add(
            Row(
                "a turn with one tool call: added, vs the one-call figure",
                added_two,
                added_one,
                target="< 2x",
                met=added_two < 2 * added_one,
            )
        )
    errors = {name: len(s.errors) for name, s in by_name.items()}
    report.note(f"Errors: {errors}.")
    for name, target in by_name.items():
        if target.errors:
            report.note(f"First {name} error: {target.errors[0]}")
    report.extra = {name: target.summary() for name, target in by_name.items()}
    return report


def run(args: argparse.Namespace) -> Report:
    wanted = set(args.only.split(",")) if args.only else set(PATHS)
    wanted |= {"direct", "stream: direct"}
    with workspace("agent-paths") as tmp, processes() as started:
        upstream = start_upstream(tmp, chunks=args.chunks, agentic=True)
        started.append(upstream)
        traymind = start_traymind(tmp, upstream.url, config_text=config_text(upstream.url))
        started.append(traymind)
        tag = uuid.uuid4().hex[:8]
        pids = {"traymind": traymind.pid, "upstream": upstream.pid}
        targets = []
        for index, (name, (model, prompt, _, turns, stream)) in enumerate(PATHS.items()):
            if name not in wanted:
                continue
            url = upstream.url if model == UPSTREAM_MODEL else traymind.url
            build = builder(model, prompt, turns, stream, f"{tag}-{index}")
            targets.append(series(name, url, build, stream=stream))
        if args.litellm:
            litellm = start_litellm(args.litellm, tmp, upstream.url)
            started.append(litellm)
            pids["litellm"] = litellm.pid
            for stream in (False, True):
                name = "stream: LiteLLM proxy (no agent)" if stream else "LiteLLM proxy (no agent)"
                build = builder(UPSTREAM_MODEL, QUESTION, 0, stream, tag, LITELLM_KEY)
                targets.append(series(name, litellm.url, build, stream=stream))
        load = OtherLoad([p.pid for p in started])
        load.start()
        _client.run(
            measure(targets, pids, requests=args.requests, warmup=args.warmup, block=args.block)
        )
        report = build_report({t.name: t for t in targets})
        report.note(load.note())
        if not args.litellm:
            report.note("LiteLLM was not measured: pass --litellm or put litellm on PATH.")
        chunks = f"{args.chunks} delta(s)" if args.chunks else "word by word"
        report.note(
            f"{args.requests} measured requests per path, in blocks of {args.block}. The "
            f"stand-in streams its replies to Traymind {chunks}; 'direct' is one plain call."
        )
    return report


def main(argv: list[str] | None = None) -> None:
    run_benchmark(parse_args, run, argv)


if __name__ == "__main__":
    main()
