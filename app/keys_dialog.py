"""The API keys dialog: list, create (shown once), revoke.

Keyring calls can block (a Secret Service waiting on D-Bus, a locked keychain),
so every store call runs in the background and the dialog updates when it
returns. A new key lives only in the one-time field, and on the clipboard if the
user copies it; the field is cleared when the dialog closes and nothing logs it.
Revoking that very key clears it at once (and from the clipboard, if it is still
there): a dead key must not sit on screen under "paste it into your chat app now".
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtGui import QGuiApplication, QHideEvent
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.background import Jobs
from app.icons import app_icon
from app.server_controller import ServerController
from app.status_text import iso_local
from app.table_model import RowsModel
from server.keys.backends import KeyringUnavailable
from server.keys.client_keys import KeyInfo, KeyStore

HEADERS = ("Label", "Created", "Last used", "Fingerprint")
FALLBACK_HELP = (
    "\n\nTo keep key hashes in a file instead (0600 permissions, in the data folder; "
    "clearly not the OS keyring), tick “Keep key hashes in a file” in Settings…, or start "
    "Traymind with --keystore file or TRAYMIND_KEYSTORE=file."
)
WARNING_STYLE = (
    "QLabel { background: #fde8e8; color: #5c1111; border: 1px solid #e5a0a0;"
    " border-radius: 4px; padding: 6px; }"
)


class KeysDialog(QDialog):
    """Keys by label, created, last used and fingerprint; never a key, except once."""

    def __init__(
        self,
        controller: ServerController,
        open_settings: Callable[[], None],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.controller = controller
        self._jobs = Jobs()
        self._store: KeyStore | None = None
        self._infos: list[KeyInfo] = []
        self._shown_id: str | None = None  # the key id of the key shown once, if any
        self.confirm_box: QMessageBox | None = None
        self.setWindowTitle("Traymind API keys")
        self.setWindowIcon(app_icon())
        self.resize(640, 420)

        self.banner = QLabel()
        self.banner.setWordWrap(True)
        self.banner.setStyleSheet(WARNING_STYLE)
        self.settings_button = QPushButton("Settings…")
        self.settings_button.clicked.connect(open_settings)
        self.where = QLabel()
        self.where.setWordWrap(True)

        self.model = RowsModel(HEADERS)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QTableView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QTableView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)

        self.label_edit = QLineEdit()
        self.label_edit.setPlaceholderText("Label for a new key, e.g. librechat")
        self.label_edit.returnPressed.connect(self.create_key)
        self.new_button = QPushButton("New key")
        self.new_button.clicked.connect(self.create_key)
        self.revoke_button = QPushButton("Revoke")
        self.revoke_button.clicked.connect(self.ask_revoke)
        actions = QHBoxLayout()
        actions.addWidget(self.label_edit, 1)
        actions.addWidget(self.new_button)
        actions.addWidget(self.revoke_button)

        self.new_key_note = QLabel(
            "Your new key is shown only this once and was copied to the clipboard. "
            "Paste it into your chat app now."
        )
        self.new_key_note.setWordWrap(True)
        self.new_key = QLineEdit()
        self.new_key.setReadOnly(True)
        self.copy_button = QPushButton("Copy")
        self.copy_button.clicked.connect(self.copy_new_key)
        once = QHBoxLayout()
        once.addWidget(self.new_key, 1)
        once.addWidget(self.copy_button)
        self.message = QLabel()
        self.message.setWordWrap(True)

        layout = QVBoxLayout(self)
        banner_row = QHBoxLayout()
        banner_row.addWidget(self.banner, 1)
        banner_row.addWidget(self.settings_button)
        layout.addLayout(banner_row)
        layout.addWidget(self.where)
        layout.addWidget(self.table, 1)
        layout.addLayout(actions)
        layout.addWidget(self.new_key_note)
        layout.addLayout(once)
        layout.addWidget(self.message)
        close = QPushButton("Close")
        close.clicked.connect(self.close)
        layout.addWidget(close)
        self._show_new_key(None)
        self._set_unavailable(None)

    # --- loading -----------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        return self._jobs.busy

    def reload(self) -> None:
        """Open the store (it may be the keyring) and list its keys, in the background."""

        def work() -> tuple[KeyStore, list[KeyInfo]]:
            store = self.controller.keystore()
            return store, store.list()

        self._jobs.run(work, self._loaded, self._failed)

    def _loaded(self, result: tuple[KeyStore, list[KeyInfo]]) -> None:
        self._store, self._infos = result
        self._set_unavailable(None)
        backend = self._store.describe_backend()
        empty = "" if self._infos else " No keys yet: create one below."
        self.where.setText(
            f"Key hashes are kept in {backend}; keys themselves are never stored.{empty}"
        )
        self.model.set_rows(
            [
                (i.label, iso_local(i.created), iso_local(i.last_used), i.fingerprint)
                for i in self._infos
            ]
        )

    def _failed(self, error: BaseException) -> None:
        if isinstance(error, KeyringUnavailable):
            self._store = None
            self.model.set_rows([])
            self._set_unavailable(str(error) + FALLBACK_HELP)
            self.message.setText("")
        else:
            self.message.setText(f"The key store failed: {error}")

    def _set_unavailable(self, text: str | None) -> None:
        self.banner.setText(text or "")
        self.banner.setVisible(text is not None)
        self.settings_button.setVisible(text is not None)
        self.where.setVisible(text is None)
        for widget in (self.new_button, self.revoke_button, self.label_edit):
            widget.setEnabled(text is None)

    # --- creating ----------------------------------------------------------------------

    def create_key(self) -> None:
        store, label = self._store, self.label_edit.text().strip()
        if store is None:
            return
        if not label:
            self.message.setText("Give the new key a label first (where it will be used).")
            return
        self._jobs.run(lambda: store.create(label), self._created, self._failed)

    def _created(self, result: tuple[KeyInfo, str]) -> None:
        info, key = result
        self.label_edit.clear()
        self._show_new_key(key)
        self._shown_id = info.id
        self.copy_new_key()
        self.message.setText(f"Created key “{info.label}” (fingerprint {info.fingerprint}).")
        self.controller.keys_changed()
        if self.controller.phase == "error" and not self.controller.loopback_only:
            self.controller.start()  # listening beyond loopback needed a key: now there is one
        self.reload()

    def _show_new_key(self, key: str | None) -> None:
        if key is None:
            self._shown_id = None
        self.new_key.setText(key or "")
        for widget in (self.new_key_note, self.new_key, self.copy_button):
            widget.setVisible(key is not None)

    def copy_new_key(self) -> None:
        if self.new_key.text():
            QGuiApplication.clipboard().setText(self.new_key.text())

    # --- revoking ----------------------------------------------------------------------

    def selected(self) -> KeyInfo | None:
        rows = self.table.selectionModel().selectedRows()
        return self._infos[rows[0].row()] if rows else None

    def select_label(self, label: str) -> bool:
        for row, info in enumerate(self._infos):
            if info.label == label:
                self.table.selectRow(row)
                return True
        return False

    def ask_revoke(self) -> None:
        info = self.selected()
        if info is None or self._store is None:
            self.message.setText("Select the key to revoke first.")
            return
        box = QMessageBox(
            QMessageBox.Icon.Warning,
            "Revoke key",
            f"Revoke “{info.label}”? Apps using it are refused from their next request.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            self,
        )
        confirm = box.button(QMessageBox.StandardButton.Yes)
        confirm.setText("Revoke")
        box.finished.connect(
            lambda _: self.revoke(info.label) if box.clickedButton() is confirm else None
        )
        self.confirm_box = box
        box.open()

    def revoke(self, label: str) -> None:
        store = self._store
        if store is not None:
            self._jobs.run(lambda: store.revoke(label), self._revoked, self._failed)

    def _revoked(self, info: KeyInfo) -> None:
        text = f"Revoked “{info.label}”: it no longer gets in."
        if info.id == self._shown_id:
            clipboard = QGuiApplication.clipboard()
            if self.new_key.text() and clipboard.text() == self.new_key.text():
                clipboard.clear()
            self._show_new_key(None)
            text += " It was the key shown here, so it is gone from this window and the clipboard."
        self.message.setText(text)
        self.controller.keys_changed()
        self.reload()

    def hideEvent(self, event: QHideEvent) -> None:
        self._show_new_key(None)  # shown once: gone when the dialog closes
        super().hideEvent(event)
