"""Summaries of collapsed stacks (py-spy ``--format raw``): where the samples went.

``python -m bench._stacks FILE [--top N] [--focus SUBSTRING]`` prints the share
of samples per package (by the innermost Python frame), then the functions with
the most samples, inclusive (anywhere on the stack) and self (innermost).
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

Stack = tuple[list[str], int]

# Innermost frame's file path fragment -> the name shown; first match wins.
PACKAGES = (
    ("asyncio/", "asyncio (stdlib)"),
    ("pydantic_ai/", "pydantic_ai"),
    ("pydantic_core", "pydantic / pydantic_core"),
    ("pydantic/", "pydantic / pydantic_core"),
    ("openai/", "openai SDK"),
    ("anthropic/", "anthropic SDK"),
    ("httpx", "httpx / httpcore"),
    ("httpcore", "httpx / httpcore"),
    ("h11/", "h11"),
    ("anyio/", "anyio"),
    ("sniffio/", "anyio"),
    ("uvicorn/", "uvicorn"),
    ("starlette/", "starlette / fastapi"),
    ("fastapi/", "starlette / fastapi"),
    ("server/", "traymind server/"),
    ("genai_prices/", "genai_prices"),
    ("opentelemetry", "opentelemetry"),
    ("sqlite3", "sqlite3"),
    ("json/", "json (stdlib)"),
    ("typing", "typing (stdlib)"),
    ("copy.py", "copy (stdlib)"),
    ("dataclasses.py", "dataclasses (stdlib)"),
    ("contextlib.py", "contextlib (stdlib)"),
    ("logging/", "logging (stdlib)"),
)


def load(path: Path, focus: str | None = None) -> list[Stack]:
    stacks = []
    for line in path.read_text().splitlines():
        frames, _, count = line.rpartition(" ")
        if not frames or not count.isdigit():
            continue
        parts = frames.split(";")
        if focus and not any(focus in p for p in parts):
            continue
        stacks.append((parts, int(count)))
    return stacks


def _python_frames(frames: list[str]) -> list[str]:
    """py-spy ``--native`` mixes C frames (no ``.py:`` location) in; keep Python ones."""
    return [f for f in frames if ".py" in f or ".pyx" in f] or frames


def package_of(frame: str) -> str:
    location = frame.rpartition("(")[2]
    for fragment, name in PACKAGES:
        if fragment in location:
            return name
    return "other: " + location.split(":")[0].rsplit("/", 1)[-1].rstrip(")")


def by_package(stacks: list[Stack]) -> Counter[str]:
    shares: Counter[str] = Counter()
    for frames, count in stacks:
        python = _python_frames(frames)
        native_top = frames[-1] if frames[-1] not in python else None
        name = package_of(python[-1])
        if native_top and "getpid" in " ".join(frames[frames.index(python[-1]) :]):
            name = "asyncio.get_running_loop -> getpid() syscall (CPython 3.11)"
        shares[name] += count
    return shares


def summarize(stacks: list[Stack], top: int) -> str:
    total = sum(count for _, count in stacks) or 1
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    for frames, count in stacks:
        python = _python_frames(frames)
        for frame in set(python):
            inclusive[frame] += count
        own[python[-1]] += count
    lines = [f"{total} samples", "self time by package (innermost Python frame):"]
    lines += [f"  {100 * c / total:5.1f}%  {f}" for f, c in by_package(stacks).most_common(16)]
    lines.append("inclusive (anywhere on the stack):")
    lines += [f"  {100 * c / total:5.1f}%  {f}" for f, c in inclusive.most_common(top)]
    lines.append("self (innermost Python frame):")
    lines += [f"  {100 * c / total:5.1f}%  {f}" for f, c in own.most_common(top)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench._stacks", description=__doc__)
    parser.add_argument("path", type=Path)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--focus", help="only stacks through a frame containing this text")
    args = parser.parse_args(argv)
    print(summarize(load(args.path, args.focus), args.top))


if __name__ == "__main__":
    main()
