"""Run the stand-in as its own process: `python -m tests.upstream --port N`."""

from __future__ import annotations

import argparse
import signal
import threading

from .agentic import respond
from .replies import Reply
from .server import Upstream


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(prog="python -m tests.upstream", description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free one)")
    parser.add_argument("--text", default="Hello from upstream", help="the default reply's text")
    parser.add_argument("--chunks", type=int, default=None, help="stream the text in N pieces")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds between streamed pieces")
    parser.add_argument("--models", default="test-model", help="comma-separated model ids")
    parser.add_argument("--loop", default="auto", help="uvicorn event loop (auto, asyncio, uvloop)")
    parser.add_argument(
        "--agentic",
        action="store_true",
        help="answer tool loops by rule (ROUTE:/CALL:/DELEGATE: marks; see agentic.py)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Serve until SIGINT or SIGTERM; print the base URL once ready."""
    args = parse_args(argv)
    upstream = Upstream(port=args.port, loop=args.loop)
    pieces = Reply.text(args.text, chunks=args.chunks).pieces
    upstream.default = Reply.deltas(list(pieces), delay=args.delay)
    upstream.models = [m.strip() for m in args.models.split(",") if m.strip()]
    if args.agentic:
        upstream.responder = respond
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    upstream.start()
    print(f"upstream listening {upstream.base_url}", flush=True)
    try:
        while not done.wait(0.2):
            pass
    finally:
        upstream.stop()


if __name__ == "__main__":
    main()
