"""Git-backed knowledge bases against a real bare repository made here with dulwich."""

from __future__ import annotations

import io
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from dulwich import porcelain
from dulwich.repo import Repo

from server.config import Config, parse_config
from server.knowledge import KnowledgeService
from server.knowledge.git_sync import GitSyncError, sync
from server.status import StatusHub

AUTHOR = b"Test <test@example.org>"


class Remote:
    """A bare repository and a working copy that commits and pushes to it."""

    def __init__(self, root: Path) -> None:
        self.bare = root / "handbook.git"
        self.work = root / "author"
        porcelain.init(str(self.bare), bare=True).close()
        porcelain.init(str(self.work)).close()

    @property
    def url(self) -> str:
        return self.bare.as_uri()  # file:///...

    def commit(self, files: dict[str, str | None], message: str = "update") -> None:
        with Repo(str(self.work)) as repo:
            for rel, content in files.items():
                path = self.work / rel
                if content is None:
                    porcelain.remove(repo, [str(path)])
                    continue
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(content, encoding="utf-8")
                porcelain.add(repo, [str(path)])
            porcelain.commit(repo, message=message.encode(), author=AUTHOR, committer=AUTHOR)
            porcelain.push(
                repo,
                str(self.bare),
                "refs/heads/master:refs/heads/main",
                outstream=io.BytesIO(),
                errstream=io.BytesIO(),
            )


def eventually(check: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


@pytest.fixture
def remote(tmp_path: Path) -> Remote:
    made = Remote(tmp_path)
    made.commit({"policies/leave.md": "# Leave\n\nEveryone gets 30 days of leave.\n"}, "first")
    return made


def git_config(checkout: Path, url: str, poll: float = 0.3) -> Config:
    return parse_config(
        {
            "knowledge_bases": {
                "handbook": {
                    "path": str(checkout),
                    "git": {"repo_url": url, "branch": "main", "poll_interval_seconds": poll},
                }
            }
        }
    )


@pytest.fixture
def service_for(tmp_path: Path) -> Iterator[Callable[[Config], KnowledgeService]]:
    started: list[KnowledgeService] = []

    def start(config: Config, hub: StatusHub | None = None) -> KnowledgeService:
        service = KnowledgeService(config, tmp_path / "data", hub, watch_interval=0.1)
        started.append(service)
        service.start()
        return service

    yield start
    for service in started:
        service.stop()


def leave_text(service: KnowledgeService) -> str:
    hits = service.search("how many days of leave", ["handbook"], 1)
    return hits[0].text if hits else ""


def test_a_new_commit_is_picked_up_after_a_poll(
    tmp_path: Path, remote: Remote, service_for
) -> None:
    checkout = tmp_path / "knowledge" / "handbook"
    hub = StatusHub()
    service = service_for(git_config(checkout, remote.url), hub)
    assert service.wait_until_searchable("handbook", 10)
    assert (checkout / "policies" / "leave.md").is_file()
    hit = service.search("leave days", ["handbook"], 1)[0]
    assert (hit.path, hit.location) == ("policies/leave.md", "lines 1-3")
    first_sync = service.status("handbook").last_sync
    remote.commit(
        {
            "policies/leave.md": "# Leave\n\nEveryone gets 32 days of leave.\n",
            "policies/travel.md": "# Travel\n\nBook trains, not planes.\n",
        }
    )
    assert eventually(lambda: "32 days" in leave_text(service))
    assert eventually(lambda: [h.path for h in service.search("trains")] == ["policies/travel.md"])
    remote.commit({"policies/travel.md": None}, "remove travel")
    assert eventually(lambda: service.search("trains") == [])
    published = hub.snapshot()["knowledge_bases"]["handbook"]
    assert published["git"] == remote.url
    assert published["last_sync"] > first_sync


def test_local_edits_in_the_checkout_are_discarded(tmp_path: Path, remote: Remote) -> None:
    checkout = tmp_path / "handbook"
    sync(remote.url, "main", checkout)
    (checkout / "policies" / "leave.md").write_text("# Leave\n\nUnlimited leave!\n")
    (checkout / "notes.md").write_text("a local file\n")
    result = sync(remote.url, "main", checkout)
    assert not result.changed
    assert (checkout / "policies" / "leave.md").read_text() == (
        "# Leave\n\nEveryone gets 30 days of leave.\n"
    )
    assert not (checkout / "notes.md").exists()


def test_a_failed_sync_keeps_the_last_good_index_and_says_why(
    tmp_path: Path, remote: Remote, service_for
) -> None:
    checkout = tmp_path / "handbook"
    hub = StatusHub()
    service = service_for(git_config(checkout, remote.url), hub)
    assert service.wait_until_searchable("handbook", 10)
    shutil.rmtree(remote.bare)  # the remote disappears
    assert eventually(lambda: service.status("handbook").state == "error")
    status = service.status("handbook")
    assert status.message.startswith(f"sync failed: cannot sync {remote.url}: ")
    assert status.message.endswith("; searching the last good index")
    assert status.searchable and service.notice("handbook") is None
    assert "30 days" in leave_text(service)
    assert hub.snapshot()["knowledge_bases"]["handbook"]["state"] == "error"


def test_a_first_sync_that_fails_leaves_the_base_unavailable(tmp_path: Path, service_for):
    missing = (tmp_path / "nowhere.git").as_uri()
    service = service_for(git_config(tmp_path / "handbook", missing, poll=60))
    assert eventually(lambda: service.status("handbook").state == "error")
    assert service.notice("handbook") == (
        f"Note: knowledge base `handbook` is unavailable (sync failed: cannot sync {missing}: "
        f"No git repository was found at {tmp_path / 'nowhere.git'}); "
        "do not claim to have searched it."
    )
    assert not (tmp_path / "handbook").exists()


def test_an_unknown_branch_is_named(tmp_path: Path, remote: Remote) -> None:
    with pytest.raises(GitSyncError, match="branch 'release' does not exist in"):
        sync(remote.url, "release", tmp_path / "handbook")
    assert not (tmp_path / "handbook").exists()


def test_a_folder_traymind_did_not_clone_is_never_overwritten(
    tmp_path: Path, remote: Remote
) -> None:
    precious = tmp_path / "my-notes"
    precious.mkdir()
    (precious / "diary.md").write_text("mine\n")
    with pytest.raises(GitSyncError, match="is not a checkout Traymind made"):
        sync(remote.url, "main", precious)
    assert (precious / "diary.md").read_text() == "mine\n"
