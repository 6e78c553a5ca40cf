"""Knowledge bases never index what a symlink points to outside their folder.

A folder base and a Git base each hold ``leak.md`` linking to a file outside,
a relative ``../`` link and a linked folder; a third test swaps a folder of the
base for a link outside while passes run. The outside file's unique word must
never be found, while links that stay inside the base still work.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from dulwich import porcelain
from dulwich.index import commit_tree
from dulwich.objects import Blob
from dulwich.repo import Repo

from server.config import parse_config
from server.knowledge import KnowledgeService
from server.knowledge.files import FileFilter, scan
from server.knowledge.indexer import Indexer
from server.knowledge.search import rank
from server.knowledge.store import IndexStore
from tests.test_knowledge_git import AUTHOR, Remote

WORD = "quokkaplatypus"  # appears only outside the bases
PASSES = 60
SECRET = f"# Payroll\n\nThe {WORD} salary table.\n"

pytestmark = pytest.mark.skipif(os.name == "nt", reason="symlinks need privileges on Windows")


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    folder = tmp_path / "outside"
    (folder / "sub").mkdir(parents=True)
    (folder / "secret.md").write_text(SECRET)
    (folder / "sub" / "more.md").write_text(SECRET)
    return folder


@pytest.fixture
def store(tmp_path: Path) -> Iterator[IndexStore]:
    opened = IndexStore(tmp_path / "index.sqlite3").open()
    yield opened
    opened.close()


def plant_links(base: Path, outside: Path) -> None:
    """Links out (absolute, relative, a folder) and one that stays inside."""
    (base / "leak.md").symlink_to(outside / "secret.md")
    (base / "docs").mkdir(exist_ok=True)
    (base / "docs" / "rel-leak.md").symlink_to(
        os.path.relpath(outside / "secret.md", base / "docs")
    )
    (base / "linked").symlink_to(outside / "sub", target_is_directory=True)
    (base / "alias.md").symlink_to("good.md")


def test_a_folder_base_skips_links_that_leave_it(
    tmp_path: Path, outside: Path, store: IndexStore
) -> None:
    base = tmp_path / "notes"
    base.mkdir()
    (base / "good.md").write_text("# Good\n\nThe handbook says hello.\n")
    plant_links(base, outside)
    assert sorted(scan(base, FileFilter(None, []))) == ["alias.md", "good.md"]
    result = Indexer(base, FileFilter(None, []), store).run()
    assert sorted(result.indexed) == ["alias.md", "good.md"] and not result.failed
    assert rank(store, WORD, 10) == []
    assert [hit.path for hit in rank(store, "handbook hello", 10)] == ["alias.md", "good.md"]


class Swapper(threading.Thread):
    """Flips ``base/mid`` between a real folder and a link to ``outside``."""

    def __init__(self, base: Path, outside: Path) -> None:
        super().__init__(daemon=True)
        self.mid, self.parked_dir, self.parked_link = base / "mid", base / "mid-d", base / "mid-l"
        self.parked_link.symlink_to(outside, target_is_directory=True)
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            os.rename(self.mid, self.parked_dir)
            os.rename(self.parked_link, self.mid)
            os.rename(self.mid, self.parked_link)
            os.rename(self.parked_dir, self.mid)


def test_a_folder_swapped_for_a_link_during_a_pass_is_not_followed(
    tmp_path: Path, store: IndexStore
) -> None:
    base, outside = tmp_path / "notes", tmp_path / "outside"
    (base / "mid").mkdir(parents=True)
    outside.mkdir()
    for n in range(10):  # the same names on both sides
        (base / "mid" / f"s{n}.md").write_text("# Inside\n\nNothing to see.\n")
        (outside / f"s{n}.md").write_text(SECRET)
    filter_ = FileFilter(["mid/*.md", "mid-d/*.md"], [])
    swapper = Swapper(base, outside)
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # let the swapper run between any two steps of a pass
    swapper.start()
    leaks = 0
    try:
        for _ in range(PASSES):
            Indexer(base, filter_, store).run(rebuild=True)
            leaks += bool(rank(store, WORD, 10))
    finally:
        swapper.stop.set()
        swapper.join()
        sys.setswitchinterval(interval)
    assert leaks == 0, f"{leaks} of {PASSES} passes indexed a file outside"


def commit_links(remote: Remote, outside: Path, checkout: Path) -> None:
    """A commit made straight into the bare repository, its links stored as links (120000)."""
    secret = str(outside / "secret.md")
    entries = [
        (b"good.md", b"# Good\n\nThe handbook says hello.\n", 0o100644),
        (b"alias.md", b"good.md", 0o120000),
        (b"leak.md", secret.encode(), 0o120000),
        (b"docs/rel-leak.md", os.path.relpath(secret, checkout / "docs").encode(), 0o120000),
        (b"linked", str(outside / "sub").encode(), 0o120000),
    ]
    with Repo(str(remote.bare)) as repo:
        blobs = []
        for path, data, mode in entries:
            blob = Blob.from_string(data)
            repo.object_store.add_object(blob)
            blobs.append((path, blob.id, mode))
        tree = commit_tree(repo.object_store, blobs)
        commit = porcelain.commit_tree(repo, tree, b"links", author=AUTHOR, committer=AUTHOR)
        repo.refs[b"refs/heads/main"] = commit


def test_a_git_base_keeps_links_as_links_and_skips_those_leaving_it(
    tmp_path: Path, outside: Path
) -> None:
    remote = Remote(tmp_path)
    checkout = tmp_path / "knowledge" / "handbook"
    commit_links(remote, outside, checkout)
    config = parse_config(
        {
            "knowledge_bases": {
                "handbook": {
                    "path": str(checkout),
                    "git": {"repo_url": remote.url, "branch": "main", "poll_interval_seconds": 60},
                }
            }
        }
    )
    service = KnowledgeService(config, tmp_path / "data", None, watch_interval=0.1)
    service.start()
    try:
        assert service.wait_until_searchable("handbook", 10)
        assert (checkout / "leak.md").is_symlink() and (checkout / "linked").is_symlink()
        assert service.search(WORD, ["handbook"], 10) == []
        assert [h.path for h in service.search("handbook hello", ["handbook"], 10)] == [
            "alias.md",
            "good.md",
        ]
    finally:
        service.stop()
