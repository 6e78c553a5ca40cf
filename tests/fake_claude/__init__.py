"""A stand-in for the Claude Code CLI, for tests: it speaks the Agent SDK's protocol.

``claude.py`` is the program; ``launcher`` writes an executable that runs it with
this interpreter (the SDK runs ``cli_path`` directly); ``read_log`` reads what it
recorded. Nothing here talks to a real Claude.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

PROGRAM = Path(__file__).resolve().parent / "claude.py"
LOG_NAME = "fake_claude.jsonl"  # in the working folder, unless FAKE_CLAUDE_LOG names a file


def launcher(folder: Path) -> Path:
    """An executable ``claude`` in ``folder`` that runs the stand-in (POSIX only)."""
    path = folder / "claude"
    path.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{PROGRAM}" "$@"\n', encoding="utf-8")
    path.chmod(0o755)
    return path


def read_log(path: Path) -> list[dict[str, Any]]:
    """The events the stand-ins recorded, oldest first (none if nothing ran)."""
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]
