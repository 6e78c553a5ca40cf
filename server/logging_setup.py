"""Logging to a rotating file in the user log dir (and stderr for the command line).

A windowed build has no stdout, so nothing may rely on one; keys are never logged.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import sys
from pathlib import Path

from server.paths import user_log_dir

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def log_dir() -> Path:
    override = os.environ.get("TRAYMIND_LOG_DIR")
    return Path(override) if override else user_log_dir()


def configure_logging(*, to_stderr: bool, level: int = logging.INFO) -> Path | None:
    """Root logging: the rotating file when the log dir is writable, stderr when asked."""
    root = logging.getLogger()
    root.setLevel(level)
    for handler in list(root.handlers):
        root.removeHandler(handler)
    path: Path | None = log_dir() / "traymind.log"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        file_handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=2_000_000, backupCount=3, encoding="utf-8"
        )
        file_handler.setFormatter(logging.Formatter(FORMAT))
        root.addHandler(file_handler)
    except OSError:
        path = None
    if to_stderr and sys.stderr is not None:
        stream = logging.StreamHandler(sys.stderr)
        stream.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
        stream.setLevel(logging.WARNING)
        root.addHandler(stream)
    for noisy in (
        "httpx",
        "httpcore",
        "httpx2",
        "httpcore2",
        "openai",
        "anthropic",
        "uvicorn.error",
    ):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return path
