"""Import cost of ``python -m server``: ``-X importtime`` until the runtime has loaded.

``python -m bench.import_times [--top N]`` starts ``python -X importtime -m
server`` (no stand-in needed: nothing is called), waits until it serves and
then until the agent runtime has loaded in the background, stops it, and prints
the slowest top-level imports, split into the start path (before ``/v1/models``
can answer) and the background load of the agent runtime (``server.agents.*``,
needed before the first chat can run).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bench._harness import ROOT, SERVER_ENV, server_python, traymind_config, workspace

# The agent runtime is imported in a background thread after the server answers; its
# imports show at depth 0 under this prefix (server.chat.runtime_loader).
RUNTIME_PREFIX = "server.agents."
SETTLE_SECONDS = 6.0


@dataclass(frozen=True, slots=True)
class ImportLine:
    name: str
    depth: int
    self_us: int
    cumulative_us: int


def parse(stderr: str) -> list[ImportLine]:
    lines = []
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "[us]" in line:
            continue
        _, self_us, cumulative, raw_name = line.split("|", 1)[0], *line.split("|")
        name = raw_name.rstrip()
        depth = (len(name) - len(name.lstrip()) - 1) // 2
        own = int(self_us.split(":")[1]) if ":" in self_us else int(self_us)
        lines.append(ImportLine(name.strip(), depth, own, int(cumulative)))
    return lines


def chain(lines: list[ImportLine], module: str) -> list[str]:
    """Who imported ``module`` first: the module, its importer, and so on up to the root."""
    index = next((i for i, line in enumerate(lines) if line.name == module), None)
    if index is None:
        return []
    names = [module]
    depth = lines[index].depth
    for line in lines[index + 1 :]:
        if line.depth < depth:
            names.append(line.name)
            depth = line.depth
    return names


def children(lines: list[ImportLine], module: str) -> list[ImportLine]:
    """The imports ``module`` itself made (one level down), slowest first."""
    index = next((i for i, line in enumerate(lines) if line.name == module), None)
    if index is None:
        return []
    depth = lines[index].depth
    found = []
    for line in reversed(lines[:index]):  # children complete before their parent
        if line.depth <= depth:
            break
        if line.depth == depth + 1:
            found.append(line)
    return sorted(found, key=lambda item: -item.cumulative_us)


def run_server(tmp: Path) -> str:
    """Start the server under ``-X importtime``; stderr once the runtime has loaded."""
    config = tmp / "config.yaml"
    config.write_text(traymind_config("http://127.0.0.1:9/v1"), encoding="utf-8")
    env = {**os.environ, **SERVER_ENV, "TRAYMIND_LOG_DIR": str(tmp / "log")}
    err_path = tmp / "stderr.txt"
    with err_path.open("w") as err:
        proc = subprocess.Popen(
            [
                server_python(),
                "-X",
                "importtime",
                "-m",
                "server",
                "--config",
                str(config),
                "--port",
                "0",
                "--data-dir",
                str(tmp / "data"),
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
        )
        assert proc.stdout is not None
        proc.stdout.readline()
        deadline = time.monotonic() + SETTLE_SECONDS
        while time.monotonic() < deadline and f"| {RUNTIME_PREFIX}" not in err_path.read_text():
            time.sleep(0.1)
        time.sleep(0.5)
        proc.terminate()
        proc.wait(10)
    return err_path.read_text()


def import_report(top: int = 25, expand: tuple[str, ...] = ()) -> str:
    with workspace("imports") as tmp:
        lines = parse(run_server(tmp))
    roots = [line for line in lines if line.depth == 0]
    runtime = [line for line in roots if line.name.startswith(RUNTIME_PREFIX)]
    background = sum(line.cumulative_us for line in runtime)
    total = sum(line.cumulative_us for line in roots)
    out = [
        f"Python {sys.version.split()[0]} (server: {server_python()})",
        f"all imports: {total / 1e6:.3f} s; start path: {(total - background) / 1e6:.3f} s; "
        f"background agent runtime ({', '.join(r.name for r in runtime) or 'none'}): "
        f"{background / 1e6:.3f} s",
        "\nslowest top-level imports (cumulative ms), start path and background:",
    ]
    for line in sorted(roots, key=lambda item: -item.cumulative_us)[:top]:
        out.append(f"  {line.cumulative_us / 1000:8.1f}  {line.name}")
    for module in ("pydantic_ai", "openai", "anthropic"):
        path = chain(lines, module)
        if path:
            out.append(f"\n{module} is first imported via: {' <- '.join(path)}")
    heavy = sorted(
        (line for line in lines if line.depth <= 2), key=lambda item: -item.cumulative_us
    )
    out.append("\nheaviest imports down to depth 2 (cumulative ms, depth):")
    out += [
        f"  {line.cumulative_us / 1000:8.1f}  {'  ' * line.depth}{line.name}"
        for line in heavy[:top]
    ]
    for module in expand:
        out.append(f"\nwhat {module} imports (cumulative ms):")
        out += [
            f"  {line.cumulative_us / 1000:8.1f}  {line.name}"
            for line in children(lines, module)[:top]
        ]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.import_times", description=__doc__)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument(
        "--expand", action="append", default=[], metavar="MODULE", help="list what MODULE imports"
    )
    args = parser.parse_args(argv)
    print(import_report(args.top, tuple(args.expand)))


if __name__ == "__main__":
    main()
