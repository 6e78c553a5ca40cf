"""Connect a chat app: ready-to-paste setup for LibreChat, Open WebUI and the SDK.

LibreChat gets two tabs: the endpoint entry to add to an existing librechat.yaml, and
a whole file for a new one.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtGui import QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.chat_snippets import (
    Pairing,
    docker_note,
    librechat_entry,
    librechat_yaml,
    openwebui_text,
    sdk_text,
)
from app.coding_tool_snippets import (
    aider_text,
    claude_code_text,
    cline_text,
    codex_text,
    continue_text,
    zed_text,
)
from app.icons import app_icon
from app.server_controller import ServerController

SNIPPETS: tuple[tuple[str, Callable[[Pairing], str]], ...] = (
    ("LibreChat", librechat_entry),
    ("LibreChat (new file)", librechat_yaml),
    ("Open WebUI", openwebui_text),
    ("OpenAI SDK", sdk_text),
    ("Continue", continue_text),
    ("Cline", cline_text),
    ("Aider", aider_text),
    ("Zed", zed_text),
    ("Claude Code", claude_code_text),
    ("Codex CLI", codex_text),
    ("Docker", docker_note),
)


class ListenForContainers(QPushButton):
    """On Linux a container reaches the host only beyond loopback: one click moves there.

    Shown only for a chat app in Docker while Traymind listens on loopback; ``problem`` is
    the sentence saying why the move could not happen (no key, unauthenticated access on).
    """

    def __init__(self, move: Callable[[], str | None] | None, after: Callable[[], None]) -> None:
        super().__init__("Listen for containers (all interfaces, keys required)")
        self._move = move
        self._after = after
        self.problem: str | None = None
        self.clicked.connect(self._clicked)

    def update_for(self, pairing: Pairing) -> None:
        self.setVisible(pairing.docker and pairing.loopback_only and self._move is not None)

    def _clicked(self) -> None:
        if self._move is not None:
            self.problem = self._move()
        self._after()


class ConnectDialog(QDialog):
    """One tab per chat app, each with its text and a Copy button."""

    def __init__(
        self,
        controller: ServerController,
        show_keys: Callable[[], None],
        show_settings: Callable[[], None],
        listen_for_containers: Callable[[], str | None] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.controller = controller

        self.setWindowTitle("Connect a chat app to Traymind")
        self.setWindowIcon(app_icon())
        self.resize(720, 520)
        self.docker = QCheckBox(
            "The chat app runs in Docker (use host.docker.internal instead of 127.0.0.1)"
        )
        self.docker.toggled.connect(self.refresh)
        self.listen_button = ListenForContainers(listen_for_containers, self.refresh)
        self.tabs = QTabWidget()
        self.texts: dict[str, QPlainTextEdit] = {}
        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        for name, _ in SNIPPETS:
            text = QPlainTextEdit()
            text.setReadOnly(True)
            text.setFont(mono)
            copy = QPushButton(f"Copy {name} setup" if name != "Docker" else "Copy")
            copy.clicked.connect(lambda _=False, t=text: self._copy(t))
            page = QWidget()
            column = QVBoxLayout(page)
            column.addWidget(text, 1)
            column.addWidget(copy)
            self.texts[name] = text
            self.tabs.addTab(page, name)
        self.note = QLabel()
        self.note.setWordWrap(True)
        keys = QPushButton("API keys…")
        keys.clicked.connect(show_keys)
        settings = QPushButton("Settings…")
        settings.clicked.connect(show_settings)
        close = QPushButton("Close")
        close.clicked.connect(self.close)
        buttons = QHBoxLayout()
        buttons.addWidget(keys)
        buttons.addWidget(settings)
        buttons.addStretch()
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.docker)
        layout.addWidget(self.listen_button)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.note)
        layout.addLayout(buttons)
        controller.status_changed.connect(self._on_status)
        self.refresh()

    def pairing(self) -> Pairing:
        options = self.controller.options
        handle = self.controller.handle
        port = handle.port if handle is not None else options.port
        agents = tuple(a["id"] for a in self.controller.snapshot()["agents"])
        return Pairing(options.host, port, agents, docker=self.docker.isChecked())

    def _on_status(self) -> None:
        if self.isVisible():
            self.refresh()

    def refresh(self) -> None:
        pairing = self.pairing()
        for name, render in SNIPPETS:
            text = render(pairing)
            if self.texts[name].toPlainText() != text:
                self.texts[name].setPlainText(text)
        running = self.controller.phase == "running"
        self.listen_button.update_for(pairing)
        problem = self.listen_button.problem
        self.note.setText(
            (f"{problem}\n" if problem else "")
            + f"Base URL: {pairing.base_url}"
            + ("" if running else "  (the server is not running: start it from the menu)")
        )

    def _copy(self, text: QPlainTextEdit) -> None:
        QGuiApplication.clipboard().setText(text.toPlainText())
