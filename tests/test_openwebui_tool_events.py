"""Tool calls as Open WebUI's ``<details type="tool_calls">`` panels, and out of history."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.harness import agent_config, client, http, running_server
from tests.upstream import Reply, Upstream

KEY = "sk-owui"
ENV = {"OPENAI_COMPAT_API_KEYS": KEY}
OPENWEBUI = {"X-Tool-Event-Format": "openwebui"}
ASK = [{"role": "user", "content": "What is 6*7?"}]


class Details(HTMLParser):
    """The attributes of every ``<details>`` element, as a browser reads them."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "details":
            self.found.append(dict(attrs))


def details_in(text: str) -> list[dict[str, str | None]]:
    parser = Details()
    parser.feed(text)
    return parser.found


def config(upstream: Upstream, **calc: object) -> dict[str, object]:
    return agent_config(
        upstream.base_url,
        calc={"display_name": "Calc", "tools": ["calculator"], **calc},
        general={"display_name": "General"},
    )


def script_calculation(upstream: Upstream) -> None:
    upstream.script(
        Reply.tool_calls([("calculator", {"expression": "6*7"}, "call_c1")]),
        Reply.text("It is 42."),
    )


def assert_one_calculator_panel(content: str) -> None:
    (panel,) = details_in(content)
    assert panel["type"] == "tool_calls" and panel["done"] == "true"
    assert (panel["id"], panel["name"]) == ("call_c1", "calculator")
    assert json.loads(json.loads(panel["arguments"] or "")) == {"expression": "6*7"}
    assert "42" in json.loads(panel["result"] or "")
    assert "<tool " not in content and "Executing" not in content
    assert content.endswith("It is 42.")


@pytest.mark.parametrize("stream", [False, True])
def test_the_header_asks_for_open_webui_panels(
    tmp_path: Path, upstream: Upstream, stream: bool
) -> None:
    script_calculation(upstream)
    with running_server(tmp_path, config(upstream), env=ENV) as handle:
        sdk = client(handle, KEY, **OPENWEBUI)
        if stream:
            chunks = sdk.chat.completions.create(model="calc", messages=ASK, stream=True)
            content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        else:
            answer = sdk.chat.completions.create(model="calc", messages=ASK)
            content = answer.choices[0].message.content or ""
    assert_one_calculator_panel(content)


def test_an_agent_can_choose_the_format_and_the_default_stays_tool_tags(
    tmp_path: Path, upstream: Upstream
) -> None:
    script_calculation(upstream)
    with running_server(
        tmp_path, config(upstream, tool_event_format="openwebui"), env=ENV
    ) as handle:
        content = (
            (client(handle, KEY).chat.completions.create(model="calc", messages=ASK))
            .choices[0]
            .message.content
        )
    assert_one_calculator_panel(content or "")
    script_calculation(upstream)
    (tmp_path / "b").mkdir()
    with running_server(tmp_path / "b", config(upstream), env=ENV) as handle:
        plain = (
            (client(handle, KEY).chat.completions.create(model="calc", messages=ASK))
            .choices[0]
            .message.content
        )
    assert '<tool id="1" state="done">' in (plain or "") and "<details" not in (plain or "")


def test_an_unknown_format_is_a_400_naming_the_header(tmp_path: Path, upstream: Upstream) -> None:
    with running_server(tmp_path, config(upstream), env=ENV) as handle, http(handle) as h:
        response = h.post(
            "/v1/chat/completions",
            json={"model": "calc", "messages": ASK},
            headers={"Authorization": f"Bearer {KEY}", "X-Tool-Event-Format": "xml"},
        )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "X-Tool-Event-Format"
    assert upstream.chat_requests == []


def test_panels_a_client_sends_back_do_not_reach_the_model(
    tmp_path: Path, upstream: Upstream
) -> None:
    script_calculation(upstream)
    upstream.script(Reply.text("Yes."))
    with running_server(tmp_path, config(upstream), env=ENV) as handle:
        sdk = client(handle, KEY, **OPENWEBUI)
        calc = sdk.chat.completions.create(model="calc", messages=ASK)
        shown = calc.choices[0].message.content or ""
        assert details_in(shown)
        again = [
            *ASK,
            {"role": "assistant", "content": shown},
            {"role": "user", "content": "Sure?"},
        ]
        sdk.chat.completions.create(model="general", messages=again)
    history = json.dumps(upstream.chat_requests[-1].body["messages"])
    assert "It is 42." in history
    assert "<details" not in history and "Tool Executed" not in history
