"""The Chat window: try an agent, ``auto`` or a team, and watch the answer stream in.

It is a client of the embedded server's real ``/v1`` API, like any chat app (no
shortcut into the server), so it shows what a chat app would see: the agents of
``GET /v1/models``, the streamed answer with its tool calls (drawn as blocks instead
of raw ``<tool>`` tags), the agent ``auto`` resolved to (the chunks' ``model``), the
token usage (``stream_options.include_usage``) and errors as sentences. Each
conversation has its own ``X-Session-Id``; "New conversation" starts another.

Signing in: see ``app.chat_access`` (an owner credential only this process holds).
Network calls run off the GUI thread (``ChatStream``, ``Jobs``); results come back
by queued signal. ``ChatWidget`` is also embedded in the welcome window's last step.
"""

from __future__ import annotations

import uuid

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QKeyEvent, QShowEvent, QTextCursor
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from app.background import Jobs
from app.chat_access import ChatAccess
from app.chat_client import ChatError, ModelChoice, Usage, list_models
from app.chat_stream import ChatStream
from app.chat_transcript import Turn, messages_for, transcript_html
from app.icons import app_icon
from app.server_controller import ServerController

NOT_RUNNING = "Traymind's server is not running: choose “Start server” in the menu."
NO_MODELS = "There is no agent to talk to yet: add one to config.yaml."
ERROR_STYLE = "QLabel { color: #8a1010; }"
RENDER_MS = 30
QUIT_WAIT_S = 3.0


class MessageEdit(QPlainTextEdit):
    """The message box: Enter sends, Shift+Enter starts a new line."""

    submitted = Signal()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        enter = event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
        if enter and not event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
            self.submitted.emit()
            return
        super().keyPressEvent(event)


class ChatWidget(QWidget):
    """Model list, transcript, message box; one conversation at a time."""

    answered = Signal()  # an answer arrived in full

    def __init__(
        self, controller: ServerController, access: ChatAccess, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.controller = controller
        self.access = access
        self.turns: list[Turn] = []
        self.session_id = new_session_id()
        self.choices: list[ModelChoice] = []
        self._stream: ChatStream | None = None
        self._jobs = Jobs()
        self._render_timer = QTimer(self)
        self._render_timer.setSingleShot(True)
        self._render_timer.setInterval(RENDER_MS)
        self._render_timer.timeout.connect(self._render)

        self.models = QComboBox()
        self.models.setMinimumContentsLength(24)
        self.new_button = QPushButton("New conversation")
        self.new_button.clicked.connect(self.new_conversation)
        top = QHBoxLayout()
        top.addWidget(QLabel("Talk to:"))
        top.addWidget(self.models, 1)
        top.addWidget(self.new_button)

        self.view = QTextBrowser()
        self.view.setOpenLinks(False)
        self.input = MessageEdit()
        self.input.setPlaceholderText("Ask something. Enter sends, Shift+Enter adds a line.")
        self.input.setFixedHeight(72)
        self.input.submitted.connect(self.send)
        self.send_button = QPushButton("Send")
        self.send_button.clicked.connect(self.send)
        self.stop_button = QPushButton("Stop")
        self.stop_button.clicked.connect(self.stop)
        bottom = QHBoxLayout()
        bottom.addWidget(self.input, 1)
        buttons = QVBoxLayout()
        buttons.addWidget(self.send_button)
        buttons.addWidget(self.stop_button)
        bottom.addLayout(buttons)

        self.agent_label = QLabel()
        self.usage_label = QLabel()
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        facts = QHBoxLayout()
        facts.addWidget(self.agent_label, 1)
        facts.addWidget(self.usage_label)

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.view, 1)
        layout.addLayout(facts)
        layout.addWidget(self.message)
        layout.addLayout(bottom)
        controller.phase_changed.connect(self._on_phase)
        controller.reloaded.connect(self.refresh_models)
        controller.reloaded_from_disk.connect(self.refresh_models)
        self._set_streaming(False)

    # --- the model list ----------------------------------------------------------------

    @property
    def busy(self) -> bool:
        """A model list is loading or an answer is streaming."""
        return self._jobs.busy or self._stream is not None

    def selected_model(self) -> str | None:
        data = self.models.currentData()
        return str(data) if data else None

    def select_model(self, model_id: str) -> bool:
        index = self.models.findData(model_id)
        if index >= 0:
            self.models.setCurrentIndex(index)
        return index >= 0

    def refresh_models(self) -> None:
        """Ask the server for its agents and teams, in the background."""
        connection = self.access.connection()
        if connection is None:
            self._show_models([])
            self.say(NOT_RUNNING, error=True)
            return
        self._jobs.run(lambda: list_models(connection), self._models_loaded, self._models_failed)

    def _models_loaded(self, choices: list[ModelChoice]) -> None:
        self._show_models(choices)
        if not choices:
            self.say(NO_MODELS, error=True)
        elif self.message.text() in (NOT_RUNNING, NO_MODELS):
            self.say("")

    def _models_failed(self, error: BaseException) -> None:
        self._show_models([])
        self.say(str(error) if isinstance(error, ChatError) else NOT_RUNNING, error=True)

    def _show_models(self, choices: list[ModelChoice]) -> None:
        previous = self.selected_model()
        self.choices = choices
        self.models.clear()
        for choice in choices:
            self.models.addItem(choice.label, choice.id)
        if previous is not None:
            self.select_model(previous)
        self.models.setEnabled(bool(choices))
        self._set_streaming(self._stream is not None)

    def _on_phase(self, phase: str) -> None:
        if phase == "running":
            self.refresh_models()
        elif phase in ("stopped", "error"):
            self._show_models([])
            self.say(NOT_RUNNING, error=True)

    # --- sending -----------------------------------------------------------------------

    def send(self) -> None:
        question = self.input.toPlainText().strip()
        model = self.selected_model()
        if not question or self._stream is not None:
            return
        connection = self.access.connection()
        if connection is None:
            self.say(NOT_RUNNING, error=True)
            return
        if model is None:
            self.say(NO_MODELS, error=True)
            return
        messages = messages_for(self.turns, question)
        turn = Turn(question, model)
        self.turns.append(turn)
        self.input.clear()
        self.say("")
        self.agent_label.setText(f"Asking {model}…")
        stream = ChatStream(connection, model, messages, self.session_id)
        queued = Qt.ConnectionType.QueuedConnection
        stream.delta.connect(lambda text, agent: self._on_delta(stream, turn, text, agent), queued)
        stream.usage.connect(lambda usage: self._on_usage(stream, turn, usage), queued)
        stream.failed.connect(
            lambda sentence, status: self._on_failed(stream, turn, sentence, status), queued
        )
        stream.finished.connect(lambda: self._on_finished(stream, turn), queued)
        self._stream = stream
        self._set_streaming(True)
        self._render()
        stream.start()

    def _current(self, stream: ChatStream) -> bool:
        return stream is self._stream and not stream.cancelled

    def _on_delta(self, stream: ChatStream, turn: Turn, text: str, agent: str) -> None:
        if self._current(stream):
            turn.answer += text
            if agent:
                turn.agent = agent
                self.agent_label.setText(f"Answering: {turn.answered_by}")
            self._render_timer.start()

    def _on_usage(self, stream: ChatStream, turn: Turn, usage: Usage) -> None:
        if self._current(stream):
            turn.usage = usage
            self.usage_label.setText(f"Tokens: {usage.text}")
            self._render_timer.start()

    def _on_failed(self, stream: ChatStream, turn: Turn, sentence: str, status: int) -> None:
        if self._current(stream):
            turn.error = sentence
            turn.state = "failed"
            self.say(sentence, error=True)
            if status == 404:  # the agent is gone: show what there is now
                self.refresh_models()

    def _on_finished(self, stream: ChatStream, turn: Turn) -> None:
        if stream is not self._stream:
            return
        self._stream = None
        if turn.state == "streaming":
            turn.state = "done"
            self.agent_label.setText(f"Answered by {turn.answered_by}")
            self.answered.emit()
        self._set_streaming(False)
        self._render()

    def stop(self) -> None:
        """Stop the answer being streamed (what arrived so far stays)."""
        stream = self._stream
        if stream is None:
            return
        stream.cancel()
        self._stream = None
        if self.turns and self.turns[-1].state == "streaming":
            self.turns[-1].state = "stopped"
        self._set_streaming(False)
        self._render()

    def new_conversation(self) -> None:
        """Forget the transcript and use a new session id from the next message."""
        self.stop()
        self.turns = []
        self.session_id = new_session_id()
        self.agent_label.clear()
        self.usage_label.clear()
        self.say("")
        self._render()

    def shutdown(self) -> None:
        """At quit: stop streaming and let the worker end (the server ends its stream)."""
        stream = self._stream
        self.stop()
        if stream is not None:
            stream.wait(QUIT_WAIT_S)

    # --- showing -----------------------------------------------------------------------

    def say(self, sentence: str, *, error: bool = False) -> None:
        self.message.setText(sentence)
        self.message.setStyleSheet(ERROR_STYLE if error else "")
        self.message.setVisible(bool(sentence))

    def _set_streaming(self, streaming: bool) -> None:
        self.send_button.setEnabled(not streaming and bool(self.choices))
        self.stop_button.setEnabled(streaming)
        self.models.setEnabled(not streaming and bool(self.choices))

    def _render(self) -> None:
        self._render_timer.stop()
        self.view.setHtml(transcript_html(self.turns))
        self.view.moveCursor(QTextCursor.MoveOperation.End)
        self.view.ensureCursorVisible()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self._jobs.busy:
            self.refresh_models()


def new_session_id() -> str:
    return f"chat-{uuid.uuid4().hex[:16]}"


class ChatWindow(QWidget):
    """The menu's "Chat…": a ``ChatWidget`` in a window of its own."""

    def __init__(self, controller: ServerController, access: ChatAccess) -> None:
        super().__init__()
        self.setWindowTitle("Traymind chat")
        self.setWindowIcon(app_icon())
        self.resize(720, 600)
        self.chat = ChatWidget(controller, access, self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.chat)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.chat.stop()
        super().closeEvent(event)
