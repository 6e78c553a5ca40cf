"""Start at login: an XDG autostart entry on Linux.

Why a file and not a service: the freedesktop autostart spec is what every Linux
desktop (GNOME, KDE, Xfce...) honours for a user's GUI programs, and removing the
file is all it takes to undo it. On Windows the standard mechanism is a value under
``HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Run``, on macOS a LaunchAgent
plist in ``~/Library/LaunchAgents`` (or ``SMAppService`` for a signed bundle); both
are documented in docs/tray.md and not written by this version.
"""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

ENTRY_NAME = "traymind.desktop"


def autostart_dir(environ: dict[str, str] | os._Environ[str] = os.environ) -> Path:
    """``$XDG_CONFIG_HOME/autostart`` (``~/.config/autostart`` by default)."""
    base = environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "autostart"


def launch_command() -> list[str]:
    """How to start this very Traymind again: the frozen binary, the installed
    ``traymind`` script beside this interpreter, or this interpreter on the source."""
    if getattr(sys, "frozen", False):
        return [sys.executable]
    script = Path(sys.executable).parent / "traymind"
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-m", "app.cli"]


def entry_text(command: list[str], working_dir: Path | None = None) -> str:
    lines = [
        "[Desktop Entry]",
        "Type=Application",
        "Name=Traymind",
        "Comment=Your AI agents in the system tray, served to any chat app",
        f"Exec={shlex.join(command)}",
        "Icon=traymind",
        "Terminal=false",
        "X-GNOME-Autostart-enabled=true",
    ]
    if working_dir is not None:
        lines.append(f"Path={working_dir}")
    return "\n".join(lines) + "\n"


class Autostart:
    """The start-at-login switch; only Linux (XDG) is implemented."""

    def __init__(self, directory: Path | None = None) -> None:
        self.path = (directory or autostart_dir()) / ENTRY_NAME

    @staticmethod
    def supported() -> bool:
        return sys.platform.startswith("linux") or sys.platform.startswith("freebsd")

    def enabled(self) -> bool:
        return self.path.is_file()

    def set_enabled(self, on: bool) -> None:
        if not on:
            self.path.unlink(missing_ok=True)
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        source_root = None if getattr(sys, "frozen", False) else Path(__file__).parent.parent
        self.path.write_text(entry_text(launch_command(), source_root), encoding="utf-8")
