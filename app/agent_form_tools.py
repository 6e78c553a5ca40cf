"""The tool pickers of the agent form: built-in tools with their main options, MCP servers,
knowledge base folders.

Each picker edits the agent's ``tools:`` (or ``knowledge_bases:``) list the file has: a
tool that stays ticked keeps the options the form does not show (``max_results``,
``sandbox``...), the list keeps its order, and newly ticked tools go at the end. An
option is written only when it differs from the tool's default or the file already
sets it, so ticking a tool writes just its name.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic_core import PydanticUndefined
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from server.approvals.policy import APPROVAL, builtin_asks, split_approval
from server.tools import TOOL_NAMES
from server.tools.ref import ToolRef
from server.tools.registry import TOOLS

MCP = "mcp"
# Tools with side effects: the form offers "ask me first" for them, and the function whose
# default decides the box (files asks for writes, not reads).
ASKING = {
    "shell": ("run_shell", "Ask me before each command"),
    "python": ("run_python", "Ask me before each program"),
    "files": ("write_file", "Ask me before each write or edit"),
    "claude_agent": ("claude_agent", "Ask me before each task"),
}
ERROR_STYLE = "QLabel { color: #b00020; }"
ChooseFolder = Callable[[QWidget, str], "str | None"]


def choose_folder(parent: QWidget, title: str) -> str | None:
    """A folder picked in the file dialog, or None when cancelled."""
    dialog = QFileDialog(parent, title)
    dialog.setFileMode(QFileDialog.FileMode.Directory)
    dialog.setOption(QFileDialog.Option.ShowDirsOnly, True)
    if dialog.exec() and dialog.selectedFiles():
        return dialog.selectedFiles()[0]
    return None


def error_label() -> QLabel:
    label = QLabel()
    label.setWordWrap(True)
    label.setStyleSheet(ERROR_STYLE)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.hide()
    return label


def set_error(label: QLabel, text: str) -> None:
    label.setText(text)
    label.setVisible(bool(text))


def checkable(text: str, key: str, on: bool) -> QListWidgetItem:
    """A list row with a tick box; ``key`` (the id it stands for) is its UserRole data."""
    item = QListWidgetItem(text)
    item.setData(Qt.ItemDataRole.UserRole, key)
    item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
    item.setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)
    return item


class InlineAdd(QWidget):
    """A hidden row of two fields with Add and Cancel, opened by a picker's "Add …" button
    (inline rather than a modal dialog: nothing pops up over the form)."""

    def __init__(
        self,
        first: str,
        second: str,
        on_add: Callable[[], None],
        widths: tuple[int, int] = (1, 3),
    ) -> None:
        super().__init__()
        self.first = QLineEdit()
        self.first.setPlaceholderText(first)
        self.second = QLineEdit()
        self.second.setPlaceholderText(second)
        self.confirm = QPushButton("Add")
        self.confirm.clicked.connect(on_add)
        cancel = QPushButton("Cancel")
        cancel.clicked.connect(self.hide)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.first, widths[0])
        row.addWidget(self.second, widths[1])
        row.addWidget(self.confirm)
        row.addWidget(cancel)
        self.hide()

    def open(self) -> None:
        self.first.clear()
        self.second.clear()
        self.show()
        self.first.setFocus()


def option_default(tool: str, option: str) -> Any:
    default = TOOLS[tool].options.model_fields[option].default
    return None if default is PydanticUndefined else default


def merged_options(tool: str, existing: dict[str, Any], shown: dict[str, Any]) -> dict[str, Any]:
    """``existing`` with the form's ``shown`` values: each written if the file sets it already
    or it is not the tool's default."""
    options = dict(existing)
    for name, value in shown.items():
        if name in options or value != option_default(tool, name):
            options[name] = value
    return options


class FilesOptions(QWidget):
    """``files``: the folders (``roots``) and whether it may write (``write``)."""

    changed = Signal()

    def __init__(self, choose: ChooseFolder) -> None:
        super().__init__()
        self._choose = choose
        self.roots = QListWidget()
        self.roots.setMaximumHeight(80)
        self.add_button = QPushButton("Add folder…")
        self.add_button.clicked.connect(self.add_folder)
        self.remove_button = QPushButton("Remove")
        self.remove_button.clicked.connect(self.remove_folder)
        self.write = QCheckBox("Allow writing and editing files")
        self.write.toggled.connect(self.changed)
        buttons = QVBoxLayout()
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.remove_button)
        buttons.addStretch()
        row = QHBoxLayout()
        row.addWidget(self.roots, 1)
        row.addLayout(buttons)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.write)

    def load(self, options: dict[str, Any]) -> None:
        self.roots.clear()
        self.roots.addItems([str(root) for root in options.get("roots") or []])
        self.write.setChecked(bool(options.get("write", False)))

    def values(self) -> dict[str, Any]:
        roots = [self.roots.item(i).text() for i in range(self.roots.count())]
        return {"roots": roots, "write": self.write.isChecked()}

    def add_folder(self) -> None:
        folder = self._choose(self, "Folder the agent may use")
        if folder:
            self.roots.addItem(folder)
            self.changed.emit()

    def remove_folder(self) -> None:
        row = self.roots.currentRow()
        if row >= 0:
            self.roots.takeItem(row)
            self.changed.emit()


class ShellOptions(QWidget):
    """``shell``: the folder commands start in (``cwd``) and the time limit."""

    changed = Signal()

    def __init__(self, choose: ChooseFolder) -> None:
        super().__init__()
        self._choose = choose
        self.folder = QLineEdit()
        self.folder.setPlaceholderText(option_default("shell", "cwd"))
        self.folder.textChanged.connect(self.changed)
        browse = QPushButton("Choose…")
        browse.clicked.connect(self._browse)
        self.timeout = QSpinBox()
        self.timeout.setRange(1, 3600)
        self.timeout.setSuffix(" s")
        self.timeout.valueChanged.connect(self.changed)
        layout = QGridLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("Folder:"), 0, 0)
        layout.addWidget(self.folder, 0, 1)
        layout.addWidget(browse, 0, 2)
        layout.addWidget(QLabel("Time limit:"), 1, 0)
        layout.addWidget(self.timeout, 1, 1)

    def load(self, options: dict[str, Any]) -> None:
        cwd = options.get("cwd")
        self.folder.setText("" if cwd in (None, option_default("shell", "cwd")) else str(cwd))
        timeout = options.get("timeout_seconds", option_default("shell", "timeout_seconds"))
        self.timeout.setValue(int(timeout) if isinstance(timeout, int | float) else 60)

    def values(self) -> dict[str, Any]:
        cwd = self.folder.text().strip() or option_default("shell", "cwd")
        return {"cwd": cwd, "timeout_seconds": self.timeout.value()}

    def _browse(self) -> None:
        folder = self._choose(self, "Folder commands start in")
        if folder:
            self.folder.setText(folder)


class WebFetchOptions(QWidget):
    """``web_fetch``: whether it may fetch from this computer and the local network."""

    changed = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.allow_private = QCheckBox(
            "Allow private addresses (this computer and the local network)"
        )
        self.allow_private.toggled.connect(self.changed)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.allow_private)

    def load(self, options: dict[str, Any]) -> None:
        self.allow_private.setChecked(bool(options.get("allow_private", False)))

    def values(self) -> dict[str, Any]:
        return {"allow_private": self.allow_private.isChecked()}


class ToolsBox(QGroupBox):
    """A checkbox per built-in tool, its options under it, and its validation message."""

    changed = Signal()

    def __init__(self, choose: ChooseFolder) -> None:
        super().__init__("Tools")
        self.checks: dict[str, QCheckBox] = {}
        self.asks: dict[str, QCheckBox] = {}  # "ask me first", for side-effect tools
        self.errors: dict[str, QLabel] = {}
        self.options: dict[str, FilesOptions | ShellOptions | WebFetchOptions] = {
            "files": FilesOptions(choose),
            "shell": ShellOptions(choose),
            "web_fetch": WebFetchOptions(),
        }
        layout = QVBoxLayout(self)
        for name in (n for n in TOOL_NAMES if n != MCP):
            check = QCheckBox(name)
            check.setToolTip(TOOLS[name].summary)
            check.toggled.connect(self._toggled)
            self.checks[name] = check
            layout.addWidget(check)
            summary = QLabel(TOOLS[name].summary)
            summary.setWordWrap(True)
            summary.setContentsMargins(24, 0, 0, 0)
            layout.addWidget(summary)
            if name in self.options:
                self.options[name].setContentsMargins(24, 0, 0, 0)
                self.options[name].changed.connect(self.changed)
                layout.addWidget(self.options[name])
            if name in ASKING:
                ask = QCheckBox(ASKING[name][1])
                ask.setToolTip(
                    "Each call waits until you allow it in the tray (or with traymind "
                    "approvals). Unticked: the agent runs it without asking."
                )
                ask.setStyleSheet("QCheckBox { margin-left: 24px; }")
                ask.toggled.connect(self.changed)
                self.asks[name] = ask
                layout.addWidget(ask)
            self.errors[name] = error_label()
            layout.addWidget(self.errors[name])

    def load(self, refs: list[ToolRef]) -> None:
        for name, check in self.checks.items():
            ref = next((r for r in refs if r.name == name), None)
            check.setChecked(ref is not None)
            if name in self.options:
                self.options[name].load(dict(ref.options) if ref else {})
            if name in self.asks:
                _, setting = split_approval(name, ref.options if ref else {})
                self.asks[name].setChecked(builtin_asks(name, setting, ASKING[name][0]))
        self._toggled()

    def updated(self, refs: list[ToolRef]) -> list[ToolRef]:
        """``refs`` with the built-in tools as ticked; other entries (``mcp``) pass through."""
        out: list[ToolRef] = []
        for ref in refs:
            if ref.name not in self.checks:
                out.append(ref)
            elif self.checks[ref.name].isChecked():
                out.append(self._ref(ref.name, dict(ref.options)))
        listed = {ref.name for ref in refs}
        for name, check in self.checks.items():
            if check.isChecked() and name not in listed:
                out.append(self._ref(name, {}))
        return out

    def clear_errors(self) -> None:
        for label in self.errors.values():
            set_error(label, "")

    def _ref(self, name: str, existing: dict[str, Any]) -> ToolRef:
        options = dict(existing)
        if name in self.options:
            options = merged_options(name, options, self.options[name].values())
        if name in self.asks:
            asks = self.asks[name].isChecked()
            mode = "ask" if asks else "auto"
            current = options.get(APPROVAL)
            if isinstance(current, dict):  # per tool (files): change the one this box shows
                options[APPROVAL] = {**current, ASKING[name][0]: mode}
            elif current is not None or asks != builtin_asks(name, None, ASKING[name][0]):
                options[APPROVAL] = mode
        return ToolRef(name=name, options=options)

    def _toggled(self, _checked: bool = False) -> None:
        for name, widget in self.options.items():
            widget.setEnabled(self.checks[name].isChecked())
        for name, ask in self.asks.items():
            ask.setEnabled(self.checks[name].isChecked())
        self.changed.emit()
