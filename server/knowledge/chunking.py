"""Cutting extracted text into passages on its structure: headings, then paragraphs.

A passage never spans two sections, so each one carries the heading trail it
sits under ("Install > Linux"), which both ranks it (a query naming the section
finds it) and tells the model where it is. Consecutive passages of a section
share a little text so that a sentence cut at a boundary is whole in one of them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from server.knowledge.extract import Extracted, Kind, Line

TARGET_CHARS = 1000  # a passage closes once the next paragraph would take it past this
MAX_CHARS = 1600  # a paragraph longer than this is cut by lines, a line by words
OVERLAP_CHARS = 150  # trailing text repeated at the start of the next passage

MD_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
MD_FENCE = re.compile(r"^\s*(```|~~~)")
SETEXT = re.compile(r"^(=+|-+)\s*$")
RST_ADORNMENT = re.compile(r"^([=\-~^\"'`#*+:.])\1{2,}\s*$")


@dataclass(frozen=True, slots=True)
class Chunk:
    """One passage: its text, first and last position, and the headings above it."""

    text: str
    start: int
    end: int
    heading: str | None


@dataclass(slots=True)
class _Section:
    heading: str | None
    lines: list[Line]
    title_only: int = 0  # how many leading lines are the heading itself


def chunk(extracted: Extracted) -> list[Chunk]:
    """The passages of one file, in order."""
    chunks: list[Chunk] = []
    for section in _sections(extracted.lines, extracted.kind):
        blocks = list(_blocks(section.lines, fenced=extracted.kind == "markdown"))
        if not blocks or sum(len(b) for b in blocks) <= section.title_only:
            continue  # a heading directly followed by another heading
        chunks.extend(_pack(blocks, section.heading))
    return chunks


def _sections(lines: list[Line], kind: Kind) -> Iterator[_Section]:
    if kind == "markdown":
        yield from _markdown_sections(lines)
    elif kind == "rst":
        yield from _rst_sections(lines)
    else:
        yield _Section(None, lines)


def _trail(trail: list[tuple[int, str]], level: int, title: str) -> str:
    while trail and trail[-1][0] >= level:
        trail.pop()
    trail.append((level, title))
    return " > ".join(t for _, t in trail)


def _markdown_sections(lines: list[Line]) -> Iterator[_Section]:
    trail: list[tuple[int, str]] = []
    current = _Section(None, [])
    fenced = False
    i = 0
    while i < len(lines):
        line = lines[i]
        if MD_FENCE.match(line.text):
            fenced = not fenced
        heading: tuple[int, str] | None = None
        step = 1
        if not fenced:
            match = MD_HEADING.match(line.text)
            if match:
                heading = (len(match.group(1)), match.group(2).strip())
            elif _setext_title(lines, i):
                heading = (1 if lines[i + 1].text.startswith("=") else 2, line.text.strip())
                step = 2  # the underline is not text
        if heading is not None:
            yield current
            current = _Section(_trail(trail, *heading), [line], title_only=1)
        else:
            current.lines.append(line)
        i += step
    yield current


def _setext_title(lines: list[Line], i: int) -> bool:
    """A one-line paragraph underlined with ``===`` or ``---``."""
    return (
        i + 1 < len(lines)
        and bool(lines[i].text.strip())
        and bool(SETEXT.match(lines[i + 1].text))
        and (i == 0 or not lines[i - 1].text.strip())
    )


def _rst_sections(lines: list[Line]) -> Iterator[_Section]:
    levels: list[str] = []  # adornment characters in order of first use, as docutils does
    trail: list[tuple[int, str]] = []
    current = _Section(None, [])
    i = 0
    while i < len(lines):
        title = lines[i].text.strip()
        under = lines[i + 1].text if i + 1 < len(lines) else ""
        match = RST_ADORNMENT.match(under)
        if title and not RST_ADORNMENT.match(lines[i].text) and match and len(under) >= len(title):
            if current.lines and RST_ADORNMENT.match(current.lines[-1].text):
                current.lines.pop()  # the overline of an over-and-under title
            yield current
            char = match.group(1)
            if char not in levels:
                levels.append(char)
            current = _Section(
                _trail(trail, levels.index(char) + 1, title), [lines[i]], title_only=1
            )
            i += 2
            continue
        current.lines.append(lines[i])
        i += 1
    yield current


def _blocks(lines: list[Line], *, fenced: bool) -> Iterator[list[Line]]:
    """Paragraphs: runs of lines between blank lines (a fenced code block stays whole)."""
    block: list[Line] = []
    in_fence = False
    for line in lines:
        if fenced and MD_FENCE.match(line.text):
            in_fence = not in_fence
        if not line.text.strip() and not in_fence:
            if block:
                yield block
            block = []
        else:
            block.append(line)
    if block:
        yield block


def _pieces(block: list[Line]) -> Iterator[list[Line]]:
    """A block cut into pieces of at most ``MAX_CHARS`` (by lines, then by words)."""
    piece: list[Line] = []
    size = 0
    for line in block:
        for part in _split_line(line):
            if piece and size + len(part.text) + 1 > MAX_CHARS:
                yield piece
                piece, size = [], 0
            piece.append(part)
            size += len(part.text) + 1
    if piece:
        yield piece


def _split_line(line: Line) -> Iterator[Line]:
    """A line longer than a passage, cut near ``TARGET_CHARS`` at a sentence or word end."""
    text = line.text
    while len(text) > MAX_CHARS:
        cut = text.rfind(". ", TARGET_CHARS // 2, TARGET_CHARS) + 1
        if cut <= 0:
            cut = text.rfind(" ", TARGET_CHARS // 2, TARGET_CHARS)
        cut = cut if cut > 0 else TARGET_CHARS
        yield Line(line.number, text[:cut].rstrip())
        text = text[cut:].lstrip()
    yield Line(line.number, text)


def _size(blocks: list[list[Line]]) -> int:
    return sum(len(line.text) + 1 for block in blocks for line in block) + 2 * len(blocks)


def _tail(blocks: list[list[Line]]) -> list[list[Line]]:
    """The last lines of a passage, up to ``OVERLAP_CHARS``, to start the next one with."""
    last = blocks[-1]
    tail: list[Line] = []
    size = 0
    for line in reversed(last):
        size += len(line.text) + 1
        if size > OVERLAP_CHARS:
            break
        tail.insert(0, line)
    if not tail:  # one long last line: repeat its last sentence or words
        text = last[-1].text
        window = text[-OVERLAP_CHARS:]
        cut = window.find(". ")
        cut = cut + 2 if cut >= 0 else window.find(" ") + 1
        tail = [Line(last[-1].number, window[cut:])] if 0 < cut < len(window) else []
    if tail == last and len(blocks) == 1:
        return []  # the whole passage: repeating it would add nothing
    return [tail] if tail else []


def _pack(blocks: list[list[Line]], heading: str | None) -> Iterator[Chunk]:
    current: list[list[Line]] = []
    fresh = False  # whether ``current`` holds text not already in the previous passage
    for block in blocks:
        for piece in _pieces(block):
            if fresh and _size(current) + _size([piece]) > TARGET_CHARS:
                yield _chunk(current, heading)
                current = _tail(current)
                if _size(current) + _size([piece]) > MAX_CHARS:
                    current = []
            current.append(piece)
            fresh = True
    if fresh:
        yield _chunk(current, heading)


def _chunk(blocks: list[list[Line]], heading: str | None) -> Chunk:
    text = "\n\n".join("\n".join(line.text for line in block) for block in blocks)
    numbers = [line.number for block in blocks for line in block]
    return Chunk(text, min(numbers), max(numbers), heading)
