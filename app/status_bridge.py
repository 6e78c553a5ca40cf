"""Status hub news, carried to the GUI thread and coalesced.

The hub calls its listeners on the server's thread, once per request start and
finish: hundreds of times a second under load. The bridge turns that into at most
one ``changed`` signal per interval on the GUI thread: the first piece of news
arms a single-shot timer, the rest of the burst only sets a flag, so neither the
event queue nor the UI grows with the load.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Protocol

from PySide6.QtCore import QObject, Qt, QTimer, Signal, Slot


class News(Protocol):
    """What a bridge listens to: the status hub, the approval broker."""

    def subscribe(self, listener: Callable[[str], None]) -> Callable[[], None]: ...


COALESCE_MS = 150


class StatusBridge(QObject):
    """Subscribes to a hub of news; emits ``changed`` on the GUI thread, at most every 150 ms."""

    changed = Signal()
    _news = Signal()  # emitted from any thread; queued to this object's (GUI) thread

    def __init__(self, hub: News, interval_ms: int = COALESCE_MS) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._armed = False
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._flush)
        self._news.connect(self._arm, Qt.ConnectionType.QueuedConnection)
        self._unsubscribe: Callable[[], None] | None = hub.subscribe(self._on_hub)

    def _on_hub(self, what: str) -> None:
        """Runs on the server's thread: only a flag and, once per burst, a queued signal."""
        with self._lock:
            if self._armed:
                return
            self._armed = True
        self._news.emit()

    @Slot()
    def _arm(self) -> None:
        if not self._timer.isActive():
            self._timer.start()

    @Slot()
    def _flush(self) -> None:
        with self._lock:
            self._armed = False
        self.changed.emit()

    def close(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self._timer.stop()
