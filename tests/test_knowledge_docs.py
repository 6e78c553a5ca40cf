"""docs/knowledge.md names every setting, tool, command and status field, so it cannot drift."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from server.cli.kb import add_kb_parser
from server.cli.memory import add_memory_parser
from server.config import EmbeddingsConfig, GitSource, KnowledgeBaseConfig
from server.knowledge import BaseStatus

DOC = (Path(__file__).resolve().parent.parent / "docs" / "knowledge.md").read_text()


@pytest.mark.parametrize(
    "key",
    [
        *KnowledgeBaseConfig.model_fields,
        *(f"git.{name}" for name in GitSource.model_fields),
        *(f"embeddings.{name}" for name in EmbeddingsConfig.model_fields),
    ],
)
def test_every_setting_is_documented(key: str) -> None:
    assert f"| `{key}` |" in DOC


@pytest.mark.parametrize("name", ["search_knowledge", "remember", "recall", "memory: true"])
def test_every_tool_and_agent_setting_is_documented(name: str) -> None:
    assert f"`{name}`" in DOC or name in DOC


def test_every_command_is_documented() -> None:
    parser = argparse.ArgumentParser(prog="traymind")
    commands = parser.add_subparsers(dest="command")
    add_kb_parser(commands)
    add_memory_parser(commands)
    for command, choices in commands.choices.items():
        actions = next(a for a in choices._actions if isinstance(a, argparse._SubParsersAction))
        for action in actions.choices:
            assert f"`traymind {command} {action}" in DOC, (command, action)


def test_every_status_field_is_documented() -> None:
    fields = [*BaseStatus.__dataclass_fields__, "path", "git", "semantic", "index"]
    assert [f for f in fields if f"`{f}`" not in DOC] == []
