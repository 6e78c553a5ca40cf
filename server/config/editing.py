"""Editing config.yaml in place: agents, teams, named models, knowledge bases, MCP servers.

No Qt here: the tray's Agents window calls this off the GUI thread (and a terminal
command can call it the same way). An editor holds the file as it was read and the
text with the edits made so far; nothing touches the disk until ``save``:

- every edit goes through ``edit_yaml``, so the user's comments, key order, blank
  lines and formatting stay as they were, except on the lines of what changed;
- ``problems`` validates the edited text with the server's own schema and returns the
  problems ``traymind check-config`` would print, each with its key path; ``save``
  refuses (``ConfigError``) while there are any, writing nothing;
- ``save`` refuses (``EditRefused``) when the file changed on disk since it was read,
  rather than overwrite someone else's edit; it writes a temporary file beside the
  config and renames it over (keeping the file's mode, and a symlink's target);
- a MindRoom config is read but not edited: Traymind serves it as it is, and writing
  Traymind's forms into it (tool entries, model names) could break it for MindRoom.
"""

from __future__ import annotations

import copy
import os
import re
import stat
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from server.config.edit_specs import AgentSpec, TeamSpec
from server.config.edit_yaml import YamlEditError, copy_entry, patch_text, rename_key
from server.config.errors import ConfigError, ConfigProblem
from server.config.loading import parse_config
from server.config.mindroom import strip_mindroom
from server.config.yaml_file import YamlProblem, read_yaml

CHANGED_ON_DISK = (
    "{name} changed on disk after Traymind read it (another program or window saved it), "
    "so nothing was written. Reload to see the new version, then make the change again."
)
MINDROOM = (
    "{name} is a MindRoom config ({keys}). Traymind serves it as it is but does not edit it, "
    "so that MindRoom can still read it: edit it by hand, or use a Traymind config.yaml for "
    "the agents you want to change here."
)
SLUG = re.compile(r"[^a-z0-9]+")
FIELD = re.compile(r"[^.\[]+(\[\d+\])?")


class EditRefused(Exception):
    """The edit or save cannot be done at all (not a validation problem); a sentence."""


class ConfigEditor:
    """One config file opened for editing; see the module docstring."""

    def __init__(self, path: Path, original: bytes, text: str) -> None:
        self.path = path
        self._original = original
        self.text = text
        self._problems: tuple[str, list[ConfigProblem]] | None = None
        self.read_only = _mindroom_reason(path.name, self.data)

    @classmethod
    def open(cls, path: Path) -> ConfigEditor:
        """Read ``path``; ``EditRefused`` (check-config's sentence) if it is not editable YAML."""
        path = Path(path).expanduser()
        try:
            raw = path.read_bytes()
            text = raw.decode("utf-8")
        except FileNotFoundError:
            raw, text = b"", ""  # a config that does not exist yet is an empty one
        except UnicodeDecodeError:
            raise EditRefused(f"{path.name}: the file is not UTF-8 text") from None
        except OSError as exc:
            raise EditRefused(f"{path.name}: cannot read the file ({exc.strerror})") from None
        try:
            data = read_yaml(text)
        except YamlProblem as exc:
            raise EditRefused(exc.problem.line(path.name)) from None
        if data is not None and not isinstance(data, dict):
            raise EditRefused(f"{path.name}: the top level must be a mapping of sections")
        return cls(path, raw, text)

    def copy(self) -> ConfigEditor:
        """An editor with the same file and edits, to try more edits on."""
        return ConfigEditor(self.path, self._original, self.text)

    # --- reading -------------------------------------------------------------------------

    @property
    def data(self) -> dict[str, Any]:
        """The edited text as the server reads it (before validation)."""
        data = read_yaml(self.text)
        return data if isinstance(data, dict) else {}

    @property
    def changed(self) -> bool:
        return self.text.encode("utf-8") != self._original

    def section(self, name: str) -> dict[str, Any]:
        value = self.data.get(name)
        return value if isinstance(value, dict) else {}

    def agent(self, agent_id: str) -> AgentSpec:
        """The agent as the file has it; ``EditRefused`` if it is not there or unreadable."""
        entry = self._entry("agents", agent_id, "agent")
        try:
            return AgentSpec.from_entry(agent_id, entry)
        except ValueError as exc:
            raise EditRefused(f"{self.path.name}: agents.{agent_id}.{exc}; fix it first") from None

    def team(self, team_id: str) -> TeamSpec:
        return TeamSpec.from_entry(team_id, self._entry("teams", team_id, "team"))

    def problems(self) -> list[ConfigProblem]:
        """What ``traymind check-config`` would report for the edited text (empty: valid)."""
        if self._problems is None or self._problems[0] != self.text:
            self._problems = (self.text, self._validate())
        return list(self._problems[1])

    def error(self) -> ConfigError | None:
        problems = self.problems()
        return ConfigError(problems, path=self.path) if problems else None

    # --- agents and teams ----------------------------------------------------------------

    def put_agent(self, spec: AgentSpec, *, replacing: str | None = None) -> None:
        """Create the agent, or update it (renamed from ``replacing`` when that differs).

        A rename also renames it in the teams it belongs to.
        """
        self._put("agents", spec, replacing, "agent")

    def duplicate_agent(self, source: str, new_id: str) -> None:
        """A copy of ``source`` (with its comments) right after it, called ``new_id``."""
        self._entry("agents", source, "agent")
        self._refuse_taken("agents", new_id, "agent")
        self._apply(lambda text: copy_entry(text, ("agents", source), new_id))

    def delete_agent(self, agent_id: str) -> None:
        """Remove the agent, and remove it from the teams it belongs to."""
        self._entry("agents", agent_id, "agent")
        data = self.data
        del data["agents"][agent_id]
        for team in (data.get("teams") or {}).values():
            if isinstance(team, dict) and isinstance(team.get("agents"), list):
                team["agents"] = [m for m in team["agents"] if m != agent_id]
        self._apply(lambda text: patch_text(text, data))

    def put_team(self, spec: TeamSpec, *, replacing: str | None = None) -> None:
        self._put("teams", spec, replacing, "team")

    def duplicate_team(self, source: str, new_id: str) -> None:
        self._entry("teams", source, "team")
        self._refuse_taken("teams", new_id, "team")
        self._apply(lambda text: copy_entry(text, ("teams", source), new_id))

    def delete_team(self, team_id: str) -> None:
        self._entry("teams", team_id, "team")
        data = self.data
        del data["teams"][team_id]
        self._apply(lambda text: patch_text(text, data))

    # --- models, knowledge bases, MCP servers ------------------------------------------

    def put_model(self, name: str, values: Mapping[str, object]) -> None:
        """Create or update ``models.<name>``: each value set, ``None`` removes that key,
        and keys not named stay as they are (``api_key_keyring`` too)."""
        self._put_values("models", name, values)

    def put_knowledge_base(
        self,
        base_id: str,
        path: str,
        description: str | None = None,
        git: Mapping[str, object] | None = None,
    ) -> None:
        """Create or update ``knowledge_bases.<id>`` for a folder (kept in step with a Git
        branch when ``git`` gives ``repo_url`` and ``branch``)."""
        values: dict[str, object] = {"path": path, "description": description}
        if git is not None:
            values["git"] = dict(git)
        self._put_values("knowledge_bases", base_id, values)

    def put_mcp_server(self, name: str, values: Mapping[str, object]) -> None:
        """Create or update ``mcp_servers.<name>`` (``command``/``args`` or ``url``)."""
        self._put_values("mcp_servers", name, values)

    def remove_source(self, section: str, name: str) -> None:
        """Delete ``knowledge_bases.<name>`` or ``mcp_servers.<name>``; ``EditRefused`` while
        an agent still uses it (untick it there first)."""
        kind = {"knowledge_bases": "knowledge base", "mcp_servers": "MCP server"}[section]
        self._entry(section, name, kind)
        users = [
            agent_id
            for agent_id in self.section("agents")
            if name in _sources_of(self.section("agents")[agent_id], section)
        ]
        if users:
            raise EditRefused(
                f"The {kind} {name} is still used by {', '.join(users)}: untick it there first."
            )
        data = self.data
        del data[section][name]
        if not data[section]:
            del data[section]
        self._apply(lambda text: patch_text(text, data))

    def new_id(self, section: str, wanted: str) -> str:
        """``wanted`` made into an id (``My notes`` -> ``my-notes``) no entry of ``section``
        has yet: ``notes``, ``notes-2``, ..."""
        base = SLUG.sub("-", wanted.lower()).strip("-") or section.rstrip("s")
        taken = (
            set(self.section("agents")) | set(self.section("teams")) | set(self.section(section))
        )
        candidate, number = base, 2
        while candidate in taken:
            candidate, number = f"{base}-{number}", number + 1
        return candidate

    # --- saving ---------------------------------------------------------------------------

    def save(self) -> bool:
        """Write the edits (True), or nothing when there are none (False).

        Raises ``ConfigError`` while the edited config has problems and ``EditRefused``
        when the file changed on disk since it was read; in both cases nothing is written.
        """
        if self.read_only:
            raise EditRefused(self.read_only)
        error = self.error()
        if error is not None:
            raise error
        if not self.changed:
            return False
        target = self.path.resolve()
        try:
            on_disk = target.read_bytes()
        except FileNotFoundError:
            on_disk = b""
        if on_disk != self._original:
            raise EditRefused(CHANGED_ON_DISK.format(name=self.path.name))
        written = self.text.encode("utf-8")
        _write_atomically(target, written)
        self._original = written
        return True

    # --- internals --------------------------------------------------------------------------

    def _validate(self) -> list[ConfigProblem]:
        try:
            data = read_yaml(self.text)
            parse_config(data, source=self.path.name, base_dir=self.path.parent.resolve())
        except YamlProblem as exc:
            return [exc.problem]
        except ConfigError as exc:
            return exc.problems
        return []

    def _apply(self, change: Any) -> None:
        if self.read_only:
            raise EditRefused(self.read_only)
        try:
            self.text = change(self.text)
        except YamlEditError as exc:
            raise EditRefused(f"{self.path.name}: {exc}.") from None

    def _entry(self, section: str, entity_id: str, kind: str) -> object:
        entries = self.section(section)
        if entity_id not in entries:
            raise EditRefused(
                f"{self.path.name} has no {kind} '{entity_id}' (it may have been removed "
                "by hand); reload to see the file as it is now."
            )
        return entries[entity_id]

    def _refuse_taken(self, section: str, entity_id: str, kind: str) -> None:
        if entity_id in self.section(section):
            problem = ConfigProblem(
                f"{section}.{entity_id}", f"there is already {_article(kind)} with this id"
            )
            raise ConfigError([problem], path=self.path)

    def _put(
        self, section: str, spec: AgentSpec | TeamSpec, replacing: str | None, kind: str
    ) -> None:
        if replacing is not None and replacing != spec.id:
            self._entry(section, replacing, kind)
            self._refuse_taken(section, spec.id, kind)
            self._apply(lambda text: rename_key(text, (section, replacing), spec.id))
            if section == "agents":
                self._rename_member(replacing, spec.id)
        data = self.data
        entries = data.get(section) if isinstance(data.get(section), dict) else {}
        if replacing is None and spec.id in entries:
            self._refuse_taken(section, spec.id, kind)
        current = entries.get(spec.id)
        updated = spec.updated(current)
        if spec.id in entries and updated == current:
            return
        data[section] = {**entries, spec.id: updated}
        self._apply(lambda text: patch_text(text, data))

    def _rename_member(self, old: str, new: str) -> None:
        data = self.data
        changed = False
        for team in (data.get("teams") or {}).values():
            members = team.get("agents") if isinstance(team, dict) else None
            if isinstance(members, list) and old in members:
                team["agents"] = [new if m == old else m for m in members]
                changed = True
        if changed:
            self._apply(lambda text: patch_text(text, data))

    def _put_values(self, section: str, key: str, values: Mapping[str, object]) -> None:
        data = self.data
        entries = data.get(section) if isinstance(data.get(section), dict) else {}
        current = entries.get(key)
        entry = copy.deepcopy(current) if isinstance(current, dict) else {}
        for name, value in values.items():
            if value is None:
                entry.pop(name, None)
            else:
                entry[name] = value
        if entry == current:
            return
        data[section] = {**entries, key: entry}
        self._apply(lambda text: patch_text(text, data))


def _sources_of(entry: object, section: str) -> list[str]:
    """The knowledge bases (or MCP servers) an agent's entry names."""
    if not isinstance(entry, dict):
        return []
    if section == "knowledge_bases":
        bases = entry.get("knowledge_bases")
        return [str(b) for b in bases] if isinstance(bases, list) else []
    servers = []
    for tool in entry.get("tools") or []:
        options = tool.get("mcp") if isinstance(tool, dict) else None
        if isinstance(options, dict) and options.get("server"):
            servers.append(str(options["server"]))
    return servers


def problem_field(problem: ConfigProblem, section: str, entity_id: str) -> str | None:
    """The field of ``<section>.<entity_id>`` a problem is about, as a form shows it: ``model``,
    ``tools[2]``; ``id`` for the entry itself; None for a problem elsewhere in the file."""
    path, prefix = problem.key_path, f"{section}.{entity_id}"
    other = "teams" if section == "agents" else "agents"
    if path in (prefix, f"{other}.{entity_id}") or (path == section and not entity_id.strip()):
        return "id"
    if not path.startswith(prefix) or path[len(prefix)] not in ".[":
        return None
    found = FIELD.match(path[len(prefix) :].lstrip("."))
    return found.group(0) if found else None


def _article(kind: str) -> str:
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"


def _mindroom_reason(name: str, data: dict[str, Any]) -> str | None:
    """The sentence refusing edits when ``data`` holds MindRoom-only settings, else None."""
    cleaned, warnings = strip_mindroom(data, name)
    if not warnings and cleaned == data:
        return None
    keys = [w.split("ignoring ", 1)[-1].split(" (", 1)[0].split(":", 1)[0] for w in warnings]
    shown = ", ".join(dict.fromkeys(keys[:3])) or "MindRoom tool entries"
    return MINDROOM.format(name=name, keys=f"it has {shown}")


def _write_atomically(target: Path, content: bytes) -> None:
    """Write beside ``target`` and rename over it: a reader sees the old or the new file."""
    try:
        mode = stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        mode = 0o644
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".config-", suffix=".yaml")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(content)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
