"""Regenerate docs/screenshots: the tray menu over the live status window, then every window.

Usage: ``.venv/bin/python tools/screenshot.py [--out PATH] [--tray-only]``

``--out`` names the tray picture (default docs/screenshots/tray.png); the others go
beside it: ``tools/screenshot_windows.py`` (status, logs, agents, chat, models, keys,
connect, settings, about, welcome) and ``tools/screenshot_approval.py`` (the approval
window) run after it on the same Xvfb display, with xcb, as a desktop would show them.

Needs Debian's ``xvfb`` and ``trayer`` (plus Qt's xcb libraries, see docs/tray.md).
It starts a private Xvfb display with trayer as the system tray host, then runs the
real ``TraymindApp`` on it (xcb, not offscreen) against the loopback LLM stand-in,
sends a few real chat requests so the tables have rows, opens the tray icon's menu
and grabs the whole screen with Qt. Nothing touches the user's config, keys or logs:
everything lives in a temporary folder.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "docs" / "screenshots" / "tray.png"
SCREEN = (1280, 800)
PANEL = 30  # trayer's height: the tray bar along the top edge
AGENTS = {
    "general": {"display_name": "GeneralAgent", "role": "General-purpose assistant"},
    "code": {"display_name": "CodeAgent", "role": "Programming help"},
    "writer": {"display_name": "WriterAgent", "role": "Drafts and edits text"},
}


def start_display(workdir: Path) -> tuple[subprocess.Popen[bytes], subprocess.Popen[bytes], str]:
    """Xvfb on a free display number (it tells us which), then trayer on it."""
    for tool in ("Xvfb", "trayer"):
        if shutil.which(tool) is None:
            sys.exit(f"screenshot: {tool} is not installed (Debian: apt-get install xvfb trayer)")
    read_fd, write_fd = os.pipe()
    xvfb = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", f"{SCREEN[0]}x{SCREEN[1]}x24"],
        pass_fds=(write_fd,),
        stderr=(workdir / "xvfb.log").open("wb"),
    )
    os.close(write_fd)
    with os.fdopen(read_fd) as pipe:
        display = f":{pipe.readline().strip()}"
    env = {**os.environ, "DISPLAY": display}
    trayer = subprocess.Popen(
        [
            "trayer",
            *("--edge", "top", "--align", "right", "--widthtype", "percent", "--width", "100"),
            *("--height", str(PANEL), "--transparent", "false", "--tint", "0x2b2b2b"),
            *("--SetDockType", "true", "--SetPartialStrut", "true", "--expand", "true"),
        ],
        env=env,
        stderr=(workdir / "trayer.log").open("wb"),
    )
    return xvfb, trayer, display


def chat_traffic(base_url: str, key: str, done: threading.Event) -> None:
    """A few real requests: finished ones, and one stream left open for the picture."""
    import openai

    client = openai.OpenAI(base_url=base_url, api_key=key, max_retries=0, timeout=30)
    for session, model in (
        ("trip-plan", "general"),
        ("refactor", "code"),
        ("trip-plan", "general"),
    ):
        client.chat.completions.create(
            model=model,
            messages=[{"role": "user", "content": "Hello"}],
            extra_headers={"X-Session-Id": session},
        )
    stream = client.chat.completions.create(
        model="writer",
        messages=[{"role": "user", "content": "Draft a letter"}],
        stream=True,
        extra_headers={"X-Session-Id": "cover-letter"},
    )
    done.set()
    for _ in stream:
        pass


def capture(out: Path, workdir: Path) -> None:
    """Runs on the Xvfb display: the real app, real traffic, then a grab of the screen."""
    sys.path.insert(0, str(ROOT))
    os.environ.update(
        {
            "QT_QPA_PLATFORM": "xcb",
            "TRAYMIND_KEYSTORE": "file",
            "TRAYMIND_DETECT_URLS": "",
            "TRAYMIND_LOG_DIR": str(workdir / "logs"),
            "OPENAI_COMPAT_API_KEYS": "",
            "OPENAI_COMPAT_ALLOW_UNAUTHENTICATED": "",
        }
    )
    from PySide6.QtCore import QPoint, QRect
    from PySide6.QtWidgets import QApplication, QSystemTrayIcon, QWidget

    from app.application import TraymindApp
    from app.autostart import Autostart
    from app.icons import app_icon
    from app.settings import SettingsFile
    from server.keys.client_keys import KeyStore
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

    if not pump(10, QSystemTrayIcon.isSystemTrayAvailable):
        sys.exit("screenshot: trayer did not provide a system tray")
    with Upstream() as upstream:
        upstream.default = Reply.text("Sure, here is a short answer.")
        config = write_config(workdir, agent_config(upstream.base_url, **AGENTS))
        data_dir = workdir / "data"
        _, key = KeyStore.open(data_dir, "file").create("librechat")
        app = TraymindApp(
            qapp,
            ServeOptions(config=str(config), port=8765, data_dir=str(data_dir)),
            settings_file=SettingsFile(workdir / "settings.json"),
            autostart=Autostart(workdir / "autostart"),
        )
        app.start()
        if not pump(15, lambda: app.controller.phase in ("running", "error")):
            sys.exit("screenshot: the server did not start")
        if app.controller.phase == "error":
            app.controller.restart(ServeOptions(config=str(config), port=0, data_dir=str(data_dir)))
            pump(15, lambda: app.controller.phase == "running")
        url = app.controller.url
        assert url is not None
        upstream.script(*[Reply.text("Sure, here is a short answer.")] * 3)
        upstream.script(Reply.slow_stream(["Dear ", "hiring ", "manager, "] * 100, delay=0.1))
        streaming = threading.Event()
        threading.Thread(target=chat_traffic, args=(url, key, streaming), daemon=True).start()
        pump(20, streaming.is_set)
        backdrop = QWidget()  # a plain desktop below the panel: Xvfb's root is black
        backdrop.setStyleSheet(
            "background: qlineargradient(x1:0, y1:0, x2:1, y2:1, stop:0 #3b4a6b, stop:1 #6b7fa8);"
        )
        backdrop.setGeometry(0, PANEL, SCREEN[0], SCREEN[1] - PANEL)
        backdrop.show()
        pump(0.5)
        icon = app.tray.icon.geometry() if app.tray is not None else QRect()
        anchor = icon.bottomLeft() + QPoint(0, 4) if icon.isValid() else QPoint(860, PANEL)
        window = app.status_window
        right_side = anchor.x() > SCREEN[0] / 2  # the menu should cover the window's corner
        left = min(anchor.x() - 700, SCREEN[0] - 1100) if right_side else anchor.x() + 260
        window.setGeometry(left, PANEL + 90, 900, 600)
        window.tabs.setCurrentIndex(1)  # sessions: one of them streaming now
        window.show()
        pump(1.5)
        app.menu.menu.popup(anchor)
        pump(1.0)
        screen = qapp.primaryScreen()
        out.parent.mkdir(parents=True, exist_ok=True)
        if not screen.grabWindow(0).save(str(out), "PNG"):
            sys.exit(f"screenshot: could not write {out}")
        app.menu.menu.hide()
        app.quit()
    print(f"wrote {out}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--tray-only", action="store_true", help="only the tray picture")
    parser.add_argument("--inner", metavar="WORKDIR", help=argparse.SUPPRESS)
    args = parser.parse_args()
    out = args.out.resolve()
    if args.inner:
        capture(out, Path(args.inner))
        return 0
    with tempfile.TemporaryDirectory(prefix="traymind-shot-") as tmp:
        workdir = Path(tmp)
        xvfb, trayer, display = start_display(workdir)
        try:
            time.sleep(1.0)  # let trayer claim the tray selection
            env = {**os.environ, "DISPLAY": display, "HOME": str(workdir)}
            env.pop("WAYLAND_DISPLAY", None)
            cmd = [sys.executable, __file__, "--out", str(out), "--inner", str(workdir)]
            code = subprocess.run(cmd, env=env, cwd=ROOT, timeout=120).returncode
            if code or args.tray_only:
                return code
            env["QT_QPA_PLATFORM"] = "xcb"
            here = Path(__file__).resolve().parent
            for tool, where in (
                ("screenshot_windows.py", ["--out-dir", str(out.parent)]),
                ("screenshot_approval.py", ["--out", str(out.parent / "approval.png")]),
            ):
                cmd = [sys.executable, str(here / tool), *where]
                code = subprocess.run(cmd, env=env, cwd=ROOT, timeout=300).returncode
                if code:
                    return code
            return 0
        finally:
            for proc in (trayer, xvfb):
                proc.terminate()
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    proc.kill()


if __name__ == "__main__":
    sys.exit(main())
