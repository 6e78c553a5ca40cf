"""The ``files`` tool: reading, listing, searching, writing and editing inside its roots only.

Escapes are tried every way a model could: ``..``, absolute paths, symlinked
files and folders pointing out, a sibling folder sharing the root's prefix,
and writes through a symlink. The last test runs an agent over real HTTP.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from server.tools import ToolRef, build_tools, validate_tool_options
from tests.harness import agent_config, client, running_server
from tests.upstream import Reply, Upstream

KEY = "sk-test-files"


def file_tools(*roots: Path, **options: object) -> dict[str, Callable[..., str]]:
    refs = [ToolRef(name="files", options={"roots": [str(r) for r in roots], **options})]
    return {tool.name: tool.function for tool in build_tools(refs)}


@pytest.fixture
def layout(tmp_path: Path) -> Path:
    """root/{a.txt, notes/b.md, notes/deep/c.md, link-out.txt, dir-out -> outside/}, outside/."""
    root = tmp_path / "root"
    (root / "notes" / "deep").mkdir(parents=True)
    (root / "a.txt").write_text("alpha\nbeta\ngamma\n")
    (root / "notes" / "b.md").write_text("# Shopping\nmilk\nBread\n")
    (root / "notes" / "deep" / "c.md").write_text("bread crumbs\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("TOP SECRET bread\n")
    (root / "link-out.txt").symlink_to(outside / "secret.txt")
    (root / "dir-out").symlink_to(outside)
    (root / "link-in.txt").symlink_to(root / "a.txt")
    sibling = tmp_path / "root2"
    sibling.mkdir()
    (sibling / "s.txt").write_text("sibling\n")
    return root


def test_read_only_by_default(layout: Path) -> None:
    assert sorted(file_tools(layout)) == ["list_files", "read_file", "search_files"]
    assert sorted(file_tools(layout, write=True)) == [
        "edit_file", "list_files", "read_file", "search_files", "write_file",
    ]  # fmt: skip


def test_read_file_relative_absolute_and_line_ranges(layout: Path) -> None:
    tools = file_tools(layout)
    assert tools["read_file"]("a.txt") == "alpha\nbeta\ngamma\n"
    assert tools["read_file"](str(layout / "notes" / "b.md")) == "# Shopping\nmilk\nBread\n"
    assert tools["read_file"]("a.txt", 2, 1) == "beta\n"
    assert tools["read_file"]("notes/../a.txt", 3) == "gamma\n"
    assert tools["read_file"]("link-in.txt") == "alpha\nbeta\ngamma\n"


def test_read_file_truncates_and_says_where_to_continue(layout: Path) -> None:
    tools = file_tools(layout, max_read_chars=8)
    assert tools["read_file"]("a.txt") == (
        "alpha\nbe\n[truncated at 8 characters; continue with start_line=2]"
    )


def test_read_file_reports_missing_folders_and_binary(layout: Path) -> None:
    (layout / "blob.bin").write_bytes(b"\x00\x01\x02")
    with open(layout / "huge.log", "wb") as huge:
        huge.truncate(25_000_000)  # sparse: no disk used
    tools = file_tools(layout)
    assert (
        tools["read_file"]("huge.log") == "Error: 'huge.log' is 25000000 bytes, too large to read"
    )
    assert tools["read_file"]("nope.txt") == "Error: 'nope.txt' does not exist"
    assert tools["read_file"]("notes") == "Error: 'notes' is a folder; use list_files"
    assert tools["read_file"]("blob.bin") == "Error: 'blob.bin' is a binary file"


@pytest.mark.parametrize(
    "path",
    [
        "../outside/secret.txt",
        "notes/../../outside/secret.txt",
        "link-out.txt",
        "dir-out/secret.txt",
        "/etc/passwd",
        "~/.bashrc",
        "../root2/s.txt",
        "a.txt\0",
    ],
)
def test_every_escape_is_refused_for_reading(layout: Path, path: str) -> None:
    tools = file_tools(layout)
    assert tools["read_file"](path).startswith("Error: ")
    assert "SECRET" not in tools["read_file"](path)


def test_a_sibling_folder_sharing_the_root_prefix_is_outside(layout: Path) -> None:
    sibling = layout.parent / "root2" / "s.txt"
    assert file_tools(layout)["read_file"](str(sibling)) == (
        f"Error: '{sibling}' is outside the allowed folders"
    )


def test_listing_marks_links_that_leave_the_roots(layout: Path) -> None:
    tools = file_tools(layout)
    assert tools["list_files"]() == (
        "a.txt (17 bytes)\n"
        "dir-out@ (link outside the allowed folders)\n"
        "link-in.txt (17 bytes)\n"
        "link-out.txt@ (link outside the allowed folders)\n"
        "notes/"
    )
    assert tools["list_files"]("notes") == "b.md (22 bytes)\ndeep/"
    assert tools["list_files"]("dir-out") == "Error: 'dir-out' is outside the allowed folders"
    assert tools["list_files"]("..") == "Error: '..' is outside the allowed folders"


def test_listing_is_capped(layout: Path) -> None:
    assert file_tools(layout, max_results=2)["list_files"]() == (
        "a.txt (17 bytes)\ndir-out@ (link outside the allowed folders)\n[3 more entries not shown]"
    )


def test_search_by_glob_and_text_stays_inside(layout: Path) -> None:
    tools = file_tools(layout)
    assert tools["search_files"]("*.md") == "notes/b.md\nnotes/deep/c.md"
    assert tools["search_files"]("**/*.md") == "notes/b.md\nnotes/deep/c.md"
    assert tools["search_files"]("deep/*.md", "", "notes") == "notes/deep/c.md"
    assert (
        tools["search_files"]("*", "bread")
        == "notes/b.md:3: Bread\nnotes/deep/c.md:1: bread crumbs"
    )
    assert tools["search_files"]("*.txt") == "a.txt\nlink-in.txt"  # link-out.txt is not listed
    assert tools["search_files"]("*", "nothing like this") == "No matching lines."
    assert tools["search_files"]("*.pdf") == "No matching files."
    assert tools["search_files"]("*", "", "dir-out").startswith("Error: ")


def test_search_results_are_capped(layout: Path) -> None:
    assert file_tools(layout, max_results=1)["search_files"]("*.md") == (
        "notes/b.md\n[stopped after 1 results]"
    )


def test_write_and_edit(layout: Path) -> None:
    tools = file_tools(layout, write=True)
    assert tools["write_file"]("new/dir/todo.md", "- one\n- two\n") == (
        "Wrote 12 characters to new/dir/todo.md."
    )
    assert (layout / "new" / "dir" / "todo.md").read_text() == "- one\n- two\n"
    assert tools["edit_file"]("new/dir/todo.md", "- two", "- 2") == "Edited new/dir/todo.md."
    assert (layout / "new" / "dir" / "todo.md").read_text() == "- one\n- 2\n"
    assert tools["edit_file"]("a.txt", "zeta", "x") == "Error: old_text was not found in a.txt"
    (layout / "twice.txt").write_text("x x")
    assert tools["edit_file"]("twice.txt", "x", "y") == (
        "Error: old_text occurs 2 times in twice.txt; "
        "include more surrounding text so it occurs once"
    )
    assert tools["write_file"]("notes", "x") == "Error: 'notes' is a folder"


@pytest.mark.parametrize(
    "path", ["../escaped.txt", "link-out.txt", "dir-out/secret.txt", "dir-out/new.txt"]
)
def test_writes_and_edits_never_leave_the_roots(layout: Path, path: str) -> None:
    outside = layout.parent / "outside"
    tools = file_tools(layout, write=True)
    assert tools["write_file"](path, "overwritten").startswith("Error: ")
    assert tools["edit_file"](path, "TOP", "BOTTOM").startswith("Error: ")
    assert (outside / "secret.txt").read_text() == "TOP SECRET bread\n"
    assert sorted(os.listdir(outside)) == ["secret.txt"]
    assert not (layout.parent / "escaped.txt").exists()


def test_several_roots(layout: Path) -> None:
    sibling = layout.parent / "root2"
    tools = file_tools(layout, sibling)
    assert tools["read_file"](str(sibling / "s.txt")) == "sibling\n"
    assert tools["search_files"]("*.txt", "", str(sibling)) == f"{sibling / 's.txt'}"


def test_a_root_given_through_a_symlink_works(layout: Path) -> None:
    alias = layout.parent / "alias"
    alias.symlink_to(layout)
    tools = file_tools(alias)
    assert tools["read_file"]("a.txt") == "alpha\nbeta\ngamma\n"
    assert tools["read_file"]("link-out.txt").startswith("Error: ")


def test_descriptions_name_the_roots(layout: Path) -> None:
    (tool,) = [t for t in build_tools([ToolRef(name="files", options={"roots": [str(layout)]})])
               if t.name == "read_file"]  # fmt: skip
    assert tool.description == (
        f"Read a text file. Allowed folders: {layout}. Relative paths start at {layout}."
    )
    assert tool.function_schema.json_schema["required"] == ["path"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "option 'roots' of tool 'files': Field required"),
        (
            {"roots": []},
            "option 'roots' of tool 'files': "
            "List should have at least 1 item after validation, not 0",
        ),
        (
            {"roots": ["notes"]},
            "option 'roots' of tool 'files': Value error, 'notes' must be an absolute path "
            "or start with ~",
        ),
        (
            {"roots": ["/tmp"], "root": "/x"},
            "unknown option 'root' for tool 'files'; did you mean 'roots'?",
        ),
        (
            {"roots": ["/tmp"], "color": True},
            "unknown option 'color' for tool 'files' "
            "(options: roots, write, max_read_chars, max_results, approval)",
        ),
    ],
)
def test_option_mistakes_are_explained(options: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError) as caught:
        validate_tool_options("files", options)
    assert str(caught.value) == message


def test_an_agent_answers_about_a_folder_with_visible_tool_calls(
    tmp_path: Path, layout: Path, upstream: Upstream
) -> None:
    config = agent_config(upstream.base_url, notes={"tools": [{"files": {"roots": [str(layout)]}}]})
    upstream.script(
        Reply.tool_calls([("search_files", {"pattern": "*.md", "text": "milk"})]),
        Reply.tool_calls([("read_file", {"path": "../outside/secret.txt"})]),
        Reply.text("You need milk."),
    )
    with running_server(tmp_path, config, env={"OPENAI_COMPAT_API_KEYS": KEY}) as handle:
        answer = client(handle, KEY).chat.completions.create(
            model="notes", messages=[{"role": "user", "content": "What do I need to buy?"}]
        )
    assert answer.choices[0].message.content == (
        '<tool id="1" state="start">search_files(pattern=*.md, text=milk)</tool>'
        '<tool id="1" state="done">search_files(pattern=*.md, text=milk)\nnotes/b.md:2: milk</tool>'
        '<tool id="2" state="start">read_file(path=../outside/secret.txt)</tool>'
        '<tool id="2" state="done">read_file(path=../outside/secret.txt)\n'
        "Error: &#x27;../outside/secret.txt&#x27; is outside the allowed folders</tool>"
        "You need milk."
    )
    first_result = upstream.chat_requests[1].body["messages"][-1]
    assert first_result == {
        "role": "tool",
        "tool_call_id": "call_1",
        "content": "notes/b.md:2: milk",
    }
    offered = {t["function"]["name"] for t in upstream.chat_requests[0].body["tools"]}
    assert offered == {"read_file", "list_files", "search_files"}


def test_links_that_stay_inside_are_followed_beneath_the_root(layout: Path) -> None:
    (layout / "notes-link").symlink_to("notes")  # relative, to a folder
    (layout / "notes" / "up.txt").symlink_to("../a.txt")  # relative, back up to the root
    (layout / "hop").symlink_to(layout / "notes-link" / "deep")  # absolute, through a link
    (layout / "out-by-dots").symlink_to("notes/../../outside")
    tools = file_tools(layout, write=True)
    assert tools["read_file"]("notes-link/b.md") == "# Shopping\nmilk\nBread\n"
    assert tools["read_file"]("notes/up.txt") == "alpha\nbeta\ngamma\n"
    assert tools["read_file"]("hop/c.md") == "bread crumbs\n"
    assert tools["read_file"]("hop/../b.md") == "# Shopping\nmilk\nBread\n"  # .. after a link
    assert tools["list_files"]("hop") == "c.md (13 bytes)"
    assert tools["write_file"]("notes-link/new.md", "x") == "Wrote 1 characters to notes/new.md."
    assert tools["read_file"]("out-by-dots/secret.txt").startswith("Error: ")
    assert tools["write_file"]("out-by-dots/new.txt", "x").startswith("Error: ")
    assert sorted(os.listdir(layout.parent / "outside")) == ["secret.txt"]


def test_dotdot_may_cross_into_another_root_but_not_beside_it(layout: Path) -> None:
    tools = file_tools(layout, layout.parent / "root2")
    assert tools["read_file"]("../root2/s.txt") == "sibling\n"
    assert tools["read_file"]("notes/../../root2/./s.txt") == "sibling\n"
    assert tools["read_file"]("../outside/secret.txt") == (
        "Error: '../outside/secret.txt' is outside the allowed folders"
    )


def test_link_loops_dangling_links_and_fifos_are_errors_not_hangs(layout: Path) -> None:
    (layout / "loop").symlink_to("loop")
    (layout / "dangling.txt").symlink_to("notes/missing.txt")
    os.mkfifo(layout / "pipe.txt")
    tools = file_tools(layout, write=True)
    assert tools["read_file"]("loop/x") == "Error: Too many levels of symbolic links"
    assert tools["read_file"]("pipe.txt") == "Error: 'pipe.txt' does not exist"
    assert tools["search_files"]("pipe.txt", "x") == "No matching lines."
    assert tools["write_file"]("dangling.txt", "made\n") == (
        "Wrote 5 characters to notes/missing.txt."
    )
    assert (layout / "notes" / "missing.txt").read_text() == "made\n"
