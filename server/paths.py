"""Where Traymind finds its resources, config and data, from source or a frozen bundle."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import platformdirs

APP_NAME = "traymind"


def resources_dir() -> Path:
    """The ``resources/`` folder: beside the packages in a checkout, in ``_MEIPASS`` when frozen."""
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        return Path(bundle) / "resources"
    return Path(__file__).resolve().parent.parent / "resources"


def resource(name: str) -> Path:
    """One file under ``resources/``."""
    return resources_dir() / name


def user_config_dir() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))


def user_log_dir() -> Path:
    return Path(platformdirs.user_log_dir(APP_NAME, appauthor=False))


def resolve_data_dir(cli_value: str | None) -> Path:
    """``--data-dir``, else ``$TRAYMIND_DATA_DIR``, else the user data dir."""
    if cli_value:
        return Path(cli_value).expanduser().resolve()
    env = os.environ.get("TRAYMIND_DATA_DIR")
    if env:
        return Path(env).expanduser().resolve()
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
PRIVATE_FILES = ("sessions.sqlite3", "memory.sqlite3")  # created here so SQLite's -wal/-shm inherit


def prepare_data_dir(path: Path) -> Path:
    """Create the data folder for this user's eyes only (0700, its databases 0600).

    Conversations and memories are private; an earlier version left them 0644 in
    a 0755 folder, so existing databases are tightened too (nothing else: the
    folder's own mode already keeps everything beneath it private). SQLite gives its ``-wal``
    and ``-shm`` files the database file's mode, hence the databases are created
    here first. On Windows the modes are ignored: the profile folder's ACL applies.
    Raises ``OSError`` when the folder cannot be made.
    """
    path.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR_MODE)
    if os.name != "posix":
        return path
    os.chmod(path, PRIVATE_DIR_MODE)
    for name in PRIVATE_FILES:
        fd = os.open(path / name, os.O_CREAT | os.O_WRONLY, PRIVATE_FILE_MODE)
        os.close(fd)
    for database in path.glob("*.sqlite3*"):  # ours only: --data-dir may name a used folder
        _owner_only(database)
    return path


def _owner_only(path: Path) -> None:
    """Drop group and other permissions (symlinks are left alone: chmod would follow them)."""
    try:
        info = os.lstat(path)
    except OSError:
        return
    if not stat.S_ISLNK(info.st_mode) and info.st_mode & 0o077:
        os.chmod(path, stat.S_IMODE(info.st_mode) & 0o700)
