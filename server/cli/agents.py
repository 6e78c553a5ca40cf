"""``traymind agents list|show|add|edit|remove``: the Agents window's edits, from a terminal.

Every change goes through the same ``ConfigEditor`` as the window: config.yaml keeps
its comments, order and formatting except on the lines that change; the result is
validated with the server's own schema and nothing is written while it has problems
(they are printed as ``check-config`` prints them); a file changed on disk meanwhile is
not overwritten. A running Traymind notices the saved file and reloads it.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from typing import Any

import yaml
from pydantic import ValidationError

from server.cli.common import EXIT_FAILED, EXIT_OK, note
from server.config import ConfigError, locate_config
from server.config.edit_specs import AgentSpec
from server.config.edit_yaml import YamlEditError
from server.config.editing import ConfigEditor, EditRefused
from server.tools.ref import ToolRef

TOOL_HELP = (
    "a tool entry as config.yaml writes it: a name (calculator) or YAML "
    "('files: {roots: [~/notes], write: true}'); repeat for several"
)


def add_agents_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    agents = commands.add_parser("agents", help="list, show, add, edit or remove agents")
    agents.add_argument("--config", metavar="PATH", help="config.yaml to edit")
    actions = agents.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="the agents and teams of config.yaml")
    listing.add_argument("--json", action="store_true", help="as JSON")
    show = actions.add_parser("show", help="one agent, as config.yaml has it")
    show.add_argument("id")
    show.add_argument("--json", action="store_true", help="as JSON")
    for name, text in (("add", "create an agent"), ("edit", "change an agent")):
        action = actions.add_parser(name, help=text)
        action.add_argument("id")
        _add_fields(action, editing=name == "edit")
    remove = actions.add_parser("remove", help="delete an agent (and take it out of its teams)")
    remove.add_argument("id")


def _add_fields(parser: argparse.ArgumentParser, *, editing: bool) -> None:
    parser.add_argument("--name", dest="display_name", help="the name chat apps show")
    parser.add_argument("--role", help="one line on what it is for (the auto router reads it)")
    parser.add_argument("--model", help="a named model of config.yaml (default: default)")
    parser.add_argument(
        "--instructions",
        action="append",
        metavar="TEXT",
        help="an instruction; repeat for several (replaces the agent's instructions)",
    )
    parser.add_argument("--tool", action="append", metavar="ENTRY", help=TOOL_HELP)
    parser.add_argument(
        "--knowledge-base",
        action="append",
        metavar="ID",
        dest="knowledge_bases",
        help="a knowledge base it searches; repeat for several",
    )
    parser.add_argument(
        "--memory",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="remember things across conversations",
    )
    parser.add_argument(
        "--show-tool-calls",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="show tool calls and their results in answers",
    )
    if editing:
        parser.add_argument("--rename", metavar="NEW_ID", help="give the agent a new id")
        parser.add_argument(
            "--remove-tool",
            action="append",
            metavar="NAME",
            default=[],
            help="take a tool away (by name: files, mcp...); repeat for several",
        )
        parser.add_argument(
            "--remove-knowledge-base",
            action="append",
            metavar="ID",
            default=[],
            help="stop searching a knowledge base",
        )


def run_agents(args: argparse.Namespace) -> int:
    try:
        path = locate_config(args.config)
        if args.config and not path.is_file():  # a typo must not make a config nobody uses
            raise EditRefused(f"{path} does not exist: check the path given with --config")
        editor = ConfigEditor.open(path)
        if args.action == "list":
            return _list(editor, args.json)
        if args.action == "show":
            return _show(editor, args.id, args.json)
        if args.action == "remove":
            _refuse_read_only(editor)
            editor.delete_agent(args.id)
            return _save(editor, f"Removed agent {args.id}")
        _refuse_read_only(editor)
        return _put(editor, args)
    except (EditRefused, YamlEditError, ConfigError) as exc:
        print(f"traymind agents: {exc}", file=sys.stderr)
        return EXIT_FAILED


def _refuse_read_only(editor: ConfigEditor) -> None:
    if editor.read_only:
        raise EditRefused(editor.read_only)


def _list(editor: ConfigEditor, as_json: bool) -> int:
    agents = [editor.agent(agent_id) for agent_id in editor.section("agents")]
    teams = editor.section("teams")
    if as_json:
        listed = {
            "agents": [_summary(spec) for spec in agents],
            "teams": [{"id": t, **(v if isinstance(v, dict) else {})} for t, v in teams.items()],
        }
        print(json.dumps(listed, indent=2))
        return EXIT_OK
    if not agents and not teams:
        note(f"{editor.path}: no agents yet; add one with `traymind agents add ID`.")
        return EXIT_OK
    rows = [("ID", "NAME", "MODEL", "TOOLS", "KNOWLEDGE")]
    for spec in agents:
        tools = ", ".join(_tool_name(ref) for ref in spec.tools) or "-"
        bases = ", ".join(spec.knowledge_bases) or "-"
        rows.append((spec.id, spec.display_name or "-", spec.model, tools, bases))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        print("  ".join(cells).rstrip())
    for team_id, team in teams.items():
        members = team.get("agents") if isinstance(team, dict) else None
        print(f"team/{team_id}: {', '.join(members or []) or 'no members'}")
    return EXIT_OK


def _tool_name(ref: ToolRef) -> str:
    """``calculator``, or ``mcp:github`` for an MCP server's entry."""
    server = ref.options.get("server") if ref.name == "mcp" else None
    return f"mcp:{server}" if server else ref.name


def _summary(spec: AgentSpec) -> dict[str, Any]:
    summary = dataclasses.asdict(spec)
    summary["tools"] = [{ref.name: ref.options} if ref.options else ref.name for ref in spec.tools]
    return summary


def _show(editor: ConfigEditor, agent_id: str, as_json: bool) -> int:
    spec = editor.agent(agent_id)
    entry = editor.section("agents")[agent_id]
    if as_json:
        print(json.dumps(_summary(spec), indent=2))
    else:
        print(yaml.safe_dump({agent_id: entry}, sort_keys=False, allow_unicode=True), end="")
    return EXIT_OK


def _tool(text: str) -> ToolRef:
    try:
        entry = yaml.safe_load(text)
        return ToolRef.model_validate(entry)
    except (yaml.YAMLError, ValidationError):
        raise EditRefused(f"--tool {text!r} is not a tool entry ({TOOL_HELP})") from None


def _put(editor: ConfigEditor, args: argparse.Namespace) -> int:
    adding = args.action == "add"
    if adding:
        if args.id in editor.section("agents"):
            raise EditRefused(f"an agent named {args.id} exists already: use `agents edit`")
        spec = AgentSpec(id=args.id)
    else:
        spec = editor.agent(args.id)
    changes: dict[str, Any] = {}
    for field in ("display_name", "role", "model"):
        value = getattr(args, field)
        if value is not None:
            changes[field] = value.strip()
    if "model" in changes and not changes["model"]:
        raise EditRefused("--model needs a model name (a key under models:, e.g. default)")
    if args.instructions is not None:
        changes["instructions"] = [text.strip() for text in args.instructions if text.strip()]
    tools = list(spec.tools)
    for name in getattr(args, "remove_tool", []):
        if not any(ref.name == name for ref in tools):
            raise EditRefused(f"agent {args.id} has no tool {name}")
        tools = [ref for ref in tools if ref.name != name]
    for text in args.tool or []:
        ref = _tool(text)
        same = [i for i, t in enumerate(tools) if t.name == ref.name and ref.name != "mcp"]
        if same:
            tools[same[0]] = ref  # the new options replace the old entry, in its place
        else:
            tools.append(ref)
    changes["tools"] = tools
    unknown = [
        b for b in getattr(args, "remove_knowledge_base", []) if b not in spec.knowledge_bases
    ]
    if unknown:
        raise EditRefused(f"agent {args.id} does not search knowledge base {unknown[0]}")
    bases = [b for b in spec.knowledge_bases if b not in getattr(args, "remove_knowledge_base", [])]
    bases += [b for b in args.knowledge_bases or [] if b not in bases]
    changes["knowledge_bases"] = bases
    if args.memory is not None:
        changes["memory"] = args.memory
    if args.show_tool_calls is not None:
        changes["show_tool_calls"] = args.show_tool_calls
    new_id = getattr(args, "rename", None) or spec.id
    updated = dataclasses.replace(spec, id=new_id, **changes)
    editor.put_agent(updated, replacing=None if adding else spec.id)
    verb = "Added" if adding else "Updated"
    return _save(editor, f"{verb} agent {new_id}")


def _save(editor: ConfigEditor, done: str) -> int:
    problems = editor.problems()
    if problems:
        for problem in problems:
            print(problem.line(editor.path.name), file=sys.stderr)
        print(f"traymind agents: {editor.path} was not changed.", file=sys.stderr)
        return EXIT_FAILED
    if editor.save():
        print(f"{done} in {editor.path}; a running Traymind reloads it by itself.")
    else:
        print(f"{done}: nothing to change in {editor.path}.")
    return EXIT_OK
