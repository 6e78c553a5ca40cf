"""``Roots``: the folders a ``files`` tool may touch, reached without a check-then-open gap.

A path is walked one component at a time by file descriptor: each folder is
opened relative to the one before with ``O_NOFOLLOW | O_DIRECTORY``, and the
last component is handed, with its parent's descriptor, to a ``final`` function
that opens or stats it with ``O_NOFOLLOW``. Nothing is ever looked up again by
its full path, so swapping a folder for a symlink mid-way cannot redirect the
operation. ``..`` and symlinks are resolved by the walk itself, the way the
operating system would: a symlink whose target stays inside a root is followed
(component by component, beneath the root), one that leads outside is refused
like ``../`` is, and ``..`` above a root leads out of it (into another root only
if the path really goes there).

Windows has neither ``O_NOFOLLOW`` nor ``dir_fd``: there the path is resolved
with ``realpath``, checked, and opened by name, which leaves a small race that
only someone who can already create symlinks in the root could use.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")
Folder = int | str  # an open folder: its descriptor, or its real path in the Windows fallback

NO_FOLLOW = getattr(os, "O_NOFOLLOW", 0)  # not on Windows, where symlinks need privileges
BENEATH = bool(NO_FOLLOW) and os.open in os.supports_dir_fd and hasattr(os, "fwalk")
OPEN_FLAGS = NO_FOLLOW | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
NON_BLOCKING = getattr(os, "O_NONBLOCK", 0)  # a FIFO must not hang an open
DIR_FLAGS = os.O_RDONLY | OPEN_FLAGS | getattr(os, "O_DIRECTORY", 0)
MAX_LINKS = 40  # as Linux: more symlinks than this in one path is a loop
MAX_CREATED = 256  # folders one write may create
MAYBE_LINK = frozenset({errno.ELOOP, errno.EMLINK, errno.ENOTDIR})  # EMLINK: BSD's O_NOFOLLOW


class OutsideRoots(ValueError):
    """A path that resolves outside every root (or cannot be resolved)."""


class Roots:
    """Resolved root folders; relative paths start at the first one."""

    def __init__(self, roots: Sequence[str]) -> None:
        if not roots:
            raise ValueError("at least one root is needed")
        self.paths: tuple[Path, ...] = tuple(
            Path(os.path.realpath(os.path.expanduser(root))) for root in roots
        )

    @property
    def first(self) -> Path:
        return self.paths[0]

    def describe(self) -> str:
        """The roots as a model should read them."""
        listed = ", ".join(str(path) for path in self.paths)
        return f"Allowed folders: {listed}. Relative paths start at {self.first}."

    def locate(
        self, path: str, final: Callable[[Folder, str], T], *, make_parents: bool = False
    ) -> tuple[T, Path]:
        """``final(parent, name)`` on the last component of ``path``, and its real path.

        ``final`` must not follow a symlink at ``name`` (``open_file_at``,
        ``open_folder_at`` and ``stat_at`` do not); ``name`` is ``"."`` when the
        path ends at a folder. ``make_parents`` creates missing folders on the way.
        """
        text = path.strip() or "."
        if "\0" in text:
            raise OutsideRoots(f"'{path}' is not a valid path")
        expanded = os.path.expanduser(text)
        try:
            if not BENEATH:
                return self._checked(expanded, final, make_parents)
            start = () if os.path.isabs(expanded) else self.first.parts
            return _Walk(self.paths, start).run(deque(_split(expanded)), final, make_parents)
        except OutsideRoots:
            raise OutsideRoots(f"'{path}' is outside the allowed folders") from None

    def display(self, real: Path) -> str:
        """How to show ``real`` to the model: relative to the first root, else absolute."""
        if real == self.first:
            return "."
        if real.is_relative_to(self.first):
            return real.relative_to(self.first).as_posix()
        return str(real)

    def _checked(
        self, expanded: str, final: Callable[[Folder, str], T], make_parents: bool
    ) -> tuple[T, Path]:
        """The Windows fallback: ``realpath``, check, then use the name."""
        candidate = Path(expanded) if os.path.isabs(expanded) else self.first / expanded
        real = Path(os.path.realpath(candidate))
        if not any(real == root or real.is_relative_to(root) for root in self.paths):
            raise OutsideRoots
        if real.parent == real:
            return final(str(real), "."), real
        if make_parents:
            real.parent.mkdir(parents=True, exist_ok=True)
        return final(str(real.parent), real.name), real


class _Walk:
    """One walk down a path by descriptors; ``fds[-1]`` is the folder reached so far."""

    def __init__(self, roots: tuple[Path, ...], start: tuple[str, ...]) -> None:
        self.roots = {root.parts: root for root in roots}
        self.ancestors = {root.parts[:n] for root in roots for n in range(1, len(root.parts))}
        self.outer: tuple[str, ...] = start or ("/",)  # a real folder while outside every root
        self.root: Path | None = None
        self.fds: list[int] = []
        self.names: list[str] = []
        self.links = MAX_LINKS
        self.created = 0

    def run(
        self, pending: deque[str], final: Callable[[Folder, str], T], make_parents: bool
    ) -> tuple[T, Path]:
        try:
            while True:
                if self.root is None:
                    self._approach(pending)
                elif not pending:
                    return final(self.fds[-1], "."), self._here()
                else:
                    name = pending.popleft()
                    if name == "..":
                        self._up()
                    elif not pending:
                        try:
                            return final(self.fds[-1], name), self._here() / name
                        except OSError as exc:
                            self._follow(name, pending, exc)
                    else:
                        self._enter(name, pending, make_parents)
        finally:
            for fd in self.fds:
                os.close(fd)

    def _here(self) -> Path:
        assert self.root is not None
        return self.root.joinpath(*self.names)

    def _approach(self, pending: deque[str]) -> None:
        """Outside every root: step through real folders until one is a root."""
        root = self.roots.get(self.outer)
        if root is not None:
            self.root, self.fds = root, [os.open(root, DIR_FLAGS & ~NO_FOLLOW)]
            return
        if not pending:
            raise OutsideRoots
        name = pending.popleft()
        if name == "..":
            self.outer = self.outer[:-1] or self.outer
            return
        step = (*self.outer, name)
        if step in self.ancestors or step in self.roots:
            self.outer = step  # an ancestor of a real root is itself real
            return
        try:
            target = os.readlink(os.path.join(*step))
        except OSError:
            raise OutsideRoots from None
        self._expand(target, pending)

    def _up(self) -> None:
        if self.names:
            os.close(self.fds.pop())
            self.names.pop()
            return
        assert self.root is not None
        self.outer = self.root.parts[:-1] or self.root.parts
        os.close(self.fds.pop())
        self.root = None

    def _enter(self, name: str, pending: deque[str], make_parents: bool) -> None:
        try:
            fd = os.open(name, DIR_FLAGS, dir_fd=self.fds[-1])
        except FileNotFoundError:
            if not make_parents:
                raise
            self.created += 1  # a racer deleting it again and again must not loop forever
            if self.created > MAX_CREATED:
                raise
            with contextlib.suppress(FileExistsError):
                os.mkdir(name, 0o777, dir_fd=self.fds[-1])
            pending.appendleft(name)
            return
        except OSError as exc:
            self._follow(name, pending, exc)
            return
        self.fds.append(fd)
        self.names.append(name)

    def _follow(self, name: str, pending: deque[str], error: OSError) -> None:
        """Continue along the symlink ``name``, or re-raise ``error`` if it is none."""
        if error.errno not in MAYBE_LINK:
            raise error
        try:
            target = os.readlink(name, dir_fd=self.fds[-1])
        except OSError:
            raise error from None
        self._expand(target, pending)

    def _expand(self, target: str, pending: deque[str]) -> None:
        self._spend()
        pending.extendleft(reversed(_split(target)))
        if os.path.isabs(target):
            for fd in self.fds:
                os.close(fd)
            self.fds, self.names, self.root, self.outer = [], [], None, ("/",)

    def _spend(self) -> None:
        self.links -= 1
        if self.links < 0:
            raise OSError(errno.ELOOP, os.strerror(errno.ELOOP))


def _split(path: str) -> list[str]:
    return [part for part in path.replace(os.sep, "/").split("/") if part not in ("", ".")]


# What ``final`` functions use: each acts on one name in an open folder, never through a link.


def open_file_at(parent: Folder, name: str, flags: int, mode: int = 0o644) -> int:
    """A descriptor for ``name`` in ``parent``; ``ELOOP`` if it is a symlink."""
    if isinstance(parent, int):
        return os.open(name, flags | OPEN_FLAGS | NON_BLOCKING, mode, dir_fd=parent)
    return os.open(os.path.join(parent, name), flags | OPEN_FLAGS | NON_BLOCKING, mode)


def open_folder_at(parent: Folder, name: str) -> Folder:
    """The folder ``name`` in ``parent``, opened; close it with ``close_folder``."""
    if isinstance(parent, int):
        return os.open(name, DIR_FLAGS, dir_fd=parent)
    path = os.path.join(parent, name)
    if not os.path.isdir(path):
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), path)
    return path


def stat_at(parent: Folder, name: str) -> os.stat_result:
    """``lstat`` of ``name`` in ``parent``; ``ELOOP`` if it is a symlink."""
    if isinstance(parent, int):
        result = os.stat(name, dir_fd=parent, follow_symlinks=False)
    else:
        result = os.stat(os.path.join(parent, name), follow_symlinks=False)
    if stat.S_ISLNK(result.st_mode):
        raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), name)
    return result


def close_folder(folder: Folder) -> None:
    if isinstance(folder, int):
        os.close(folder)


def walk_folder(folder: Folder) -> Iterator[tuple[str, list[str], list[str], Folder]]:
    """``(relative dir with '/' or '', dirs, files, open dir)`` below ``folder``, top down.

    Symlinked folders are never entered (``os.fwalk`` checks each folder it
    opens is the one it listed); prune by editing ``dirs``.
    """
    if isinstance(folder, int):
        for dirpath, dirs, files, fd in os.fwalk(".", dir_fd=folder):
            yield dirpath[2:].replace(os.sep, "/"), dirs, files, fd
        return
    for dirpath, dirs, files in os.walk(folder, followlinks=False):
        rel = os.path.relpath(dirpath, folder).replace(os.sep, "/")
        yield ("" if rel == "." else rel), dirs, files, dirpath


def link_errno(exc: OSError) -> bool:
    """Whether a ``final`` function failed because the name is (maybe) a symlink."""
    return exc.errno in MAYBE_LINK
