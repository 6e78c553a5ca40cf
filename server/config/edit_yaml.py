"""Changing YAML text in place: only the lines of what changed are written again.

Why not load, change and dump the whole file with ruamel.yaml: its round trip keeps
comments, but it attaches each comment to the node *before* it, so deleting or appending
an entry drops or moves the comments around it (the comment above the next agent goes
with the deleted one; a new agent lands under the next section's heading), and it
rewrites indentation a file mixes. So ``patch_text`` works on *entries* (a key of a
block mapping, an item of a block sequence), whose lines ruamel's positions give, with
one rule for the lines between entries: comment lines indented deeper than an entry
belong to it; blank lines and comments at its column or further left belong to what
follows (the comment lines right above an entry, at its column, are its own and go
when it is deleted).

Unchanged entries keep their bytes; a changed mapping or sequence is patched entry by
entry; a changed scalar or flow collection is re-dumped by ruamel from its own lines
(keeping its end-of-line comment and quote style); new entries are dumped by ruamel in
the file's own indentation. The result is read back with the server's reader (PyYAML,
YAML 1.1) and must equal the intended data, or ``YamlEditError`` is raised and nothing
is returned.
"""

from __future__ import annotations

import copy
import io
import itertools
import json
from collections import Counter
from collections.abc import Hashable
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Any

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError as RuamelYAMLError
from ruamel.yaml.scalarstring import (
    DoubleQuotedScalarString,
    LiteralScalarString,
    SingleQuotedScalarString,
)

from server.config.yaml_file import YamlProblem, read_yaml

BLOCK_LIST_KEYS = frozenset({"instructions"})  # lists always written one item per line
FLOW_LIST_CHARS = 60  # shorter lists of short scalars are written [a, b]
CANNOT = (
    "Traymind cannot change this part of config.yaml without rewriting more than the "
    "change ({why}); edit it by hand"
)


class YamlEditError(Exception):
    """The edit cannot be made without touching more than it should; a sentence."""


@dataclass(frozen=True, slots=True)
class Style:
    """A file's indentation, as ruamel's ``indent()`` takes it."""

    mapping: int = 2
    sequence: int = 4
    offset: int = 2


@dataclass(frozen=True, slots=True)
class _Span:
    lead: int  # the first of the comment lines right above it that are its own
    start: int  # the line of its key (or dash)
    end: int  # one past its last line: its content and the deeper comments after it
    column: int  # of its key (or dash)


def patch_text(text: str, new: dict[str, Any]) -> str:
    """``text`` changed so that it reads as ``new``, touching only the lines that differ."""
    root, old = _parse(text)
    lines = _split(text)
    patcher = _Patcher(lines, detect_style(root), _newline(text))
    if root is None:
        patcher.append_sections(new)
    elif isinstance(root, CommentedMap) and not _flow(root) and isinstance(old, dict):
        patcher.patch_map(root, old, new)
    else:
        raise YamlEditError(CANNOT.format(why="the file is not a block mapping of sections"))
    return _checked("".join(lines), new)


def rename_key(text: str, path: tuple[str, ...], new_key: str) -> str:
    """``text`` with the mapping key at ``path`` renamed in place; its value's lines kept."""
    root, old = _parse(text)
    parent, plain_parent = _node_at(root, old, path[:-1])
    expected_parent = {(new_key if k == path[-1] else k): v for k, v in plain_parent.items()}
    expected = _replaced(old, path[:-1], expected_parent)
    lines = _split(text)
    if _block_map(parent):
        line, column = parent.lc.data[path[-1]][:2]
        renamed = _replace_key(lines[line], column, path[-1], new_key)
        if renamed is not None:
            lines[line] = renamed
            return _checked("".join(lines), expected, order=(path[:-1], list(expected_parent)))
    return patch_text(text, expected)


def copy_entry(text: str, path: tuple[str, ...], new_key: str) -> str:
    """``text`` with a copy of the entry at ``path`` (comments inside it too) right after it."""
    root, old = _parse(text)
    parent, plain_parent = _node_at(root, old, path[:-1])
    items = list(plain_parent.items())
    at = [k for k, _ in items].index(path[-1]) + 1
    value = copy.deepcopy(plain_parent[path[-1]])
    expected_parent = dict([*items[:at], (new_key, value), *items[at:]])
    expected = _replaced(old, path[:-1], expected_parent)
    if not _block_map(parent):
        return patch_text(text, expected)
    lines = _split(text)
    spans = _map_spans(lines, parent)
    span = spans[path[-1]]
    copied = lines[span.start : span.end]
    renamed = _replace_key(copied[0], span.column, path[-1], new_key)
    if renamed is None:
        return patch_text(text, expected)
    copied[0] = renamed
    if _separated(lines, spans):
        copied.insert(0, _newline(text))
    lines[span.end : span.end] = copied
    return _checked("".join(lines), expected, order=(path[:-1], list(expected_parent)))


def detect_style(root: object) -> Style:
    """The indentation most of the file's nested mappings and sequences use."""
    mappings: Counter[int] = Counter()
    sequences: Counter[tuple[int, int]] = Counter()

    def walk(node: object) -> None:
        if isinstance(node, CommentedMap):
            for key, value in node.items():
                key_at = node.lc.data.get(key) if not _flow(node) else None
                if key_at and _block_map(value) and value.lc.line > key_at[0]:
                    mappings[value.lc.col - key_at[1]] += 1
                elif key_at and _block_seq(value) and value.lc.line > key_at[0]:
                    item_col = value.lc.data[0][1]
                    sequences[(value.lc.col - key_at[1], item_col - key_at[1])] += 1
                walk(value)
        elif isinstance(node, CommentedSeq):
            for value in node:
                walk(value)

    walk(root)
    mapping = next((n for n, _ in mappings.most_common() if n > 0), 2)
    offset, sequence = next(
        ((o, s) for (o, s), _ in sequences.most_common() if o >= 0 and s >= o + 2), (2, 4)
    )
    return Style(mapping, sequence, offset)


# --- parsing and checking --------------------------------------------------------------


def _parse(text: str) -> tuple[Any, Any]:
    """ruamel's round-trip tree (for positions and styles) and PyYAML's data (the meaning)."""
    try:
        plain = read_yaml(text)
    except YamlProblem as exc:
        raise YamlEditError(f"config.yaml is not valid YAML ({exc.problem.message})") from None
    try:
        root = _yaml(Style()).load(text)
    except RuamelYAMLError as exc:
        raise YamlEditError(CANNOT.format(why=type(exc).__name__)) from None
    return root, plain


def _checked(
    text: str, expected: object, order: tuple[tuple[str, ...], list[str]] | None = None
) -> str:
    """``text`` if the server reads it as ``expected`` (and, if given, with that key order)."""
    try:
        actual = read_yaml(text)
    except YamlProblem:
        actual = None
    same_order = True
    if order is not None and isinstance(actual, dict):
        node: Any = actual
        for key in order[0]:
            node = node.get(key) if isinstance(node, dict) else None
        same_order = isinstance(node, dict) and list(node) == order[1]
    if actual != expected or not same_order:
        why = "the result would not read back as intended; YAML anchors or aliases do that"
        raise YamlEditError(CANNOT.format(why=why))
    return text


def _node_at(root: Any, plain: Any, path: tuple[str, ...]) -> tuple[Any, dict[str, Any]]:
    for key in path:
        if not isinstance(plain, dict) or key not in plain:
            raise YamlEditError(f"{'.'.join(path)} is not in config.yaml")
        root = root.get(key) if isinstance(root, CommentedMap) else None
        plain = plain[key]
    if not isinstance(plain, dict):
        raise YamlEditError(f"{'.'.join(path) or 'config.yaml'} is not a mapping")
    return root, plain


def _replaced(data: dict[str, Any], path: tuple[str, ...], value: object) -> dict[str, Any]:
    if not path:
        assert isinstance(value, dict)
        return value
    head, *rest = path
    return {**data, head: _replaced(data[head], tuple(rest), value)}


# --- lines -----------------------------------------------------------------------------


def _split(text: str) -> list[str]:
    parts = text.split("\n")
    lines = [part + "\n" for part in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1] + "\n")
    return lines


def _newline(text: str) -> str:
    return "\r\n" if text.count("\r\n") * 2 > text.count("\n") else "\n"


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _blank(line: str) -> bool:
    return not line.strip()


def _comment(line: str) -> bool:
    return line.lstrip().startswith("#")


def _dash(line: str) -> bool:
    stripped = line.strip()
    return stripped == "-" or stripped.startswith("- ")


def _entry_end(lines: list[str], start: int, column: int, limit: int | None) -> int:
    """One past the last line of the entry whose key (or dash) is at ``start``/``column``.

    ``limit`` is the next sibling's line; for the last entry it is the first line further
    left (or a key at the same column), which ends the container.
    """
    if limit is None:
        limit = len(lines)
        for index in range(start + 1, len(lines)):
            line = lines[index]
            if _blank(line) or _comment(line):
                continue
            if _indent(line) < column or (_indent(line) == column and not _dash(line)):
                limit = index
                break
    end = limit
    while end > start + 1 and (
        _blank(lines[end - 1]) or (_comment(lines[end - 1]) and _indent(lines[end - 1]) <= column)
    ):
        end -= 1
    return end


def _lead(lines: list[str], start: int, column: int) -> int:
    index = start
    while index > 0 and _comment(lines[index - 1]) and _indent(lines[index - 1]) == column:
        index -= 1
    return index


def _map_spans(lines: list[str], node: CommentedMap) -> dict[Hashable, _Span]:
    try:
        found = sorted((node.lc.data[key][0], node.lc.data[key][1], key) for key in node)
    except (KeyError, TypeError):
        raise YamlEditError(CANNOT.format(why="it uses YAML merge keys")) from None
    spans: dict[Hashable, _Span] = {}
    for index, (line, column, key) in enumerate(found):
        limit = found[index + 1][0] if index + 1 < len(found) else None
        end = _entry_end(lines, line, column, limit)
        spans[key] = _Span(_lead(lines, line, column), line, end, column)
    return spans


def _seq_spans(lines: list[str], node: CommentedSeq) -> list[_Span]:
    starts = []
    for index in range(len(node)):
        line, content = node.lc.data[index][:2]
        before = lines[line][:content].rstrip()
        if not before.endswith("-"):
            raise YamlEditError(CANNOT.format(why="a list item does not start on its dash's line"))
        starts.append((line, len(before) - 1))
    spans = []
    for index, (line, column) in enumerate(starts):
        limit = starts[index + 1][0] if index + 1 < len(starts) else None
        end = _entry_end(lines, line, column, limit)
        spans.append(_Span(_lead(lines, line, column), line, end, column))
    return spans


def _separated(lines: list[str], spans: dict[Hashable, _Span]) -> bool:
    """Whether this mapping's entries have blank lines between them (top level: always)."""
    ordered = sorted(spans.values(), key=lambda span: span.start)
    if ordered and ordered[0].column == 0:
        return True
    return any(
        any(_blank(line) for line in lines[a.end : b.lead]) for a, b in itertools.pairwise(ordered)
    )


def _dedent(lines: list[str], column: int) -> str:
    """The lines of an entry from its column on (its first line may start with ``- ``)."""
    rest = [line[min(column, _indent(line)) :] for line in lines[1:]]
    return "".join([lines[0][column:], *rest])


def _reindent(text: str, first_prefix: str, column: int, newline: str) -> list[str]:
    """Dumped ``text`` moved to ``column``; the first line gets ``first_prefix`` instead."""
    lines = text.splitlines()
    drop = _indent(lines[0]) if lines else 0
    out = []
    for index, line in enumerate(lines):
        line = line[min(drop, _indent(line)) :]
        prefix = first_prefix if index == 0 else " " * column
        out.append((prefix + line if line else "") + newline)
    return out


# --- rendering -------------------------------------------------------------------------


def _yaml(style: Style) -> YAML:
    loader = YAML(typ="rt")
    loader.preserve_quotes = True
    loader.width = 4096  # never fold a long line
    loader.indent(mapping=style.mapping, sequence=style.sequence, offset=style.offset)
    return loader


def _flow(node: object) -> bool:
    return bool(getattr(node, "fa", None) is not None and node.fa.flow_style())  # type: ignore[attr-defined]


def _block_map(node: object) -> bool:
    return isinstance(node, CommentedMap) and len(node) > 0 and not _flow(node)


def _block_seq(node: object) -> bool:
    return isinstance(node, CommentedSeq) and len(node) > 0 and not _flow(node)


_RESOLVER = yaml.resolver.Resolver()


def _misread(text: str) -> bool:
    """Whether PyYAML (YAML 1.1: ``yes``, ``on``, ``1:30``...) reads this plain text as no text."""
    tag = _RESOLVER.resolve(yaml.ScalarNode, text, (True, False))
    return tag != "tag:yaml.org,2002:str"


def _short_scalars(items: list[Any]) -> bool:
    if not all(isinstance(i, str | int | float | bool) and "\n" not in str(i) for i in items):
        return False
    return sum(len(str(i)) + 2 for i in items) <= FLOW_LIST_CHARS


def _to_node(value: Any, key: object = None, old: object = None) -> Any:
    """``value`` as ruamel should write it: multi-line text as ``|``, short lists as ``[a, b]``."""
    if isinstance(value, str):
        if "\n" in value:
            return LiteralScalarString(value)
        if isinstance(old, SingleQuotedScalarString | DoubleQuotedScalarString):
            return type(old)(value)
        return SingleQuotedScalarString(value) if _misread(value) else value
    if isinstance(value, list):
        if isinstance(old, CommentedSeq) and _flow(old):
            old[:] = [_to_node(item) for item in value]  # in place: keeps its comment
            return old
        seq = CommentedSeq([_to_node(item) for item in value])
        if key not in BLOCK_LIST_KEYS and value and _short_scalars(value):
            seq.fa.set_flow_style()
        return seq
    if isinstance(value, dict):
        mapping = CommentedMap((k, _to_node(v, k)) for k, v in value.items())
        if isinstance(old, CommentedMap) and _flow(old) and value:
            mapping.fa.set_flow_style()
        return mapping
    return value


class _Patcher:
    """Applies changes to ``lines`` bottom-up, so positions above a change stay valid."""

    def __init__(self, lines: list[str], style: Style, newline: str) -> None:
        self.lines = lines
        self.style = style
        self.newline = newline

    def dump(self, node: Any) -> str:
        out = io.StringIO()
        _yaml(self.style).dump(node, out)
        return out.getvalue()

    def render_entry(self, key: str, value: Any, column: int) -> list[str]:
        text = self.dump(CommentedMap([(key, _to_node(value, key))]))
        return _reindent(text, " " * column, column, self.newline)

    def render_item(self, value: Any, column: int, key: object) -> list[str]:
        text = self.dump(CommentedSeq([_to_node(value, key)]))
        return _reindent(text, " " * column, column, self.newline)

    def append_sections(self, new: dict[str, Any]) -> None:
        for key, value in new.items():
            if self.lines and not _blank(self.lines[-1]):
                self.lines.append(self.newline)
            self.lines.extend(self.render_entry(key, value, 0))

    def patch_map(self, node: CommentedMap, old: dict[str, Any], new: dict[str, Any]) -> None:
        if set(node) != set(old):
            raise YamlEditError(CANNOT.format(why="it uses YAML merge keys"))
        spans = _map_spans(self.lines, node)
        ordered = sorted(spans, key=lambda k: spans[k].start)
        added = [key for key in new if key not in old]
        if added:
            last = spans[ordered[-1]]
            block = [self.newline] if _separated(self.lines, spans) else []
            for key in added:
                block += self.render_entry(key, new[key], last.column)
            self.lines[last.end : last.end] = block
        kept = [key for key in ordered if key in new]
        for key in reversed(ordered):
            if key not in new:
                self.delete(spans[key], first=bool(kept) and key == ordered[0])
            elif old[key] != new[key]:
                self.patch_entry(node, key, old[key], new[key], spans[key])

    def patch_entry(self, node: CommentedMap, key: str, old: Any, new: Any, span: _Span) -> None:
        value = node[key]
        if isinstance(old, dict) and isinstance(new, dict) and new and _block_map(value):
            self.patch_map(value, old, new)
        elif isinstance(old, list) and isinstance(new, list) and new and _block_seq(value):
            self.patch_seq(value, old, new, key)
        else:
            self.rewrite(span, lambda doc: doc.__setitem__(key, _to_node(new, key, doc[key])))

    def patch_seq(self, node: CommentedSeq, old: list[Any], new: list[Any], key: str) -> None:
        spans = _seq_spans(self.lines, node)
        column = spans[0].column
        marks = SequenceMatcher(None, _marks(old), _marks(new), autojunk=False)
        for tag, i1, i2, j1, j2 in reversed(marks.get_opcodes()):
            if tag == "equal" or (tag == "replace" and i2 - i1 == j2 - j1):
                for i, j in reversed(list(zip(range(i1, i2), range(j1, j2), strict=True))):
                    if old[i] != new[j]:
                        self.patch_item(node, i, old[i], new[j], spans[i], key)
                continue
            if i2 > i1:
                at = spans[i1].lead
                del self.lines[at : spans[i2 - 1].end]
            else:
                at = spans[i1 - 1].end if i1 > 0 else spans[0].lead
            block: list[str] = []
            for value in new[j1:j2]:
                block += self.render_item(value, column, key)
            self.lines[at:at] = block

    def patch_item(
        self, node: CommentedSeq, index: int, old: Any, new: Any, span: _Span, key: str
    ) -> None:
        value = node[index]
        first = next(iter(value), None) if isinstance(value, CommentedMap) else None
        if isinstance(old, dict) and isinstance(new, dict) and _block_map(value) and first in new:
            self.patch_map(value, old, new)
        else:
            self.rewrite(span, lambda doc: doc.__setitem__(0, _to_node(new, key, doc[0])))

    def rewrite(self, span: _Span, change: Any) -> None:
        """Re-dump one entry from its own lines after ``change(doc)``: comments and quotes
        on those lines stay where ruamel keeps them."""
        own = self.lines[span.start : span.end]
        try:
            doc = _yaml(self.style).load(_dedent(own, span.column))
        except RuamelYAMLError as exc:
            raise YamlEditError(CANNOT.format(why=type(exc).__name__)) from None
        change(doc)
        prefix = own[0][: span.column]
        lines = _reindent(self.dump(doc), prefix, span.column, self.newline)
        if len(own) == 1 and len(lines) == 1:
            lines = [_keep_gap(own[0], lines[0], span.column)]
        self.lines[span.start : span.end] = lines

    def delete(self, span: _Span, *, first: bool) -> None:
        """Remove an entry and its own comments, and the blank line it leaves doubled."""
        lines = self.lines
        del lines[span.lead : span.end]
        at = span.lead
        if first:
            while at < len(lines) and _blank(lines[at]):
                del lines[at]
        elif at > 0 and _blank(lines[at - 1]) and (at >= len(lines) or _blank(lines[at])):
            del lines[at - 1]


def _keep_gap(old: str, new: str, column: int) -> str:
    """``new`` with as many spaces before its end-of-line comment as ``old`` had (ruamel
    keeps the comment's column instead), when that reads the same."""
    old_body, new_body = old.rstrip("\r\n"), new.rstrip("\r\n")
    at = new_body.rfind(" #")
    while at > 0:
        comment = new_body[at + 1 :]
        if old_body.endswith(comment) and old_body[: -len(comment)].endswith(" "):
            gap = len(old_body[: -len(comment)]) - len(old_body[: -len(comment)].rstrip(" "))
            candidate = new_body[:at].rstrip(" ") + " " * gap + comment
            try:
                same = read_yaml(candidate[column:]) == read_yaml(new_body[column:])
            except YamlProblem:
                same = False
            if same:
                return candidate + new[len(new_body) :]
            break
        at = new_body.rfind(" #", 0, at)
    return new


def _marks(values: list[Any]) -> list[str]:
    """What makes list items the same item, changed or not: a one-key mapping's key (and its
    ``server``, as MCP tool entries have), a text itself; anything else its whole value."""
    marks = []
    for value in values:
        if isinstance(value, dict) and len(value) == 1:
            ((name, inner),) = value.items()
            server = inner.get("server") if isinstance(inner, dict) else None
            value = {"item": name, "server": server}
        marks.append(json.dumps(value, sort_keys=True, default=str))
    return marks


def _key_text(key: str) -> str:
    out = io.StringIO()
    _yaml(Style()).dump(CommentedMap([(_to_node(key), None)]), out)
    return out.getvalue().rstrip("\n").removesuffix(":")


def _replace_key(line: str, column: int, old: str, new: str) -> str | None:
    """``line`` with the key ``old`` written at ``column`` replaced by ``new``, or None."""
    rest = line[column:]
    if rest.startswith(old) and rest[len(old) :].lstrip(" ").startswith(":"):
        return line[:column] + _key_text(new) + rest[len(old) :]
    if rest[:1] in ("'", '"'):
        close = rest.find(rest[0], 1)
        if close > 0 and rest[1:close] == old and rest[close + 1 :].lstrip(" ").startswith(":"):
            return line[:column] + _key_text(new) + rest[close + 1 :]
    return None
