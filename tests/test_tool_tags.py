"""The seed's inline ``<tool>`` tag format: values, limits, escaping."""

from __future__ import annotations

from server.agents import tool_tags
from server.agents.events import TextDelta, ToolFinished, ToolStarted
from server.chat.rendering import ContentRenderer


def test_start_and_done_tags_share_an_id_and_format_values() -> None:
    args = {"expression": "6*7", "precise": True, "n": 3, "opts": {"b": 1, "a": "é"}}
    assert tool_tags.start_tag(1, "calculator", args) == (
        '<tool id="1" state="start">calculator(expression=6*7, precise=true, n=3, '
        "opts={&quot;a&quot;: &quot;é&quot;, &quot;b&quot;: 1})</tool>"
    )
    assert tool_tags.done_tag(1, "calculator", {"expression": "6*7"}, "42") == (
        '<tool id="1" state="done">calculator(expression=6*7)\n42</tool>'
    )


def test_newlines_in_values_become_spaces_and_text_is_escaped() -> None:
    tag = tool_tags.start_tag(2, "search", {"q": "a\nb<script>&"})
    assert tag == '<tool id="2" state="start">search(q=a b&lt;script&gt;&amp;)</tool>'


def test_quotes_are_escaped_as_the_seed_format_does() -> None:
    tag = tool_tags.start_tag(4, "say", {"q": 'it\'s "quoted"'})
    assert tag == '<tool id="4" state="start">say(q=it&#x27;s &quot;quoted&quot;)</tool>'


def test_value_argument_list_and_result_limits() -> None:
    long_value = "x" * 300
    call = tool_tags.format_call("t", {"v": long_value})
    assert call == "t(v=" + "x" * 249 + "…)"

    many = {f"k{i}": "y" * 200 for i in range(10)}
    arg_list = tool_tags.format_call("t", many)[2:-1]
    assert len(arg_list) == 1200
    assert arg_list.endswith("…")

    done = tool_tags.done_tag(1, "t", {}, "r" * 600)
    result = done.split("\n", 1)[1].removesuffix("</tool>")
    assert result == "r" * 499 + "…"


def test_limits_apply_before_escaping() -> None:
    done = tool_tags.done_tag(1, "t", {}, "<" * 500)
    assert done.endswith("&lt;" * 500 + "</tool>")


def test_non_string_result_is_json() -> None:
    assert tool_tags.done_tag(3, "t", {}, {"b": [1, 2], "a": None}).endswith(
        "\n{&quot;a&quot;: null, &quot;b&quot;: [1, 2]}</tool>"
    )


def test_renderer_numbers_calls_per_response_and_closes_interrupted() -> None:
    renderer = ContentRenderer(show_tool_calls=True)
    out = [
        renderer.render(TextDelta("Hi ")),
        renderer.render(ToolStarted("c1", "a", {})),
        renderer.render(ToolStarted("c2", "b", {"x": 1})),
        renderer.render(ToolFinished("c1", "a", {}, "ok")),
    ]
    assert out == [
        "Hi ",
        '<tool id="1" state="start">a()</tool>',
        '<tool id="2" state="start">b(x=1)</tool>',
        '<tool id="1" state="done">a()\nok</tool>',
    ]
    assert renderer.close_interrupted() == '<tool id="2" state="done">(interrupted)</tool>'


def test_hidden_tool_calls_render_nothing() -> None:
    renderer = ContentRenderer(show_tool_calls=False)
    assert renderer.render(ToolStarted("c1", "a", {})) == ""
    assert renderer.render(ToolFinished("c1", "a", {}, "ok")) == ""
    assert renderer.render(TextDelta("x")) == "x"
