"""Which files of a knowledge base folder are indexed, and how a change is noticed.

A scan only stats files (size and modification time): it is cheap enough to run
every couple of seconds on a large folder, which is how watching works without a
platform file-watching dependency. Content hashes are computed later, and only
for files whose size or time changed.

Both the scan and the read stay inside the base the way the ``files`` tool does
(``server.tools.file_roots``): folders are walked by descriptor, a symlink to a
file is used only if its target lies inside the base, symlinked folders are
never entered, and swapping a folder for a link during a pass leads nowhere.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from stat import S_ISREG

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

# Used when a base sets no ``include``: documents and source code, by extension.
DEFAULT_EXTENSIONS = frozenset(
    {
        ".md", ".markdown", ".mdx", ".txt", ".text", ".rst", ".adoc", ".org",
        ".html", ".htm", ".xhtml", ".pdf",
        ".py", ".pyi", ".js", ".mjs", ".cjs", ".ts", ".tsx", ".jsx", ".vue", ".svelte",
        ".go", ".rs", ".java", ".kt", ".kts", ".scala", ".c", ".h", ".cc", ".cpp", ".hpp",
        ".cs", ".fs", ".swift", ".m", ".rb", ".php", ".pl", ".lua", ".r", ".jl", ".dart",
        ".ex", ".exs", ".erl", ".hs", ".clj", ".sh", ".bash", ".zsh", ".ps1", ".sql",
        ".css", ".scss", ".yaml", ".yml", ".toml", ".ini", ".cfg", ".json", ".xml", ".csv",
        ".tex", ".proto", ".graphql", ".tf",
    }
)  # fmt: skip
# Never indexed, whatever ``include`` says: version control, caches, dependencies.
ALWAYS_EXCLUDED_DIRS = frozenset(
    {".git", ".hg", ".svn", "node_modules", "__pycache__", ".venv", "venv", ".tox", ".cache"}
)
MAX_FILE_BYTES = 25 * 1024 * 1024  # larger files are skipped: they are rarely documents


@dataclass(frozen=True, slots=True)
class FileStat:
    """One candidate file: its path relative to the base (with ``/``), size and mtime."""

    rel: str
    size: int
    mtime_ns: int


class FileFilter:
    """``include``/``exclude`` globs: ``**`` spans folders, ``*`` and ``?`` stay in one.

    A pattern without ``/`` matches the file name at any depth (``*.md`` is ``**/*.md``).
    """

    def __init__(self, include: Sequence[str] | None, exclude: Sequence[str]) -> None:
        self._include = [glob_regex(p) for p in include] if include else None
        self._exclude = [glob_regex(p) for p in exclude]

    def wants(self, rel: str) -> bool:
        if any(p.fullmatch(rel) for p in self._exclude):
            return False
        if self._include is None:
            return Path(rel).suffix.lower() in DEFAULT_EXTENSIONS
        return any(p.fullmatch(rel) for p in self._include)

    def prunes(self, rel_dir: str) -> bool:
        """Whether a whole folder is excluded (so the scan need not walk into it)."""
        probe = rel_dir + "/\0"  # a path inside it that no real pattern names
        return any(p.fullmatch(probe) for p in self._exclude)


@lru_cache(maxsize=256)
def glob_regex(pattern: str) -> re.Pattern[str]:
    """A compiled regular expression for one glob over ``/``-separated relative paths."""
    pattern = pattern.strip().lstrip("/")
    if pattern.startswith("./"):
        pattern = pattern[2:]
    if "/" not in pattern.rstrip("/"):
        pattern = "**/" + pattern
    if pattern.endswith("/"):
        pattern += "**"
    out: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("/**", i) and i + 3 == len(pattern):
            out.append("(?:/.*)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out), re.DOTALL)


def scan(root: Path, filter_: FileFilter) -> dict[str, FileStat]:
    """Every wanted file under ``root`` by relative path; hidden files and folders are skipped."""
    found: dict[str, FileStat] = {}
    base = Roots([str(root)])
    folder, _ = base.locate(".", open_folder_at)
    try:
        for rel_dir, dirnames, filenames, parent in walk_folder(folder):
            prefix = rel_dir + "/" if rel_dir else ""
            dirnames[:] = [
                d
                for d in dirnames
                if not d.startswith(".")
                and d not in ALWAYS_EXCLUDED_DIRS
                and not filter_.prunes(prefix + d)
            ]
            for name in filenames:
                rel = prefix + name
                if name.startswith(".") or not filter_.wants(rel):
                    continue
                stat = _stat_inside(base, parent, name, rel)
                if stat is not None and S_ISREG(stat.st_mode) and stat.st_size <= MAX_FILE_BYTES:
                    found[rel] = FileStat(rel, stat.st_size, stat.st_mtime_ns)
    finally:
        close_folder(folder)
    return found


def _stat_inside(base: Roots, parent: Folder, name: str, rel: str) -> os.stat_result | None:
    """The file's own status, or its target's if it is a link that stays inside the base."""
    try:
        try:
            return stat_at(parent, name)
        except OSError as exc:
            if not link_errno(exc):
                raise
        return base.locate(rel, stat_at)[0]
    except (OSError, OutsideRoots):
        return None  # vanished, unreadable, or a link leading out of the base


def read_inside(root: Path, rel: str) -> bytes:
    """The bytes of ``rel``, reached beneath ``root`` (``FileNotFoundError`` if it left it)."""
    try:
        fd, _ = Roots([str(root)]).locate(rel, _open_read)
    except OutsideRoots:
        raise FileNotFoundError(f"{rel} now leads outside the folder") from None
    with open(fd, "rb") as handle:
        if not S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise FileNotFoundError(f"{rel} is no longer a regular file")
        return handle.read()


def _open_read(parent: Folder, name: str) -> int:
    return open_file_at(parent, name, os.O_RDONLY)


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def changed(old: dict[str, FileStat], new: dict[str, FileStat]) -> tuple[list[str], list[str]]:
    """Paths added or modified (by size or mtime), and paths removed, between two scans."""
    touched = [rel for rel, stat in new.items() if old.get(rel) != stat]
    removed = [rel for rel in old if rel not in new]
    return touched, removed


def sorted_paths(paths: Iterable[str]) -> list[str]:
    return sorted(paths, key=lambda p: (p.count("/"), p))
