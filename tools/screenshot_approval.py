"""Regenerate docs/screenshots/approval.png: the tray's approval dialog for a file write.

Usage: ``.venv/bin/python tools/screenshot_approval.py [--out PATH]``

Runs the real ``TraymindApp`` offscreen against the loopback LLM stand-in, whose model
asks an agent with ``files: {write: true}`` to rewrite a note; a real chat request
(the official ``openai`` client) waits for approval while the dialog is grabbed. Then
the request is denied, so nothing is written. Everything lives in a temporary folder.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "docs" / "screenshots" / "approval.png"
NOTE = "# Groceries\n- milk\n- bread\n- coffee\n"
NEW_NOTE = "# Groceries\n- milk\n- sourdough bread\n- coffee\n- apples\n"


def capture(out: Path, workdir: Path) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.update(
        {
            "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen"),
            "TRAYMIND_KEYSTORE": "file",
            "TRAYMIND_DETECT_URLS": "",
            "TRAYMIND_LOG_DIR": str(workdir / "logs"),
            "OPENAI_COMPAT_API_KEYS": "sk-screenshot",
            "OPENAI_COMPAT_ALLOW_UNAUTHENTICATED": "",
        }
    )
    import openai
    from PySide6.QtWidgets import QApplication

    from app.application import TraymindApp
    from app.autostart import Autostart
    from app.icons import app_icon
    from app.settings import Settings, SettingsFile
    from server.runner import ServeOptions
    from tests.harness import agent_config, write_config
    from tests.upstream import Reply, Upstream

    qapp = QApplication([sys.argv[0]])
    qapp.setWindowIcon(app_icon())

    def pump(seconds: float, until: object = None) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            qapp.processEvents()
            if callable(until) and until():
                return True
            time.sleep(0.02)
        return False

    notes = workdir / "notes"
    notes.mkdir()
    (notes / "groceries.md").write_text(NOTE)
    with Upstream() as upstream:
        tools = [{"files": {"roots": [str(notes)], "write": True}}]
        agents = {"notes": {"display_name": "NotesAgent", "tools": tools}}
        config = write_config(workdir, agent_config(upstream.base_url, **agents))
        upstream.script(
            Reply.tool_calls([("write_file", {"path": "groceries.md", "content": NEW_NOTE})]),
            Reply.text("I left the list as it was."),
        )
        settings = SettingsFile(workdir / "settings.json")
        settings.save(Settings(welcome_completed=True))
        app = TraymindApp(
            qapp,
            ServeOptions(config=str(config), port=0, data_dir=str(workdir / "data")),
            settings_file=settings,
            autostart=Autostart(workdir / "autostart"),
            tray_available=False,
        )
        app.start()
        app.status_window.hide()
        if not pump(15, lambda: app.controller.phase == "running"):
            sys.exit(f"screenshot: the server did not start ({app.controller.phase})")
        client = openai.OpenAI(base_url=app.controller.url, api_key="sk-screenshot", max_retries=0)

        def ask() -> None:
            client.chat.completions.create(
                model="notes",
                messages=[{"role": "user", "content": "Add apples to my grocery list"}],
                extra_headers={"X-Session-Id": "groceries"},
            )

        asking = threading.Thread(target=ask, daemon=True)
        asking.start()
        dialog = app.approval_prompter.dialog
        if not pump(15, dialog.isVisible):
            sys.exit("screenshot: no approval was asked")
        dialog.resize(640, 560)
        pump(0.5)
        out.parent.mkdir(parents=True, exist_ok=True)
        if not dialog.grab().save(str(out), "PNG"):
            sys.exit(f"screenshot: could not write {out}")
        dialog.deny_button.click()
        pump(10, lambda: not asking.is_alive())
        app.quit()
    print(f"wrote {out}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="traymind-shot-") as tmp:
        capture(args.out.resolve(), Path(tmp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
