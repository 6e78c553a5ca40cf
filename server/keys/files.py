"""Small private JSON files: written atomically at 0600, read strictly, locked across processes."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from server.keys.backends import KeyStoreError

log = logging.getLogger(__name__)


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def write_json_atomic(path: Path, doc: dict[str, Any]) -> None:
    """Write ``doc`` via a 0600 temp file and ``os.replace``: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(doc, fh, indent=2, ensure_ascii=False)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def read_private_json(path: Path) -> dict[str, Any] | None:
    """A fallback file of secrets, tightened back to 0600 if someone loosened it."""
    doc = read_json(path)
    if doc is not None and os.name != "nt" and path.stat().st_mode & 0o077:
        log.warning("%s was readable by others; restricting it to 0600", path)
        os.chmod(path, 0o600)
    return doc


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise KeyStoreError(f"{path} is not valid JSON ({exc}); fix or remove it") from None
    if not isinstance(doc, dict):
        raise KeyStoreError(f"{path} does not hold a JSON object; fix or remove it")
    return doc


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive lock between processes, so concurrent writers never drop a revoke."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with open(os.open(path, os.O_RDWR | os.O_CREAT, 0o600), "r+b") as fh:
        if os.name == "nt":
            import msvcrt

            fh.seek(0)
            msvcrt.locking(fh.fileno(), msvcrt.LK_LOCK, 1)
            try:
                yield
            finally:
                fh.seek(0)
                msvcrt.locking(fh.fileno(), msvcrt.LK_UNLCK, 1)
        else:
            import fcntl

            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


# --- where the hashes live -------------------------------------------------------------
