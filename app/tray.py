"""The tray icon and its menu, rebuilt from the current status each time it opens.

Why rebuild instead of keeping actions in sync: the menu then can never show a
stale state, and building it only reads what the controller already holds in
memory (no network, no database), so opening it stays instant.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from app.icons import state_icon
from app.server_controller import ServerController
from app.status_text import shorten, status_line

ALLOW_UNAUTHENTICATED = "Allow unauthenticated local access"
BEYOND_LOOPBACK_TIP = (
    "Traymind listens on {host}, beyond this computer: every request needs an API key. "
    "Unauthenticated access is only ever for loopback clients; choose 127.0.0.1 in "
    "Settings… to use it."
)


class MenuCommands(Protocol):
    """What the menu's actions do; the application object implements it."""

    def toggle_server(self) -> None: ...
    def set_allow_unauthenticated(self, on: bool) -> None: ...
    def use_port(self, port: int) -> None: ...
    def show_keys(self) -> None: ...
    def copy_base_url(self) -> None: ...
    def show_connect(self) -> None: ...
    def show_models(self) -> None: ...
    def show_agents(self) -> None: ...
    def show_chat(self) -> None: ...
    def show_welcome(self) -> None: ...
    def show_status(self) -> None: ...
    def open_config(self) -> None: ...
    def reload_config(self) -> None: ...
    def open_logs(self) -> None: ...
    def show_logs(self) -> None: ...
    def show_settings(self) -> None: ...
    def show_about(self) -> None: ...
    def quit(self) -> None: ...


def current_status_line(controller: ServerController) -> str:
    snapshot = controller.snapshot()
    failure = controller.failure
    return status_line(
        controller.phase,
        controller.url,
        len(snapshot["agents"]),
        controller.active_sessions(),
        failure.headline if failure else None,
    )


class TrayMenu:
    """The one menu of the app, shown by the tray icon and by the status window's button."""

    def __init__(self, controller: ServerController, commands: MenuCommands) -> None:
        self.controller = controller
        self.commands = commands
        self.menu = QMenu()
        self.menu.setToolTipsVisible(True)
        self.menu.aboutToShow.connect(self.rebuild)
        self.rebuild()

    def action(self, text: str) -> QAction | None:
        """The action with this text (for tests and the status window), or None."""
        return next((a for a in self.menu.actions() if a.text() == text), None)

    def _add(self, text: str, command: Callable[[], None], *, enabled: bool = True) -> QAction:
        action = self.menu.addAction(text)
        action.triggered.connect(lambda _checked=False: command())
        action.setEnabled(enabled)
        return action

    def _note(self, text: str) -> None:
        self.menu.addAction(text).setEnabled(False)

    def rebuild(self) -> None:
        c, do = self.controller, self.commands
        phase = c.phase
        self.menu.clear()
        self._note(current_status_line(c))
        if c.failure is not None and phase == "running":
            self._note(shorten("⚠ " + c.failure.headline))
        if c.warning is not None and phase == "running":
            self._note(shorten("⚠ " + c.warning.headline))
        port = c.failure.free_port if c.failure is not None and phase == "error" else None
        if port is not None:
            self._add(f"Use port {port} instead", lambda: do.use_port(port))
        self.menu.addSeparator()
        busy = phase in ("starting", "stopping")
        running = phase == "running"
        self._add("Stop server" if running else "Start server", do.toggle_server, enabled=not busy)
        toggle = self.menu.addAction(ALLOW_UNAUTHENTICATED)
        toggle.setCheckable(True)
        toggle.setChecked(c.allow_unauthenticated)
        toggle.triggered.connect(lambda checked: do.set_allow_unauthenticated(bool(checked)))
        if not c.loopback_only:
            toggle.setEnabled(False)
            toggle.setToolTip(BEYOND_LOOPBACK_TIP.format(host=c.options.host))
        else:
            toggle.setToolTip("Programs on this computer may call the API without a key.")
        self.menu.addSeparator()
        self._add("API keys…", do.show_keys)
        self._add("Copy base URL", do.copy_base_url, enabled=running)
        self._add("Connect a chat app…", do.show_connect)
        self._add("Models…", do.show_models)
        self._add("Agents…", do.show_agents)
        self._add("Chat…", do.show_chat)
        self.menu.addSeparator()
        self._add("Status…", do.show_status)
        self._add("Logs…", do.show_logs)
        self._add("Open config", do.open_config)
        self._add("Reload config", do.reload_config, enabled=not busy)
        self._add("Open logs folder", do.open_logs)
        self._add("Welcome…", do.show_welcome)
        self._add("Settings…", do.show_settings)
        self._add("About…", do.show_about)
        self.menu.addSeparator()
        self._add("Quit", do.quit)


class Tray:
    """The system tray icon: its picture follows the server phase; a click shows status."""

    def __init__(self, controller: ServerController, menu: TrayMenu, parent: QObject) -> None:
        self.controller = controller
        self.icon = QSystemTrayIcon(parent)
        self.icon.setContextMenu(menu.menu)
        self.icon.activated.connect(self._activated)
        self._show_status = menu.commands.show_status
        self._icon_key: tuple[str, bool, bool] | None = None
        controller.status_changed.connect(self.refresh)
        self.refresh()

    def _activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason in (
            QSystemTrayIcon.ActivationReason.Trigger,
            QSystemTrayIcon.ActivationReason.DoubleClick,
        ):
            self._show_status()

    def refresh(self) -> None:
        c = self.controller
        running = c.phase == "running"
        key = (c.phase, c.allow_unauthenticated and running, bool(c.problems) and running)
        if key != self._icon_key:  # repaint only when the picture changes, not per request
            self._icon_key = key
            self.icon.setIcon(state_icon(*key))
        self.icon.setToolTip("Traymind\n" + current_status_line(c))

    def notify(self, title: str, message: str, error: bool = False) -> None:
        icons = QSystemTrayIcon.MessageIcon
        kind = icons.Warning if error else icons.Information
        if self.icon.isVisible() and QSystemTrayIcon.supportsMessages():
            self.icon.showMessage(title, message, kind, 10_000)
