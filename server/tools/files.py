"""The ``files`` tool: read, list, search, write and edit files inside configured roots.

``tools: [{files: {roots: [~/notes]}}]`` gives an agent ``read_file``,
``list_files`` and ``search_files`` on ``~/notes``; ``write: true`` adds
``write_file`` and ``edit_file``. Every path goes through ``Roots.resolve``, so
``..`` and symlinks that lead outside the roots are refused. Problems come back
to the model as ``Error: ...`` text rather than failing the run.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, field_validator

from server.tools.file_roots import NO_FOLLOW, OutsideRoots, Roots

if TYPE_CHECKING:
    from pydantic_ai import Tool

SUMMARY = "Reads, lists and searches files in configured folders; writes and edits them if allowed."

SEARCH_MAX_FILE_BYTES = 2_000_000  # larger files are skipped by text search
READ_MAX_FILE_BYTES = 20_000_000  # larger files are not read (or edited) at all
LINE_PREVIEW_CHARS = 200
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

    # The work behind each function.

    def _read(self, path: str, start_line: int, max_lines: int | None) -> str:
        real = self._existing_file(path)
        text = _read_text(real)
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
        real = self.roots.resolve(path)
        if not real.is_dir():
            raise FileError(f"'{path}' is not a folder")
        lines: list[str] = []
        entries = sorted(os.scandir(real), key=lambda entry: entry.name)
        for entry in entries[: self.options.max_results]:
            lines.append(self._describe_entry(entry))
        if len(entries) > len(lines):
            lines.append(f"[{len(entries) - len(lines)} more entries not shown]")
        return "\n".join(lines) if lines else "(empty folder)"

    def _describe_entry(self, entry: os.DirEntry[str]) -> str:
        if entry.is_symlink() and not self.roots.inside(Path(entry.path)):
            return f"{entry.name}@ (link outside the allowed folders)"
        if entry.is_dir():
            return f"{entry.name}/"
        try:
            return f"{entry.name} ({entry.stat().st_size} bytes)"
        except OSError:
            return entry.name

    def _search(self, pattern: str, text: str, path: str) -> str:
        base = self.roots.resolve(path)
        if not base.is_dir():
            raise FileError(f"'{path}' is not a folder")
        limit = self.options.max_results
        found: list[str] = []
        for file in self._walk(base):
            if not _matches(file.relative_to(base).as_posix(), file.name, pattern):
                continue
            shown = self.roots.display(file)
            if not text:
                found.append(shown)
            else:
                found.extend(f"{shown}:{n}: {line}" for n, line in _matching_lines(file, text))
            if len(found) >= limit:
                return "\n".join([*found[:limit], f"[stopped after {limit} results]"])
        if found:
            return "\n".join(found)
        return "No matching lines." if text else "No matching files."

    def _walk(self, base: Path) -> Iterator[Path]:
        for folder, dirs, files in os.walk(base, followlinks=False):
            dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS)
            for name in sorted(files):
                file = Path(folder) / name
                if self.roots.inside(file):
                    yield file

    def _write(self, path: str, content: str) -> str:
        real = self.roots.resolve(path)
        if real.is_dir():
            raise FileError(f"'{path}' is a folder")
        real.parent.mkdir(parents=True, exist_ok=True)
        _write_text(real, content)
        return f"Wrote {len(content)} characters to {self.roots.display(real)}."

    def _edit(self, path: str, old_text: str, new_text: str) -> str:
        if not old_text:
            raise FileError("old_text must not be empty")
        real = self._existing_file(path)
        text = _read_text(real)
        count = text.count(old_text)
        if count == 0:
            raise FileError(f"old_text was not found in {self.roots.display(real)}")
        if count > 1:
            raise FileError(
                f"old_text occurs {count} times in {self.roots.display(real)}; "
                "include more surrounding text so it occurs once"
            )
        _write_text(real, text.replace(old_text, new_text, 1))
        return f"Edited {self.roots.display(real)}."

    def _existing_file(self, path: str) -> Path:
        real = self.roots.resolve(path)
        if real.is_dir():
            raise FileError(f"'{path}' is a folder; use list_files")
        if not real.is_file():
            raise FileError(f"'{path}' does not exist")
        return real


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


def _read_text(real: Path) -> str:
    fd = os.open(real, os.O_RDONLY | NO_FOLLOW)
    with open(fd, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        if size > READ_MAX_FILE_BYTES:
            raise FileError(f"'{real.name}' is {size} bytes, too large to read")
        data = handle.read()
    if b"\0" in data[:8192]:
        raise FileError(f"'{real.name}' is a binary file")
    return data.decode("utf-8")


def _write_text(real: Path, content: str) -> None:
    fd = os.open(real, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | NO_FOLLOW, 0o644)
    with open(fd, "w", encoding="utf-8", newline="") as handle:
        handle.write(content)


def _matches(relative: str, name: str, pattern: str) -> bool:
    pattern = pattern.strip() or "*"
    while pattern.startswith("**/"):
        pattern = pattern[3:]
    if "/" in pattern:
        return fnmatch.fnmatch(relative, pattern)
    return fnmatch.fnmatch(name, pattern)


def _matching_lines(file: Path, text: str) -> Iterator[tuple[int, str]]:
    try:
        if file.stat().st_size > SEARCH_MAX_FILE_BYTES:
            return
        content = _read_text(file)
    except (OSError, UnicodeDecodeError, FileError):
        return
    needle = text.casefold()
    for number, line in enumerate(content.splitlines(), start=1):
        if needle in line.casefold():
            preview = line.strip()
            if len(preview) > LINE_PREVIEW_CHARS:
                preview = preview[: LINE_PREVIEW_CHARS - 1] + "…"
            yield number, preview
