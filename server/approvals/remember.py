"""Writing "Always allow for this agent" into config.yaml, where the user can see and undo it.

The decision becomes ``approval: auto`` on the agent's tool entry (``{shell: {approval:
auto}}``), or for an MCP tool a per-tool entry in the ``mcp`` entry's ``approval``
mapping. It goes through the config editor, so the rest of the file (comments, order,
formatting) stays as the user wrote it, and a running server reloads it like any edit.
"""

from __future__ import annotations

import logging
from pathlib import Path

from server.approvals.broker import PendingApproval
from server.approvals.policy import APPROVAL, MCP, always_allowed, split_approval
from server.config.editing import ConfigEditor, EditRefused
from server.config.errors import ConfigError
from server.tools import ToolRef

log = logging.getLogger(__name__)


def remember_always(config_path: Path, pending: PendingApproval) -> bool:
    """Write the "always allow" of ``pending`` to the config; False when it cannot be (a
    MindRoom config, a file that does not load), which the log says."""
    request = pending.request
    try:
        editor = ConfigEditor.open(config_path)
        if editor.read_only:
            log.warning("'always allow' kept until restart: %s", editor.read_only)
            return False
        spec = editor.agent(request.agent)
        changed = False
        tools: list[ToolRef] = []
        for ref in spec.tools:
            if not changed and _is_entry(ref, request.rule.entry, request.rule.server):
                _, setting = split_approval(ref.name, ref.options)
                options = dict(ref.options)
                options[APPROVAL] = always_allowed(setting, request.rule, request.tool)
                ref = ToolRef(name=ref.name, options=options)
                changed = True
            tools.append(ref)
        if not changed:
            return False
        spec.tools = tools
        editor.put_agent(spec, replacing=request.agent)
        editor.save()
    except (EditRefused, ConfigError, ValueError, OSError) as exc:
        log.warning("'always allow' kept until restart; config.yaml was not changed: %s", exc)
        return False
    log.info(
        "approval: %s may now use %s without asking (written to %s)",
        request.agent, request.tool, config_path.name,
    )  # fmt: skip
    return True


def _is_entry(ref: ToolRef, entry: str, server: str | None) -> bool:
    if ref.name != entry:
        return False
    return entry != MCP or ref.options.get("server") == server
