"""The live status window: the server, its agents, sessions, recent requests and sources.

It reads the status hub's snapshot when the controller says something changed
(coalesced to a few times a second) and only while it is visible, so a busy
server never keeps a hidden window busy.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QCloseEvent, QShowEvent
from PySide6.QtWidgets import (
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.activity_chart import ActivityChart
from app.icons import app_icon
from app.server_controller import ServerController
from app.server_problems import runtime_problems
from app.status_text import (
    agent_model_text,
    auth_text,
    clock,
    config_problem_text,
    default_model_text,
    duration,
    knowledge_problem_text,
    knowledge_state_text,
    mcp_state_text,
    plural,
)
from app.table_model import Row, RowsModel
from app.tray import MenuCommands, TrayMenu
from server.approvals.broker import DecisionRecord

AGENT_HEADERS = ("ID", "Name", "Model (provider)", "State", "Requests", "Last used", "Last error")
SESSION_HEADERS = ("Session", "Agent", "Client", "Key from", "Turns", "Last activity", "Streaming")
REQUEST_HEADERS = ("Time", "Model", "Session", "Status", "Latency", "Error")
KNOWLEDGE_HEADERS = ("Name", "State", "Files", "Chunks", "Last sync", "Folder", "Error")
MCP_HEADERS = ("Name", "Transport", "State", "Error")
APPROVAL_HEADERS = ("Time", "Agent", "Tool", "Decision", "By", "Client", "Session", "Arguments")
BANNER_STYLE = (
    "QLabel { background: #fff4d6; color: #4a3800; border: 1px solid #e6c35c;"
    " border-radius: 4px; padding: 6px; }"
)


def agent_model(agent: dict[str, Any], model_label: Any) -> str:
    """The agent's model as the server describes it; the controller's label for older hubs."""
    if "provider" not in agent:
        return str(model_label(agent["model"]))
    return agent_model_text(agent["model"], agent["provider"], agent.get("model_id"))


def agent_rows(snapshot: dict[str, Any], model_label: Any) -> list[Row]:
    return [
        (
            a["id"],
            a["name"],
            agent_model(a, model_label),
            f"running {a['running']}" if a["running"] else "idle",
            str(a["requests"]),
            clock(a["last_used"]),
            a["last_error"] or "",
        )
        for a in snapshot["agents"]
    ]


def session_rows(snapshot: dict[str, Any]) -> list[Row]:
    sessions = sorted(snapshot["sessions"], key=lambda s: s["last_activity"], reverse=True)
    return [
        (
            s["key"],
            s["agent"],
            s["client"],
            s.get("key_source") or "—",
            str(s["turns"]),
            clock(s["last_activity"]),
            "streaming now" if s["streaming"] else "no",
        )
        for s in sessions
    ]


def request_rows(snapshot: dict[str, Any]) -> list[Row]:
    """Newest first; a request that named no model (``/v1/models``) shows its path."""
    return [
        (
            clock(r["time"]),
            r["model"] or r.get("path") or "?",
            r["session"] or "(none)",
            str(r["status"]),
            f"{r['latency_ms']:.0f} ms",
            " ".join((r.get("error") or "").split())[:120],
        )
        for r in reversed(snapshot["recent_requests"])
    ]


def request_details(r: dict[str, Any]) -> str:
    """Everything one request's record says, for the pane under the table."""
    lines = [
        f"{r.get('path') or '?'} at {clock(r['time'])}: HTTP {r['status']}, "
        f"{r['latency_ms']:.0f} ms" + (" (streamed)" if r.get("streaming") else ""),
        f"Client: {r.get('client') or '?'}"
        + (f", key from {r['key_source']}" if r.get("key_source") else ""),
        f"Model asked: {r['model'] or '(none)'}"
        + (f"; answered by: {r['agent']}" if r.get("agent") else ""),
        f"Session: {r['session'] or '(none)'}",
    ]
    if r.get("first_event_ms") is not None:
        lines.append(f"First event after: {r['first_event_ms']:.0f} ms")
    if r.get("tools"):
        lines.append(f"Tool calls: {', '.join(r['tools'])}")
    if r.get("input_tokens") or r.get("output_tokens"):
        lines.append(f"Usage: {r['input_tokens']} tokens in, {r['output_tokens']} out")
    if r.get("error"):
        lines.append(f"Error: {r['error']}")
    return "\n".join(lines)


def approval_rows(records: list[DecisionRecord]) -> list[Row]:
    """Tool approvals, newest first: who allowed or denied what, and when."""
    return [
        (
            clock(r.time),
            r.agent,
            r.tool,
            "allowed" if r.allowed else "denied",
            r.by,
            r.client or "?",
            r.session or "(none)",
            r.summary,
        )
        for r in reversed(records)
    ]


def knowledge_rows(snapshot: dict[str, Any]) -> list[Row]:
    bases = snapshot.get("knowledge_bases") or {}
    rows = []
    for name, base in sorted(bases.items()):
        folder = base.get("path") or ""
        if base.get("git"):
            folder = f"{folder} (from {base['git']})"
        rows.append(
            (
                name,
                knowledge_state_text(base),
                str(base.get("files", 0)),
                str(base.get("chunks", 0)),
                clock(base.get("last_sync")),
                folder,
                knowledge_problem_text(base),
            )
        )
    return rows


def mcp_rows(snapshot: dict[str, Any]) -> list[Row]:
    servers = snapshot.get("mcp_servers") or {}
    return [
        (
            name,
            str(server.get("transport") or ""),
            mcp_state_text(server),
            server.get("error") or "",
        )
        for name, server in sorted(servers.items())
    ]


def sources_title(knowledge: list[Row], mcp: list[Row]) -> str:
    """``Sources (3)``, or ``Sources (3, 1 problem)`` when a base or a server failed."""
    problems = sum(1 for r in knowledge if r[1].startswith("error")) + sum(
        1 for r in mcp if r[2].startswith("failed")
    )
    count = len(knowledge) + len(mcp)
    return f"Sources ({count}, {plural(problems, 'problem')})" if problems else f"Sources ({count})"


def _table(model: RowsModel) -> QTableView:
    view = QTableView()
    view.setModel(model)
    view.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
    view.setEditTriggers(QTableView.EditTrigger.NoEditTriggers)
    view.verticalHeader().setVisible(False)
    view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    view.horizontalHeader().setStretchLastSection(True)
    return view


class StatusWindow(QWidget):
    """Server facts, then tabs of agents, sessions, recent requests and sources, all live."""

    def __init__(
        self, controller: ServerController, commands: MenuCommands, menu: TrayMenu
    ) -> None:
        super().__init__()
        self.controller = controller
        self.commands = commands
        self.quit_on_close = False
        self.tray_note: str | None = None
        self.setWindowTitle("Traymind status")
        self.setWindowIcon(app_icon())
        self.resize(860, 560)

        self.banner = QLabel()
        self.banner.setWordWrap(True)
        self.banner.setStyleSheet(BANNER_STYLE)
        self.banner.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.use_port_button = QPushButton()
        self.use_port_button.clicked.connect(self._use_port)
        self.open_config_button = QPushButton("Open config")
        self.open_config_button.clicked.connect(commands.open_config)
        self.models_button = QPushButton("Models…")
        self.models_button.clicked.connect(commands.show_models)
        fixes = QHBoxLayout()
        fixes.addWidget(self.use_port_button)
        fixes.addWidget(self.open_config_button)
        fixes.addWidget(self.models_button)
        fixes.addStretch()

        self.fields: dict[str, QLabel] = {}
        form = QFormLayout()
        for name in (
            "State",
            "URL",
            "Listening on",
            "Auth",
            "Key sources",
            "Default model",
            "Uptime",
            "Requests served",
            "Errors",
            "Config file",
        ):
            label = QLabel()
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            label.setWordWrap(True)
            self.fields[name] = label
            form.addRow(name + ":", label)

        self.agents = RowsModel(AGENT_HEADERS)
        self.sessions = RowsModel(SESSION_HEADERS)
        self.requests = RowsModel(REQUEST_HEADERS)
        self.knowledge = RowsModel(KNOWLEDGE_HEADERS)
        self.mcp = RowsModel(MCP_HEADERS)
        self.approvals = RowsModel(APPROVAL_HEADERS)
        self.knowledge_title = QLabel()
        self.mcp_title = QLabel()
        sources = QWidget()
        sources_layout = QVBoxLayout(sources)
        sources_layout.addWidget(self.knowledge_title)
        sources_layout.addWidget(_table(self.knowledge), 1)
        sources_layout.addWidget(self.mcp_title)
        sources_layout.addWidget(_table(self.mcp), 1)
        self.tabs = QTabWidget()
        self.tabs.addTab(_table(self.agents), "Agents")
        self.tabs.addTab(_table(self.sessions), "Sessions")
        self._recent: list[dict[str, Any]] = []  # the records behind the requests' rows
        self.requests_view = _table(self.requests)
        self.requests_view.selectionModel().currentRowChanged.connect(self._show_request)
        self.request_details = QPlainTextEdit()
        self.request_details.setReadOnly(True)
        self.request_details.setPlaceholderText("Select a request to see its details.")
        self.request_details.setMaximumHeight(110)
        requests = QWidget()
        requests_layout = QVBoxLayout(requests)
        requests_layout.addWidget(self.requests_view, 1)
        requests_layout.addWidget(self.request_details)
        self.tabs.addTab(requests, "Recent requests")
        self.tabs.addTab(sources, "Sources")
        self.tabs.addTab(_table(self.approvals), "Approvals")

        self.menu_button = QPushButton("Menu")
        self.menu_button.setMenu(menu.menu)
        self.agents_button = QPushButton("Agents…")
        self.agents_button.clicked.connect(commands.show_agents)
        bottom = QHBoxLayout()
        bottom.addWidget(self.menu_button)
        bottom.addWidget(self.agents_button)
        bottom.addStretch()
        close = QPushButton("Close")
        close.clicked.connect(self.close)
        bottom.addWidget(close)

        layout = QVBoxLayout(self)
        layout.addWidget(self.banner)
        layout.addLayout(fixes)
        layout.addLayout(form)
        self.chart = ActivityChart()
        layout.addWidget(self.chart)
        layout.addWidget(self.tabs, 1)
        layout.addLayout(bottom)

        self._tick = QTimer(self)
        self._tick.setInterval(1000)
        self._tick.timeout.connect(self._refresh_clock)
        controller.status_changed.connect(self._on_status)
        controller.approvals_changed.connect(self._on_status)
        self.refresh()

    # --- refreshing --------------------------------------------------------------------

    def _on_status(self) -> None:
        if self.isVisible():
            self.refresh()

    def showEvent(self, event: QShowEvent) -> None:
        self.refresh()
        self._tick.start()
        super().showEvent(event)

    def closeEvent(self, event: QCloseEvent) -> None:
        self._tick.stop()
        super().closeEvent(event)
        if self.quit_on_close:
            self.commands.quit()

    def refresh(self) -> None:
        c = self.controller
        snapshot = c.snapshot()
        self._refresh_banner(snapshot)
        server = snapshot["server"]
        running = c.phase == "running"
        self.fields["State"].setText(c.phase)
        self.fields["URL"].setText(c.url or "—")
        self.fields["Listening on"].setText(server.get("listen", "—") if running else "—")
        self.fields["Auth"].setText(auth_text(c.auth_mode()))
        self.fields["Requests served"].setText(str(snapshot["requests_served"]))
        self.fields["Errors"].setText(str(snapshot["errors"]))
        self.fields["Config file"].setText(str(c.config_path()) if running else "—")
        default = snapshot.get("default_model")
        self.fields["Default model"].setText(default_model_text(default) if running else "—")
        self._refresh_clock(snapshot)
        self.agents.set_rows(agent_rows(snapshot, c.model_label))
        self.sessions.set_rows(session_rows(snapshot))
        selected = self._selected_request()
        self._recent = list(reversed(snapshot["recent_requests"]))
        self.requests.set_rows(request_rows(snapshot))
        self.chart.set_minutes(snapshot.get("per_minute") or [])
        if selected is not None and selected in self._recent:  # keep it selected as rows arrive
            self.requests_view.selectRow(self._recent.index(selected))
        self._show_request(self.requests_view.currentIndex())
        self.tabs.setTabText(1, f"Sessions ({c.active_sessions()} active)")
        self.tabs.setTabText(2, f"Recent requests ({len(snapshot['recent_requests'])})")
        self._refresh_sources(snapshot if running else {})
        waiting = len(c.approvals.pending())
        self.approvals.set_rows(approval_rows(c.approvals.recent()))
        self.tabs.setTabText(4, f"Approvals ({waiting} waiting)" if waiting else "Approvals")

    def _selected_request(self) -> dict[str, Any] | None:
        row = self.requests_view.currentIndex().row()
        return self._recent[row] if 0 <= row < len(self._recent) else None

    def _show_request(self, current: Any, _previous: Any = None) -> None:
        row = current.row() if current is not None else -1
        record = self._recent[row] if 0 <= row < len(self._recent) else None
        self.request_details.setPlainText(request_details(record) if record else "")

    def _refresh_sources(self, snapshot: dict[str, Any]) -> None:
        """Knowledge bases and MCP servers of the running config (none while stopped)."""
        knowledge, mcp = knowledge_rows(snapshot), mcp_rows(snapshot)
        self.knowledge.set_rows(knowledge)
        self.mcp.set_rows(mcp)
        self.knowledge_title.setText(
            f"Knowledge bases ({len(knowledge)})" if knowledge else "Knowledge bases: none"
        )
        self.mcp_title.setText(f"MCP servers ({len(mcp)})" if mcp else "MCP servers: none")
        self.tabs.setTabText(3, sources_title(knowledge, mcp))

    def _refresh_clock(self, snapshot: dict[str, Any] | None = None) -> None:
        """Once a second: the uptime, and the key sources (another process may add keys)."""
        c = self.controller
        snapshot = snapshot or c.snapshot()
        running = c.phase == "running"
        self.fields["Uptime"].setText(duration(snapshot["uptime_seconds"]) if running else "—")
        self.fields["Key sources"].setText(", ".join(c.key_sources()) or "none")

    def _refresh_banner(self, snapshot: dict[str, Any]) -> None:
        c = self.controller
        notes = [self.tray_note] if self.tray_note else []
        config = snapshot.get("config") or {}
        bad_edit = config_problem_text(config) if c.phase == "running" else None
        known = str(config.get("message") or "")
        # The watcher's bad edit, mirrored as the controller's failure, is told once, in full.
        if c.failure is not None and not (bad_edit and known and known in c.failure.message):
            notes.append(c.failure.message)
        if c.warning is not None and c.phase == "running":
            notes.append(c.warning.message)
        keystore = snapshot.get("keystore") or {}
        if keystore.get("state") == "unavailable":
            notes.append(keystore.get("message", "No usable OS keyring."))
        if c.phase == "running":  # a failing provider, a dead MCP server, a full disk...
            notes += list(runtime_problems(snapshot).values())
        if bad_edit is not None and not (known and any(known in note for note in notes)):
            notes.append(bad_edit)  # the watcher's reload (Reload config reports as a failure)
        self.banner.setText("\n\n".join(notes))
        self.banner.setVisible(bool(notes))
        port = c.failure.free_port if c.failure is not None and c.phase == "error" else None
        self.use_port_button.setVisible(port is not None)
        self.use_port_button.setText(f"Use port {port} instead")
        config_problem = bad_edit is not None or (
            c.failure is not None and c.failure.kind in ("config", "reload")
        )
        self.open_config_button.setVisible(config_problem)
        no_model = c.warning is not None and c.warning.kind == "provider" and c.phase == "running"
        self.models_button.setVisible(no_model)

    def _use_port(self) -> None:
        failure = self.controller.failure
        if failure is not None and failure.free_port is not None:
            self.commands.use_port(failure.free_port)
