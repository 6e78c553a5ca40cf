"""Blocking work (server start and stop, keyring calls) off the GUI thread.

Why this shape: a worker thread must never touch widgets nor emit on long-lived
application objects. Each job gets its own small relay QObject, created on the GUI
thread; the worker emits on it and Qt queues the call back to the GUI thread, where
the relay runs the callback.

A QObject must also be destroyed on its own thread. The worker lets go of its relay
right after emitting and says so (``released``); the GUI thread drops a delivered
relay only once the worker has, so the last reference, and the deletion, are always
on the GUI thread. (``app.gui_gc`` keeps the garbage collector there too.)
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot

log = logging.getLogger(__name__)

Done = Callable[[Any], None]
Failed = Callable[[BaseException], None]


class _Relay(QObject):
    """Lives on the GUI thread; carries one job's outcome back to it."""

    succeeded = Signal(object)
    failed = Signal(object)

    def __init__(
        self,
        runner: Jobs,
        work: Callable[[], Any],
        on_done: Done | None,
        on_error: Failed | None,
    ) -> None:
        super().__init__()
        self._runner = runner
        self.work = work  # held here too, so what it captures is let go on the GUI thread
        self.released = threading.Event()  # set by the worker once it holds no reference
        self._on_done = on_done
        self._on_error = on_error
        self.succeeded.connect(self._deliver_result)
        self.failed.connect(self._deliver_error)

    @Slot(object)
    def _deliver_result(self, result: object) -> None:
        self._runner.finished(self)
        if self._on_done is not None:
            self._on_done(result)

    @Slot(object)
    def _deliver_error(self, error: BaseException) -> None:
        self._runner.finished(self)
        if self._on_error is not None:
            self._on_error(error)
        else:
            log.error("background job failed", exc_info=error)


class _Job(QRunnable):
    def __init__(self, relay: _Relay) -> None:
        super().__init__()
        self._relay: _Relay | None = relay

    def run(self) -> None:
        relay, self._relay = self._relay, None
        assert relay is not None
        released = relay.released
        try:
            outcome, ok = relay.work(), True
        except BaseException as exc:  # delivered to the GUI thread, never lost
            outcome, ok = exc, False
        (relay.succeeded if ok else relay.failed).emit(outcome)
        del relay, outcome
        released.set()


class Jobs:
    """A queue of background jobs; ``serial=True`` runs them one at a time, in order."""

    def __init__(self, *, serial: bool = False) -> None:
        self._pool = QThreadPool()
        if serial:
            self._pool.setMaxThreadCount(1)
        self._pending: set[_Relay] = set()  # not yet delivered
        self._delivered: list[_Relay] = []  # delivered; dropped once their worker let go

    def run(
        self,
        work: Callable[[], Any],
        on_done: Done | None = None,
        on_error: Failed | None = None,
    ) -> None:
        self._sweep()
        relay = _Relay(self, work, on_done, on_error)
        self._pending.add(relay)
        self._pool.start(_Job(relay))

    def finished(self, relay: _Relay) -> None:
        self._pending.discard(relay)
        self._delivered.append(relay)
        self._sweep()

    def _sweep(self) -> None:
        self._delivered = [r for r in self._delivered if not r.released.is_set()]

    @property
    def busy(self) -> bool:
        return bool(self._pending)

    def wait(self, timeout_ms: int = -1) -> bool:
        """Block until every job has run (at quit); their callbacks come later, if ever."""
        return self._pool.waitForDone(timeout_ms)
