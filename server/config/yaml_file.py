"""YAML text to data, with errors that say where (line and column) and what.

It is PyYAML's safe loader plus one rule: a key may appear only once in a
mapping. Plain YAML keeps the last duplicate, which silently drops, say, the
first of two agents that were given the same id.
"""

from __future__ import annotations

from collections.abc import Hashable

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode

from server.config.errors import ConfigProblem


class _UniqueKeyLoader(yaml.SafeLoader):
    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Hashable, object]:
        seen: set[object] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, Hashable) and key in seen:
                raise ConstructorError(
                    "while reading a mapping",
                    node.start_mark,
                    f"duplicate key '{key}'",
                    key_node.start_mark,
                )
            if isinstance(key, Hashable):
                seen.add(key)
        return super().construct_mapping(node, deep=deep)


def read_yaml(text: str) -> object:
    """The document's data; raises ``YamlProblem`` for invalid YAML."""
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # safe: a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        raise YamlProblem(_describe(exc)) from None
    except yaml.YAMLError as exc:
        raise YamlProblem(ConfigProblem("", f"invalid YAML: {type(exc).__name__}")) from None


class YamlProblem(Exception):
    """Invalid YAML, as one ``ConfigProblem``."""

    def __init__(self, problem: ConfigProblem) -> None:
        super().__init__(problem.message)
        self.problem = problem


def _describe(exc: yaml.MarkedYAMLError) -> ConfigProblem:
    """Line, column and PyYAML's description; not the quoted source line (it may hold a secret)."""
    mark = exc.problem_mark or exc.context_mark
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
    what = exc.problem or exc.context or "syntax error"
    return ConfigProblem("", f"{where}invalid YAML: {what}")
