"""What the kernel says about processes and the machine: CPU time, RSS, other load."""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True, slots=True)
class ProcSample:
    cpu_seconds: float  # user + system, whole process
    rss_kib: int
    hwm_kib: int  # peak RSS since start (or since reset_peak)


def proc_sample(pid: int) -> ProcSample:
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    cpu = (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime
    status = Path(f"/proc/{pid}/status").read_text()
    values = {}
    for line in status.splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0])
    return ProcSample(cpu, values.get("VmRSS", 0), values.get("VmHWM", 0))


def reset_peak(pid: int) -> bool:
    """Reset VmHWM to the current RSS (Linux clear_refs 5); False where not allowed."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def self_cpu_seconds() -> float:
    """This process's CPU time, at nanosecond resolution (/proc is in 10 ms ticks)."""
    return time.process_time()


@dataclass(slots=True)
class CpuMeter:
    """CPU seconds spent by some processes (and this one) between ``start`` and ``stop``."""

    pids: dict[str, int]
    totals: dict[str, float] = field(default_factory=dict)
    _marks: dict[str, float] = field(default_factory=dict)

    def _now(self) -> dict[str, float]:
        now = {name: proc_sample(pid).cpu_seconds for name, pid in self.pids.items()}
        now["generator"] = self_cpu_seconds()
        return now

    def start(self) -> None:
        self._marks = self._now()

    def stop(self) -> None:
        for name, value in self._now().items():
            self.totals[name] = self.totals.get(name, 0.0) + value - self._marks[name]


def _machine_ticks() -> tuple[int, int]:
    """(busy, total) clock ticks of all cores, from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


@dataclass(slots=True)
class OtherLoad:
    """How much CPU processes other than ours used meanwhile: others' tests skew figures."""

    pids: list[int]
    _start: tuple[int, int] = (0, 0)
    _ours: float = 0.0
    _wall: float = 0.0

    def _our_cpu(self) -> float:
        total = self_cpu_seconds()
        for pid in self.pids:
            with contextlib.suppress(OSError):
                total += proc_sample(pid).cpu_seconds
        return total

    def start(self) -> None:
        self._start, self._ours, self._wall = _machine_ticks(), self._our_cpu(), time.monotonic()

    def cores(self) -> float:
        """Cores' worth of CPU the rest of the machine used since ``start``."""
        busy, _ = _machine_ticks()
        wall = time.monotonic() - self._wall
        others = (busy - self._start[0]) / CLK_TCK - (self._our_cpu() - self._ours)
        return max(0.0, others / wall) if wall > 0 else 0.0

    def note(self) -> str:
        cores = self.cores()
        warning = " (figures are skewed: rerun on a quiet machine)" if cores > 0.15 else ""
        return (
            f"Other processes on this machine used {cores:.2f} of its {os.cpu_count()} "
            f"cores during the run{warning}."
        )


def wait_for_quiet(timeout: float, limit: float = 0.15, window: float = 3.0) -> float:
    """Wait (up to ``timeout`` s) until other processes use under ``limit`` cores; the last load."""
    deadline = time.monotonic() + timeout
    while True:
        load = OtherLoad([])
        load.start()
        time.sleep(window)
        cores = load.cores()
        if cores < limit or time.monotonic() > deadline:
            return cores
