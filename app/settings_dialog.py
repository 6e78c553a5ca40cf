"""The Settings dialog: port, listen address, start at login, config file, key store.

Saving hands a new ``Settings`` to the application, which persists it and restarts
the server in place when a server setting changed. A new port is tried first: one in
use is said here, and nothing is saved or stopped. A setting decided by the
command line or the environment is shown but disabled, with a tooltip naming what
decides it.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.autostart import Autostart
from app.icons import app_icon
from app.settings import ALL_INTERFACES, Settings, listen_problem
from server.security.host_guard import is_loopback_host

# What this dialog edits; the rest (unauthenticated access, the welcome) is changed elsewhere
# while it may be open, and a save must not put back what it showed.
EDITED_FIELDS = ("port", "host", "start_at_login", "config_path", "keystore_file")

LOOPBACK = "127.0.0.1"
HOST_CHOICES = (
    (LOOPBACK, "127.0.0.1: this computer only (recommended)"),
    (ALL_INTERFACES, "0.0.0.0: all interfaces (other machines, Docker containers)"),
)
BEYOND_LOOPBACK_WARNING = (
    "⚠ Listening on {host} lets other machines (and Docker containers) connect. Every "
    "request then needs an API key, and unauthenticated local access is turned off."
)
NO_KEYS_WARNING = " You have no API keys yet: create one in API keys… or nothing can connect."


class SettingsDialog(QDialog):
    """Edits a copy of the settings; ``saved`` carries the new ones."""

    saved = Signal(object)  # Settings

    def __init__(
        self,
        settings: Settings,
        overridden: dict[str, str],
        autostart: Autostart,
        has_keys: bool,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._settings = settings
        self._has_keys = has_keys
        self.setWindowTitle("Traymind settings")
        self.setWindowIcon(app_icon())
        labels = {name: (label, help_text) for name, label, help_text in Settings.describe()}

        self.port = QSpinBox()
        self.port.setRange(1, 65535)
        self.port.setValue(settings.port)
        self.host = QComboBox()
        self.host.setEditable(True)
        for value, text in HOST_CHOICES:
            self.host.addItem(text, value)
        self._set_host(settings.host)
        self.host.currentTextChanged.connect(self._update_warning)
        self.start_at_login = QCheckBox()
        self.start_at_login.setChecked(settings.start_at_login)
        if not autostart.supported():
            self.start_at_login.setEnabled(False)
            self.start_at_login.setToolTip("Not available on this system yet; see docs/tray.md.")
        self.config_path = QLineEdit(settings.config_path)
        self.config_path.setPlaceholderText("as `traymind serve` finds it")
        browse = self.browse_button = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        config_row = QHBoxLayout()
        config_row.addWidget(self.config_path, 1)
        config_row.addWidget(browse)
        self.keystore_file = QCheckBox()
        self.keystore_file.setChecked(settings.keystore_file)

        form = QFormLayout()
        rows: list[tuple[str, QWidget | QHBoxLayout]] = [
            ("port", self.port),
            ("host", self.host),
            ("start_at_login", self.start_at_login),
            ("config_path", config_row),
            ("keystore_file", self.keystore_file),
        ]
        decided: list[str] = []
        for name, widget in rows:
            label, help_text = labels[name]
            form.addRow(label + ":", widget)
            target = widget if isinstance(widget, QWidget) else self.config_path
            tip = help_text
            if name in overridden:
                target.setEnabled(False)
                if target is self.config_path:
                    self.browse_button.setEnabled(False)
                tip = f"Set by {overridden[name]} for this run. {help_text}"
                decided.append(f"{label} by {overridden[name]}")
            target.setToolTip(tip)
        self.decided = QLabel()  # why a field is greyed, without hovering over it
        self.decided.setWordWrap(True)
        self.decided.setText(
            "Set for this run, so not changed here: " + "; ".join(decided) + "." if decided else ""
        )
        self.decided.setVisible(bool(decided))
        self.warning = QLabel()
        self.warning.setWordWrap(True)
        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #b42318;")
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        self.save_button = buttons.button(QDialogButtonBox.StandardButton.Save)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.decided)
        layout.addWidget(self.warning)
        layout.addWidget(self.error)
        layout.addWidget(buttons)
        self._update_warning()

    def _set_host(self, host: str) -> None:
        index = self.host.findData(host)
        if index >= 0:
            self.host.setCurrentIndex(index)
        else:
            self.host.setEditText(host)

    def host_value(self) -> str:
        text = self.host.currentText().strip()
        for value, label in HOST_CHOICES:
            if text == label:
                return value
        return text.split(":", 1)[0].strip() if text.count(":") == 1 else text

    def _update_warning(self) -> None:
        host = self.host_value()
        if host and not is_loopback_host(host):
            text = BEYOND_LOOPBACK_WARNING.format(host=host)
            self.warning.setText(text + ("" if self._has_keys else NO_KEYS_WARNING))
            self.warning.setVisible(True)
        else:
            self.warning.setVisible(False)

    def _browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Choose config.yaml", self.config_path.text(), "YAML (*.yaml *.yml)"
        )
        if path:
            self.config_path.setText(path)

    def values(self) -> Settings:
        """The dialog's own fields (``EDITED_FIELDS``) over the settings it opened with."""
        return replace(
            self._settings,
            port=self.port.value(),
            host=self.host_value(),
            start_at_login=self.start_at_login.isChecked(),
            config_path=self.config_path.text().strip(),
            keystore_file=self.keystore_file.isChecked(),
        )

    def save(self) -> None:
        new = self.values()
        if not new.host:
            self.error.setText("Give an address to listen on, e.g. 127.0.0.1.")
            return
        if new.config_path and not Path(new.config_path).expanduser().is_file():
            self.error.setText(f"There is no file at {new.config_path}.")
            return
        if new.port != self._settings.port and self.port.isEnabled():
            problem = listen_problem(new.host, new.port)  # the server is not touched if so
            if problem is not None:
                self.error.setText(problem)
                return
        self.error.clear()
        self.saved.emit(new)
        self.accept()
