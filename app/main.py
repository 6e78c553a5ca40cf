"""``run_tray``: the desktop app's entry point (``traymind`` with a display).

Order matters: logging first (a windowed build has no stdout), then the
single-instance check before any server starts, then the app object. Python's
signal handlers only run when the interpreter gets control, which Qt's event loop
never gives it on its own: a short periodic timer does, so SIGINT and SIGTERM quit
cleanly (the server stops, open streams end) instead of being ignored.

Once the server first answers (or fails to start), one line on stdout says where the
app is and its URL: a tray icon is easy to miss, and ``make run`` otherwise says nothing.
"""

from __future__ import annotations

import logging
import signal
import sys
from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QApplication

from app.application import TraymindApp
from app.autostart import Autostart
from app.icons import app_icon
from app.settings import SettingsFile, default_settings_path
from app.single_instance import SingleInstance, instance_name
from server.logging_setup import configure_logging
from server.paths import resolve_data_dir
from server.runner import ServeOptions

log = logging.getLogger(__name__)

SIGNAL_POLL_MS = 200


def install_signal_handlers(quit_app: Callable[[], None], parent: QObject) -> QTimer:
    """SIGINT/SIGTERM call ``quit_app`` on the GUI thread; the returned timer must live."""

    def on_signal(signum: int, frame: object) -> None:
        log.info("received signal %d, quitting", signum)
        QTimer.singleShot(0, quit_app)

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    timer = QTimer(parent)
    timer.timeout.connect(lambda: None)  # lets the interpreter run pending signal handlers
    timer.start(SIGNAL_POLL_MS)
    return timer


def where_line(url: str | None, in_tray: bool, problem: str | None = None) -> str:
    """``Traymind is running in your system tray: http://127.0.0.1:8765/v1``."""
    place = "in your system tray" if in_tray else "in its status window (no system tray found)"
    if url:
        return f"Traymind is running {place}: {url}"
    return f"Traymind is running {place}, but its server did not start: {problem}"


def tell_where_once(app: TraymindApp) -> None:
    """Print ``where_line`` once the server first runs or fails (a windowed build has no stdout)."""
    controller = app.controller

    def on_phase(phase: str) -> None:
        if phase not in ("running", "error"):
            return
        controller.phase_changed.disconnect(on_phase)
        failure = controller.failure
        line = where_line(controller.url, app.tray is not None, failure and failure.headline)
        if sys.stdout is not None:
            print(line, flush=True)

    controller.phase_changed.connect(on_phase)


def _say(text: str) -> None:
    if sys.stderr is not None:  # a windowed build has none
        print(text, file=sys.stderr, flush=True)


def run_tray(options: ServeOptions) -> int:
    """Run the tray app until Quit or a signal; 0 when it ends normally or forwarded."""
    log_path = configure_logging(to_stderr=False)
    qapp = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(qapp, QApplication)
    qapp.setApplicationName("Traymind")
    qapp.setDesktopFileName("traymind")
    qapp.setWindowIcon(app_icon())
    guard = SingleInstance(instance_name(resolve_data_dir(options.data_dir)))
    if not guard.claim():
        log.info("Traymind already runs for this data folder; asked it to show its window")
        _say("Traymind is already running; its status window has been brought forward.")
        return 0
    app = TraymindApp(
        qapp,
        options,
        settings_file=SettingsFile(default_settings_path()),
        autostart=Autostart(),
        instance=guard,
    )
    app.finished.connect(qapp.exit)
    qapp.aboutToQuit.connect(app.quit)  # a session logout ends the server too
    signal_timer = install_signal_handlers(app.quit, app)
    log.info("Traymind tray app starting (log: %s)", log_path)
    tell_where_once(app)
    app.start()
    code = qapp.exec()
    signal_timer.stop()
    log.info("Traymind tray app stopped")
    return code
