"""Knowledge indexing on real folders: which files, their text, passages, incremental passes.

The index's contract is tested on both backends: this machine's SQLite file and the
PostgreSQL index replicas share (against a real PostgreSQL the tests start).
"""

from __future__ import annotations

import itertools
import os
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from server.embeddings.client import HttpEmbedder
from server.knowledge.chunking import MAX_CHARS, Chunk, chunk
from server.knowledge.extract import Line, extract
from server.knowledge.files import FileFilter, scan
from server.knowledge.indexer import Indexer
from server.knowledge.search import match_expression, rank
from server.knowledge.store import IndexStore, KnowledgeIndex, embedding_text
from server.postgres.index_store import PostgresIndexStore
from tests.upstream import Upstream
from tests.upstream.wire import fake_embedding


def write(root: Path, rel: str, content: str | bytes) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def make_pdf(pages: list[str]) -> bytes:
    """A small valid PDF with one line of Helvetica text per page (a real text layer)."""
    count = len(pages)
    page_ids = [4 + 2 * i for i in range(count)]
    kids = b" ".join(b"%d 0 R" % p for p in page_ids)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % count,
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    for page_id, text in zip(page_ids, pages, strict=True):
        stream = b"BT /F1 12 Tf 72 720 Td (" + text.encode() + b") Tj ET"
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>" % (page_id + 1)
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    out = b"%PDF-1.4\n"
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return out


pytest_plugins = ("tests.postgres_conftest",)


@pytest.fixture(params=["sqlite", "postgresql"])
def open_index(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], Any]]:
    """Opens the test's index (again after a close: the same file, or the same database),
    holding its lease as the indexing replica does."""
    url = request.getfixturevalue("database") if request.param == "postgresql" else None
    opened: list[KnowledgeIndex] = []

    def open_() -> KnowledgeIndex:
        index: KnowledgeIndex
        if url is None:
            index = IndexStore(tmp_path / "index.sqlite3")
        else:
            index = PostgresIndexStore(url, "docs")
        index.open()
        assert index.take_lease()
        opened.append(index)
        return index

    yield open_
    for index in opened:
        index.close()


@pytest.fixture
def store(open_index: Callable[[], KnowledgeIndex]) -> KnowledgeIndex:
    return open_index()


# Which files


def test_include_and_exclude_globs() -> None:
    rules = FileFilter(["**/*.md", "notes/*.txt", "*.rst"], ["**/drafts/**", "secret.md"])
    assert [
        rules.wants(p)
        for p in (
            "a.md",
            "x/y/a.md",
            "notes/a.txt",
            "x/notes/a.txt",
            "deep/doc.rst",
            "drafts/a.md",
            "x/drafts/y/a.md",
            "x/secret.md",
        )
    ] == [True, True, True, False, True, False, False, False]
    assert rules.prunes("x/drafts") and not rules.prunes("x/notes")


def test_default_include_is_documents_and_code(tmp_path: Path) -> None:
    for rel in ("a.md", "b.py", "c.pdf", "d.html", "e.png", "f.bin", "no_suffix"):
        write(tmp_path, rel, "x")
    for rel in (".hidden.md", ".git/config.md", "node_modules/x/readme.md", "x/.cache/y.md"):
        write(tmp_path, rel, "x")
    assert sorted(scan(tmp_path, FileFilter(None, []))) == ["a.md", "b.py", "c.pdf", "d.html"]


# Text and passages


def test_markdown_passages_follow_headings_with_line_numbers() -> None:
    text = (
        "# Product\n\nIntro.\n\n## Install\n\n### Linux\n\nRun `apt install frob`.\n\n"
        "```\ncode\n\n# not a heading\n```\n\nSetext title\n------------\n\nUnder it.\n"
    )
    assert chunk(extract("doc.md", text.encode())) == [
        Chunk("# Product\n\nIntro.", 1, 3, "Product"),
        Chunk(
            "### Linux\n\nRun `apt install frob`.\n\n```\ncode\n\n# not a heading\n```",
            7,
            15,
            "Product > Install > Linux",
        ),
        Chunk("Setext title\n\nUnder it.", 17, 20, "Product > Setext title"),
    ]


def test_rst_sections_use_adornments_in_order_of_appearance() -> None:
    text = "=====\nGuide\n=====\n\nIntro.\n\nSetup\n-----\n\nSteps.\n\nMore\n~~~~\n\nDetail.\n"
    assert [(c.heading, c.start, c.end) for c in chunk(extract("guide.rst", text.encode()))] == [
        ("Guide", 2, 5),
        ("Guide > Setup", 7, 10),
        ("Guide > Setup > More", 12, 15),
    ]


def test_html_is_text_with_headings_and_source_lines() -> None:
    html = (
        "<html><head><title>T</title><style>p {color: red}</style></head><body>\n"
        "<h1>Guide</h1>\n<p>First &amp; only\nparagraph.</p>\n"
        "<script>var hidden = 1;</script>\n<h2>Setup</h2><ul><li>One</li><li>Two</li></ul>\n"
        "</body></html>"
    )
    passages = chunk(extract("page.html", html.encode()))
    assert passages == [
        Chunk("# Guide\n\nFirst & only paragraph.", 2, 3, "Guide"),
        Chunk("## Setup\n\nOne\nTwo", 6, 6, "Guide > Setup"),
    ]


def test_pdf_text_layer_keeps_page_numbers() -> None:
    extracted = extract("manual.pdf", make_pdf(["The pump runs at 40 bar.", "Clean it weekly."]))
    assert extracted.unit == "page"
    assert [line for line in extracted.lines if line.text] == [
        Line(1, "The pump runs at 40 bar."),
        Line(2, "Clean it weekly."),
    ]
    assert [(c.text, c.start, c.end) for c in chunk(extracted)] == [
        ("The pump runs at 40 bar.\n\nClean it weekly.", 1, 2)
    ]


def test_long_text_is_cut_with_overlap() -> None:
    text = " ".join(f"Sentence {i} is here." for i in range(400))
    passages = chunk(extract("long.txt", text.encode()))
    assert len(passages) > 3
    assert all(len(p.text) <= MAX_CHARS for p in passages)
    for before, after in itertools.pairwise(passages):
        first_sentence = after.text.split(". ")[0] + "."
        assert first_sentence in before.text  # the next passage starts with the last words
    assert passages[-1].text.endswith("Sentence 399 is here.")


def test_code_is_cut_on_blank_lines() -> None:
    source = "\n\n".join(f"def f{i}():\n    return {i}" for i in range(200))
    passages = chunk(extract("mod.py", source.encode()))
    assert passages[0].text.startswith("def f0():") and passages[0].start == 1
    assert all(p.heading is None for p in passages)
    assert passages[-1].text.endswith("return 199") and passages[-1].end == 599


# Indexing passes


def test_a_fact_is_found_with_its_source_path_and_position(tmp_path: Path, store: KnowledgeIndex):
    docs = tmp_path / "docs"
    write(docs, "guides/install.md", "# Install\n\n## Linux\n\nRun `apt install frob`.\n")
    write(docs, "warranty.txt", "Intro line.\n\nThe warranty lasts three years.\n")
    write(docs, "manual.pdf", make_pdf(["Overview", "The pump runs at 40 bar."]))
    result = Indexer(docs, FileFilter(None, []), store).run()
    assert sorted(result.indexed) == ["guides/install.md", "manual.pdf", "warranty.txt"]
    assert result.complete and store.meta("complete") == "1"
    hits = rank(store, "How long is the warranty?", 5)
    assert [(h.path, h.location, h.text) for h in hits] == [
        ("warranty.txt", "lines 1-3", "Intro line.\n\nThe warranty lasts three years.")
    ]
    pump = rank(store, "pump pressure bar", 1)[0]
    assert (pump.path, pump.location) == ("manual.pdf", "pages 1-2")
    linux = rank(store, "install on linux", 1)[0]
    assert (linux.path, linux.location, linux.heading) == (
        "guides/install.md",
        "lines 3-5",
        "Install > Linux",
    )


def test_incremental_pass_touches_only_changed_files(tmp_path: Path, store: KnowledgeIndex) -> None:
    docs = tmp_path / "docs"
    for name in ("same", "edited", "touched", "deleted"):
        write(docs, f"{name}.md", f"# {name}\n\nThe {name} file.\n")
    indexer = Indexer(docs, FileFilter(None, []), store)
    indexer.run()
    before = store.files()
    write(docs, "edited.md", "# edited\n\nNew words: aubergine.\n")
    touched = docs / "touched.md"
    os.utime(touched, ns=(touched.stat().st_atime_ns, touched.stat().st_mtime_ns + 10**9))
    (docs / "deleted.md").unlink()
    write(docs, "added.md", "# added\n\nA new file.\n")
    result = indexer.run()
    assert (result.indexed, result.unchanged, result.removed) == (
        ["added.md", "edited.md"],
        ["touched.md"],
        ["deleted.md"],
    )
    after = store.files()
    assert after["same.md"] == before["same.md"]
    assert after["touched.md"].indexed_at == before["touched.md"].indexed_at
    assert [h.path for h in rank(store, "aubergine", 5)] == ["edited.md"]
    assert rank(store, "deleted", 5) == []


def test_the_index_survives_a_restart(tmp_path: Path, open_index) -> None:
    docs = tmp_path / "docs"
    write(docs, "a.md", "# A\n\nAlpha facts.\n")
    first = open_index()
    Indexer(docs, FileFilter(None, []), first).run()
    first.close()
    again = open_index()
    result = Indexer(docs, FileFilter(None, []), again).run()
    assert (result.indexed, result.unchanged) == ([], [])
    assert [h.path for h in rank(again, "alpha", 3)] == ["a.md"]


def test_rebuild_and_a_moved_folder_start_over(tmp_path: Path, store: KnowledgeIndex) -> None:
    docs = tmp_path / "docs"
    write(docs, "a.md", "# A\n\nAlpha.\n")
    Indexer(docs, FileFilter(None, []), store).run()
    assert Indexer(docs, FileFilter(None, []), store).run(rebuild=True).indexed == ["a.md"]
    moved = tmp_path / "elsewhere"
    write(moved, "b.md", "# B\n\nBeta.\n")
    result = Indexer(moved, FileFilter(None, []), store).run()
    assert (result.indexed, result.removed, sorted(store.files())) == (["b.md"], [], ["b.md"])


def test_unreadable_files_are_skipped_and_named(tmp_path: Path, store: KnowledgeIndex) -> None:
    docs = tmp_path / "docs"
    write(docs, "good.md", "# Good\n\nReadable.\n")
    write(docs, "binary.txt", b"\x00\x01\x02 not text")
    write(docs, "broken.pdf", b"%PDF-1.4 this is not a real pdf")
    result = Indexer(docs, FileFilter(None, []), store).run()
    assert result.indexed == ["good.md"]
    assert result.failed["binary.txt"] == "binary file"
    assert result.failed["broken.pdf"].startswith("cannot read this PDF")
    assert result.complete
    again = Indexer(docs, FileFilter(None, []), store).run()
    assert (again.indexed, again.failed) == ([], {})  # not retried until they change


def test_queries_are_words_not_fts_syntax() -> None:
    assert match_expression('What is "NEAR(x y)" AND -z*?') == '"near" OR "x" OR "y" OR "z"'
    assert match_expression("the") == '"the"'
    assert match_expression("?!") is None


# Embeddings


def test_hybrid_search_stores_vectors_and_uses_them(
    tmp_path: Path, store: KnowledgeIndex, upstream: Upstream
) -> None:
    docs = tmp_path / "docs"
    write(docs, "a.md", "# Alpha\n\nApples grow on trees.\n")
    write(docs, "b.md", "# Beta\n\nBananas are yellow.\n")
    embedder = HttpEmbedder(upstream.base_url, "embed")
    result = Indexer(docs, FileFilter(None, []), store, embedder).run()
    assert result.embedding_error is None and store.has_vectors()
    calls = [r for r in upstream.requests if r.path == "/v1/embeddings"]
    assert [r.body["input"] for r in calls] == [
        [embedding_text("Alpha", "# Alpha\n\nApples grow on trees.")],
        [embedding_text("Beta", "# Beta\n\nBananas are yellow.")],
    ]
    # A query sharing no word with a passage still finds it through its vector.
    vector = fake_embedding(embedding_text("Beta", "# Beta\n\nBananas are yellow."))
    hits = rank(store, "zzz", 1, query_vector=vector)
    assert [h.path for h in hits] == ["b.md"]
    assert rank(store, "apples", 2, embedder)[0].path == "a.md"
    embedder.close()


def test_a_failing_embeddings_endpoint_leaves_lexical_search_working(
    tmp_path: Path, store: KnowledgeIndex, upstream: Upstream
) -> None:
    docs = tmp_path / "docs"
    write(docs, "a.md", "# Alpha\n\nApples grow on trees.\n")
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        dead_port = probe.getsockname()[1]
    dead = HttpEmbedder(f"http://127.0.0.1:{dead_port}/v1", "embed")
    result = Indexer(docs, FileFilter(None, []), store, dead).run()
    assert result.complete and result.embedding_error is not None
    assert "cannot reach" in result.embedding_error
    assert [h.path for h in rank(store, "apples", 3, dead)] == ["a.md"]
    assert not store.has_vectors()
    working = HttpEmbedder(upstream.base_url, "embed")
    again = Indexer(docs, FileFilter(None, []), store, working).run()
    assert (again.indexed, again.embedding_error) == ([], None)
    assert store.has_vectors()  # embedded later, without re-reading the file
    dead.close()
    working.close()
