"""Where a file or folder is, when no desktop program opens it: its path, Copy, a view.

Open config and Open logs folder ask the desktop to open the path; a desktop with no
program for it (a bare window manager, a container, a server with X forwarding) says
no, and saying nothing then would look like a dead menu. This dialog shows the path
to copy, the file itself read-only (config.yaml, or the log's last lines), and the
app's own windows that do the same job.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from PySide6.QtGui import QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.icons import app_icon

LOG_FILE = "traymind.log"  # the name server.logging_setup writes under the logs folder
LOG_TAIL_LINES = 200
Action = tuple[str, Callable[[], None]]


def file_text(path: Path) -> str:
    """The file's text, or a sentence saying why it cannot be shown."""
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return f"There is no file at {path} yet."
    except OSError as exc:
        return f"{path} cannot be read: {exc.strerror or exc}."


def log_tail(folder: Path, lines: int = LOG_TAIL_LINES) -> str:
    """The last ``lines`` lines of the log in ``folder``, or why there are none."""
    path = folder / LOG_FILE
    if not path.is_file():
        return f"No log yet: Traymind writes {LOG_FILE} in this folder when it runs as the app."
    tail = file_text(path).splitlines()[-lines:]
    return "\n".join(tail) + "\n" if tail else f"{path} is empty so far."


class PathDialog(QDialog):
    """A path that could not be opened, with Copy, a read-only view and related windows."""

    def __init__(
        self,
        title: str,
        sentence: str,
        path: Path,
        view: str,
        actions: Sequence[Action] = (),
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setWindowIcon(app_icon())
        self.resize(720, 480)
        self.sentence = QLabel(sentence)
        self.sentence.setWordWrap(True)
        self.path = QLineEdit(str(path))
        self.path.setReadOnly(True)
        self.copy_button = QPushButton("Copy")
        self.copy_button.clicked.connect(self.copy_path)
        path_row = QHBoxLayout()
        path_row.addWidget(self.path, 1)
        path_row.addWidget(self.copy_button)
        self.view = QPlainTextEdit(view)
        self.view.setReadOnly(True)
        self.view.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.action_buttons: dict[str, QPushButton] = {}
        buttons = QHBoxLayout()
        for text, command in actions:
            button = QPushButton(text)
            button.clicked.connect(lambda _=False, c=command: c())
            buttons.addWidget(button)
            self.action_buttons[text] = button
        buttons.addStretch()
        close = QPushButton("Close")
        close.clicked.connect(self.close)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.sentence)
        layout.addLayout(path_row)
        layout.addWidget(self.view, 1)
        layout.addLayout(buttons)

    def copy_path(self) -> None:
        QGuiApplication.clipboard().setText(self.path.text())


def config_dialog(path: Path, actions: Sequence[Action]) -> PathDialog:
    return PathDialog(
        "Traymind config file",
        "No program on this desktop opens config.yaml, so here it is: copy its path to open "
        "it in your editor, or change the model in Models… without editing it. Traymind "
        "reloads it by itself when you save it.",
        path,
        file_text(path),
        actions,
    )


def logs_dialog(folder: Path, actions: Sequence[Action] = ()) -> PathDialog:
    return PathDialog(
        "Traymind logs",
        f"No program on this desktop opens folders, so here is the logs folder and the last "
        f"lines of {LOG_FILE}.",
        folder,
        log_tail(folder),
        actions,
    )
