"""The ``files`` tool: read, list, search, write and edit files inside configured roots.

``tools: [{files: {roots: [~/notes]}}]`` gives an agent ``read_file``,
``list_files`` and ``search_files`` on ``~/notes``; ``write: true`` adds
``write_file`` and ``edit_file``. Every path goes through ``Roots.locate``, so
``..`` and symlinks that lead outside the roots are refused, and each operation
works on the descriptor that walk opened (a listing scans it, a search walks it
with ``os.fwalk``, an edit reads and rewrites the one file it opened), so no
name is looked up twice. Problems come back to the model as ``Error: ...`` text
rather than failing the run.
"""

from __future__ import annotations

import difflib
import fnmatch
import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from server.tools.file_roots import (
    Folder,
    OutsideRoots,
    Roots,
    close_folder,
    link_errno,
    open_file_at,
    open_folder_at,
    stat_at,
    walk_folder,
)

if TYPE_CHECKING:
    from pydantic_ai import Tool

T = TypeVar("T")

SUMMARY = "Reads, lists and searches files in configured folders; writes and edits them if allowed."

SEARCH_MAX_FILE_BYTES = 2_000_000  # larger files are skipped by text search
READ_MAX_FILE_BYTES = 20_000_000  # larger files are not read (or edited) at all
LINE_PREVIEW_CHARS = 200
PREVIEW_MAX_CHARS = 20_000  # of the diff shown when a write asks for approval
PREVIEW_MAX_LINES = 5_000  # a diff costs old lines × new lines: beyond this, a summary
PREVIEW_MAX_BYTES = 1_000_000
SKIPPED_DIRS = frozenset({".git", ".hg", ".svn", "__pycache__", "node_modules"})


class Options(BaseModel):
    """``files`` options."""

    model_config = ConfigDict(extra="forbid")

    roots: list[str] = Field(min_length=1)
    """Folders the tools may use (absolute or ``~/...``); relative paths start at the first."""
    write: bool = False
    """Also offer ``write_file`` and ``edit_file``."""
    max_read_chars: int = Field(default=100_000, gt=0)
    """The most characters ``read_file`` returns at once."""
    max_results: int = Field(default=200, gt=0)
    """The most entries ``list_files`` and matches ``search_files`` return."""

    @field_validator("roots")
    @classmethod
    def _absolute_roots(cls, roots: list[str]) -> list[str]:
        for root in roots:
            if not root.strip():
                raise ValueError("a root must not be empty")
            if not (os.path.isabs(root) or root.startswith("~")):
                raise ValueError(f"'{root}' must be an absolute path or start with ~")
        return roots


class FileError(Exception):
    """A problem to report to the model as text."""


class FileTools:
    """The file functions bound to one agent's roots and limits."""

    def __init__(self, options: Options) -> None:
        self.roots = Roots(options.roots)
        self.options = options

    def read_file(self, path: str, start_line: int = 1, max_lines: int | None = None) -> str:
        """Read a text file.

        Args:
            path: The file to read, relative to the first allowed folder or absolute.
            start_line: The first line to return, counted from 1.
            max_lines: How many lines to return; all (up to the size limit) when omitted.
        """
        return _reported(lambda: self._read(path, start_line, max_lines))

    def list_files(self, path: str = ".") -> str:
        """List a folder: sub-folders end with '/', files show their size in bytes.

        Args:
            path: The folder to list, relative to the first allowed folder or absolute.
        """
        return _reported(lambda: self._list(path))

    def search_files(self, pattern: str = "*", text: str = "", path: str = ".") -> str:
        """Find files by name and, optionally, the lines containing some text.

        Args:
            pattern: A glob matched against file names ('*.md'), or against paths relative
                to `path` when it contains '/' ('notes/*.txt').
            text: When given, only lines containing this text (ignoring case) are returned,
                as 'file:line: content'.
            path: The folder to search in (recursively).
        """
        return _reported(lambda: self._search(pattern, text, path))

    def write_file(self, path: str, content: str) -> str:
        """Create or overwrite a text file (parent folders are created).

        Args:
            path: The file to write, relative to the first allowed folder or absolute.
            content: The complete new content of the file.
        """
        return _reported(lambda: self._write(path, content))

    def edit_file(self, path: str, old_text: str, new_text: str) -> str:
        """Replace one exact occurrence of `old_text` in a file with `new_text`.

        Args:
            path: The file to edit.
            old_text: Text that occurs exactly once in the file (include context to make it unique).
            new_text: The replacement.
        """
        return _reported(lambda: self._edit(path, old_text, new_text))

    def approval_preview(self, name: str, arguments: dict[str, object]) -> str | None:
        """What a write would change, as a unified diff, for the person asked to allow it.

        Read-only (the file is opened through the roots like every read); None when there
        is nothing to show (a new path we cannot read, a binary file, an edit that would
        fail), and the call then shows its arguments alone.
        """
        path = arguments.get("path")
        if name not in ("write_file", "edit_file") or not isinstance(path, str):
            return None
        try:
            fd, _ = self._existing_file(path, os.O_RDONLY)
            with open(fd, "rb") as handle:
                old = _read_text(handle, path)
        except (OutsideRoots, FileError, OSError, UnicodeDecodeError):
            old = None
        if name == "write_file":
            new = arguments.get("content")
        else:
            old_text, new_text = arguments.get("old_text"), arguments.get("new_text")
            if old is None or not isinstance(old_text, str) or not isinstance(new_text, str):
                return None
            if old.count(old_text) != 1:
                return None
            new = old.replace(old_text, new_text, 1)
        if not isinstance(new, str):
            return None
        old_lines, new_lines = (old or "").splitlines(keepends=True), new.splitlines(keepends=True)
        if (
            max(len(old_lines), len(new_lines)) > PREVIEW_MAX_LINES
            or max(len(old or ""), len(new)) > PREVIEW_MAX_BYTES
        ):
            before = f"{len(old_lines)} lines now" if old is not None else "a new file"
            return f"(too large to show a diff: {before}, {len(new_lines)} lines after)"
        diff = "".join(
            difflib.unified_diff(
                old_lines,
                new_lines,
                fromfile=path if old is not None else "/dev/null",
                tofile=path,
            )
        )
        return diff[:PREVIEW_MAX_CHARS] if diff else "(no change)"

    # The work behind each function: every path is reached through ``Roots.locate``.

    def _read(self, path: str, start_line: int, max_lines: int | None) -> str:
        fd, real = self._existing_file(path, os.O_RDONLY)
        with open(fd, "rb") as handle:
            text = _read_text(handle, real.name)
        if start_line > 1 or max_lines is not None:
            lines = text.splitlines(keepends=True)
            first = max(start_line, 1) - 1
            last = len(lines) if max_lines is None else first + max(max_lines, 0)
            text = "".join(lines[first:last])
        limit = self.options.max_read_chars
        if len(text) > limit:
            shown = text[:limit]
            next_line = start_line + shown.count("\n")
            return (
                f"{shown}\n[truncated at {limit} characters; continue with start_line={next_line}]"
            )
        return text

    def _list(self, path: str) -> str:
        folder, real = self._folder(path)
        try:
            with os.scandir(folder) as listing:
                entries = sorted(listing, key=lambda entry: entry.name)
            lines = [self._describe_entry(e, real) for e in entries[: self.options.max_results]]
        finally:
            close_folder(folder)
        if len(entries) > len(lines):
            lines.append(f"[{len(entries) - len(lines)} more entries not shown]")
        return "\n".join(lines) if lines else "(empty folder)"

    def _describe_entry(self, entry: os.DirEntry[str], folder: Path) -> str:
        try:
            if entry.is_symlink():
                info, _ = self.roots.locate(str(folder / entry.name), stat_at)
            else:
                info = entry.stat(follow_symlinks=False)
        except OutsideRoots:
            return f"{entry.name}@ (link outside the allowed folders)"
        except OSError:
            return entry.name
        if stat.S_ISDIR(info.st_mode):
            return f"{entry.name}/"
        return f"{entry.name} ({info.st_size} bytes)"

    def _search(self, pattern: str, text: str, path: str) -> str:
        folder, base = self._folder(path)
        limit = self.options.max_results
        found: list[str] = []
        try:
            for parent, name, rel in self._walk(folder):
                if not _matches(rel, name, pattern):
                    continue
                file = base / rel
                if not text:
                    if self._reach(parent, name, file, stat_at) is not None:
                        found.append(self.roots.display(file))
                else:
                    found.extend(
                        f"{self.roots.display(file)}:{n}: {line}"
                        for n, line in self._matching_lines(parent, name, file, text)
                    )
                if len(found) >= limit:
                    return "\n".join([*found[:limit], f"[stopped after {limit} results]"])
        finally:
            close_folder(folder)
        if found:
            return "\n".join(found)
        return "No matching lines." if text else "No matching files."

    def _walk(self, folder: Folder) -> Iterator[tuple[Folder, str, str]]:
        """``(open parent folder, name, path relative to folder)`` of every file below it."""
        for rel_dir, dirs, files, parent in walk_folder(folder):
            dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS)
            for name in sorted(files):
                yield parent, name, f"{rel_dir}/{name}" if rel_dir else name

    def _reach(
        self, parent: Folder, name: str, file: Path, final: Callable[[Folder, str], T]
    ) -> T | None:
        """``final`` on a file found by walking; a symlink only if it stays inside the roots."""
        try:
            try:
                return final(parent, name)
            except OSError as exc:
                if not link_errno(exc):
                    raise
            return self.roots.locate(str(file), final)[0]
        except (OSError, OutsideRoots):
            return None

    def _matching_lines(
        self, parent: Folder, name: str, file: Path, text: str
    ) -> Iterator[tuple[int, str]]:
        fd = self._reach(parent, name, file, _read_only)
        if fd is None:
            return
        try:
            with open(fd, "rb") as handle:
                info = os.fstat(handle.fileno())
                if not stat.S_ISREG(info.st_mode) or info.st_size > SEARCH_MAX_FILE_BYTES:
                    return
                content = _read_text(handle, name)
        except (OSError, UnicodeDecodeError, FileError):
            return
        needle = text.casefold()
        for number, line in enumerate(content.splitlines(), start=1):
            if needle in line.casefold():
                preview = line.strip()
                if len(preview) > LINE_PREVIEW_CHARS:
                    preview = preview[: LINE_PREVIEW_CHARS - 1] + "…"
                yield number, preview

    def _write(self, path: str, content: str) -> str:
        def create(parent: Folder, name: str) -> int:
            return open_file_at(parent, name, os.O_WRONLY | os.O_CREAT)

        try:
            fd, real = self.roots.locate(path, create, make_parents=True)
        except IsADirectoryError:
            raise FileError(f"'{path}' is a folder") from None
        with open(fd, "wb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                raise FileError(f"'{path}' is not a regular file")
            handle.truncate(0)
            handle.write(content.encode("utf-8"))
        return f"Wrote {len(content)} characters to {self.roots.display(real)}."

    def _edit(self, path: str, old_text: str, new_text: str) -> str:
        if not old_text:
            raise FileError("old_text must not be empty")
        fd, real = self._existing_file(path, os.O_RDWR)
        with open(fd, "r+b") as handle:
            text = _read_text(handle, real.name)
            count = text.count(old_text)
            if count == 0:
                raise FileError(f"old_text was not found in {self.roots.display(real)}")
            if count > 1:
                raise FileError(
                    f"old_text occurs {count} times in {self.roots.display(real)}; "
                    "include more surrounding text so it occurs once"
                )
            handle.seek(0)
            handle.write(text.replace(old_text, new_text, 1).encode("utf-8"))
            handle.truncate()
        return f"Edited {self.roots.display(real)}."

    def _existing_file(self, path: str, flags: int) -> tuple[int, Path]:
        """An open descriptor of the regular file ``path`` and its real path."""
        try:
            fd, real = self.roots.locate(
                path, lambda parent, name: open_file_at(parent, name, flags)
            )
        except (FileNotFoundError, NotADirectoryError):
            raise FileError(f"'{path}' does not exist") from None
        except IsADirectoryError:  # opening a folder for writing
            raise FileError(f"'{path}' is a folder; use list_files") from None
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            os.close(fd)
            if stat.S_ISDIR(mode):
                raise FileError(f"'{path}' is a folder; use list_files")
            raise FileError(f"'{path}' does not exist")
        return fd, real

    def _folder(self, path: str) -> tuple[Folder, Path]:
        try:
            return self.roots.locate(path, open_folder_at)
        except (FileNotFoundError, NotADirectoryError):
            raise FileError(f"'{path}' is not a folder") from None


def build(options: Options) -> list[Tool]:
    from pydantic_ai import Tool

    files = FileTools(options)
    functions: list[Callable[..., str]] = [files.read_file, files.list_files, files.search_files]
    if options.write:
        functions += [files.write_file, files.edit_file]
    roots = files.roots.describe()
    return [
        Tool(
            function,
            name=function.__name__,
            takes_ctx=False,
            description=f"{_first_paragraph(function)} {roots}",
        )
        for function in functions
    ]


def _reported(work: Callable[[], str]) -> str:
    try:
        return work()
    except (OutsideRoots, FileError) as exc:
        return f"Error: {exc}"
    except UnicodeDecodeError:
        return "Error: the file is not UTF-8 text"
    except OSError as exc:
        return f"Error: {exc.strerror or exc}"


def _first_paragraph(function: Callable[..., str]) -> str:
    return (function.__doc__ or "").strip().split("\n\n")[0]


def _read_only(parent: Folder, name: str) -> int:
    return open_file_at(parent, name, os.O_RDONLY)


def _read_text(handle: BinaryIO, name: str) -> str:
    size = os.fstat(handle.fileno()).st_size
    if size > READ_MAX_FILE_BYTES:
        raise FileError(f"'{name}' is {size} bytes, too large to read")
    data = handle.read()
    if b"\0" in data[:8192]:
        raise FileError(f"'{name}' is a binary file")
    return data.decode("utf-8")


def _matches(relative: str, name: str, pattern: str) -> bool:
    pattern = pattern.strip() or "*"
    while pattern.startswith("**/"):
        pattern = pattern[3:]
    if "/" in pattern:
        return fnmatch.fnmatch(relative, pattern)
    return fnmatch.fnmatch(name, pattern)
