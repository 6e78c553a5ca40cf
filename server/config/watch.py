"""Reloading config.yaml when it changes on disk, keeping the old one when the edit is bad.

A cheap ``stat`` once a second on a background thread; the reload itself runs
through ``ServerHandle.reload``, which swaps the config generation on the server's
loop so live sessions go on.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

INTERVAL_SECONDS = 1.0


def file_signature(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size


class ConfigWatcher:
    def __init__(self, path: Path, on_change: Callable[[], None]) -> None:
        self._path = path
        self._on_change = on_change
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._signature = file_signature(path)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="traymind-config-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2)

    def _run(self) -> None:
        while not self._stop.wait(INTERVAL_SECONDS):
            signature = file_signature(self._path)
            if signature is None or signature == self._signature:
                continue
            self._signature = signature
            try:
                self._on_change()
            except Exception:  # reported by on_change; the watcher must keep watching
                log.exception("reloading %s failed", self._path)
