"""What the SQLite stores share about their files: a failure's cause in words, and noticing
that the file was deleted or replaced under a running server.

A deleted data folder leaves the open connection writing into an unlinked file: every
turn would answer 200 and be gone at the next start. The stores compare the file's
device and inode with those recorded at open before each use and, when they differ,
recreate the folder and open a new file, saying that the earlier history is lost.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

Report = Callable[[str, str], None]
"""Where a store tells the status hub about its file: ``(state, one sentence)``."""

_CAUSES = {
    sqlite3.SQLITE_FULL: "the disk is full",
    sqlite3.SQLITE_READONLY: "the database is read-only",
    sqlite3.SQLITE_CANTOPEN: "the database file cannot be opened",
    sqlite3.SQLITE_CORRUPT: "the database file is damaged",
    sqlite3.SQLITE_NOTADB: "the file is not a database",
    sqlite3.SQLITE_BUSY: "the database is locked by another process",
}


def storage_cause(exc: BaseException) -> str:
    """The cause of a storage failure as a clause a sentence can end with."""
    if isinstance(exc, sqlite3.Error):
        code = getattr(exc, "sqlite_errorcode", None)
        if code is not None:
            primary = code & 0xFF  # extended codes keep the primary one in the low byte
            if primary in _CAUSES:
                return _CAUSES[primary]
            if primary == sqlite3.SQLITE_IOERR:
                return f"the disk could not be written ({exc})"
        return str(exc).rstrip(".")
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror[0].lower() + exc.strerror[1:]
    return str(exc).rstrip(".")


@dataclass(frozen=True, slots=True)
class FileIdentity:
    """A file as it was when opened: its device and inode."""

    path: Path
    device: int
    inode: int

    @classmethod
    def of(cls, path: Path) -> FileIdentity | None:
        try:
            st = os.stat(path)
        except OSError:
            return None
        return cls(path, st.st_dev, st.st_ino)

    def gone(self) -> bool:
        """The file was deleted, or another one now has its name (its folder was remade)."""
        now = FileIdentity.of(self.path)
        return now is None or (now.device, now.inode) != (self.device, self.inode)


def lost_sentence(path: Path, what: str) -> str:
    return (
        f"The data folder {path.parent} was deleted or replaced while Traymind ran: "
        f"it was made again and the {what} stored before is lost."
    )
