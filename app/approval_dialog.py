"""The tray asks the person at the desktop: may this agent do this?

``ApprovalPrompter`` watches the server's approval broker (through the controller's
``approvals_changed``, on the GUI thread): each new request gets one notification, and
the oldest one waiting is shown in an ``ApprovalDialog`` with the agent, the tool, its
arguments in full (and the diff a file write would make), the client and the session.
Its buttons decide through the same broker that ``/api/approvals`` and ``traymind
approvals`` use, so a request decided elsewhere (or timed out, or withdrawn by a client
that left) closes here by itself. Closing the window denies: nothing runs unless
someone said yes.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtGui import QCloseEvent, QFontDatabase
from PySide6.QtWidgets import (
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
)

from app.icons import app_icon
from app.server_controller import ServerController
from app.status_text import plural
from server.approvals.broker import PendingApproval, arguments_text

TITLE = "Allow this action?"


def left_text(deadline: float, now: float | None = None) -> str:
    seconds = max(0, round(deadline - (time.time() if now is None else now)))
    return f"{seconds} s, then it is denied"


class ApprovalDialog(QDialog):
    """One waiting tool call and the three answers to it."""

    def __init__(
        self,
        decide: Callable[[str, bool, bool], None],
        label: Callable[[str], str] = lambda agent_id: agent_id,
    ) -> None:
        """``label``: an agent's display name (its id when it has none)."""
        super().__init__()
        self._decide = decide
        self._label = label
        self.pending: PendingApproval | None = None
        self.setWindowTitle(TITLE)
        self.setWindowIcon(app_icon())
        self.resize(620, 480)
        self.heading = QLabel()
        self.heading.setWordWrap(True)
        self.fields: dict[str, QLabel] = {}
        form = QFormLayout()
        for name in ("Agent", "Tool", "Client", "Session", "Time left"):
            label = QLabel()
            label.setTextFormat(Qt.TextFormat.PlainText)  # client-sent text: never markup
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            label.setWordWrap(True)
            self.fields[name] = label
            form.addRow(name + ":", label)
        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        self.arguments = QPlainTextEdit()
        self.arguments.setReadOnly(True)
        self.arguments.setFont(mono)
        self.preview_title = QLabel("What it would change:")
        self.preview = QPlainTextEdit()
        self.preview.setReadOnly(True)
        self.preview.setFont(mono)
        self.waiting = QLabel()
        note = QLabel("Closing this window denies the action.")
        note.setStyleSheet("color: palette(mid);")
        self.allow_button = QPushButton("Allow once")
        self.always_button = QPushButton("Always allow for this agent")
        self.deny_button = QPushButton("Deny")
        self.allow_button.clicked.connect(lambda: self._answer(True, False))
        self.always_button.clicked.connect(lambda: self._answer(True, True))
        self.deny_button.clicked.connect(lambda: self._answer(False, False))
        self.deny_button.setDefault(True)  # Enter never allows by accident
        buttons = QHBoxLayout()
        buttons.addWidget(self.waiting)
        buttons.addStretch()
        for button in (self.allow_button, self.always_button, self.deny_button):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.heading)
        layout.addLayout(form)
        layout.addWidget(QLabel("Arguments:"))
        layout.addWidget(self.arguments, 1)
        layout.addWidget(self.preview_title)
        layout.addWidget(self.preview, 2)
        layout.addWidget(note)
        layout.addLayout(buttons)
        self._clock = QTimer(self)
        self._clock.setInterval(1000)
        self._clock.timeout.connect(self._tick)

    def show_request(self, pending: PendingApproval, others: int) -> None:
        request = pending.request
        if self.pending is None or self.pending.id != pending.id:
            self.pending = pending
            name = self._label(request.agent)
            self.heading.setText(
                f"<b>{_escape(name)}</b> wants to use <b>{_escape(request.tool)}</b>. "
                "It waits until you decide."
            )
            shown = name if name == request.agent else f"{name} ({request.agent})"
            self.fields["Agent"].setText(shown)
            self.fields["Tool"].setText(request.tool)
            self.fields["Client"].setText(request.client or "unknown")
            self.fields["Session"].setText(request.session or "(none)")
            self.arguments.setPlainText(arguments_text(request.arguments))
            self.preview.setPlainText(request.preview or "")
            self.preview.setVisible(bool(request.preview))
            self.preview_title.setVisible(bool(request.preview))
        self.waiting.setText(f"{plural(others, 'more request')} waiting" if others else "")
        self._tick()
        self._clock.start()
        self.show()
        self.raise_()
        self.activateWindow()

    def clear(self) -> None:
        self.pending = None
        self._clock.stop()
        self.hide()

    def _tick(self) -> None:
        if self.pending is not None:
            self.fields["Time left"].setText(left_text(self.pending.deadline))

    def _answer(self, allow: bool, always: bool) -> None:
        if self.pending is not None:
            self._decide(self.pending.id, allow, always)

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.pending is not None:
            self._decide(self.pending.id, False, False)
        super().closeEvent(event)

    def reject(self) -> None:  # Escape: the same as closing
        self.close()


class ApprovalPrompter(QObject):
    """One notification per new request; the oldest waiting one in the dialog."""

    def __init__(
        self,
        controller: ServerController,
        notify: Callable[[str], None],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.controller = controller
        self._notify = notify
        self._announced: set[str] = set()
        self.dialog = ApprovalDialog(self.decide, self._agent_name)
        controller.approvals_changed.connect(self.refresh)

    def _agent_name(self, agent_id: str) -> str:
        agents = self.controller.snapshot().get("agents") or []
        found = next((a for a in agents if a.get("id") == agent_id), None)
        return str(found.get("name") or agent_id) if found else agent_id

    def decide(self, approval_id: str, allow: bool, always: bool) -> None:
        self.controller.approvals.decide(approval_id, allow, by="tray", always=always)
        self.refresh()

    def show_waiting(self) -> None:
        """Bring the dialog back (a click on the notification)."""
        self.refresh()

    def refresh(self) -> None:
        pending = self.controller.approvals.pending()
        for item in pending:
            if item.id not in self._announced:
                self._announced.add(item.id)
                r = item.request
                self._notify(f"{self._agent_name(r.agent)} asks to use {r.tool}. Allow it?")
        self._announced &= {p.id for p in pending}
        if not pending:
            self.dialog.clear()
            return
        current = self.dialog.pending
        shown = next((p for p in pending if current and p.id == current.id), pending[0])
        self.dialog.show_request(shown, len(pending) - 1)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
