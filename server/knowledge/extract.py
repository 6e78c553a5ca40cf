"""Text out of files: plain text and code as they are, HTML as text, PDF from its text layer.

Every extracted line keeps where it came from (a line number in the file, or a
PDF page), so a passage found later can say "install.md, lines 12-30". HTML
headings come out as Markdown headings so that chunking sees the same
structure whatever the format.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import PurePosixPath
from typing import Literal

Unit = Literal["line", "page"]
Kind = Literal["markdown", "rst", "text", "code"]

MARKDOWN_SUFFIXES = frozenset({".md", ".markdown", ".mdx"})
TEXT_SUFFIXES = frozenset({".txt", ".text", ".adoc", ".org", ".csv", ".tex"})
HTML_SUFFIXES = frozenset({".html", ".htm", ".xhtml"})


class UnreadableFile(Exception):
    """The file is binary or broken; it is skipped and the reason shown."""


@dataclass(frozen=True, slots=True)
class Line:
    """One line of extracted text and its position (a line number, or a page for PDFs)."""

    number: int
    text: str


@dataclass(frozen=True, slots=True)
class Extracted:
    """A file's text as positioned lines, and how to chunk it."""

    lines: list[Line]
    unit: Unit
    kind: Kind


def extract(rel: str, data: bytes) -> Extracted:
    """The text of one file; raises ``UnreadableFile`` for binary or broken files."""
    suffix = PurePosixPath(rel).suffix.lower()
    if suffix == ".pdf":
        return Extracted(pdf_lines(data), "page", "text")
    text = decode(data)
    if suffix in HTML_SUFFIXES:
        return Extracted(html_lines(text), "line", "markdown")
    lines = [Line(i, line) for i, line in enumerate(text.splitlines(), start=1)]
    if suffix in MARKDOWN_SUFFIXES:
        return Extracted(lines, "line", "markdown")
    if suffix == ".rst":
        return Extracted(lines, "line", "rst")
    return Extracted(lines, "line", "text" if suffix in TEXT_SUFFIXES else "code")


def decode(data: bytes) -> str:
    """UTF-8 (with or without BOM), else Latin-1; NUL bytes mean a binary file."""
    if b"\0" in data[:8192]:
        raise UnreadableFile("binary file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def pdf_lines(data: bytes) -> list[Line]:
    """The PDF's text layer page by page; scanned pages without one give no text."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise UnreadableFile("encrypted PDF")
        lines: list[Line] = []
        for number, page in enumerate(reader.pages, start=1):
            text = page.extract_text() or ""
            lines.extend(Line(number, line) for line in text.splitlines())
            lines.append(Line(number, ""))  # a page break ends a paragraph
        return lines
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise UnreadableFile(f"cannot read this PDF ({exc})") from None


SKIPPED_TAGS = frozenset({"script", "style", "noscript", "template", "svg", "head"})
BLOCK_TAGS = frozenset(
    {
        "p", "div", "section", "article", "main", "header", "footer", "nav", "aside",
        "ul", "ol", "li", "dl", "dt", "dd", "table", "tr", "pre", "blockquote",
        "figure", "figcaption", "form", "hr", "br", "title",
    }
)  # fmt: skip
HEADINGS = {f"h{n}": n for n in range(1, 7)}
SPACES = re.compile(r"[ \t\r\f\v]+")


class _HtmlText(HTMLParser):
    """Collects visible text as lines, each with the source line it started on."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[Line] = []
        self._parts: list[str] = []
        self._start = 1
        self._skip = 0
        self._pre = 0
        self._heading = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in SKIPPED_TAGS:
            self._skip += 1
        elif tag in HEADINGS:
            self._flush(blank=True)
            self._heading = HEADINGS[tag]
        elif tag in BLOCK_TAGS:
            self._flush(blank=tag not in ("br", "li", "tr", "dt", "dd"))
            if tag == "pre":
                self._pre += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in SKIPPED_TAGS:
            self._skip = max(0, self._skip - 1)
        elif tag in HEADINGS:
            self._flush(blank=True)
            self._heading = 0
        elif tag in BLOCK_TAGS:
            self._flush(blank=tag in ("p", "pre", "table", "ul", "ol", "blockquote"))
            if tag == "pre" and self._pre:
                self._pre -= 1

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        if not self._parts:
            self._start = self.getpos()[0]
        if self._pre:
            for i, piece in enumerate(data.split("\n")):
                if i:
                    self._flush(blank=False)
                    self._start = self.getpos()[0] + i
                self._parts.append(piece)
        else:
            self._parts.append(data.replace("\n", " "))

    def _flush(self, *, blank: bool) -> None:
        text = "".join(self._parts)
        self._parts = []
        text = text.rstrip() if self._pre else SPACES.sub(" ", text).strip()
        if text:
            prefix = "#" * self._heading + " " if self._heading else ""
            self.lines.append(Line(self._start, prefix + text))
        if blank and self.lines and self.lines[-1].text:
            self.lines.append(Line(self.lines[-1].number, ""))

    def close(self) -> None:
        super().close()
        self._flush(blank=False)


def html_lines(text: str) -> list[Line]:
    parser = _HtmlText()
    parser.feed(text)
    parser.close()
    return parser.lines
