"""The application object: owns the server controller, the tray, the windows, the settings.

Why one object: every long-lived part has one owner that creates it, wires it and
shuts it down in order (server first, then windows), and the menu's commands live
in one place. Collaborators with side effects outside the app (the settings file,
the autostart folder, opening files in the desktop's programs) come in through
the constructor, so tests give it temporary folders instead of patching.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QObject, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import QApplication, QSystemTrayIcon, QWidget

from app.about_dialog import AboutDialog
from app.agents_window import AgentsWindow
from app.approval_dialog import ApprovalPrompter
from app.autostart import Autostart
from app.chat_access import ChatAccess
from app.chat_window import ChatWindow
from app.connect_dialog import ConnectDialog
from app.gui_gc import GuiThreadCollector
from app.keys_dialog import KeysDialog
from app.logs_window import LogsWindow
from app.models_dialog import ModelsDialog
from app.path_dialog import PathDialog, config_dialog, logs_dialog
from app.server_controller import Problem, ServerController
from app.settings import ALL_INTERFACES, Settings, SettingsFile, effective_options
from app.settings_dialog import EDITED_FIELDS, SettingsDialog
from app.single_instance import SingleInstance
from app.status_window import StatusWindow
from app.tray import Tray, TrayMenu
from app.welcome_window import FirstRun, WelcomeWindow
from server.runner import ServeOptions

log = logging.getLogger(__name__)

Opener = Callable[[Path], bool]
SERVER_FIELDS = ("host", "port", "config", "keystore")


def open_in_desktop(path: Path) -> bool:
    """Open a file or folder in the desktop's program for it."""
    return QDesktopServices.openUrl(QUrl.fromLocalFile(str(path)))


def no_tray_reason() -> str:
    if QGuiApplication.platformName() == "offscreen":
        why = "Qt runs offscreen (QT_QPA_PLATFORM=offscreen), where there is no tray"
    elif "GNOME" in os.environ.get("XDG_CURRENT_DESKTOP", "").upper():
        why = "GNOME shows tray icons only with the AppIndicator extension installed"
    else:
        why = "this desktop has no system tray (or it is not running)"
    return (
        f"No system tray was found: {why}. Traymind shows this window instead; its Menu "
        "button has everything the tray menu has. Closing this window quits Traymind."
    )


class TraymindApp(QObject):
    """Traymind's running desktop app. ``finished`` carries the exit code after ``quit``."""

    finished = Signal(int)

    def __init__(
        self,
        qapp: QApplication,
        cli_options: ServeOptions,
        *,
        settings_file: SettingsFile,
        autostart: Autostart,
        opener: Opener = open_in_desktop,
        tray_available: bool | None = None,
        instance: SingleInstance | None = None,
    ) -> None:
        super().__init__()
        qapp.setQuitOnLastWindowClosed(False)
        self.qapp = qapp
        self.collector = GuiThreadCollector(self)  # before any thread starts
        self.cli_options = cli_options
        self.settings_file = settings_file
        self.settings = settings_file.load()
        self.autostart = autostart
        self.opener = opener
        merged = effective_options(cli_options, self.settings, os.environ)
        self.overridden = merged.overridden
        self.controller = ServerController(merged.options, self)
        self.controller.problem.connect(self._on_problem)
        self.controller.reloaded.connect(lambda: self.notify("Config reloaded."))
        self.controller.runtime_problem.connect(lambda message: self.notify(message, error=True))
        self.menu = TrayMenu(self.controller, self)
        self.status_window = StatusWindow(self.controller, self, self.menu)
        if tray_available is None:
            tray_available = QSystemTrayIcon.isSystemTrayAvailable()
        self.tray = Tray(self.controller, self.menu, self) if tray_available else None
        self.approval_prompter = ApprovalPrompter(self.controller, self.notify, self)
        if self.tray is not None:
            self.tray.icon.messageClicked.connect(self.approval_prompter.show_waiting)
        self.keys_dialog: KeysDialog | None = None
        self.connect_dialog: ConnectDialog | None = None
        self.models_dialog: ModelsDialog | None = None
        self.agents_window: AgentsWindow | None = None
        self.settings_dialog: SettingsDialog | None = None
        self.about_dialog: AboutDialog | None = None
        self.logs_window: LogsWindow | None = None
        self.path_dialog: PathDialog | None = None  # a path no desktop program opened
        self.chat_access = ChatAccess(self.controller)  # the chat's own credential, in memory
        self.chat_window: ChatWindow | None = None
        self.welcome_window: WelcomeWindow | None = None
        self.first_run = FirstRun(
            self.controller, lambda: self.settings.welcome_completed, self.show_welcome
        )
        self._quitting = False
        self.instance = instance
        if instance is not None:
            instance.message.connect(self.on_message)

    def start(self) -> None:
        """Show the tray (or, without one, the status window saying why) and start serving."""
        if self.tray is not None:
            self.tray.icon.show()
        else:
            self.status_window.tray_note = no_tray_reason()
            self.status_window.quit_on_close = True
            log.warning("%s", self.status_window.tray_note)
            self.show_status()
        self.controller.start()

    def on_message(self, message: str) -> None:
        """A second launch asked for something (only ``show`` so far)."""
        if message == "show":
            self.show_status()

    def notify(self, message: str, error: bool = False) -> None:
        if self.tray is not None:
            self.tray.notify("Traymind", message, error)

    def _on_problem(self, problem: Problem) -> None:
        hint = {
            "port_in_use": (
                f" Choose “Use port {problem.free_port} instead” in the menu."
                if problem.free_port
                else ""
            ),
            "config": " Choose “Open config” in the menu to fix it.",
            "provider": " Choose “Models…” in the menu to connect one.",
        }.get(problem.kind, "")
        self.notify(problem.headline + hint, error=problem.kind != "provider")

    @staticmethod
    def _present(window: QWidget) -> None:
        window.show()
        window.raise_()
        window.activateWindow()

    # --- menu commands -----------------------------------------------------------------

    def toggle_server(self) -> None:
        if self.controller.phase == "running":
            self.controller.stop()
        else:
            self.controller.start()

    def set_allow_unauthenticated(self, on: bool) -> None:
        applied = self.controller.set_allow_unauthenticated(on)
        self._save(replace(self.settings, allow_unauthenticated=applied))

    def use_port(self, port: int) -> None:
        self._save(replace(self.settings, port=port))
        self.controller.restart(replace(self.controller.options, port=port))

    def show_keys(self) -> None:
        if self.keys_dialog is None:
            self.keys_dialog = KeysDialog(self.controller, self.show_settings)
        self.keys_dialog.reload()
        self._present(self.keys_dialog)

    def copy_base_url(self) -> None:
        url = self.controller.url
        if url:
            QGuiApplication.clipboard().setText(url)
            self.notify(f"Copied {url}")

    def show_connect(self) -> None:
        if self.connect_dialog is None:
            self.connect_dialog = ConnectDialog(
                self.controller, self.show_keys, self.show_settings, self.listen_for_containers
            )
        self.connect_dialog.refresh()
        self._present(self.connect_dialog)

    def listen_for_containers(self) -> str | None:
        """Listen on all interfaces, so a chat app in Docker reaches Traymind; else why not."""
        if "host" in self.overridden:
            return "The listen address is set on the command line (--host), so it stays."
        if self.controller.options.allow_unauthenticated:
            return (
                "Turn off unauthenticated local access first: beyond this computer every "
                "request needs an API key."
            )
        if not self._has_keys():
            return "Create an API key first (API keys…): a container reaches Traymind with a key."
        self.apply_settings(replace(self.settings, host=ALL_INTERFACES))
        return None

    def show_models(self) -> None:
        if self.models_dialog is None:
            self.models_dialog = ModelsDialog(self.controller)
        self._present(self.models_dialog)

    def show_agents(self) -> None:
        if self.agents_window is None:
            self.agents_window = AgentsWindow(self.controller)
        self._present(self.agents_window)

    def show_chat(self) -> None:
        if self.chat_window is None:
            self.chat_window = ChatWindow(self.controller, self.chat_access)
        self._present(self.chat_window)

    def show_welcome(self) -> None:
        if self.welcome_window is None:
            self.welcome_window = WelcomeWindow(
                self.controller,
                self.chat_access,
                self.set_allow_unauthenticated,
                self.listen_for_containers,
            )
            self.welcome_window.completed.connect(
                lambda: self._save(replace(self.settings, welcome_completed=True))
            )
        self._present(self.welcome_window)

    def show_status(self) -> None:
        self._present(self.status_window)

    def open_config(self) -> None:
        path = self.controller.config_path()
        if not self.opener(path):
            actions = (("Models…", self.show_models), ("Reload config", self.reload_config))
            self._show_path(config_dialog(path, actions))

    def reload_config(self) -> None:
        self.controller.reload_config()

    def open_logs(self) -> None:
        folder = self.controller.logs_dir()
        folder.mkdir(parents=True, exist_ok=True)
        if not self.opener(folder):
            self._show_path(logs_dialog(folder, (("Status…", self.show_status),)))

    def show_logs(self) -> None:
        if self.logs_window is None:
            self.logs_window = LogsWindow(
                self.controller.logs_dir() / "traymind.log", self._open_log
            )
        self._present(self.logs_window)

    def _open_log(self, path: Path) -> None:
        if not self.opener(path):
            self._show_path(logs_dialog(path.parent, (("Status…", self.show_status),)))

    def _show_path(self, dialog: PathDialog) -> None:
        if self.path_dialog is not None:
            self.path_dialog.close()
        self.path_dialog = dialog
        self._present(dialog)

    def show_about(self) -> None:
        if self.about_dialog is None:
            self.about_dialog = AboutDialog(self.controller)
        self._present(self.about_dialog)

    def show_settings(self) -> None:
        dialog = SettingsDialog(
            replace(self.settings, start_at_login=self.autostart.enabled()),
            self.overridden,
            self.autostart,
            self._has_keys(),
        )
        dialog.saved.connect(self.apply_settings)
        self.settings_dialog = dialog
        self._present(dialog)

    def quit(self) -> None:
        """Stop the server (ending open streams), close everything, then ``finished``."""
        if self._quitting:
            return
        self._quitting = True
        log.info("quitting")
        self.controller.shutdown()
        if self.tray is not None:
            self.tray.icon.hide()
        self.status_window.quit_on_close = False
        dialogs = (self.keys_dialog, self.connect_dialog, self.models_dialog)
        dialogs += (self.about_dialog, self.path_dialog)
        dialogs += (self.agents_window, self.approval_prompter.dialog, self.logs_window)
        for window in (self.status_window, *dialogs):
            if window is not None:
                window.close()
        for chat in (self.chat_window, self.welcome_window):
            if chat is not None:
                chat.chat.shutdown()
                chat.close()
        if self.settings_dialog is not None:
            self.settings_dialog.close()
        if self.instance is not None:
            self.instance.close()
        self.collector.stop()
        self.finished.emit(0)

    # --- settings ----------------------------------------------------------------------

    def _has_keys(self) -> bool:
        handle = self.controller.handle
        if handle is None or handle.state is None:
            return True  # unknown: do not warn
        return handle.state.authenticator.has_keys()

    def _save(self, settings: Settings) -> None:
        self.settings = settings
        try:
            self.settings_file.save(settings)
        except OSError as exc:
            log.error("cannot save settings to %s: %s", self.settings_file.path, exc)
            self.notify(f"Settings could not be saved: {exc}", error=True)

    def apply_settings(self, new: Settings) -> None:
        """Persist, update start-at-login, and restart the server if a server setting changed.

        Only the Settings dialog's fields are taken from ``new``: the tray toggle and the
        Welcome window may have changed the others since the dialog opened.
        """
        new = replace(self.settings, **{f: getattr(new, f) for f in EDITED_FIELDS})
        self._save(new)
        if self.autostart.supported() and new.start_at_login != self.autostart.enabled():
            try:
                self.autostart.set_enabled(new.start_at_login)
            except OSError as exc:
                self.notify(f"Start at login could not be changed: {exc}", error=True)
        merged = effective_options(self.cli_options, new, os.environ)
        current = self.controller.options
        wanted = replace(merged.options, allow_unauthenticated=current.allow_unauthenticated)
        if any(getattr(wanted, f) != getattr(current, f) for f in SERVER_FIELDS):
            self.controller.restart(wanted)
