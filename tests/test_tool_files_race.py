"""The ``files`` tool under a symlink race: a middle folder keeps flipping to a link outside.

A thread swaps ``root/mid`` between a real folder inside the root and a symlink
to a folder outside it, as fast as it can, while the main thread reads, writes,
edits, lists and searches ``mid/...`` through the real tools. A check-then-open
implementation lets some of these through (the review measured 16 of 400 reads
and 6 of 400 writes); resolving beneath the root by file descriptors lets none.
"""

from __future__ import annotations

import os
import shutil
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from server.tools import ToolRef, build_tools

SECRET = "SECRET-7f3a9c outside the root"
ROUNDS = 1000

pytestmark = pytest.mark.skipif(os.name == "nt", reason="symlinks need privileges on Windows")


def file_tools(root: Path) -> dict[str, Callable[..., str]]:
    refs = [ToolRef(name="files", options={"roots": [str(root)], "write": True})]
    return {tool.name: tool.function for tool in build_tools(refs)}


class Swapper(threading.Thread):
    """Flips ``root/mid`` between the real folder and a symlink to ``outside``."""

    def __init__(self, root: Path, outside: Path) -> None:
        super().__init__(daemon=True)
        self.mid = root / "mid"
        self.parked_dir, self.parked_link = root / "mid-dir", root / "mid-link"
        self.parked_link.symlink_to(outside, target_is_directory=True)
        self.stop = threading.Event()
        self.flips = 0

    def run(self) -> None:
        while not self.stop.is_set():
            os.rename(self.mid, self.parked_dir)
            self._put(self.parked_link, self.mid)  # mid -> outside
            os.rename(self.mid, self.parked_link)
            self._put(self.parked_dir, self.mid)  # mid is the real folder again
            self.flips += 1

    def _put(self, parked: Path, name: Path) -> None:
        """Rename ``parked`` to ``name``, first removing a ``mid`` a write made meanwhile."""
        while True:
            try:
                os.rename(parked, name)
                return
            except OSError:
                shutil.rmtree(name, ignore_errors=True)  # a real folder inside the root


@pytest.fixture
def race(tmp_path: Path) -> Iterator[tuple[Path, Path, dict[str, Callable[..., str]]]]:
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "mid" / "deep").mkdir(parents=True)
    (root / "mid" / "f.txt").write_text("inside\n")
    (root / "mid" / "deep" / "g.txt").write_text("inside too\n")
    (outside / "deep").mkdir(parents=True)
    (outside / "f.txt").write_text(SECRET + "\n")
    (outside / "deep" / "g.txt").write_text(SECRET + "\n")
    (outside / "only-outside.txt").write_text(SECRET + "\n")
    swapper = Swapper(root, outside)
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # let the swapper run between any two steps of a call
    swapper.start()
    try:
        yield root, outside, file_tools(root)
    finally:
        swapper.stop.set()
        swapper.join()
        sys.setswitchinterval(interval)
    assert swapper.flips > 100, "the swapper barely ran; the race was not exercised"


def outside_files(outside: Path) -> set[str]:
    return {str(p.relative_to(outside)) for p in outside.rglob("*")}


def test_reads_never_return_what_lies_outside(race: tuple[Path, Path, dict]) -> None:
    _, _, tools = race
    escapes: Counter[str] = Counter()
    inside = 0
    for i in range(ROUNDS):
        answer = tools["read_file"]("mid/f.txt" if i % 2 else "mid/deep/g.txt")
        escapes["read_file"] += SECRET in answer
        inside += answer.startswith("inside")
    for i in range(ROUNDS // 4):
        listed = tools["list_files"]("mid" if i % 2 else "mid/deep/..")
        escapes["list_files"] += "only-outside" in listed
        found = tools["search_files"]("*.txt", "secret", "mid" if i % 2 else ".")
        escapes["search_files"] += SECRET in found
    assert sum(escapes.values()) == 0, f"calls that reached outside the root: {dict(escapes)}"
    assert inside > 0, "no read ever succeeded, so the race proved nothing"


def test_writes_and_edits_never_land_outside(race: tuple[Path, Path, dict]) -> None:
    _, outside, tools = race
    before = outside_files(outside)
    escapes = written = 0
    for i in range(ROUNDS):
        path = "mid/w.txt" if i % 2 else "mid/deep/new/w.txt"
        written += tools["write_file"](path, f"written {i}\n").startswith("Wrote")
        tools["edit_file"]("mid/f.txt", "SECRET", "EDITED")
        after = outside_files(outside)
        if after != before or SECRET not in (outside / "f.txt").read_text():
            escapes += 1
            for extra in sorted(after - before, key=len, reverse=True):
                target = outside / extra
                target.unlink() if target.is_file() else target.rmdir()
            (outside / "f.txt").write_text(SECRET + "\n")
    assert escapes == 0, f"{escapes} of {ROUNDS} writes or edits changed the folder outside"
    assert written > 0, "no write ever succeeded, so the race proved nothing"
