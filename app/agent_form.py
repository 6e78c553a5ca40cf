"""The forms of the Agents window: one agent, one team.

A form shows a spec read from config.yaml, turns what is on screen back into a spec,
and says how to write it (``operations``: a function the window runs on a copy of the
editor, off the GUI thread). Validation messages come back as ``ConfigProblem``s and are
shown under the field their key path names; the rest go to the window.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from app.agent_form_knowledge import KnowledgeBox, describe_base
from app.agent_form_mcp import McpBox
from app.agent_form_tools import (
    ChooseFolder,
    ToolsBox,
    error_label,
    set_error,
)
from server.config.edit_specs import (
    DEFAULT_MODEL,
    TEAM_MODES,
    AgentSpec,
    TeamSpec,
    instructions_from_text,
    instructions_text,
)
from server.config.editing import ConfigEditor, problem_field
from server.config.errors import ConfigProblem
from server.tools.ref import ToolRef

Mode = Literal["new", "edit", "duplicate"]
Operations = Callable[[ConfigEditor], None]
MODE_TEXT = {
    "coordinate": "coordinate: a leader hands the work to the members",
    "collaborate": "collaborate: every member answers and the answers are combined",
}


class Field(QWidget):
    """A widget with its validation message under it."""

    def __init__(self, widget: QWidget) -> None:
        super().__init__()
        self.widget = widget
        self.error = error_label()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(widget)
        layout.addWidget(self.error)


class EntityForm(QWidget):
    """What the agent and team forms share: id, name, role, model, and placing problems."""

    changed = Signal()
    section = ""

    def __init__(self) -> None:
        super().__init__()
        self.mode: Mode = "new"
        self.original_id = ""  # the id in the file (edit) or the copied one (duplicate)
        self.dirty = False
        self._loading = False
        self.id_edit = QLineEdit()
        self.display_name = QLineEdit()
        self.display_name.setPlaceholderText("the id")
        self.role = QLineEdit()
        self.role.setPlaceholderText("one line on what it does, shown in chat apps")
        self.model = QComboBox()
        self.fields: dict[str, Field] = {}
        self.form = QFormLayout(self)
        for key, label, widget in (
            ("id", "ID:", self.id_edit),
            ("display_name", "Display name:", self.display_name),
            ("role", "Role:", self.role),
            ("model", "Model:", self.model),
        ):
            self.add_field(key, label, widget)
        for edit in (self.id_edit, self.display_name, self.role):
            edit.textChanged.connect(self.touched)
        self.model.currentIndexChanged.connect(self.touched)

    def add_field(self, key: str, label: str, widget: QWidget) -> Field:
        self.fields[key] = Field(widget)
        self.form.addRow(label, self.fields[key])
        return self.fields[key]

    def touched(self, *_args: object) -> None:
        if not self._loading:
            self.dirty = True
            self.changed.emit()

    def current_id(self) -> str:
        return self.id_edit.text().strip()

    def load_common(
        self, editor: ConfigEditor, spec: AgentSpec | TeamSpec, mode: Mode, source: str
    ) -> None:
        self.mode = mode
        self.original_id = spec.id if mode == "edit" else source
        self.id_edit.setText(spec.id)
        self.display_name.setText(spec.display_name)
        self.role.setText(spec.role)
        models = list(dict.fromkeys([DEFAULT_MODEL, *editor.section("models"), spec.model]))
        self.model.clear()
        self.model.addItems(models)
        self.model.setCurrentText(spec.model)
        self.show_problems([])
        self.dirty = mode != "edit"

    def show_problems(self, problems: list[ConfigProblem]) -> list[ConfigProblem]:
        """Put each problem under its field; the ones about other parts are returned."""
        messages: dict[str, list[str]] = {}
        elsewhere = []
        for problem in problems:
            field = problem_field(problem, self.section, self.current_id())
            target = self.field_key(field) if field else None
            if target is None:
                elsewhere.append(problem)
            else:
                messages.setdefault(target, []).append(problem.message)
        self.clear_errors()
        for key, texts in messages.items():
            self.set_field_error(key, "\n".join(texts))
        return elsewhere

    def field_key(self, field: str) -> str | None:
        base = field.split("[", 1)[0]
        return base if base in self.fields else None

    def set_field_error(self, key: str, text: str) -> None:
        set_error(self.fields[key].error, text)

    def clear_errors(self) -> None:
        for field in self.fields.values():
            set_error(field.error, "")

    def errors(self) -> dict[str, str]:
        """Field -> message shown under it now (for tests and screenshots)."""
        return {k: f.error.text() for k, f in self.fields.items() if f.error.text()}


class AgentForm(EntityForm):
    """``agents.<id>``: every field the Agents window edits."""

    section = "agents"

    def __init__(self, choose: ChooseFolder) -> None:
        super().__init__()
        self._tools_in_file: list[ToolRef] = []
        self._tools_shown: list[ToolRef] = []  # the tools of the spec last checked
        self.instructions = QPlainTextEdit()
        self.instructions.setPlaceholderText(
            "What the agent should do. Separate instructions with a blank line."
        )
        self.instructions.setMinimumHeight(110)
        self.instructions.textChanged.connect(self.touched)
        self.add_field("instructions", "Instructions:", self.instructions)
        self.tools = ToolsBox(choose)
        self.tools.changed.connect(self.touched)
        self.add_field("tools", "", self.tools)
        self.mcp = McpBox()
        self.mcp.changed.connect(self.touched)
        self.add_field("mcp", "", self.mcp)
        self.knowledge = KnowledgeBox(choose)
        self.knowledge.changed.connect(self.touched)
        self.add_field("knowledge_bases", "", self.knowledge)
        self.memory = QCheckBox("Remember things across conversations (one memory per client key)")
        self.memory_shared = QCheckBox("Share one memory between all client keys")
        self.memory.toggled.connect(self.memory_shared.setEnabled)
        memory = QWidget()
        memory_layout = QVBoxLayout(memory)
        memory_layout.setContentsMargins(0, 0, 0, 0)
        memory_layout.addWidget(self.memory)
        memory_layout.addWidget(self.memory_shared)
        self.add_field("memory", "Memory:", memory)
        self.show_tool_calls = QCheckBox("Show tool calls and their results in answers")
        self.add_field("show_tool_calls", "", self.show_tool_calls)
        self.openwebui_panels = QCheckBox("Show them as Open WebUI's own tool panels")
        self.show_tool_calls.toggled.connect(self.openwebui_panels.setEnabled)
        self.add_field("tool_event_format", "", self.openwebui_panels)
        self.client_tools = QCheckBox("Let the agent call a chat app's own tools")
        self.client_tools.setToolTip(
            "Tools a chat app sends with its request (Cline, Continue, Open WebUI native mode)"
        )
        self.add_field("client_tools", "", self.client_tools)
        boxes = (
            self.memory,
            self.memory_shared,
            self.show_tool_calls,
            self.openwebui_panels,
            self.client_tools,
        )
        for box in boxes:
            box.toggled.connect(self.touched)

    def load(self, editor: ConfigEditor, spec: AgentSpec, mode: Mode, source: str = "") -> None:
        self._loading = True
        try:
            self.load_common(editor, spec, mode, source)
            self._tools_in_file = list(spec.tools)
            self.instructions.setPlainText(instructions_text(spec.instructions))
            self.tools.load(spec.tools)
            self.mcp.load(editor.section("mcp_servers"), spec.tools, editor.path.parent)
            bases = {k: describe_base(v) for k, v in editor.section("knowledge_bases").items()}
            self.knowledge.load(
                bases, spec.knowledge_bases, lambda w: editor.new_id("knowledge_bases", w)
            )
            self.memory.setChecked(spec.memory)
            self.memory_shared.setChecked(spec.memory_shared)
            self.memory_shared.setEnabled(spec.memory)
            self.show_tool_calls.setChecked(spec.show_tool_calls)
            self.openwebui_panels.setChecked(spec.tool_event_format == "openwebui")
            self.openwebui_panels.setEnabled(spec.show_tool_calls)
            self.client_tools.setChecked(spec.client_tools)
        finally:
            self._loading = False

    def spec(self) -> AgentSpec:
        return AgentSpec(
            id=self.current_id(),
            display_name=self.display_name.text().strip(),
            role=self.role.text().strip(),
            model=self.model.currentText() or DEFAULT_MODEL,
            instructions=instructions_from_text(self.instructions.toPlainText()),
            tools=self.mcp.updated(self.tools.updated(self._tools_in_file)),
            knowledge_bases=self.knowledge.selected(),
            memory=self.memory.isChecked(),
            memory_shared=self.memory.isChecked() and self.memory_shared.isChecked(),
            show_tool_calls=self.show_tool_calls.isChecked(),
            tool_event_format="openwebui" if self.openwebui_panels.isChecked() else "traymind",
            client_tools=self.client_tools.isChecked(),
        )

    def operations(self) -> tuple[AgentSpec, Operations]:
        spec, new_bases = self.spec(), self.knowledge.new_bases()
        new_servers = self.mcp.new_servers()
        removed = [("knowledge_bases", b) for b in sorted(self.knowledge.removed)]
        removed += [("mcp_servers", s) for s in sorted(self.mcp.removed)]
        mode, original = self.mode, self.original_id

        def apply(editor: ConfigEditor) -> None:
            for base_id, values in new_bases.items():
                editor.put_knowledge_base(base_id, values["path"], git=values.get("git"))
            for name, values in new_servers.items():
                editor.put_mcp_server(name, values)
            if mode == "duplicate":
                editor.duplicate_agent(original, spec.id)
                editor.put_agent(spec, replacing=spec.id)
            else:
                editor.put_agent(spec, replacing=original if mode == "edit" else None)
            for section, name in removed:  # after the agent, which no longer names it
                editor.remove_source(section, name)

        return spec, apply

    def show_problems(self, problems: list[ConfigProblem]) -> list[ConfigProblem]:
        self._tools_shown = self.spec().tools
        return super().show_problems(problems)

    def field_key(self, field: str) -> str | None:
        if field.startswith("tools["):
            index = int(field[6:-1])
            tools = self._tools_shown
            name = tools[index].name if index < len(tools) else ""
            return f"tool:{name}" if name in self.tools.errors else "mcp"
        return super().field_key(field)

    def set_field_error(self, key: str, text: str) -> None:
        if key.startswith("tool:"):
            set_error(self.tools.errors[key[5:]], text)
        else:
            super().set_field_error(key, text)

    def clear_errors(self) -> None:
        super().clear_errors()
        self.tools.clear_errors()

    def errors(self) -> dict[str, str]:
        found = super().errors()
        found.update({f"tool:{k}": v.text() for k, v in self.tools.errors.items() if v.text()})
        return found


class TeamForm(EntityForm):
    """``teams.<id>``: its members and how they work together."""

    section = "teams"

    def __init__(self) -> None:
        super().__init__()
        self.members = QListWidget()
        self.members.setMaximumHeight(140)
        self.members.itemChanged.connect(self.touched)
        self.add_field("agents", "Members:", self.members)
        self.team_mode = QComboBox()
        for mode in TEAM_MODES:
            self.team_mode.addItem(MODE_TEXT[mode], mode)
        self.team_mode.currentIndexChanged.connect(self.touched)
        self.add_field("mode", "Mode:", self.team_mode)
        note = QLabel("A team answers as the model team/<id>.")
        note.setWordWrap(True)
        self.form.addRow("", note)

    def load(self, editor: ConfigEditor, spec: TeamSpec, mode: Mode, source: str = "") -> None:
        self._loading = True
        try:
            self.load_common(editor, spec, mode, source)
            self.members.clear()
            for agent_id in dict.fromkeys([*spec.members, *editor.section("agents")]):
                item = QListWidgetItem(agent_id)
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                checked = agent_id in spec.members
                item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
                self.members.addItem(item)
            index = self.team_mode.findData(spec.mode)
            self.team_mode.setCurrentIndex(max(index, 0))
        finally:
            self._loading = False

    def spec(self) -> TeamSpec:
        items = [self.members.item(i) for i in range(self.members.count())]
        return TeamSpec(
            id=self.current_id(),
            display_name=self.display_name.text().strip(),
            role=self.role.text().strip(),
            members=[i.text() for i in items if i.checkState() == Qt.CheckState.Checked],
            mode=str(self.team_mode.currentData()),
            model=self.model.currentText() or DEFAULT_MODEL,
        )

    def operations(self) -> tuple[TeamSpec, Operations]:
        spec, mode, original = self.spec(), self.mode, self.original_id

        def apply(editor: ConfigEditor) -> None:
            if mode == "duplicate":
                editor.duplicate_team(original, spec.id)
                editor.put_team(spec, replacing=spec.id)
            else:
                editor.put_team(spec, replacing=original if mode == "edit" else None)

        return spec, apply
