"""docs/configuration.md cannot drift: every config key is in a table, the MindRoom keys that
are ignored are listed, and the complete example loads."""

from __future__ import annotations

import re
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from server.config import Config, mindroom, parse_config
from server.config.yaml_file import read_yaml

DOC_PATH = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"
DOC = DOC_PATH.read_text(encoding="utf-8")
EXAMPLE_HEADING = "## A complete example"
YAML_BLOCK = re.compile(r"^```yaml\n(.*?)^```", re.MULTILINE | re.DOTALL)


def yaml_key(name: str, field: Any) -> str:
    """The key as written in YAML: the field's alias when it has one."""
    alias = field.alias or field.validation_alias
    return alias if isinstance(alias, str) else name


def nested_models(annotation: Any, where: str = "") -> Iterator[tuple[type[BaseModel], str]]:
    """The pydantic models inside an annotation, through ``X | None``, ``Annotated``, ``list``,
    ``dict`` values, tuples and unions, each with how its path reads (``.<name>``, ``[]``)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation, where
        return
    origin = typing.get_origin(annotation)
    if origin is None or origin is typing.Literal:
        return
    if origin is typing.Annotated:
        yield from nested_models(typing.get_args(annotation)[0], where)
        return
    if origin is dict:
        yield from nested_models(typing.get_args(annotation)[1], f"{where}.<name>")
        return
    inner = f"{where}[]" if origin in (list, tuple, set, frozenset) else where
    for arg in typing.get_args(annotation):  # unions, X | None, list, tuple
        yield from nested_models(arg, inner)


def config_keys(
    model: type[BaseModel] = Config, prefix: str = "", seen: frozenset[type] = frozenset()
) -> Iterator[tuple[str, str]]:
    """``(key, dotted path)`` for every field reachable from ``model``."""
    for name, field in model.model_fields.items():
        key = yaml_key(name, field)
        path = f"{prefix}.{key}" if prefix else key
        yield key, path
        for inner, where in nested_models(field.annotation):
            if inner not in seen:
                yield from config_keys(inner, path + where, seen | {model})


def config_fields(
    model: type[BaseModel] = Config, seen: frozenset[type] = frozenset()
) -> Iterator[tuple[str, Any]]:
    """``(key, field)`` for every field reachable from ``model``."""
    for name, field in model.model_fields.items():
        yield yaml_key(name, field), field
        for inner, _ in nested_models(field.annotation):
            if inner not in seen:
                yield from config_fields(inner, seen | {model})


def as_written(value: object) -> str | None:
    """A default as the doc's default column shows it, or None when it is not a plain value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(int(value)) if float(value).is_integer() else str(value)
    if isinstance(value, str):
        return value
    if value == [] or value == {}:
        return "[]" if isinstance(value, list) else "{}"
    return None


def default_cells(key: str) -> list[str]:
    """The default column of every table row for ``key``."""
    row = re.compile(rf"^\| `{re.escape(key)}` \|[^|]*\|([^|]*)\|", re.MULTILINE)
    return row.findall(DOC)


def documented(key: str) -> bool:
    """A key is documented when a table row of the doc starts with it in backticks."""
    return f"| `{key}` |" in DOC


def example_yaml() -> str:
    _, found, rest = DOC.partition(f"\n{EXAMPLE_HEADING}\n")
    assert found, f"docs/configuration.md has no '{EXAMPLE_HEADING}' heading"
    block = YAML_BLOCK.search(rest)
    assert block, f"no ```yaml block under '{EXAMPLE_HEADING}' in docs/configuration.md"
    return block.group(1)


def test_the_walk_reaches_nested_models() -> None:
    paths = {path for _, path in config_keys()}
    for path in (
        "models.<name>.timeout_seconds",
        "agents.<name>.private.per",
        "agents.<name>.tools[].options",
        "knowledge_bases.<name>.git.poll_interval_seconds",
        "embeddings.model",
        "mcp_servers.<name>.headers",
        "server.auth_failure_window_seconds",
    ):
        assert path in paths


def test_every_config_key_is_documented() -> None:
    missing = sorted({path for key, path in config_keys() if not documented(key)})
    assert not missing, (
        "docs/configuration.md has no table row (| `key` | type | default | meaning |) for: "
        + ", ".join(missing)
    )


def test_documented_defaults_match_the_code() -> None:
    wrong = []
    for key, field in config_fields():
        if field.is_required() or (shown := as_written(field.default)) is None:
            continue
        cells = default_cells(key)
        if cells and not any(f"`{shown}`" in cell for cell in cells):
            wrong.append(f"{key} (the code says `{shown}`, the doc {cells})")
    assert not wrong, "docs/configuration.md shows the wrong default for: " + "; ".join(wrong)


@pytest.mark.parametrize(
    "keys",
    [
        mindroom.TOP_LEVEL,
        mindroom.AGENT,
        mindroom.TEAM,
        mindroom.MODEL,
        mindroom.ROUTER,
        mindroom.PRIVATE,
        mindroom.KNOWLEDGE_BASE,
        mindroom.GIT,
        mindroom.TOOL_FLAGS,
        mindroom.MCP_SERVER,
    ],
    ids=[
        "top_level",
        "agent",
        "team",
        "model",
        "router",
        "private",
        "knowledge_base",
        "git",
        "tool_flags",
        "mcp_server",
    ],
)
def test_every_ignored_mindroom_key_is_listed(keys: frozenset[str]) -> None:
    section = DOC.partition("\n## MindRoom configs\n")[2].partition("\n## ")[0]
    missing = sorted(key for key in keys if f"`{key}`" not in section)
    assert not missing, f"docs/configuration.md, MindRoom configs, does not list: {missing}"


def test_the_complete_example_loads_without_errors_or_warnings(tmp_path: Path) -> None:
    data = read_yaml(example_yaml())
    config = parse_config(data, source="docs/configuration.md", base_dir=tmp_path)
    assert config.warnings == []
    assert isinstance(data, dict)
    missing = [section for section in Config.model_fields if section not in data]
    assert not missing, f"the complete example leaves out the sections: {missing}"
