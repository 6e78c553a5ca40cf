"""The welcome window's four steps, each a widget with a ``done`` signal.

Each step reuses what the app already has: the Models… dialog (embedded as a page),
the key store the API keys dialog uses, the chat app snippets of Connect a chat app…,
and the Chat window's widget. Blocking calls (the provider, the keyring, the server's
health) run in the background through ``Jobs``.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFontDatabase, QGuiApplication, QShowEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.background import Jobs
from app.chat_access import local_base_url
from app.chat_snippets import Pairing
from app.connect_dialog import SNIPPETS, ListenForContainers
from app.keys_dialog import FALLBACK_HELP
from app.model_setup import PRESETS, list_models
from app.models_dialog import ModelsDialog
from app.server_controller import ServerController
from server.agents.default_model import LOCAL_SERVERS, candidate_urls
from server.keys.backends import KeyringUnavailable
from server.keys.client_keys import KeyInfo
from server.providers.tls import tls_context

KEY_SENTENCE = (
    "A key is a password for one chat app: it lets that app in from this computer (and "
    "from others, if Traymind ever listens beyond it), and you can revoke it any time from "
    "the menu's API keys… window."
)
OPEN_SENTENCE = (
    "Unauthenticated local access lets any program on this computer use your agents without "
    "a key; nothing from another computer gets in. Simplest, but every program you run here "
    "can use it."
)
KEY_PLACEHOLDERS = ("sk-tm-...", "an API key from Traymind's API keys… window")
NO_KEY_TABS = ("Docker",)
SERVER_NAMES = {url: name for name, url in LOCAL_SERVERS}
HEALTH_TIMEOUT = 5.0


def fill_key(name: str, text: str, key: str | None) -> str:
    """A snippet with the key just created in place of its placeholder (or added to it)."""
    if not key or name in NO_KEY_TABS:
        return text
    for placeholder in KEY_PLACEHOLDERS:
        text = text.replace(placeholder, key)
    if key not in text:
        text += f"\nYour API key: {key}\n"
    return text


def default_model_status(base_url: str) -> dict[str, object]:
    """``default_model`` of ``/api/health`` (blocking; no key needed)."""
    root = base_url.removesuffix("/v1")
    response = httpx.get(
        f"{root}/api/health", timeout=HEALTH_TIMEOUT, trust_env=False, verify=tls_context()
    )
    return dict(response.json().get("default_model") or {})


def find_local_servers() -> list[tuple[str, str, int]]:
    """(name, base URL, number of models) of the local servers that answer (blocking)."""
    found = []
    for url in candidate_urls():
        try:
            ids = list_models("openai", url, None)
        except Exception:  # not running, or not an OpenAI-compatible server: not found
            continue
        if ids:
            found.append((SERVER_NAMES.get(url, "A server"), url, len(ids)))
    return found


class ModelStep(QWidget):
    """Step 1: what is connected, the local servers found, and the Models… dialog inside."""

    done = Signal()

    def __init__(self, controller: ServerController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self._jobs = Jobs()
        self.state = QLabel()
        self.state.setWordWrap(True)
        self.found_box = QGroupBox("Found on this computer")
        self.found = QGridLayout(self.found_box)
        self.use_buttons: dict[str, QPushButton] = {}
        self.models = ModelsDialog(controller, self)
        self.models.setWindowFlags(Qt.WindowType.Widget)  # a page here, not a window
        for button in self.models.findChildren(QPushButton):
            if button.text() == "Close":
                button.hide()  # the welcome window has its own way on
        layout = QVBoxLayout(self)
        layout.addWidget(self.state)
        layout.addWidget(self.found_box)
        layout.addWidget(self.models, 1)
        self.found_box.hide()
        controller.reloaded.connect(self.refresh)

    @property
    def busy(self) -> bool:
        return self._jobs.busy or self.models.busy

    def refresh(self) -> None:
        handle = self.controller.handle
        if handle is not None:
            url = local_base_url(handle.host, handle.port)
            self._jobs.run(lambda: default_model_status(url), self._status, self._no_status)
        self._jobs.run(find_local_servers, self._show_found, lambda _e: None)

    def _status(self, default: dict[str, object]) -> None:
        if default.get("source") in (None, "none"):
            self.state.setText(
                "No model is connected yet. Use a server found below, or choose a provider, "
                "test it and save."
            )
            return
        self.state.setText(
            f"Connected: agents answer with {default.get('id')} at {default.get('base_url')} "
            f"({default.get('source')}). You can change it below or go on."
        )
        self.done.emit()

    def _no_status(self, _error: BaseException) -> None:
        self.state.setText("The server is not running, so the model in use is not known.")

    def _show_found(self, found: list[tuple[str, str, int]]) -> None:
        while self.found.count():
            item = self.found.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        self.use_buttons = {}
        for row, (name, url, count) in enumerate(found):
            self.found.addWidget(QLabel(f"{name} at {url}: {count} model(s)"), row, 0)
            use = QPushButton("Use")
            use.clicked.connect(lambda _=False, u=url: self.use_server(u))
            self.found.addWidget(use, row, 1)
            self.use_buttons[url] = use
        self.found_box.setVisible(bool(found))

    def use_server(self, url: str) -> None:
        """Fill the Models… page with this server and list its models."""
        urls = [p.base_url for p in PRESETS]
        other = next((i for i, p in enumerate(PRESETS) if p.name.startswith("Other")), -1)
        index = urls.index(url) if url in urls else other % len(PRESETS)
        self.models.preset.setCurrentIndex(index)
        self.models.base_url.setText(url)
        self.models.test_connection()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.refresh()


class AccessStep(QWidget):
    """Step 2: a key for the chat app (shown once), or unauthenticated local access."""

    done = Signal()
    key_created = Signal(str)

    def __init__(
        self,
        controller: ServerController,
        allow_unauthenticated: Callable[[bool], None],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.controller = controller
        self._allow = allow_unauthenticated
        self._jobs = Jobs()
        key_box = QGroupBox("Create a key for your chat app")
        key_sentence = QLabel(KEY_SENTENCE)
        key_sentence.setWordWrap(True)
        self.label_edit = QLineEdit("chat app")
        self.create_button = QPushButton("Create key")
        self.create_button.clicked.connect(self.create_key)
        row = QHBoxLayout()
        row.addWidget(QLabel("Label:"))
        row.addWidget(self.label_edit, 1)
        row.addWidget(self.create_button)
        self.key_note = QLabel(
            "Your key, shown only this once (the next step fills it in for you); it was "
            "copied to the clipboard."
        )
        self.key_note.setWordWrap(True)
        self.key_field = QLineEdit()
        self.key_field.setReadOnly(True)
        self.copy_button = QPushButton("Copy")
        self.copy_button.clicked.connect(self.copy_key)
        once = QHBoxLayout()
        once.addWidget(self.key_field, 1)
        once.addWidget(self.copy_button)
        column = QVBoxLayout(key_box)
        column.addWidget(key_sentence)
        column.addLayout(row)
        column.addWidget(self.key_note)
        column.addLayout(once)

        open_box = QGroupBox("Or: allow unauthenticated local access")
        open_sentence = QLabel(OPEN_SENTENCE)
        open_sentence.setWordWrap(True)
        self.open_button = QPushButton("Allow without a key")
        self.open_button.clicked.connect(self.allow_open)
        open_column = QVBoxLayout(open_box)
        open_column.addWidget(open_sentence)
        open_column.addWidget(self.open_button, 0, Qt.AlignmentFlag.AlignLeft)

        self.message = QLabel()
        self.message.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(key_box)
        layout.addWidget(open_box)
        layout.addWidget(self.message)
        layout.addStretch()
        self._show_key(None)

    @property
    def busy(self) -> bool:
        return self._jobs.busy

    @property
    def key(self) -> str | None:
        return self.key_field.text() or None

    def create_key(self) -> None:
        label = self.label_edit.text().strip()
        if not label:
            self.message.setText("Give the key a label first (the chat app it is for).")
            return
        controller = self.controller
        self.message.setText("Creating the key…")
        self._jobs.run(lambda: controller.keystore().create(label), self._created, self._failed)

    def _created(self, result: tuple[KeyInfo, str]) -> None:
        info, key = result
        self._show_key(key)
        self.copy_key()
        self.message.setText(f"Created the key “{info.label}” (fingerprint {info.fingerprint}).")
        self.controller.keys_changed()
        if self.controller.phase == "error" and not self.controller.loopback_only:
            self.controller.start()  # listening beyond loopback needed a key: now there is one
        self.key_created.emit(key)
        self.done.emit()

    def _failed(self, error: BaseException) -> None:
        if isinstance(error, KeyringUnavailable):
            self.message.setText(str(error) + FALLBACK_HELP)
        else:
            self.message.setText(f"The key could not be created: {error}")

    def _show_key(self, key: str | None) -> None:
        self.key_field.setText(key or "")
        for widget in (self.key_note, self.key_field, self.copy_button):
            widget.setVisible(key is not None)

    def copy_key(self) -> None:
        if self.key_field.text():
            QGuiApplication.clipboard().setText(self.key_field.text())

    def allow_open(self) -> None:
        if not self.controller.loopback_only:
            self.message.setText(
                f"Traymind listens on {self.controller.options.host}, beyond this computer, "
                "so every request needs a key: create one above."
            )
            return
        self._allow(True)
        self.message.setText(
            "Unauthenticated local access is on: chat apps on this computer get in without "
            "a key (the menu switches it off)."
        )
        self.done.emit()

    def forget_key(self) -> None:
        """Shown once: gone when the welcome window closes."""
        self._show_key(None)


class ConnectStep(QWidget):
    """Step 3: one tab per chat app, its snippet with the running URL and the key filled in."""

    done = Signal()

    def __init__(
        self,
        controller: ServerController,
        listen_for_containers: Callable[[], str | None] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.controller = controller
        self.key: str | None = None
        self.docker = QCheckBox("My chat app runs in Docker")
        self.docker.toggled.connect(self.refresh)
        self.listen_button = ListenForContainers(listen_for_containers, self.refresh)
        self.tabs = QTabWidget()
        self.texts: dict[str, QPlainTextEdit] = {}
        self.pages: dict[str, QWidget] = {}
        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        for name, _ in SNIPPETS:
            text = QPlainTextEdit()
            text.setReadOnly(True)
            text.setFont(mono)
            copy = QPushButton(f"Copy {name} setup")
            copy.clicked.connect(lambda _=False, t=text: self._copy(t))
            page = QWidget()
            column = QVBoxLayout(page)
            column.addWidget(text, 1)
            column.addWidget(copy)
            self.texts[name] = text
            self.pages[name] = page
        self.note = QLabel()
        self.note.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.docker)
        layout.addWidget(self.listen_button)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.note)
        self.refresh()

    def set_key(self, key: str | None) -> None:
        self.key = key
        self.refresh()

    def pairing(self) -> Pairing:
        handle = self.controller.handle
        port = handle.port if handle is not None else self.controller.options.port
        agents = tuple(a["id"] for a in self.controller.snapshot()["agents"])
        return Pairing(self.controller.options.host, port, agents, docker=self.docker.isChecked())

    def refresh(self) -> None:
        pairing = self.pairing()
        current = self.tabs.tabText(self.tabs.currentIndex())
        self.tabs.clear()
        for name, render in SNIPPETS:
            if name == "Docker" and not pairing.docker:
                continue  # the Docker variant only when chosen
            self.texts[name].setPlainText(fill_key(name, render(pairing), self.key))
            self.tabs.addTab(self.pages[name], name)
        names = [self.tabs.tabText(i) for i in range(self.tabs.count())]
        if current in names:
            self.tabs.setCurrentIndex(names.index(current))
        key_note = "" if self.key else " Without a key from step 2, put your own key where it says."
        self.listen_button.update_for(pairing)
        problem = self.listen_button.problem
        self.note.setText(
            (f"{problem}\n" if problem else "") + f"Base URL: {pairing.base_url}.{key_note}"
        )

    def _copy(self, text: QPlainTextEdit) -> None:
        QGuiApplication.clipboard().setText(text.toPlainText())
        self.done.emit()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.refresh()
