"""The config editor: edits keep the user's comments, order and formatting, and invalid
edits, concurrent changes and MindRoom configs write nothing.

Each edit is compared with the whole expected file, byte for byte.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from server.cli.check_config import check_config
from server.config import ConfigError, load_config
from server.config.edit_specs import (
    AgentSpec,
    TeamSpec,
    instructions_from_text,
    instructions_text,
)
from server.config.edit_yaml import patch_text
from server.config.editing import ConfigEditor, EditRefused
from server.config.yaml_file import read_yaml
from server.paths import resource
from server.tools.ref import ToolRef

# Comments above and beside keys, blank lines, teams before agents, an agent's keys in an
# unusual order, flow lists, a quoted string and a sequence written without indentation.
CONFIG = """\
# My Traymind config
# (hand-written)

teams:
  helpdesk:
    agents: [general, coder]   # both of them
    mode: coordinate

agents:
  # The one everybody talks to
  general:
    tools: [calculator, current_time]  # keep it simple
    display_name: General   # shown in chat apps
    instructions:
      - Be kind.
      - Be brief.

  # Writes code
  coder:
    role: 'Programming help'
    knowledge_bases:
    - notes

knowledge_bases:
  notes:
    path: /srv/notes   # my notes

models:
  default:
    provider: openai
    id: llama3.2     # small and quick
    base_url: http://127.0.0.1:11434/v1
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG, encoding="utf-8")
    return path


def edited(path: Path, change) -> str:
    """Open, change, save; the file's new text (which the server's loader must accept)."""
    editor = ConfigEditor.open(path)
    change(editor)
    assert editor.save() is True
    load_config(path)
    return path.read_text(encoding="utf-8")


def check_config_lines(tmp_path: Path, text: str, capsys) -> str:
    """What ``traymind check-config`` prints for a file holding ``text``."""
    other = tmp_path / "check" / "config.yaml"
    other.parent.mkdir(exist_ok=True)
    other.write_text(text, encoding="utf-8")
    capsys.readouterr()
    assert check_config(str(other)) == 1
    return capsys.readouterr().err.strip()


# --- untouched files ---------------------------------------------------------------------


@pytest.mark.parametrize("text", [CONFIG, resource("default-config.yaml").read_text()])
def test_an_untouched_file_round_trips_byte_for_byte(tmp_path: Path, text: str) -> None:
    path = tmp_path / "config.yaml"
    path.write_bytes(text.encode())
    before = os.stat(path).st_mtime_ns
    editor = ConfigEditor.open(path)
    assert editor.text == text and not editor.changed
    assert patch_text(text, read_yaml(text)) == text
    assert editor.save() is False
    assert path.read_bytes() == text.encode() and os.stat(path).st_mtime_ns == before


def test_putting_an_agent_back_unchanged_writes_nothing(config: Path) -> None:
    editor = ConfigEditor.open(config)
    for agent_id in ("general", "coder"):
        editor.put_agent(editor.agent(agent_id), replacing=agent_id)
    editor.put_team(editor.team("helpdesk"), replacing="helpdesk")
    assert editor.text == CONFIG and editor.save() is False


# --- agents ------------------------------------------------------------------------------


def test_editing_instructions_writes_a_literal_block_and_keeps_the_rest(config: Path) -> None:
    def change(editor: ConfigEditor) -> None:
        spec = editor.agent("general")
        spec.instructions = instructions_from_text(
            "Be kind.\n\nAnswer in short sentences.\nUse metric units."
        )
        spec.role = "Helps with everything"
        editor.put_agent(spec, replacing="general")

    assert edited(config, change) == CONFIG.replace(
        """\
      - Be kind.
      - Be brief.
""",
        """\
      - Be kind.
      - |
        Answer in short sentences.
        Use metric units.
    role: Helps with everything
""",
    )


def test_changing_a_quoted_value_and_a_flow_list_keeps_their_style(config: Path) -> None:
    def change(editor: ConfigEditor) -> None:
        spec = editor.agent("coder")
        spec.role = "Code and reviews"
        spec.knowledge_bases = []
        editor.put_agent(spec, replacing="coder")
        general = editor.agent("general")
        general.tools = [*general.tools, ToolRef(name="python")]
        editor.put_agent(general, replacing="general")

    assert edited(config, change) == CONFIG.replace(
        "    tools: [calculator, current_time]  # keep it simple\n",
        "    tools: [calculator, current_time, python]  # keep it simple\n",
    ).replace(
        "    role: 'Programming help'\n    knowledge_bases:\n    - notes\n",
        "    role: 'Code and reviews'\n",
    )


def test_creating_an_agent_with_tools_and_options(config: Path) -> None:
    spec = AgentSpec(
        id="notes-helper",
        display_name="Notes",
        role="Finds things in my notes",
        instructions=instructions_from_text("Quote the file you found it in."),
        tools=[
            ToolRef(name="files", options={"roots": ["/srv/notes"], "write": True}),
            ToolRef(name="shell", options={"cwd": "/srv/notes", "timeout_seconds": 30}),
            ToolRef(name="web_fetch", options={"allow_private": True}),
            ToolRef(name="calculator"),
        ],
        knowledge_bases=["notes"],
        memory=True,
        show_tool_calls=False,
    )
    assert edited(config, lambda editor: editor.put_agent(spec)) == CONFIG.replace(
        """\
    - notes

""",
        """\
    - notes

  notes-helper:
    display_name: Notes
    role: Finds things in my notes
    instructions:
      - Quote the file you found it in.
    tools:
      - files:
          roots: [/srv/notes]
          write: true
      - shell:
          cwd: /srv/notes
          timeout_seconds: 30
      - web_fetch:
          allow_private: true
      - calculator
    knowledge_bases: [notes]
    memory: true
    show_tool_calls: false

""",
    )


def test_changing_one_tool_option_keeps_the_other_entries(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    text = """\
agents:
  general:
    tools:
      - calculator   # arithmetic
      # my notes folder
      - files:
          roots: [~/notes]
          max_results: 50   # plenty
      - {web_fetch: {timeout_seconds: 10}}
"""
    path.write_text(text)

    def change(editor: ConfigEditor) -> None:
        spec = editor.agent("general")
        files = spec.tools[1]
        spec.tools = [
            ToolRef(name="files", options={**files.options, "write": True}),
            spec.tools[2],
            ToolRef(name="current_time"),
        ]
        editor.put_agent(spec, replacing="general")

    assert (
        edited(path, change)
        == """\
agents:
  general:
    tools:
      # my notes folder
      - files:
          roots: [~/notes]
          max_results: 50   # plenty
          write: true
      - {web_fetch: {timeout_seconds: 10}}
      - current_time
"""
    )


def test_renaming_an_agent_renames_it_in_its_teams(config: Path) -> None:
    def change(editor: ConfigEditor) -> None:
        spec = editor.agent("coder")
        spec.id = "programmer"
        editor.put_agent(spec, replacing="coder")

    assert edited(config, change) == CONFIG.replace(
        "[general, coder]   # both", "[general, programmer]   # both"
    ).replace("  coder:\n", "  programmer:\n")


def test_duplicating_an_agent_copies_it_with_its_comments(config: Path) -> None:
    def change(editor: ConfigEditor) -> None:
        editor.duplicate_agent("general", "general-2")
        spec = editor.agent("general-2")
        spec.display_name = "General (copy)"
        editor.put_agent(spec, replacing="general-2")

    assert edited(config, change) == CONFIG.replace(
        """\
      - Be brief.

""",
        """\
      - Be brief.

  general-2:
    tools: [calculator, current_time]  # keep it simple
    display_name: General (copy)   # shown in chat apps
    instructions:
      - Be kind.
      - Be brief.

""",
    )


def test_deleting_an_agent_takes_its_comment_and_leaves_the_next_ones(config: Path) -> None:
    text = edited(config, lambda editor: editor.delete_agent("general"))
    assert text == CONFIG.replace(
        """\
  # The one everybody talks to
  general:
    tools: [calculator, current_time]  # keep it simple
    display_name: General   # shown in chat apps
    instructions:
      - Be kind.
      - Be brief.

""",
        "",
    ).replace("[general, coder]", "[coder]")


def test_deleting_the_last_agent_of_a_team_is_refused_with_the_schema_message(
    config: Path,
) -> None:
    editor = ConfigEditor.open(config)
    editor.delete_agent("general")
    editor.delete_agent("coder")
    assert [(p.key_path, p.message) for p in editor.problems()] == [
        ("teams.helpdesk.agents", "must not be empty")
    ]
    with pytest.raises(ConfigError):
        editor.save()
    assert config.read_text() == CONFIG


# --- teams, models, knowledge bases --------------------------------------------------------


def test_creating_and_updating_teams(config: Path) -> None:
    def change(editor: ConfigEditor) -> None:
        team = editor.team("helpdesk")
        team.mode = "collaborate"
        team.members = ["general"]
        editor.put_team(team, replacing="helpdesk")
        editor.put_team(TeamSpec(id="duo", role="Two heads", members=["coder", "general"]))

    assert edited(config, change) == CONFIG.replace(
        """\
    agents: [general, coder]   # both of them
    mode: coordinate
""",
        """\
    agents: [general]   # both of them
    mode: collaborate
  duo:
    role: Two heads
    agents: [coder, general]
""",
    )


def test_models_are_added_and_updated_keeping_keys_not_named(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG.replace("    base_url:", "    api_key_keyring: default\n    base_url:"))

    def change(editor: ConfigEditor) -> None:
        editor.put_model("default", {"id": "qwen3", "base_url": None})
        editor.put_model("claude", {"provider": "anthropic", "id": "claude-sonnet-4-5"})

    assert edited(path, change) == CONFIG.replace(
        """\
    id: llama3.2     # small and quick
    base_url: http://127.0.0.1:11434/v1
""",
        """\
    id: qwen3     # small and quick
    api_key_keyring: default
  claude:
    provider: anthropic
    id: claude-sonnet-4-5
""",
    )


def test_a_knowledge_base_folder_and_a_new_section(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("# just agents\nagents:\n  general: {}   # empty for now\n")

    def change(editor: ConfigEditor) -> None:
        base = editor.new_id("knowledge_bases", "My Notes")
        editor.put_knowledge_base(base, str(tmp_path / "notes"))
        spec = editor.agent("general")
        spec.knowledge_bases = [base]
        editor.put_agent(spec, replacing="general")

    assert edited(path, change) == (
        "# just agents\n"
        "agents:\n"
        "  general:      # empty for now\n"
        "    knowledge_bases: [my-notes]\n"
        "\n"
        "knowledge_bases:\n"
        "  my-notes:\n"
        f"    path: {tmp_path / 'notes'}\n"
    )


def test_the_bundled_config_gets_new_entries_after_its_agents_not_under_later_headings(
    tmp_path: Path,
) -> None:
    bundled = resource("default-config.yaml").read_text()
    path = tmp_path / "config.yaml"
    path.write_text(bundled)

    def change(editor: ConfigEditor) -> None:
        code = editor.agent("code")
        code.tools = [ToolRef(name="python")]
        editor.put_agent(code, replacing="code")
        editor.put_agent(AgentSpec(id="writer", role="Writes"))
        editor.put_team(TeamSpec(id="helpdesk", members=["general", "code"]))

    hints = (
        "    # model: default            # or the name of an entry under models:\n"
        "    # tools: [calculator]        # built-in tools: calculator, current_time\n"
    )
    assert edited(path, change) == bundled.replace(
        hints,
        "    tools: [python]\n"
        + hints
        + "\n  writer:\n    role: Writes\n\nteams:\n  helpdesk:\n    agents: [general, code]\n",
    )


def test_windows_line_endings_stay(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_bytes(b"agents:\r\n  general:\r\n    role: Helper  # mine\r\n")
    edited(
        path,
        lambda editor: editor.put_agent(
            AgentSpec(id="general", display_name="G"), replacing="general"
        ),
    )
    assert path.read_bytes() == b"agents:\r\n  general:\r\n    display_name: G\r\n"


def test_a_config_that_does_not_exist_yet_is_created(tmp_path: Path) -> None:
    path = tmp_path / "new" / "config.yaml"
    edited(path, lambda editor: editor.put_agent(AgentSpec(id="general", role="Helper")))
    assert path.read_text() == "agents:\n  general:\n    role: Helper\n"


def test_instructions_text_round_trips_paragraphs() -> None:
    items = instructions_from_text("One.\n\n  \nTwo lines\nhere.\n\n\nThree.")
    assert items == ["One.", "Two lines\nhere.\n", "Three."]
    assert instructions_text(items) == "One.\n\nTwo lines\nhere.\n\nThree."


# --- invalid edits ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda e: e.put_agent(AgentSpec(id="writer", model="gpt")),
            [("agents.writer.model", "'gpt' is not a key under models (known: default)")],
        ),
        (
            lambda e: e.put_agent(
                AgentSpec(id="writer", tools=[ToolRef(name="files", options={"roots": ["notes"]})])
            ),
            [
                (
                    "agents.writer.tools[0]",
                    "option 'roots' of tool 'files': Value error, "
                    "'notes' must be an absolute path or start with ~",
                )
            ],
        ),
        (
            lambda e: e.put_agent(AgentSpec(id="auto")),
            [
                (
                    "agents.auto",
                    "'auto' is reserved (it lets the router choose); pick another agent id",
                )
            ],
        ),
        (
            lambda e: e.put_team(TeamSpec(id="crew", members=["general", "genral"])),
            [
                (
                    "teams.crew.agents[1]",
                    "'genral' is not an agent id (known: general, coder); did you mean 'general'?",
                )
            ],
        ),
    ],
)
def test_invalid_edits_give_check_configs_messages_and_write_nothing(
    config: Path, tmp_path: Path, capsys, change, expected
) -> None:
    editor = ConfigEditor.open(config)
    change(editor)
    assert [(p.key_path, p.message) for p in editor.problems()] == expected
    with pytest.raises(ConfigError) as raised:
        editor.save()
    assert str(raised.value) == check_config_lines(tmp_path, editor.text, capsys)
    assert config.read_bytes() == CONFIG.encode()


def test_an_id_that_is_taken_is_a_problem_at_that_id(config: Path) -> None:
    editor = ConfigEditor.open(config)
    with pytest.raises(ConfigError) as raised:
        editor.put_agent(AgentSpec(id="coder"))
    assert str(raised.value) == "config.yaml: agents.coder: there is already an agent with this id"
    with pytest.raises(ConfigError) as raised:
        editor.put_agent(AgentSpec(id="general"), replacing="coder")
    assert str(raised.value) == (
        "config.yaml: agents.general: there is already an agent with this id"
    )
    assert editor.text == CONFIG


# --- the file on disk --------------------------------------------------------------------------


def test_a_change_on_disk_since_reading_is_refused(config: Path) -> None:
    editor = ConfigEditor.open(config)
    editor.put_agent(AgentSpec(id="writer"))
    theirs = CONFIG + "\n# added in another editor\n"
    config.write_text(theirs)
    with pytest.raises(EditRefused) as refused:
        editor.save()
    assert str(refused.value) == (
        "config.yaml changed on disk after Traymind read it (another program or window saved "
        "it), so nothing was written. Reload to see the new version, then make the change again."
    )
    assert config.read_text() == theirs


def test_saving_keeps_the_mode_and_a_symlink(tmp_path: Path) -> None:
    real = tmp_path / "dotfiles" / "traymind.yaml"
    real.parent.mkdir()
    real.write_text(CONFIG)
    real.chmod(0o600)
    link = tmp_path / "config.yaml"
    link.symlink_to(real)
    edited(link, lambda editor: editor.put_team(TeamSpec(id="solo", members=["coder"])))
    assert link.is_symlink() and link.resolve() == real
    assert stat.S_IMODE(real.stat().st_mode) == 0o600
    assert real.read_text() == CONFIG.replace(
        "    mode: coordinate\n", "    mode: coordinate\n  solo:\n    agents: [coder]\n"
    )
    assert sorted(p.name for p in real.parent.iterdir()) == ["traymind.yaml"]  # no temp file


def test_a_mindroom_config_is_read_but_not_edited(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    text = "rooms: [lobby]\nagents:\n  general:\n    display_name: General\n    rooms: [lobby]\n"
    path.write_text(text)
    editor = ConfigEditor.open(path)
    assert editor.agent("general").display_name == "General"
    assert editor.read_only == (
        "config.yaml is a MindRoom config (it has rooms, agents.general.rooms). Traymind "
        "serves it as it is but does not edit it, so that MindRoom can still read it: edit "
        "it by hand, or use a Traymind config.yaml for the agents you want to change here."
    )
    with pytest.raises(EditRefused, match="is a MindRoom config"):
        editor.put_agent(AgentSpec(id="writer"))
    assert path.read_text() == text


def test_invalid_yaml_cannot_be_opened_and_says_where(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("agents:\n  general: {\n")
    with pytest.raises(EditRefused) as refused:
        ConfigEditor.open(path)
    assert str(refused.value).startswith("config.yaml: line 3, column 1: invalid YAML")


def test_an_alias_that_cannot_be_edited_alone_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    text = "agents:\n  general: &base\n    role: Helper\n  other: *base\n"
    path.write_text(text)
    editor = ConfigEditor.open(path)
    spec = editor.agent("other")
    spec.role = "Another"
    with pytest.raises(EditRefused, match="edit it by hand"):
        editor.put_agent(spec, replacing="other")
    assert editor.text == text and path.read_text() == text


def test_tool_panels_and_client_tools_are_written_only_when_not_the_default(
    config: Path,
) -> None:
    def change(editor: ConfigEditor) -> None:
        spec = editor.agent("coder")
        assert (spec.tool_event_format, spec.client_tools) == ("traymind", True)
        spec.tool_event_format, spec.client_tools = "openwebui", False
        editor.put_agent(spec, replacing="coder")

    text = edited(config, change)
    assert text == CONFIG.replace(
        "    - notes\n", "    - notes\n    tool_event_format: openwebui\n    client_tools: false\n"
    )
    agent = load_config(config).agents["coder"]
    assert (agent.tool_event_format, agent.client_tools) == ("openwebui", False)

    def back(editor: ConfigEditor) -> None:
        spec = editor.agent("coder")
        spec.tool_event_format, spec.client_tools = "traymind", True
        editor.put_agent(spec, replacing="coder")

    assert "tool_event_format: traymind" in edited(config, back)  # a key the file had stays
