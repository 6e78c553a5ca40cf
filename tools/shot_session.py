"""What the screenshot tools share: a private environment, the real app, and event pumping.

Each tool runs the real ``TraymindApp`` against the loopback LLM stand-in, in a
temporary folder, with no tray (the tray picture is ``tools/screenshot.py``'s), on the
platform ``QT_QPA_PLATFORM`` names (offscreen by default; ``tools/screenshot.py`` runs
them on its Xvfb display with xcb).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / "docs" / "screenshots"

if TYPE_CHECKING:
    from PySide6.QtWidgets import QApplication, QWidget

    from app.application import TraymindApp


def private_environment(workdir: Path, client_keys: str = "") -> None:
    """Keys in a file, no model probing, logs in ``workdir``; before anything imports Qt."""
    sys.path.insert(0, str(ROOT))
    os.environ.update(
        {
            "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen"),
            "TRAYMIND_KEYSTORE": "file",
            "TRAYMIND_DETECT_URLS": "",
            "TRAYMIND_LOG_DIR": str(workdir / "logs"),
            "OPENAI_COMPAT_API_KEYS": client_keys,
            "OPENAI_COMPAT_ALLOW_UNAUTHENTICATED": "",
        }
    )


class Session:
    """One QApplication and the app on it; ``pump`` runs Qt's events meanwhile."""

    def __init__(self) -> None:
        from PySide6.QtWidgets import QApplication

        from app.icons import app_icon
        from server.logging_setup import configure_logging

        configure_logging(to_stderr=False)
        self.qapp: QApplication = QApplication([sys.argv[0]])
        self.qapp.setWindowIcon(app_icon())

    def pump(self, seconds: float, until: Callable[[], object] | None = None) -> bool:
        """Process events for up to ``seconds``; True as soon as ``until()`` holds."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.qapp.processEvents()
            if until is not None and until():
                return True
            time.sleep(0.02)
        return False

    def start_app(
        self, workdir: Path, config: Mapping[str, object] | str, **settings: object
    ) -> TraymindApp:
        """The real app on ``config``, started, with its server running."""
        from app.application import TraymindApp
        from app.autostart import Autostart
        from app.settings import Settings, SettingsFile
        from server.runner import ServeOptions
        from tests.harness import write_config

        path = write_config(workdir, config)
        settings_file = SettingsFile(workdir / "settings.json")
        settings_file.save(Settings(**{"welcome_completed": True, **settings}))  # type: ignore[arg-type]
        app = TraymindApp(
            self.qapp,
            ServeOptions(config=str(path), port=0, data_dir=str(workdir / "data")),
            settings_file=settings_file,
            autostart=Autostart(workdir / "autostart"),
            tray_available=False,
        )
        app.start()
        app.status_window.tray_note = None  # offscreen has no tray; a desktop does
        app.status_window.hide()
        if not self.pump(20, lambda: app.controller.phase == "running"):
            sys.exit(f"screenshot: the server did not start ({app.controller.phase})")
        return app

    def save(self, widget: QWidget, path: Path) -> None:
        """Grab ``widget`` (after its layout settles) into ``path``."""
        self.pump(0.4)
        path.parent.mkdir(parents=True, exist_ok=True)
        if not widget.grab().save(str(path), "PNG"):
            sys.exit(f"screenshot: could not write {path}")
        print(f"wrote {path}")
