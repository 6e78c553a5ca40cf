"""Reading the server's ``<tool>`` tags back into text and tool blocks (``app.tool_blocks``).

The tags are made by the server's own ``tool_tags`` functions, so these tests break
when the format changes on one side only.
"""

from __future__ import annotations

from app.tool_blocks import Text, ToolBlock, parse, pending_tail, split_call
from server.agents import tool_tags


def test_a_start_and_its_done_tag_make_one_block_between_texts() -> None:
    content = (
        "Let me compute. "
        + tool_tags.start_tag(1, "calculator", {"expression": "6*7"})
        + tool_tags.done_tag(1, "calculator", {"expression": "6*7"}, "42")
        + "It is 42."
    )
    assert parse(content) == [
        Text("Let me compute. "),
        ToolBlock(1, "calculator", "expression=6*7", "42", "done"),
        Text("It is 42."),
    ]


def test_a_tool_still_running_has_no_result() -> None:
    content = "a" + tool_tags.start_tag(1, "current_time", {})
    assert parse(content) == [Text("a"), ToolBlock(1, "current_time", "", None, "running")]


def test_blocks_keep_the_order_calls_started_in_when_they_finish_out_of_order() -> None:
    args_a, args_b = {"x": 1}, {"q": "two words"}
    content = (
        tool_tags.start_tag(1, "a", args_a)
        + tool_tags.start_tag(2, "b", args_b)
        + tool_tags.done_tag(2, "b", args_b, "B")
        + tool_tags.done_tag(1, "a", args_a, {"k": [1, 2]})
        + "Done"
    )
    assert parse(content) == [
        ToolBlock(1, "a", "x=1", '{"k": [1, 2]}', "done"),
        ToolBlock(2, "b", "q=two words", "B", "done"),
        Text("Done"),
    ]


def test_escaped_text_is_unescaped_and_multi_line_results_are_kept() -> None:
    args = {"path": "notes/<draft> & more.md", "text": "line one\nline two"}
    result = "first <line>\nsecond & last"
    content = tool_tags.start_tag(1, "files", args) + tool_tags.done_tag(1, "files", args, result)
    assert parse(content) == [
        ToolBlock(
            1, "files", "path=notes/<draft> & more.md, text=line one line two", result, "done"
        )
    ]


def test_an_interrupted_tool_keeps_its_call_and_says_so() -> None:
    content = (
        tool_tags.start_tag(1, "shell", {"command": "sleep 100"})
        + tool_tags.interrupted_tag(1)
        + "The provider failed."
    )
    assert parse(content) == [
        ToolBlock(1, "shell", "command=sleep 100", "(interrupted)", "interrupted"),
        Text("The provider failed."),
    ]


def test_a_done_tag_without_its_start_still_makes_a_block() -> None:
    content = tool_tags.done_tag(3, "calculator", {"expression": "1+1"}, "2")
    assert parse(content) == [ToolBlock(3, "calculator", "expression=1+1", "2", "done")]


def test_while_streaming_a_half_arrived_tag_is_held_back_not_shown_as_text() -> None:
    tag = tool_tags.start_tag(1, "calculator", {"expression": "2+2"})
    for cut in range(1, len(tag)):
        partial = "Sure. " + tag[:cut]
        assert parse(partial, final=False) == [Text("Sure. ")], cut
    assert parse("Sure. " + tag, final=False) == [
        Text("Sure. "),
        ToolBlock(1, "calculator", "expression=2+2", None, "running"),
    ]


def test_at_the_end_text_that_only_looks_like_a_tag_is_shown() -> None:
    assert parse("x < y and <to", final=True) == [Text("x < y and <to")]
    assert parse("x < y and <to", final=False) == [Text("x < y and ")]
    assert parse('<tool id="1" state="start">never closed', final=True) == [
        Text('<tool id="1" state="start">never closed')
    ]


def test_pending_tail_and_split_call() -> None:
    assert pending_tail("abc") == 3
    assert pending_tail("abc<") == 3
    assert pending_tail("abc<tool id=") == 3
    assert split_call("calculator(expression=6*7)") == ("calculator", "expression=6*7")
    assert split_call("f()") == ("f", "")
    assert split_call("odd") == ("odd", "")


def test_a_long_argument_list_cut_by_the_server_still_parses() -> None:
    args = {f"k{i}": "y" * 200 for i in range(10)}
    [block] = parse(tool_tags.start_tag(1, "t", args))
    assert isinstance(block, ToolBlock) and block.name == "t"
    assert len(block.arguments) == tool_tags.ARGS_LIMIT and block.arguments.endswith("…")


def test_quotes_escaped_by_the_server_come_back_as_typed() -> None:
    args = {"q": 'it\'s "quoted"', "opts": {"a": "é"}}
    content = tool_tags.start_tag(1, "say", args) + tool_tags.done_tag(1, "say", args, {"b": "x"})
    assert parse(content) == [
        ToolBlock(1, "say", 'q=it\'s "quoted", opts={"a": "é"}', '{"b": "x"}', "done")
    ]
