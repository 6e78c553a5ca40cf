"""About Traymind: the version, the license, and where its files are.

The version and license come from the package's metadata (``server.version``), the
folders from the same functions the server and the app use, so what this window
says is where things really are. Every line can be selected, and Copy details puts
them all on the clipboard (for a bug report).
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QShowEvent
from PySide6.QtWidgets import (
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.icons import app_icon
from app.path_dialog import LOG_FILE
from app.server_controller import ServerController
from server.paths import user_config_dir
from server.version import license_name, version

FIELDS = ("Version", "License", "Config file", "Config folder", "Data folder", "Log file")


class AboutDialog(QDialog):
    """Traymind's version, license and folders, each selectable."""

    def __init__(self, controller: ServerController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.setWindowTitle("About Traymind")
        self.setWindowIcon(app_icon())
        title = QLabel(f"<b>Traymind {version()}</b>")
        blurb = QLabel("Your AI agents in the system tray, served to any chat app.")
        blurb.setWordWrap(True)
        self.fields: dict[str, QLabel] = {}
        form = QFormLayout()
        for name in FIELDS:
            label = QLabel()
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.fields[name] = label
            form.addRow(name + ":", label)
        copy = QPushButton("Copy details")
        copy.clicked.connect(self.copy_details)
        close = QPushButton("Close")
        close.clicked.connect(self.close)
        buttons = QHBoxLayout()
        buttons.addWidget(copy)
        buttons.addStretch()
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addWidget(blurb)
        layout.addLayout(form)
        layout.addLayout(buttons)
        self.refresh()

    def refresh(self) -> None:
        c = self.controller
        values = {
            "Version": version(),
            "License": license_name(),
            "Config file": str(c.config_path()),
            "Config folder": str(user_config_dir()),
            "Data folder": str(c.data_dir()),
            "Log file": str(c.logs_dir() / LOG_FILE),
        }
        for name, value in values.items():
            self.fields[name].setText(value)

    def details(self) -> str:
        return "\n".join(f"{name}: {self.fields[name].text()}" for name in FIELDS)

    def copy_details(self) -> None:
        QGuiApplication.clipboard().setText(f"Traymind\n{self.details()}")

    def showEvent(self, event: QShowEvent) -> None:
        self.refresh()  # the config file or data folder may have changed in Settings…
        super().showEvent(event)
