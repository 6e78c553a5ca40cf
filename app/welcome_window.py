"""The welcome window: from a first launch to a chat app talking to an agent.

Four steps, each skippable: connect a model, let a chat app in (a key, or
unauthenticated local access), connect the chat app (snippets with that key filled
in), try it (the Chat window's widget). Finishing it, from the last step, sets the
``welcome_completed`` setting; the menu's "Welcome…" opens it again any time.

``FirstRun`` decides whether to open it at start: once the server first runs (or
fails to start), when the welcome was never completed and Traymind is not set up yet,
meaning no model connected or no way for a chat app in (no client key, and
unauthenticated local access off). Someone who set all that up by hand is not shown it.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QHideEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.background import Jobs
from app.chat_access import ChatAccess, local_base_url
from app.chat_window import ChatWidget
from app.icons import app_icon
from app.server_controller import ServerController
from app.welcome_steps import AccessStep, ConnectStep, ModelStep, default_model_status

TITLE = "Welcome to Traymind"
STEPS = (
    ("1. Connect a model", "Agents answer with a model: one on this computer, or a cloud one."),
    ("2. Let a chat app in", "Chat apps need a way in: a key of their own, or no key at all."),
    ("3. Connect your chat app", "Paste this into your chat app: the URL and key are filled in."),
    ("4. Try it", "Send a message to an agent and watch the answer stream in."),
)


def needs_welcome(
    completed: bool, model_connected: bool, has_keys: bool, allow_unauthenticated: bool
) -> bool:
    """Open the welcome at start? Not once completed, nor when everything is set up."""
    if completed:
        return False
    return not (model_connected and (has_keys or allow_unauthenticated))


class WelcomeWindow(QWidget):
    """The four steps, a list of them on the left, and Back / Skip / Next / Finish."""

    completed = Signal()

    def __init__(
        self,
        controller: ServerController,
        access: ChatAccess,
        allow_unauthenticated: Callable[[bool], None],
        listen_for_containers: Callable[[], str | None] | None = None,
    ) -> None:
        super().__init__()
        self.setWindowTitle(TITLE)
        self.setWindowIcon(app_icon())
        self.resize(860, 640)
        self.model_step = ModelStep(controller)
        self.access_step = AccessStep(controller, allow_unauthenticated)
        self.connect_step = ConnectStep(controller, listen_for_containers)
        self.chat = ChatWidget(controller, access)
        self.access_step.key_created.connect(self.connect_step.set_key)
        self.steps: list[QWidget] = [
            self.model_step,
            self.access_step,
            self.connect_step,
            self.chat,
        ]
        self.done = [False] * len(self.steps)
        for index, step in enumerate(self.steps[:3]):
            step.done.connect(lambda i=index: self._mark_done(i))

        self.step_list = QListWidget()
        self.step_list.addItems([title for title, _ in STEPS])
        self.step_list.setFixedWidth(210)
        self.step_list.currentRowChanged.connect(self.go_to)
        self.heading = QLabel()
        self.heading.setWordWrap(True)
        self.pages = QStackedWidget()
        for step in self.steps:
            self.pages.addWidget(step)
        self.back_button = QPushButton("Back")
        self.back_button.clicked.connect(lambda: self.go_to(self.current - 1))
        self.next_button = QPushButton("Skip")
        self.next_button.clicked.connect(self.next_step)
        buttons = QHBoxLayout()
        buttons.addWidget(self.back_button)
        buttons.addStretch()
        buttons.addWidget(self.next_button)
        right = QVBoxLayout()
        right.addWidget(self.heading)
        right.addWidget(self.pages, 1)
        right.addLayout(buttons)
        layout = QHBoxLayout(self)
        layout.addWidget(self.step_list)
        layout.addLayout(right, 1)
        self.chat.answered.connect(lambda: self._mark_done(3))
        self.go_to(0)

    @property
    def current(self) -> int:
        return self.pages.currentIndex()

    def go_to(self, index: int) -> None:
        index = max(0, min(index, len(self.steps) - 1))
        self.pages.setCurrentIndex(index)
        if self.step_list.currentRow() != index:
            self.step_list.setCurrentRow(index)
        title, about = STEPS[index]
        self.heading.setText(f"<h3>{title}</h3>{about}")
        self.back_button.setEnabled(index > 0)
        self._update_next()

    def _mark_done(self, index: int) -> None:
        self.done[index] = True
        item = self.step_list.item(index)
        item.setText(STEPS[index][0] + "  ✓")
        self._update_next()

    def _update_next(self) -> None:
        last = self.current == len(self.steps) - 1
        if last:
            self.next_button.setText("Finish")
        else:
            self.next_button.setText("Next" if self.done[self.current] else "Skip")

    def next_step(self) -> None:
        """Skip or Next: on to the next step; on the last one, Finish."""
        if self.current == len(self.steps) - 1:
            self.finish()
        else:
            self.go_to(self.current + 1)

    def finish(self) -> None:
        self.completed.emit()
        self.close()

    def hideEvent(self, event: QHideEvent) -> None:
        self.access_step.forget_key()  # a key is shown once: gone when the window closes
        self.connect_step.set_key(None)
        self.chat.stop()
        super().hideEvent(event)


class FirstRun(QObject):
    """Opens the welcome once at start when ``needs_welcome`` says so."""

    def __init__(
        self,
        controller: ServerController,
        completed: Callable[[], bool],
        show_welcome: Callable[[], None],
    ) -> None:
        super().__init__(controller)
        self.controller = controller
        self._completed = completed
        self._show = show_welcome
        self._jobs = Jobs()
        self.decided = False
        controller.phase_changed.connect(self._on_phase)

    @property
    def settled(self) -> bool:
        """The start-up decision was made (the welcome shown or not)."""
        return self.decided and not self._jobs.busy

    def _on_phase(self, phase: str) -> None:
        if self.decided or phase not in ("running", "error"):
            return
        self.decided = True
        self.controller.phase_changed.disconnect(self._on_phase)
        if self._completed():
            return
        handle = self.controller.handle
        if phase == "error" or handle is None or handle.state is None:
            self._show()  # not running: the welcome's first step can still help
            return
        url = local_base_url(handle.host, handle.port)
        has_keys = handle.state.authenticator.has_keys()
        unauthenticated = self.controller.allow_unauthenticated
        self._jobs.run(
            lambda: default_model_status(url),
            lambda default: self._decide(
                default.get("source") not in (None, "none"), has_keys, unauthenticated
            ),
            lambda _error: self._decide(False, has_keys, unauthenticated),
        )

    def _decide(self, model_connected: bool, has_keys: bool, unauthenticated: bool) -> None:
        if self.controller.phase != "running":
            return  # stopped or quitting meanwhile
        if needs_welcome(self._completed(), model_connected, has_keys, unauthenticated):
            self._show()
