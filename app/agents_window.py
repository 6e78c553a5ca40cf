"""The Agents window: list, create, edit, duplicate and delete agents and teams.

config.yaml stays the single source of truth: the window reads it through
``server.config.editing`` (off the GUI thread), checks each change with the server's
own schema while you type (the messages ``traymind check-config`` gives, under the
field they are about), and Save writes only the lines that changed, then reloads the
running server. A file changed on disk since it was read is never overwritten: the
window says so and offers Reload. A MindRoom config is shown but not edited.
"""

from __future__ import annotations

import logging
from typing import Literal

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.agent_form import AgentForm, EntityForm, Mode, Operations, TeamForm
from app.agent_form_tools import ChooseFolder, choose_folder, error_label, set_error
from app.background import Jobs
from app.icons import app_icon
from app.server_controller import Problem, ServerController
from server.config.edit_specs import AgentSpec, TeamSpec
from server.config.editing import ConfigEditor, EditRefused
from server.config.errors import ConfigError, ConfigProblem

log = logging.getLogger(__name__)

Kind = Literal["agent", "team"]
CHECK_DELAY_MS = 300
BANNER_STYLE = (
    "QLabel { background: #fff4d6; color: #4a3800; border: 1px solid #e6c35c;"
    " border-radius: 4px; padding: 6px; }"
)


def check_edits(editor: ConfigEditor, apply: Operations) -> list[ConfigProblem]:
    """The problems the edited config would have (blocking; ``editor`` is a copy)."""
    try:
        apply(editor)
    except ConfigError as exc:
        return exc.problems
    return editor.problems()


def save_edits(editor: ConfigEditor, apply: Operations) -> tuple[ConfigEditor, bool]:
    """Apply and write (blocking): the editor, and whether anything was written. Raises
    ``ConfigError`` or ``EditRefused``, writing nothing."""
    apply(editor)
    return editor, editor.save()


class AgentsWindow(QWidget):
    """The agents and teams of config.yaml on the left, the selected one's form on the right."""

    def __init__(self, controller: ServerController, choose: ChooseFolder = choose_folder) -> None:
        super().__init__()
        self.controller = controller
        self.editor: ConfigEditor | None = None
        self._jobs = Jobs()
        self._checks = 0  # the newest check; older answers are dropped
        self._reloading = False
        self._done = ""
        self.setWindowTitle("Traymind agents")
        self.setWindowIcon(app_icon())
        self.resize(900, 680)

        self.banner = QLabel()
        self.banner.setWordWrap(True)
        self.banner.setStyleSheet(BANNER_STYLE)
        self.banner.hide()
        self.entries = QListWidget()
        self.entries.currentItemChanged.connect(self._selected)
        self.new_agent_button = QPushButton("New agent")
        self.new_agent_button.clicked.connect(self.new_agent)
        self.new_team_button = QPushButton("New team")
        self.new_team_button.clicked.connect(self.new_team)
        self.duplicate_button = QPushButton("Duplicate")
        self.duplicate_button.clicked.connect(self.duplicate)
        self.delete_button = QPushButton("Delete")
        self.delete_button.clicked.connect(self.delete)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.addWidget(self.entries, 1)
        for row in (
            (self.new_agent_button, self.new_team_button),
            (self.duplicate_button, self.delete_button),
        ):
            buttons = QHBoxLayout()
            for button in row:
                buttons.addWidget(button)
            left_layout.addLayout(buttons)

        self.agent_form = AgentForm(choose)
        self.team_form = TeamForm()
        self.placeholder = QLabel("Choose an agent or a team, or create one.")
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.stack = QStackedWidget()
        for page in (self.placeholder, self._scrolled(self.agent_form), self.team_form):
            self.stack.addWidget(page)
        for form in (self.agent_form, self.team_form):
            form.changed.connect(self._schedule_check)
        splitter = QSplitter()
        splitter.addWidget(left)
        splitter.addWidget(self.stack)
        splitter.setStretchFactor(1, 1)

        self.problems = error_label()  # problems elsewhere in config.yaml
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.reload_button = QPushButton("Reload")
        self.reload_button.setToolTip("Read config.yaml again (unsaved changes are dropped)")
        self.reload_button.clicked.connect(self.reload)
        self.save_button = QPushButton("Save")
        self.save_button.setDefault(True)
        self.save_button.clicked.connect(self.save)
        close = QPushButton("Close")
        close.clicked.connect(self.close)
        bottom = QHBoxLayout()
        bottom.addWidget(self.message, 1)
        bottom.addWidget(self.reload_button)
        bottom.addWidget(self.save_button)
        bottom.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.banner)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.problems)
        layout.addLayout(bottom)

        self._check_timer = QTimer(self)
        self._check_timer.setSingleShot(True)
        self._check_timer.setInterval(CHECK_DELAY_MS)
        self._check_timer.timeout.connect(self.check)
        controller.reloaded.connect(self._server_reloaded)
        controller.reloaded_from_disk.connect(self._changed_elsewhere)
        controller.problem.connect(self._server_problem)
        controller.status_changed.connect(self._show_sources)
        self._update_buttons()

    @staticmethod
    def _scrolled(widget: QWidget) -> QScrollArea:
        area = QScrollArea()
        area.setWidgetResizable(True)
        area.setWidget(widget)
        return area

    @property
    def busy(self) -> bool:
        return self._jobs.busy

    @property
    def form(self) -> EntityForm | None:
        page = self.stack.currentIndex()
        return {1: self.agent_form, 2: self.team_form}.get(page)

    # --- reading config.yaml -----------------------------------------------------------

    def showEvent(self, event: QShowEvent) -> None:
        form = self.form
        if self.editor is None or form is None or not form.dirty:
            self.reload()
        super().showEvent(event)

    def reload(self) -> None:
        """Read config.yaml again, off the GUI thread."""
        path = self.controller.config_path()
        self.message.setText("Reading config.yaml…")
        self._jobs.run(lambda: ConfigEditor.open(path), self._opened, self._open_failed)

    def _opened(self, editor: ConfigEditor) -> None:
        keep = self._current_entry()
        self.editor = editor
        self.message.clear()
        set_error(self.problems, "")
        self.banner.setText(editor.read_only or "")
        self.banner.setVisible(bool(editor.read_only))
        self._fill_list(keep)

    def _open_failed(self, error: BaseException) -> None:
        self.editor = None
        self.entries.clear()
        self.stack.setCurrentIndex(0)
        text = str(error) if isinstance(error, EditRefused) else f"Cannot read config.yaml: {error}"
        self.banner.setText(f"{text}\nFix config.yaml (Open config in the menu), then Reload.")
        self.banner.show()
        self.message.clear()
        self._update_buttons()

    def _fill_list(self, select: tuple[Kind, str] | None) -> None:
        editor = self.editor
        assert editor is not None
        self.entries.blockSignals(True)
        self.entries.clear()
        for kind, title, section in (("agent", "Agents", "agents"), ("team", "Teams", "teams")):
            header = QListWidgetItem(title)
            header.setFlags(Qt.ItemFlag.NoItemFlags)
            font = header.font()
            font.setBold(True)
            header.setFont(font)
            self.entries.addItem(header)
            for entity_id, entry in editor.section(section).items():
                name = entry.get("display_name") if isinstance(entry, dict) else None
                item = QListWidgetItem(f"{entity_id} — {name}" if name else str(entity_id))
                item.setData(Qt.ItemDataRole.UserRole, (kind, str(entity_id)))
                self.entries.addItem(item)
        self.entries.blockSignals(False)
        item = self._item(select) if select else None
        if item is not None:
            self.entries.setCurrentItem(item)  # loads its form
        elif self.form is None or self.form.mode == "edit":
            self.stack.setCurrentIndex(0)
        self._update_buttons()

    def _item(self, entry: tuple[Kind, str]) -> QListWidgetItem | None:
        for index in range(self.entries.count()):
            item = self.entries.item(index)
            if item.data(Qt.ItemDataRole.UserRole) == entry:
                return item
        return None

    def _current_entry(self) -> tuple[Kind, str] | None:
        item = self.entries.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item is not None else None

    def select(self, kind: Kind, entity_id: str) -> None:
        """Show this agent or team (for the menu, tests and screenshots)."""
        item = self._item((kind, entity_id))
        if item is not None:
            self.entries.setCurrentItem(item)

    def _selected(self, item: QListWidgetItem | None, previous: QListWidgetItem | None) -> None:
        entry = item.data(Qt.ItemDataRole.UserRole) if item is not None else None
        if entry is None or self.editor is None:
            return
        form = self.form
        if form is not None and form.dirty and not self._discard_ok(form):
            self.entries.blockSignals(True)
            self.entries.setCurrentItem(previous)
            self.entries.blockSignals(False)
            return
        kind, entity_id = entry
        try:
            if kind == "agent":
                self._show(self.agent_form, self.editor.agent(entity_id), "edit")
            else:
                self._show(self.team_form, self.editor.team(entity_id), "edit")
        except EditRefused as exc:
            self.stack.setCurrentIndex(0)
            self.message.setText(str(exc))
        self._update_buttons()

    def _show(
        self, form: EntityForm, spec: AgentSpec | TeamSpec, mode: Mode, source: str = ""
    ) -> None:
        assert self.editor is not None
        form.load(self.editor, spec, mode, source)  # type: ignore[attr-defined]
        self._show_sources()
        self.stack.setCurrentIndex(1 if form is self.agent_form else 2)
        set_error(self.problems, "")
        self.message.clear()
        form.setEnabled(not self.editor.read_only)
        self._update_buttons()
        if mode != "edit":
            self._schedule_check()

    def _discard_ok(self, form: EntityForm) -> bool:
        name = form.original_id or form.current_id() or "this entry"
        return self.ask(f"Discard your unsaved changes to “{name}”?", "Discard")

    def ask(self, question: str, action: str) -> bool:
        box = QMessageBox(QMessageBox.Icon.Question, "Traymind agents", question, parent=self)
        yes = box.addButton(action, QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        return box.clickedButton() is yes

    # --- new, duplicate, delete ------------------------------------------------------------

    def new_agent(self) -> None:
        if self.editor is not None and self._leave_form():
            spec = AgentSpec(id=self.editor.new_id("agents", "agent"))
            self._clear_selection()
            self._show(self.agent_form, spec, "new")

    def new_team(self) -> None:
        if self.editor is not None and self._leave_form():
            members = list(self.editor.section("agents"))[:2]
            spec = TeamSpec(id=self.editor.new_id("teams", "team"), members=members)
            self._clear_selection()
            self._show(self.team_form, spec, "new")

    def duplicate(self) -> None:
        entry = self._current_entry()
        if self.editor is None or entry is None or not self._leave_form():
            return
        kind, entity_id = entry
        spec = self.editor.agent(entity_id) if kind == "agent" else self.editor.team(entity_id)
        spec.id = self.editor.new_id(f"{kind}s", f"{entity_id}-copy")
        if spec.display_name:
            spec.display_name = f"{spec.display_name} (copy)"
        self._clear_selection()
        form = self.agent_form if kind == "agent" else self.team_form
        self._show(form, spec, "duplicate", source=entity_id)

    def delete(self) -> None:
        entry = self._current_entry()
        if self.editor is None or entry is None:
            return
        kind, entity_id = entry
        teams = [] if kind == "team" else self._teams_with(entity_id)
        also = f" It is also removed from the team(s) {', '.join(teams)}." if teams else ""
        if not self.ask(f"Delete the {kind} “{entity_id}” from config.yaml?{also}", "Delete"):
            return

        def apply(editor: ConfigEditor) -> None:
            if kind == "agent":
                editor.delete_agent(entity_id)
            else:
                editor.delete_team(entity_id)

        self._write(apply, None, f"Deleted {entity_id} from config.yaml")

    def _teams_with(self, agent_id: str) -> list[str]:
        assert self.editor is not None
        return [
            team_id
            for team_id, team in self.editor.section("teams").items()
            if isinstance(team, dict) and agent_id in (team.get("agents") or [])
        ]

    def _leave_form(self) -> bool:
        form = self.form
        return form is None or not form.dirty or self._discard_ok(form)

    def _clear_selection(self) -> None:
        self.entries.blockSignals(True)
        self.entries.setCurrentItem(None)
        self.entries.clearSelection()
        self.entries.blockSignals(False)

    # --- checking and saving ---------------------------------------------------------------

    def _schedule_check(self) -> None:
        self._check_timer.start()

    def check(self) -> None:
        """Validate the form's edits off the GUI thread; messages go under their fields."""
        form, editor = self.form, self.editor
        if form is None or editor is None or editor.read_only:
            return
        _spec, apply = form.operations()  # type: ignore[attr-defined]
        self._checks += 1
        number, trial = self._checks, editor.copy()
        self._jobs.run(
            lambda: check_edits(trial, apply),
            lambda problems: self._checked(number, form, problems),
            lambda error: self._checked(number, form, error),
        )

    def _checked(self, number: int, form: EntityForm, result: object) -> None:
        if number != self._checks or form is not self.form:
            return
        if isinstance(result, BaseException):
            self._show_problems(form, [])
            self.message.setText(str(result) if isinstance(result, EditRefused) else "")
            return
        assert isinstance(result, list)
        self._show_problems(form, result)
        if not result and self.message.text().startswith("Not saved: fix what is shown in red"):
            self.message.clear()  # nothing is red any more: the old refusal would mislead

    def _show_problems(self, form: EntityForm, problems: list[ConfigProblem]) -> None:
        elsewhere = form.show_problems(problems)
        source = self.editor.path.name if self.editor else "config.yaml"
        lines = [problem.line(source) for problem in elsewhere]
        set_error(self.problems, "\n".join(lines))

    def save(self) -> None:
        form = self.form
        if form is None or self.editor is None:
            return
        spec, apply = form.operations()  # type: ignore[attr-defined]
        kind: Kind = "agent" if form is self.agent_form else "team"
        self._write(apply, (kind, spec.id), f"Saved {spec.id} to config.yaml")

    def _write(self, apply: Operations, select: tuple[Kind, str] | None, done: str) -> None:
        assert self.editor is not None
        self._check_timer.stop()
        self._checks += 1  # answers of checks still running are stale now
        trial = self.editor.copy()
        self.save_button.setEnabled(False)
        self.message.setText("Saving…")
        self._jobs.run(
            lambda: save_edits(trial, apply),
            lambda result: self._saved(*result, select, done),
            self._save_failed,
        )

    def _saved(
        self, editor: ConfigEditor, wrote: bool, select: tuple[Kind, str] | None, done: str
    ) -> None:
        self.editor = editor
        form = self.form
        if form is not None:
            form.dirty = False
        if select is None:
            self.stack.setCurrentIndex(0)
        self._fill_list(select)
        if not wrote:
            self.message.setText("Nothing to save: config.yaml already says this.")
            return
        self._done = done
        self.message.setText(f"{done}; reloading the server…")
        self._reloading = True
        self.controller.reload_config()

    def _save_failed(self, error: BaseException) -> None:
        self._update_buttons()
        form = self.form
        if isinstance(error, ConfigError) and form is not None:
            self._show_problems(form, error.problems)
            self.message.setText("Not saved: fix what is shown in red first.")
        elif isinstance(error, ConfigError | EditRefused):
            self.message.setText(f"Not saved: {error}")
        else:
            log.error("saving config.yaml failed", exc_info=error)
            self.message.setText(f"Not saved: {error}. See the log for details.")

    def _show_sources(self) -> None:
        """Each knowledge base's indexing state, live, while the window is open."""
        if self.isVisible():
            snapshot = self.controller.snapshot()
            self.agent_form.knowledge.show_status(snapshot.get("knowledge_bases") or {})
            self.agent_form.mcp.show_status(snapshot.get("mcp_servers") or {})

    def _server_reloaded(self) -> None:
        if self._reloading:
            self._reloading = False
            self.message.setText(f"{self._done}; the server now uses it.")

    def _changed_elsewhere(self) -> None:
        """config.yaml changed (traymind agents, an editor, or this window's own save): show
        it, unless a form holds edits not saved yet (Save then says it changed on disk)."""
        form = self.form
        if self.isVisible() and not self.busy and (form is None or not form.dirty):
            self.reload()

    def _server_problem(self, problem: Problem) -> None:
        if self._reloading and problem.kind == "reload":
            self._reloading = False
            self.message.setText(f"Saved, but the server did not reload it: {problem.headline}")

    def _update_buttons(self) -> None:
        editor = self.editor
        editable = editor is not None and not editor.read_only
        chosen = self._current_entry() is not None
        self.new_agent_button.setEnabled(editable)
        self.new_team_button.setEnabled(editable)
        self.duplicate_button.setEnabled(editable and chosen)
        self.delete_button.setEnabled(editable and chosen)
        self.save_button.setEnabled(editable and self.form is not None)
