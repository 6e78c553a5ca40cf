"""The test chat's transcript: answers' Markdown rendered, nothing an answer says run as HTML."""

from __future__ import annotations

from app.chat_transcript import Turn, transcript_html


def answered(text: str, state: str = "done") -> str:
    return transcript_html([Turn(question="q", requested="general", answer=text, state=state)])


def test_an_answer_s_markdown_is_rendered() -> None:
    page = answered("Twelve tickets come to **90.00**.\n\n- one\n- two\n\n`code`")
    assert "<strong>90.00</strong>" in page
    assert "<li>one</li>" in page and "<code>code</code>" in page
    table = answered("| a | b |\n| - | - |\n| 1 | 2 |")
    assert "<table>" in table and "<td>1</td>" in table


def test_html_in_an_answer_or_a_question_is_shown_not_run() -> None:
    page = answered('<img src="http://evil.example/x.png" onerror="alert(1)"> hi <b>bold</b>')
    assert "<img" not in page and "<b>bold</b>" not in page
    assert "&lt;img" in page
    turn = Turn(question="<script>alert(1)</script>", requested="general", answer="ok")
    assert "<script>" not in transcript_html([turn])
    link = answered("[click](javascript:alert(1))")
    assert "href" not in link and "[click]" in link  # not a link: markdown-it refuses it


def test_a_tool_call_between_paragraphs_stays_a_block() -> None:
    page = answered(
        'Let me add.<tool id="1" state="start">add(a=1, b=2)</tool>'
        '<tool id="1" state="done">add(a=1, b=2)\n3</tool>So **3**.'
    )
    assert "Tool: add" in page and "<strong>3</strong>" in page
    assert page.index("Let me add.") < page.index("Tool: add") < page.index("<strong>3")
