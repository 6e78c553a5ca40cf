"""Reading MindRoom configs: drop the settings Traymind has no use for, with a warning.

A MindRoom config.yaml carries Matrix rooms, memory, voice, learning and more.
Traymind serves the same agents without those, so each such key is removed
(one warning line each) before validation. Only these known keys are
forgiven: any other unknown key stays an error, since it is most likely a typo.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from typing import Any

from server.config.errors import join_path
from server.config.mindroom_tools import MINDROOM_TOOLS
from server.tools import TOOL_NAMES

TOP_LEVEL = frozenset(
    {
        "authorization", "background_tool_jobs", "bot_accounts", "cache", "culture",
        "cultures", "debug", "defaults", "external_trigger_policy", "matrix_delivery",
        "matrix_room_access", "matrix_space", "memory", "mindroom_user",
        "openai_compat", "plugins", "prompts", "room_models", "room_thread_summary_models",
        "rooms", "timezone", "tool_approval", "voice",
    }
)  # fmt: skip
AGENT = frozenset(
    {
        "accept_invites", "add_history_to_messages", "allow_self_config", "allowed_toolkits",
        "boot_file", "bootstrap_file", "compaction", "compress_tool_results", "context_files",
        "delegate_to", "enable_session_summaries", "include_default_tools", "initial_toolkits",
        "learning", "learning_mode", "markdown", "max_tool_calls_from_history",
        "memory_backend", "memory_file_path", "mid_turn", "num_history_messages",
        "num_history_runs", "participation", "room_thread_modes", "rooms", "sandbox_tools",
        "skills", "startup_thread_prewarm", "thread_mode", "worker_tools",
    }
)  # fmt: skip
TEAM = frozenset(
    {
        "accept_invites", "compaction", "max_tool_calls_from_history", "num_history_messages",
        "num_history_runs", "rooms", "startup_thread_prewarm",
    }
)  # fmt: skip
MODEL = frozenset({"api", "display_name", "icon", "temperature"})
ROUTER = frozenset({"accept_invites", "access", "judgment"})
PRIVATE = frozenset({"context_files", "knowledge", "root", "template_dir"})
KNOWLEDGE_BASE = frozenset({"chunk_overlap", "chunk_size"})
GIT = frozenset(
    {"credentials_service", "exclude_patterns", "include_patterns", "lfs", "skip_hidden"}
)
TOOL_FLAGS = frozenset({"defer", "initial"})
MCP_SERVER = frozenset(
    {
        "auth", "auto_reconnect", "call_timeout_seconds", "description", "enabled",
        "exclude_tools", "icon", "include_tools", "max_concurrent_calls", "required",
        "startup_timeout_seconds", "tool_prefix", "transport",
    }
)  # fmt: skip
MCP_TOOL_PREFIX = "mcp_"  # MindRoom's tool for server X is mcp_X; Traymind's is {mcp: {server: X}}

UNUSED = "a MindRoom setting Traymind does not use"


def strip_mindroom(data: dict[str, Any], source: str) -> tuple[dict[str, Any], list[str]]:
    """A copy of ``data`` without MindRoom-only settings, and one warning line per removal."""
    data = copy.deepcopy(data)
    warnings: list[str] = []

    def strip(section: object, path: tuple[str | int, ...], keys: frozenset[str]) -> None:
        if not isinstance(section, dict):
            return
        for key in [key for key in section if key in keys]:
            del section[key]
            warnings.append(f"{source}: ignoring {join_path((*path, key))} ({UNUSED})")

    strip(data, (), TOP_LEVEL)
    mcp_servers = dict(_entries(data, "mcp_servers"))
    for server_id, server in mcp_servers.items():
        strip(server, ("mcp_servers", server_id), MCP_SERVER)
    for agent_id, agent in _entries(data, "agents"):
        strip(agent, ("agents", agent_id), AGENT)
        strip(agent.get("private"), ("agents", agent_id, "private"), PRIVATE)
        _strip_tools(agent, ("agents", agent_id), source, warnings, mcp_servers)
    for team_id, team in _entries(data, "teams"):
        strip(team, ("teams", team_id), TEAM)
    for model_id, model in _entries(data, "models"):
        strip(model, ("models", model_id), MODEL)
    strip(data.get("router"), ("router",), ROUTER)
    for base_id, base in _entries(data, "knowledge_bases"):
        strip(base, ("knowledge_bases", base_id), KNOWLEDGE_BASE)
        strip(base.get("git"), ("knowledge_bases", base_id, "git"), GIT)
    return data, warnings


def _entries(data: dict[str, Any], section: str) -> Iterator[tuple[str, dict[str, Any]]]:
    entries = data.get(section)
    if isinstance(entries, dict):
        for key, value in entries.items():
            if isinstance(value, dict):
                yield key, value


def _strip_tools(
    agent: dict[str, Any],
    path: tuple[str, ...],
    source: str,
    warnings: list[str],
    mcp_servers: Mapping[str, object],
) -> None:
    """Rewrite MindRoom tool entries; drop the MindRoom tools Traymind does not have."""
    tools = agent.get("tools")
    if not isinstance(tools, list):
        return
    kept: list[object] = []
    dropped: list[str] = []
    for index, entry in enumerate(tools):
        entry, flags = _tool_entry(entry)
        entry, overrides = _mcp_entry(entry, mcp_servers)
        overrides = [*overrides, *_strip_tool_options(entry)]
        for flag in [*flags, *overrides]:
            flag_path = join_path((*path, "tools", index, flag))
            warnings.append(f"{source}: ignoring {flag_path} ({UNUSED})")
        name = _tool_name(entry)
        if name is not None and name in MINDROOM_TOOLS and name not in TOOL_NAMES:
            dropped.append(name)
        else:
            kept.append(entry)
    agent["tools"] = kept
    if dropped:
        listed = ", ".join(dropped)
        warnings.append(
            f"{source}: ignoring {join_path((*path, 'tools'))}: {listed} "
            "(MindRoom tools Traymind does not provide)"
        )


# Options MindRoom gives tools that Traymind also has, which Traymind does not use.
MINDROOM_TOOL_OPTIONS: dict[str, frozenset[str]] = {
    "claude_agent": frozenset(
        {
            "api_key",
            "anthropic_base_url",
            "anthropic_auth_token",
            "continue_conversation",
            "allowed_tools",
            "disallowed_tools",
            "max_turns",
            "system_prompt",
        }
    ),
}


def _strip_tool_options(entry: object) -> list[str]:
    """Remove MindRoom-only options from a ``{tool: {options}}`` entry; their names."""
    if not isinstance(entry, dict) or len(entry) != 1:
        return []
    ((name, options),) = entry.items()
    unused = MINDROOM_TOOL_OPTIONS.get(name)
    if not unused or not isinstance(options, dict):
        return []
    removed = sorted(key for key in options if key in unused)
    for key in removed:
        del options[key]
    return removed


def _tool_entry(entry: object) -> tuple[object, list[str]]:
    """MindRoom's ``{name, overrides, defer, initial}`` and ``{tool: {defer: ...}}`` forms
    as Traymind's ``{tool: options}``, plus the MindRoom-only flags that were removed."""
    if not isinstance(entry, dict):
        return entry, []
    if (
        "name" in entry
        and set(entry) <= {"name", "overrides", *TOOL_FLAGS}
        and (set(entry) & {"overrides", *TOOL_FLAGS})
    ):
        flags = sorted(set(entry) & TOOL_FLAGS)
        return {entry["name"]: entry.get("overrides") or {}}, flags
    if len(entry) == 1:
        name, options = next(iter(entry.items()))
        if isinstance(options, dict) and set(options) & TOOL_FLAGS:
            flags = sorted(set(options) & TOOL_FLAGS)
            return {name: {k: v for k, v in options.items() if k not in TOOL_FLAGS}}, flags
    return entry, []


def _mcp_entry(entry: object, mcp_servers: Mapping[str, object]) -> tuple[object, list[str]]:
    """MindRoom's ``mcp_<server>`` (optionally ``{mcp_<server>: {include_tools: [...]}}``) as
    ``{mcp: {server, allow}}``, plus the MindRoom-only overrides that were removed."""
    name = _tool_name(entry)
    if name is None or not name.startswith(MCP_TOOL_PREFIX):
        return entry, []
    server = name.removeprefix(MCP_TOOL_PREFIX)
    if server not in mcp_servers:
        return entry, []
    overrides = entry.get(name) if isinstance(entry, dict) else None
    options: dict[str, object] = {"server": server}
    if not isinstance(overrides, dict):
        return {"mcp": options}, []
    if overrides.get("include_tools"):
        options["allow"] = overrides["include_tools"]
    return {"mcp": options}, sorted(key for key in overrides if key != "include_tools")


def _tool_name(entry: object) -> str | None:
    if isinstance(entry, str):
        return entry.strip()
    if isinstance(entry, dict) and len(entry) == 1:
        name = next(iter(entry))
        return name if isinstance(name, str) else None
    return None
