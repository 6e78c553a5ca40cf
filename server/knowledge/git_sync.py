"""Keeping a knowledge base folder in step with a Git branch, with dulwich (no git binary).

The checkout is a mirror: every sync resets it hard to the remote branch and
removes untracked files, so local edits never linger. Because that destroys
work, Traymind only ever syncs a folder it cloned itself: the clone is made
beside the target and moved into place with a marker inside ``.git``; a folder
without the marker is refused, never overwritten.
"""

from __future__ import annotations

import io
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dulwich.repo import Repo

MARKER = "traymind-mirror"  # inside .git: written once the clone is complete
DEPTH = 1  # only the branch's tip is indexed; history would cost time and disk


class GitSyncError(Exception):
    """The sync failed; the message is a sentence for the status window."""


@dataclass(frozen=True, slots=True)
class SyncResult:
    head: str
    changed: bool  # whether the checked-out commit differs from before


def sync(repo_url: str, branch: str, target: Path) -> SyncResult:
    """Clone ``branch`` of ``repo_url`` into ``target``, or bring the clone up to date."""
    try:
        if not target.exists() or (target.is_dir() and not any(target.iterdir())):
            return _clone(repo_url, branch, target)
        if not (target / ".git" / MARKER).is_file():
            raise GitSyncError(
                f"{target} already exists and is not a checkout Traymind made; syncing would "
                "discard its contents, so point `path` at a new or empty folder"
            )
        return _update(repo_url, branch, target)
    except GitSyncError:
        raise
    except Exception as exc:  # dulwich raises many kinds: network, protocol, missing refs
        raise GitSyncError(_describe(exc, repo_url, branch)) from exc


def _describe(exc: Exception, repo_url: str, branch: str) -> str:
    text = str(exc).strip() or exc.__class__.__name__
    if "not a valid branch" in text:
        return f"branch '{branch}' does not exist in {repo_url}"
    return f"cannot sync {repo_url}: {text}"


def _clone(repo_url: str, branch: str, target: Path) -> SyncResult:
    from dulwich import porcelain

    partial = target.with_name(target.name + ".traymind-clone")
    shutil.rmtree(partial, ignore_errors=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        repo = porcelain.clone(
            repo_url,
            str(partial),
            branch=branch,
            depth=DEPTH,
            checkout=False,
            errstream=io.BytesIO(),
        )
        with repo:
            _keep_links_as_links(repo)
            repo.get_worktree().reset_index()
            head = repo.head().decode()
        (partial / ".git" / MARKER).write_text(repo_url + "\n", encoding="utf-8")
        if target.exists():
            target.rmdir()  # empty, checked by the caller
        partial.rename(target)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return SyncResult(head, changed=True)


def _update(repo_url: str, branch: str, target: Path) -> SyncResult:
    from dulwich import porcelain
    from dulwich.repo import Repo

    with Repo(str(target)) as repo:
        before = repo.head()
        config = repo.get_config()
        config.set((b"remote", b"origin"), b"url", repo_url.encode())
        config.write_to_path()
        _keep_links_as_links(repo)
        result = porcelain.fetch(
            repo, repo_url, outstream=io.StringIO(), errstream=io.BytesIO(), depth=DEPTH
        )
        tip = result.refs.get(b"refs/heads/" + branch.encode())
        if tip is None:
            raise GitSyncError(f"branch '{branch}' does not exist in {repo_url}")
        porcelain.reset(repo, "hard", tip)  # local edits to tracked files are discarded
        porcelain.clean(repo, str(target))  # and untracked files removed
        (target / ".git" / MARKER).write_text(repo_url + "\n", encoding="utf-8")
        return SyncResult(tip.decode(), changed=tip != before)


def _keep_links_as_links(repo: Repo) -> None:
    """Check symlinks out as symlinks, so indexing can see (and skip) those leading out.

    Windows without the privilege to make links keeps dulwich's choice: links
    become small files holding the target's path, which leak nothing.
    """
    if os.name == "nt":
        return
    config = repo.get_config()
    config.set((b"core",), b"symlinks", True)
    config.write_to_path()
