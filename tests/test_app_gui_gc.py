"""Qt objects, and what background jobs capture, are let go on the GUI thread only.

A QObject destroyed on another thread crashes Qt at random; these tests make
garbage on worker threads and check where it is finally freed.
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import gc
import threading
from collections.abc import Iterator

import pytest
from PySide6.QtCore import QObject

from app.background import Jobs
from app.gui_gc import GuiThreadCollector


class Witness:
    """Records the thread that frees it."""

    def __init__(self, freed_on: list[str]) -> None:
        self.freed_on = freed_on

    def __del__(self) -> None:
        self.freed_on.append(threading.current_thread().name)


@pytest.fixture
def collector(qapp) -> Iterator[GuiThreadCollector]:
    gc.collect()
    collector = GuiThreadCollector(interval_ms=20)
    yield collector
    collector.stop()


def test_a_cycle_made_garbage_on_a_worker_is_collected_on_the_gui_thread(collector, qtbot) -> None:
    freed_on: list[str] = []

    def work() -> None:
        witness = Witness(freed_on)
        holder = QObject()
        witness.cycle = (witness, holder)  # type: ignore[attr-defined]
        del witness, holder
        churn = [[i] for i in range(50_000)]  # far past the collector's thresholds
        churn.append(churn)  # and more cycles
        del churn

    worker = threading.Thread(target=work, name="worker")
    worker.start()
    worker.join()
    assert freed_on == []  # nothing was collected on the worker
    assert not gc.isenabled()
    qtbot.waitUntil(lambda: freed_on != [], timeout=5000)
    assert freed_on == [threading.current_thread().name]


def test_stopping_the_last_collector_hands_collection_back(qapp) -> None:
    was = gc.isenabled()
    first, second = GuiThreadCollector(), GuiThreadCollector()
    first.stop()
    assert not gc.isenabled()  # the second still runs
    second.stop()
    assert gc.isenabled() == was


def test_what_a_job_captures_is_freed_on_the_gui_thread(collector, qtbot) -> None:
    jobs = Jobs(serial=True)
    freed_on: list[str] = []
    results: list[object] = []
    for n in range(3):
        witness = Witness(freed_on)
        jobs.run(lambda w=witness, n=n: (w, n)[1], results.append)
        del witness
        qtbot.waitUntil(lambda n=n: len(results) == n + 1)
    jobs.run(lambda: None, results.append)  # delivery and this run sweep the finished ones
    qtbot.waitUntil(lambda: len(results) == 4 and len(freed_on) >= 2, timeout=5000)
    assert results[:3] == [0, 1, 2]
    assert set(freed_on) == {threading.current_thread().name}
