"""``traymind check-config``: validate a config.yaml with the messages the server would give."""

from __future__ import annotations

import sys

from server.config import ConfigError, load_config, locate_config


def check_config(path: str | None) -> int:
    try:
        config_path = locate_config(path)
        config = load_config(config_path)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    for warning in config.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    agents = ", ".join(config.agents) or "none"
    print(f"{config_path}: OK ({len(config.agents)} agents: {agents})")
    return 0
