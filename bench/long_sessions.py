"""The cost of a turn against the length of the stored history: 10, 100 and 1,000 messages.

``python -m bench.long_sessions [--lengths 10,100,1000] [--requests N]``.
Before Traymind starts, its session store is filled through
``server.sessions.HistoryStore``: for each length, one conversation per
measured request, each of length/2 stored turns (a 195-character question and
a 675-character answer, as pydantic-ai message JSON, about 1.8 kB a turn).
Each measured request continues one such conversation (``X-Session-Id``,
non-streaming, only the new question in the body), so every turn reads exactly
the stored length.

The direct baseline is the stand-in sent what Traymind forwards: the agent's
instructions, the stored turns that fit the model's context budget (found with
``HistoryStore.recent_turns``, as the server does) and the new question. The
difference is then Traymind's own cost of the turn, which must stay flat
(within 20%) from 10 to 1,000 stored messages: the trim to the context window
keeps it from growing with history the model cannot take.
"""

from __future__ import annotations

import argparse
from pathlib import Path

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
    workspace,
)
from bench._procfs import OtherLoad
from bench._sequential import Series, measure, series

QUESTION = "How do I make my reverse proxy faster? I measured it and it is slow. " * 3
ANSWER = "Measure first, then remove the per-request work that can be done once. " * 9
NEW_QUESTION = "And what about the time to first token?"
SYSTEM = (
    "You are GeneralAgent. Your role: General-purpose assistant.\n\nGive clear, helpful answers."
)
NAMESPACE = "noauth"  # unauthenticated loopback requests without a key
FLAT_LIMIT = 1.2
CHARS_PER_TOKEN = 3
DEFAULT_CONTEXT_TOKENS = 32_768


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.long_sessions", description=__doc__)
    parser.add_argument("--lengths", default="10,100,1000", help="stored messages per session")
    parser.add_argument("--requests", type=int, default=40, help="measured turns per length")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--block", type=int, default=5)
    parser.add_argument(
        "--context-window",
        type=int,
        default=None,
        help="the model's context window in tokens (default: Traymind's 32768)",
    )
    parser.add_argument(
        "--tools",
        action="store_true",
        help="the agent has calculator and current_time (the agent runtime, not the direct path)",
    )
    parser.add_argument("--json", metavar="PATH", help="also write the report as JSON")
    return parser.parse_args(argv)


def turn_json() -> bytes:
    from pydantic_ai.messages import (
        ModelMessagesTypeAdapter,
        ModelRequest,
        ModelResponse,
        TextPart,
        UserPromptPart,
    )

    messages = [
        ModelRequest(parts=[UserPromptPart(QUESTION)]),
        ModelResponse(parts=[TextPart(ANSWER)]),
    ]
    return ModelMessagesTypeAdapter.dump_json(messages)


def populate(data_dir: Path, lengths: list[int], sessions: int, budget: int) -> dict[int, int]:
    """Fill the store; for each length, how many stored turns fit the context budget."""
    from server.sessions import HistoryStore, SessionRef

    store = HistoryStore(data_dir / "sessions.sqlite3")
    store.open()
    turn = turn_json()
    fitting = {}
    try:
        for length in lengths:
            for index in range(sessions):
                ref = SessionRef(NAMESPACE, session_id(length, index), AGENT, "session")
                for _ in range(length // 2):
                    store.append_turn(ref, turn)
            ref = SessionRef(NAMESPACE, session_id(length, 0), AGENT, "session")
            fitting[length] = len(store.recent_turns(ref, budget))
    finally:
        store.close()
    return fitting


def session_id(length: int, index: int) -> str:
    return f"long-{length}-{index}"


def traymind_builder(length: int):
    def build(host: str, port: int, i: int) -> bytes:
        message = [{"role": "user", "content": NEW_QUESTION}]
        return _client.chat_request(
            host, port, AGENT, message, headers={"X-Session-Id": session_id(length, i)}
        )

    return build


def direct_builder(turns: int):
    history = [{"role": "user", "content": QUESTION}, {"role": "assistant", "content": ANSWER}]
    messages = [
        {"role": "system", "content": SYSTEM},
        *history * turns,
        {"role": "user", "content": NEW_QUESTION},
    ]

    def build(host: str, port: int, i: int) -> bytes:
        return _client.chat_request(host, port, UPSTREAM_MODEL, messages)

    return build


def build_report(by_name: dict[str, Series], lengths: list[int], fitting: dict[int, int]) -> Report:
    report = Report("Long sessions: a turn's cost against stored history (non-streaming)")
    added: dict[int, float] = {}
    cpu: dict[int, float] = {}
    for length in lengths:
        tm, direct = by_name[f"traymind {length}"], by_name[f"direct {length}"]
        added[length] = median(tm.totals_ms) - median(direct.totals_ms)
        cpu[length] = tm.cpu_ms_per_request("traymind")
        report.add(
            Row(
                f"{length} stored messages ({2 * fitting[length]} sent), p50",
                median(tm.totals_ms),
                median(direct.totals_ms),
            ),
            Row(f"{length} stored messages, p99", p99(tm.totals_ms), p99(direct.totals_ms)),
            Row(f"{length} stored messages: Traymind CPU per turn", cpu[length], None),
        )
    low, high = min(lengths), max(lengths)
    growth = added[high] / added[low] if added[low] > 0 else float("nan")
    report.add(
        Row(
            f"added p50: {high} vs {low} messages",
            added[high],
            added[low],
            target=f"ratio <= {FLAT_LIMIT:g}",
            met=growth <= FLAT_LIMIT,
        ),
        Row(
            f"Traymind CPU per turn: {high} vs {low} messages",
            cpu[high],
            cpu[low],
            target=f"ratio <= {FLAT_LIMIT:g}",
            met=cpu[high] / cpu[low] <= FLAT_LIMIT,
        ),
    )
    if len(lengths) > 2:
        middle = sorted(lengths)[1]
        report.add(Row(f"added p50: {high} vs {middle} messages", added[high], added[middle]))
    report.note(
        "'direct' is the stand-in sent the same trimmed conversation Traymind forwards; "
        "the 'sent' count is the stored messages within the context budget."
    )
    errors = {name: len(s.errors) for name, s in by_name.items() if s.errors}
    report.note(f"Errors: {errors or 'none'}.")
    for name, target in by_name.items():
        if target.errors:
            report.note(f"First {name} error: {target.errors[0]}")
    report.extra = {name: target.summary() for name, target in by_name.items()}
    return report


def run(args: argparse.Namespace) -> Report:
    lengths = [int(x) for x in args.lengths.split(",")]
    tokens = args.context_window or DEFAULT_CONTEXT_TOKENS
    sessions = args.warmup + args.requests
    with workspace("long") as tmp, processes() as started:
        data_dir = tmp / "data"
        data_dir.mkdir()
        fitting = populate(data_dir, lengths, sessions, tokens * CHARS_PER_TOKEN)
        upstream = start_upstream(tmp)
        started.append(upstream)
        traymind = start_traymind(
            tmp, upstream.url, context_window=args.context_window, tools=1 if args.tools else None
        )
        started.append(traymind)
        load = OtherLoad([p.pid for p in started])
        load.start()
        targets = []
        for length in lengths:
            targets += [
                series(f"direct {length}", upstream.url, direct_builder(fitting[length])),
                series(f"traymind {length}", traymind.url, traymind_builder(length)),
            ]
        pids = {"traymind": traymind.pid, "upstream": upstream.pid}
        _client.run(
            measure(targets, pids, requests=args.requests, warmup=args.warmup, block=args.block)
        )
        report = build_report({t.name: t for t in targets}, lengths, fitting)
        report.note(
            f"Context window {tokens} tokens ({tokens * CHARS_PER_TOKEN} characters "
            "of stored JSON)."
        )
        report.note(load.note())
        if args.tools:
            report.note("The agent has tools: every turn runs through the agent runtime.")
    return report


def main(argv: list[str] | None = None) -> None:
    run_benchmark(parse_args, run, argv)


if __name__ == "__main__":
    main()
