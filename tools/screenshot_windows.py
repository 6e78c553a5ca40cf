"""Regenerate docs/screenshots/status.png and logs.png: the status window and the Logs window.

Usage: ``.venv/bin/python tools/screenshot_windows.py [--out-dir DIR]``

Runs the real ``TraymindApp`` offscreen against the loopback LLM stand-in, sends real
requests (answered ones, an agent's tool call, a wrong key's 401 and an unknown model's
404) so that Recent requests, its details and the chart have something to show, then
grabs the two windows. Everything lives in a temporary folder.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DIR = ROOT / "docs" / "screenshots"
KEY = "sk-screenshot-key"


def capture(out_dir: Path, workdir: Path) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.update(
        {
            "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen"),
            "TRAYMIND_KEYSTORE": "file",
            "TRAYMIND_DETECT_URLS": "",
            "TRAYMIND_LOG_DIR": str(workdir / "logs"),
            "OPENAI_COMPAT_API_KEYS": KEY,
            "OPENAI_COMPAT_ALLOW_UNAUTHENTICATED": "",
        }
    )
    import httpx
    from PySide6.QtWidgets import QApplication

    from app.application import TraymindApp
    from app.autostart import Autostart
    from app.icons import app_icon
    from app.settings import Settings, SettingsFile
    from server.logging_setup import configure_logging
    from server.runner import ServeOptions
    from tests.harness import agent_config, write_config
    from tests.upstream import Reply, Upstream

    configure_logging(to_stderr=False)
    qapp = QApplication([sys.argv[0]])
    qapp.setWindowIcon(app_icon())

    def pump(seconds: float, until: object = None) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            qapp.processEvents()
            if callable(until) and until():
                return
            time.sleep(0.02)

    with Upstream() as upstream:
        upstream.default = Reply.text("Here is a short answer.")
        agents = {
            "general": {"display_name": "GeneralAgent", "role": "Everyday questions"},
            "maths": {"display_name": "MathsAgent", "role": "Sums", "tools": ["calculator"]},
        }
        config = write_config(workdir, agent_config(upstream.base_url, **agents))
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
        pump(15, lambda: app.controller.phase == "running")
        assert app.controller.url is not None
        base = app.controller.url.removesuffix("/v1")
        auth = {"Authorization": f"Bearer {KEY}", "User-Agent": "OpenAI/Python 2.0"}
        with httpx.Client(base_url=base, timeout=30) as web:
            for i in range(6):
                question = {"model": "general", "messages": [{"role": "user", "content": "Hi"}]}
                web.post(
                    "/v1/chat/completions",
                    json=question,
                    headers={**auth, "X-Session-Id": f"trip-{i % 2}"},
                )
            upstream.script(
                Reply.tool_calls([("calculator", {"expression": "17*23"})]), Reply.text("391")
            )
            sums = {"model": "maths", "messages": [{"role": "user", "content": "17*23?"}]}
            web.post(
                "/v1/chat/completions", json=sums, headers={**auth, "X-Session-Id": "homework"}
            )
            web.get("/v1/models", headers={"Authorization": "Bearer sk-wrong"})
            missing = {"model": "gpt-4o", "messages": [{"role": "user", "content": "Hi"}]}
            web.post("/v1/chat/completions", json=missing, headers=auth)
        pump(1.0)
        window = app.status_window
        window.tray_note = None  # offscreen has no tray; a desktop does
        window.resize(980, 720)
        window.show()
        window.refresh()
        window.tabs.setCurrentIndex(2)
        pump(0.5)
        window.requests_view.selectRow(2)  # the tool call's request
        pump(0.5)
        out_dir.mkdir(parents=True, exist_ok=True)
        window.grab().save(str(out_dir / "status.png"), "PNG")
        app.show_logs()
        logs = app.logs_window
        assert logs is not None
        logs.resize(980, 480)
        pump(1.5, lambda: "wrong" in logs.text.toPlainText() or bool(logs.text.toPlainText()))
        logs.level.setCurrentIndex(0)
        pump(0.5)
        logs.grab().save(str(out_dir / "logs.png"), "PNG")
        app.quit()
    print(f"wrote {out_dir / 'status.png'} and {out_dir / 'logs.png'}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=Path, default=DEFAULT_DIR)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="traymind-shot-") as tmp:
        capture(args.out_dir.resolve(), Path(tmp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
