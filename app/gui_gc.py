"""Python's cyclic garbage collection, run only on the GUI thread.

Why: the collector runs on whichever thread happens to allocate when a threshold is
crossed. In the tray that is often the embedded server's thread or a background job.
A cycle that holds a Qt object (a closed window whose slots capture it, a job's
relay) would then be destroyed off the GUI thread, which Qt does not allow and which
crashes at random, long after the cause. So automatic collection is switched off and
a timer on the GUI thread collects instead, generation by generation, with the same
thresholds. Reference counting still frees everything that is not in a cycle at once.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

INTERVAL_MS = 500
_running: list[GuiThreadCollector] = []  # Python's own collection is off while any runs
_enabled_before = [True]


class GuiThreadCollector(QObject):
    """From creation until ``stop``, cycles are collected by its timer only."""

    def __init__(self, parent: QObject | None = None, interval_ms: int = INTERVAL_MS) -> None:
        super().__init__(parent)
        if not _running:
            _enabled_before[0] = gc.isenabled()
        _running.append(self)
        gc.disable()
        self._thresholds = gc.get_threshold()
        self._timer = QTimer(self)
        self._timer.timeout.connect(self.collect_due)
        self._timer.start(interval_ms)

    def collect_due(self) -> int:
        """Collect the generations whose counts passed their thresholds; objects freed."""
        counts = gc.get_count()
        freed = 0
        for generation in (2, 1, 0):  # the oldest due one; collecting it covers the younger
            if counts[generation] > self._thresholds[generation]:
                freed = gc.collect(generation)
                break
        return freed

    def stop(self) -> None:
        """Hand collection back to Python (as it was) once no other collector runs."""
        self._timer.stop()
        if self in _running:
            _running.remove(self)
            if not _running and _enabled_before[0]:
                gc.enable()
