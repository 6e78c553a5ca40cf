"""The agent form's MCP servers: which the agent uses, new ones, a Test, the allow-list.

An agent's ``{mcp: {server: name, allow: [...]}}`` entries come from the ticked servers.
"Add server…" takes a name and a command (run over stdio) or an http(s) URL, and the
server is created under ``mcp_servers`` when the agent is saved. "Test" starts the
selected server off the GUI thread (``server.mcp.probe``, the runtime's own
connection), lists its tools and stops it; the tools then become the allow-list: a
tool left unticked is one the agent is not given (``allow`` is written only when some
tool is unticked, and an entry's other options stay as the file has them).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
)

from app.agent_form_tools import MCP, InlineAdd, checkable, error_label, set_error
from app.background import Jobs
from app.status_text import mcp_state_text
from server.mcp.probe import McpProbeFailed, McpTool, probe_server, server_config
from server.tools.ref import ToolRef

NAME_RULE = "Give the server a name (letters, digits, '_' or '-'), and a command or URL."
HOST_PORT = re.compile(r"^[\w.-]+:\d+(/\S*)?$")  # localhost:9000/mcp: a URL without its scheme


def server_values(command_or_url: str) -> dict[str, object]:
    """What ``mcp_servers.<name>`` holds for a typed command line or URL."""
    text = command_or_url.strip()
    if text.startswith(("http://", "https://")):
        return {"url": text}
    words = shlex.split(text)
    if not words:
        return {}
    return {"command": words[0], **({"args": words[1:]} if len(words) > 1 else {})}


def describe(values: Mapping[str, object]) -> str:
    """One line for a server entry: its URL, or its command line."""
    if values.get("url"):
        return str(values["url"])
    args = values.get("args") if isinstance(values.get("args"), list) else []
    return shlex.join([str(values.get("command", "")), *(str(a) for a in args or [])])


def checked(items: QListWidget) -> list[str]:
    rows = [items.item(i) for i in range(items.count())]
    on = Qt.CheckState.Checked
    return [str(r.data(Qt.ItemDataRole.UserRole)) for r in rows if r.checkState() == on]


class McpBox(QGroupBox):
    """The MCP servers of config.yaml (and new ones) the agent may use; see the module doc."""

    changed = Signal()

    def __init__(self) -> None:
        super().__init__("MCP servers")
        self._jobs = Jobs()
        self._base_dir: Path | None = None
        self.known: dict[str, dict[str, Any]] = {}  # name -> mcp_servers values (file + new)
        self.pending: dict[str, dict[str, object]] = {}  # new servers, created on save
        self.removed: set[str] = set()  # servers to delete from mcp_servers on save
        self._states: dict[str, str] = {}  # name -> the server's live state, as shown
        self.allow: dict[str, list[str] | None] = {}  # the agent's allow-list per server
        self.tools_of: dict[str, list[McpTool]] = {}  # what Test listed
        self.servers = QListWidget()
        self.servers.setMaximumHeight(90)
        self.servers.itemChanged.connect(lambda _item: self.changed.emit())
        self.servers.currentItemChanged.connect(lambda *_: self._show_selected())
        self.note = QLabel("None yet: add one (a command such as npx … or an http(s) URL).")
        self.note.setWordWrap(True)
        self.add_button = QPushButton("Add server…")
        self.add_button.clicked.connect(self._open_add)
        self.test_button = QPushButton("Test")
        self.test_button.setToolTip("Start the selected server, list its tools, stop it")
        self.test_button.clicked.connect(self.test_selected)
        self.remove_button = QPushButton("Remove")
        self.remove_button.setToolTip("Delete the selected server from config.yaml on save")
        self.remove_button.clicked.connect(self.remove_selected)
        self.detail = QLabel()
        self.detail.setWordWrap(True)
        self.detail.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.tools = QListWidget()
        self.tools.setMaximumHeight(110)
        self.tools.setToolTip("Untick a tool to keep it from this agent")
        self.tools.itemChanged.connect(self._allow_changed)
        self.tools.hide()
        self.adding = InlineAdd(
            "name, e.g. github",
            "a command (npx -y @scope/server …) or an http(s) URL",
            self.add_server,
        )
        self.new_name, self.new_command = self.adding.first, self.adding.second
        self.confirm_add = self.adding.confirm
        self.error = error_label()
        buttons = QHBoxLayout()
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.test_button)
        buttons.addWidget(self.remove_button)
        buttons.addStretch()
        layout = QVBoxLayout(self)
        layout.addWidget(self.servers)
        layout.addWidget(self.note)
        layout.addLayout(buttons)
        layout.addWidget(self.adding)
        layout.addWidget(self.detail)
        layout.addWidget(self.tools)
        layout.addWidget(self.error)

    @property
    def busy(self) -> bool:
        return self._jobs.busy

    def load(
        self, known: Mapping[str, object], refs: list[ToolRef], base_dir: Path | None = None
    ) -> None:
        """``known``: config.yaml's ``mcp_servers``; ``refs``: the agent's tool entries."""
        self._base_dir = base_dir
        self.known = {k: dict(v) if isinstance(v, dict) else {} for k, v in known.items()}
        self.pending, self.tools_of, self.removed, self._states = {}, {}, set(), {}
        used = [r for r in refs if r.name == MCP]
        self.allow = {}
        for ref in used:
            allow = ref.options.get("allow")
            self.allow[str(ref.options.get("server"))] = list(allow) if allow else None
        self.servers.blockSignals(True)
        self.servers.clear()
        for name in dict.fromkeys([*self.known, *self.allow]):
            self.servers.addItem(checkable(name, name, name in self.allow))
        self.servers.blockSignals(False)
        self.adding.hide()
        set_error(self.error, "")
        self._show_selected()

    def checked(self) -> list[str]:
        return checked(self.servers)

    def remove_selected(self) -> None:
        """Take the selected server out of the list; a configured one is deleted on save
        (refused then if another agent still uses it)."""
        name = self.selected()
        if name is None:
            return
        if name in self.pending:
            del self.pending[name]
        else:
            self.removed.add(name)
        self.known.pop(name, None)
        self.allow.pop(name, None)
        self.tools_of.pop(name, None)
        self.servers.takeItem(self.servers.currentRow())
        self._show_selected()
        self.changed.emit()

    def show_status(self, servers: Mapping[str, Mapping[str, Any]]) -> None:
        """The server's live state of each MCP server (from the status snapshot)."""
        self.servers.blockSignals(True)
        for i in range(self.servers.count()):
            item = self.servers.item(i)
            name = str(item.data(Qt.ItemDataRole.UserRole))
            server = servers.get(name)
            text = f"{name} (new)" if name in self.pending else name
            if server is not None and name not in self.pending:
                text += f" · {mcp_state_text(server)}"
                if server.get("error"):
                    text += f": {str(server['error'])[:160]}"
            if item.text() != text:
                item.setText(text)
        self.servers.blockSignals(False)

    def new_servers(self) -> dict[str, dict[str, object]]:
        """The servers added here that are ticked: to create under ``mcp_servers``."""
        chosen = self.checked()
        return {k: v for k, v in self.pending.items() if k in chosen}

    def updated(self, refs: list[ToolRef]) -> list[ToolRef]:
        wanted = self.checked()
        out: list[ToolRef] = []
        for ref in refs:
            server = ref.options.get("server")
            if ref.name != MCP:
                out.append(ref)
            elif server in wanted:
                out.append(self._with_allow(ref, str(server)))
        listed = {r.options.get("server") for r in refs if r.name == MCP}
        out += [
            self._with_allow(ToolRef(name=MCP, options={"server": s}), s)
            for s in wanted
            if s not in listed
        ]
        return out

    def _with_allow(self, ref: ToolRef, server: str) -> ToolRef:
        options = dict(ref.options)
        allow = self.allow.get(server)
        if allow is None:
            options.pop("allow", None)
        else:
            options["allow"] = allow
        return ToolRef(name=MCP, options=options)

    # --- adding ------------------------------------------------------------------------

    def _open_add(self) -> None:
        self.adding.open()

    def add_server(self) -> None:
        name = self.new_name.text().strip()
        try:
            values = server_values(self.new_command.text())
        except ValueError as exc:  # an unclosed quote
            set_error(self.error, f"The command line cannot be read: {exc}.")
            return
        if not name or not values or not all(c.isalnum() or c in "_-" for c in name):
            set_error(self.error, NAME_RULE)
            return
        if name in self.known:
            set_error(self.error, f"A server named {name} exists already: tick it above.")
            return
        if HOST_PORT.match(str(values.get("command", ""))) and not values.get("args"):
            set_error(
                self.error,
                f"{values['command']} looks like an address: give it as "
                f"http://{values['command']} (or https://) to reach a server over HTTP.",
            )
            return
        set_error(self.error, "")
        self.known[name] = dict(values)
        self.pending[name] = values
        self.allow[name] = None
        item = checkable(f"{name} (new)", name, True)
        self.servers.addItem(item)
        self.servers.setCurrentItem(item)
        self.adding.hide()
        self.changed.emit()

    # --- testing and the allow-list ----------------------------------------------------

    def selected(self) -> str | None:
        item = self.servers.currentItem()
        return None if item is None else str(item.data(Qt.ItemDataRole.UserRole))

    def test_selected(self) -> None:
        name = self.selected()
        if name is None:
            self.detail.setText("Select a server to test.")
            return
        values, base_dir = dict(self.known.get(name, {})), self._base_dir
        self.detail.setText(f"Starting {name} and asking for its tools…")
        self.test_button.setEnabled(False)

        def work() -> list[McpTool]:
            return probe_server(name, server_config(values, base_dir))

        self._jobs.run(work, lambda tools: self._tested(name, tools), self._test_failed)

    def _tested(self, name: str, tools: list[McpTool]) -> None:
        self.test_button.setEnabled(True)
        self.tools_of[name] = tools
        if self.selected() == name:
            self._show_selected()

    def _test_failed(self, error: BaseException) -> None:
        self.test_button.setEnabled(True)
        text = str(error) if isinstance(error, McpProbeFailed) else f"The test failed: {error}"
        self.detail.setText(text)
        self.tools.hide()

    def _show_selected(self) -> None:
        name = self.selected()
        self.note.setVisible(self.servers.count() == 0)
        self.test_button.setEnabled(name is not None and not self.busy)
        self.remove_button.setEnabled(name is not None)
        if name is None:
            self.detail.clear()
            self.tools.hide()
            return
        values = self.known.get(name)
        where = describe(values) if values else "not under mcp_servers in config.yaml"
        tools = self.tools_of.get(name)
        if tools is None:
            allowed = self.allow.get(name)
            limit = (
                f" The agent may use only {', '.join(allowed)}."
                if allowed is not None and name in self.checked()
                else ""
            )
            self.detail.setText(f"{name}: {where}.{limit} Test it to see its tools.")
            self.tools.hide()
            return
        allow = self.allow.get(name)
        self.detail.setText(
            f"{name}: {where}. It offers {len(tools)} tool(s); the agent gets the ticked ones."
        )
        self.tools.blockSignals(True)
        self.tools.clear()
        for tool in tools:
            text = f"{tool.name} — {tool.description}" if tool.description else tool.name
            self.tools.addItem(checkable(text, tool.name, allow is None or tool.name in allow))
        self.tools.blockSignals(False)
        self.tools.show()

    def _allow_changed(self, _item: QListWidgetItem) -> None:
        name = self.selected()
        if name is None or name not in self.tools_of:
            return
        ticked = checked(self.tools)
        everything = [t.name for t in self.tools_of[name]]
        self.allow[name] = None if ticked == everything else ticked
        if name not in self.checked():  # choosing its tools means using the server
            for i in range(self.servers.count()):
                item = self.servers.item(i)
                if item.data(Qt.ItemDataRole.UserRole) == name:
                    item.setCheckState(Qt.CheckState.Checked)
        self.changed.emit()
