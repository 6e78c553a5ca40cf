"""The agent form's knowledge bases: which it searches, new ones from a folder or a Git URL.

A new base is created under ``knowledge_bases`` when the agent is saved: a folder as it
is, a Git repository as a mirror of one branch cloned into ``knowledge/<id>`` beside
config.yaml (the server clones and indexes it). Each base shows the server's indexing
state ("indexing 3/10 files", "ready", an error), live.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QListWidget,
    QPushButton,
    QVBoxLayout,
)

from app.agent_form_tools import ChooseFolder, InlineAdd, checkable, error_label, set_error
from app.status_text import knowledge_problem_text, knowledge_state_text

GIT_FOLDER = "knowledge"  # beside config.yaml: where new Git bases are cloned
GIT_URL = ("https://", "http://", "file://", "ssh://", "git@")


def repo_name(url: str) -> str:
    """``https://host/team/handbook.git`` -> ``handbook``."""
    tail = url.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1]
    return tail.removesuffix(".git") or "repository"


def describe_base(values: object) -> str:
    """What a ``knowledge_bases`` entry is, in a row: its repository and branch, or folder."""
    if not isinstance(values, dict):
        return ""
    git = values.get("git")
    if isinstance(git, dict) and git.get("repo_url"):
        return f"{git['repo_url']} ({git.get('branch') or 'main'})"
    return str(values.get("path", ""))


class KnowledgeBox(QGroupBox):
    """The knowledge bases the agent searches; see the module docstring."""

    changed = Signal()

    def __init__(self, choose: ChooseFolder) -> None:
        super().__init__("Knowledge bases")
        self._choose = choose
        self._new_id: Callable[[str], str] = lambda wanted: wanted
        self.pending: dict[str, dict[str, Any]] = {}  # new bases: id -> values, made on save
        self._where: dict[str, str] = {}  # id -> what the row says it is
        self.bases = QListWidget()
        self.bases.setMaximumHeight(110)
        self.bases.itemChanged.connect(lambda _item: self.changed.emit())
        self.add_button = QPushButton("Add folder…")
        self.add_button.clicked.connect(self.add_folder)
        self.add_git_button = QPushButton("Add Git repository…")
        self.add_git_button.clicked.connect(self._open_git)
        self.remove_button = QPushButton("Remove")
        self.remove_button.setToolTip("Delete the selected base from config.yaml on save")
        self.remove_button.clicked.connect(self.remove_selected)
        self.removed: set[str] = set()  # bases to delete from knowledge_bases on save
        self.git_row = InlineAdd(
            "https://github.com/team/handbook.git", "branch (main)", self.add_git, (4, 1)
        )
        self.git_url, self.git_branch = self.git_row.first, self.git_row.second
        self.confirm_git = self.git_row.confirm
        self.error = error_label()
        layout = QVBoxLayout(self)
        layout.addWidget(self.bases)
        row = QHBoxLayout()
        row.addWidget(self.add_button)
        row.addWidget(self.add_git_button)
        row.addWidget(self.remove_button)
        row.addStretch()
        layout.addLayout(row)
        layout.addWidget(self.git_row)
        layout.addWidget(self.error)

    def load(
        self, known: dict[str, str], selected: list[str], new_id: Callable[[str], str]
    ) -> None:
        """``known``: id -> what config.yaml's base is (folder or repository); ``selected``:
        the agent's bases."""
        self._new_id = new_id
        self.pending = {}
        self._where = {}
        self.removed = set()
        self.bases.blockSignals(True)
        self.bases.clear()
        for base_id in dict.fromkeys([*selected, *known]):
            self._add_item(base_id, known.get(base_id, ""), base_id in selected)
        self.bases.blockSignals(False)
        self.git_row.hide()
        set_error(self.error, "")

    def selected(self) -> list[str]:
        items = [self.bases.item(i) for i in range(self.bases.count())]
        return [
            str(i.data(Qt.ItemDataRole.UserRole))
            for i in items
            if i.checkState() == Qt.CheckState.Checked
        ]

    def new_bases(self) -> dict[str, dict[str, Any]]:
        """The bases added here that are ticked: ``knowledge_bases`` values to create."""
        chosen = self.selected()
        return {k: v for k, v in self.pending.items() if k in chosen}

    def remove_selected(self) -> None:
        """Take the selected base out of the list; a configured one is deleted on save
        (refused then if another agent still searches it). Its index stays in the data
        folder until the server drops it."""
        item = self.bases.currentItem()
        if item is None:
            return
        base_id = str(item.data(Qt.ItemDataRole.UserRole))
        if base_id in self.pending:
            del self.pending[base_id]
        else:
            self.removed.add(base_id)
        self.bases.takeItem(self.bases.row(item))
        self.changed.emit()

    def add_folder(self) -> None:
        folder = self._choose(self, "Folder of documents the agent may search")
        if not folder:
            return
        self._add_new(Path(folder).name, {"path": folder}, folder)

    def _open_git(self) -> None:
        self.git_row.open()

    def add_git(self) -> None:
        url = self.git_url.text().strip()
        branch = self.git_branch.text().strip() or "main"
        if any(c.isspace() for c in branch) or branch.startswith("-"):
            set_error(self.error, f"“{branch}” is not a branch name (no spaces, no leading '-').")
            return
        scheme_only = url.rstrip("/") in ("https:", "http:", "file:", "ssh:", "git@")
        if scheme_only or (
            not url.startswith(GIT_URL) and not Path(url).expanduser().is_absolute()
        ):
            set_error(
                self.error,
                "Give the repository's URL (https://…, ssh://…, git@host:team/repo.git or "
                "file://…) or an absolute path to a local repository.",
            )
            return
        set_error(self.error, "")
        base_id = self._add_new(repo_name(url), {}, f"{url} ({branch})")
        self.pending[base_id] = {
            "path": f"{GIT_FOLDER}/{base_id}",
            "git": {"repo_url": url, "branch": branch},
        }
        self.git_row.hide()

    def _add_new(self, wanted: str, values: dict[str, Any], where: str) -> str:
        base_id = self._new_id(wanted)
        while base_id in self.pending:
            base_id = self._new_id(base_id + "-2")
        self.pending[base_id] = values
        self._add_item(base_id, f"{where} (new)", True)
        self.changed.emit()
        return base_id

    def show_status(self, bases: Mapping[str, Mapping[str, Any]]) -> None:
        """The server's state of each base (from the status snapshot), beside its name."""
        self.bases.blockSignals(True)
        for i in range(self.bases.count()):
            item = self.bases.item(i)
            base_id = str(item.data(Qt.ItemDataRole.UserRole))
            base = bases.get(base_id)
            text = self._label(base_id)
            if base is not None and base_id not in self.pending:
                text += f" · {knowledge_state_text(base)}"
                problem = knowledge_problem_text(base) if base.get("state") == "error" else ""
                if problem:
                    text += f": {problem[:160]}"
            if item.text() != text:
                item.setText(text)
        self.bases.blockSignals(False)

    def _label(self, base_id: str) -> str:
        where = self._where.get(base_id, "")
        return f"{base_id} — {where}" if where else base_id

    def _add_item(self, base_id: str, where: str, checked: bool) -> None:
        self._where[base_id] = where
        self.bases.addItem(checkable(self._label(base_id), base_id, checked))
