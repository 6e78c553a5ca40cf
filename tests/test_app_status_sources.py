"""What the status window shows beyond requests: the default model, key sources, sources
(knowledge bases, MCP servers) and a config.yaml edited into an invalid state, all live."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import openai
import pytest

from app.status_window import StatusWindow
from tests.harness import agent_config, write_config
from tests.mcp_servers.harness import NOTES
from tests.upstream import Reply, Upstream

pytest_plugins = ("tests.app_conftest",)
pytestmark = pytest.mark.gui

KEY = "sk-test-status-env-key"


def open_status(harness) -> StatusWindow:  # a tests.app_conftest.Harness
    harness.menu_action("Status…").trigger()
    window = harness.app.status_window
    assert window.isVisible()
    return window


def test_sources_tab_lists_knowledge_bases_and_mcp_servers_live(
    make_app, qtbot, upstream: Upstream, tmp_path
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "warranty.md").write_text("# Warranty\n\nThe warranty lasts three years.\n")
    (docs / "returns.md").write_text("# Returns\n\nReturns are free within 30 days.\n")
    config = agent_config(
        upstream.base_url,
        general={"knowledge_bases": ["docs"], "tools": [{"mcp": {"server": "notes"}}]},
        other={"tools": [{"mcp": {"server": "broken"}}]},
    )
    config["knowledge_bases"] = {"docs": {"path": str(docs), "description": "Product docs"}}
    config["mcp_servers"] = {"notes": NOTES, "broken": {"command": str(tmp_path / "nothing")}}
    harness = make_app(config, env={"OPENAI_COMPAT_API_KEYS": KEY})
    window = open_status(harness)
    window.tabs.setCurrentIndex(3)

    qtbot.waitUntil(lambda: [r[1] for r in window.knowledge.rows()] == ["ready"], timeout=10_000)
    [base] = window.knowledge.rows()
    assert base[0] == "docs"
    assert base[2:4] == ("2", base[3]) and int(base[3]) >= 2  # two files, a chunk or more each
    assert base[4] != "never"  # the time of the indexing pass
    assert base[5] == str(docs) and base[6] == ""
    assert window.knowledge_title.text() == "Knowledge bases (1)"

    def servers() -> dict[str, tuple[str, ...]]:
        return {r[0]: r for r in window.mcp.rows()}

    qtbot.waitUntil(
        lambda: (
            servers().get("notes", ("",) * 4)[2] == "running"
            and servers().get("broken", ("",) * 4)[2].startswith("failed")
        ),
        timeout=10_000,
    )
    assert servers()["notes"][1:] == ("stdio", "running", "")
    assert servers()["broken"][3].startswith("failed to start: ")
    assert window.mcp_title.text() == "MCP servers (2)"
    assert window.tabs.tabText(3) == "Sources (3, 1 problem)"

    # A third file: the watched folder is indexed again and the row follows.
    (docs / "shipping.md").write_text("# Shipping\n\nOrders ship within two days.\n")
    qtbot.waitUntil(lambda: window.knowledge.rows()[0][1:3] == ("ready", "3"), timeout=10_000)


def test_a_bad_config_edit_shows_a_banner_until_it_is_fixed(
    make_app, qtbot, upstream: Upstream
) -> None:
    harness = make_app(agent_config(upstream.base_url), env={"OPENAI_COMPAT_API_KEYS": KEY})
    window = open_status(harness)
    # Offscreen there is no tray: the banner already says so, and nothing else.
    assert "cannot be loaded" not in window.banner.text() and window.open_config_button.isHidden()

    good = harness.config_path.read_text()
    harness.config_path.write_text(good.replace("display_name:", "displayname:"))
    qtbot.waitUntil(lambda: "cannot be loaded" in window.banner.text(), timeout=5_000)
    assert window.banner.isVisible()
    text = window.banner.text()
    assert f"The config file {harness.config_path} was changed but cannot be loaded" in text
    assert "previous config keeps serving" in text
    assert "config.yaml: agents.general.displayname: unknown key" in text
    assert "did you mean 'display_name'?" in text
    assert window.open_config_button.isVisible()
    window.open_config_button.click()
    assert harness.opened == [harness.config_path]
    assert harness.app.controller.phase == "running"  # the old config still serves

    write_config(harness.root, agent_config(upstream.base_url, fixed={"display_name": "Fixed"}))
    qtbot.waitUntil(lambda: "cannot be loaded" not in window.banner.text(), timeout=5_000)
    assert window.open_config_button.isHidden()
    qtbot.waitUntil(lambda: [r[0] for r in window.agents.rows()] == ["fixed"])


def test_default_model_agents_and_sessions_show_where_models_and_keys_come_from(
    make_app, qtbot, upstream: Upstream
) -> None:
    harness = make_app(agent_config(upstream.base_url), env={"OPENAI_COMPAT_API_KEYS": KEY})
    window = open_status(harness)
    assert window.fields["Default model"].text() == f"test-model at {upstream.base_url} (config)"
    [agent] = window.agents.rows()
    assert agent[2] == f"default → test-model (openai at {upstream.base_url})"

    upstream.script(Reply.text("Hello"))
    answer = openai.OpenAI(
        base_url=harness.url,
        api_key=KEY,
        max_retries=0,
        timeout=20,
        default_headers={"X-Session-Id": "conv-7"},
    ).chat.completions.create(model="general", messages=[{"role": "user", "content": "Hi"}])
    assert answer.choices[0].message.content == "Hello"

    qtbot.waitUntil(lambda: len(window.sessions.rows()) == 1)
    [session] = window.sessions.rows()
    assert session[0].endswith("/conv-7")
    assert window.sessions.headers[3] == "Key from"
    assert session[1:5] == ("general", "OpenAI SDK", "environment", "1")


def test_a_detected_default_model_and_none_connected(make_app, qtbot, upstream: Upstream) -> None:
    detected = make_app(
        agent_config(None), env={"OPENAI_COMPAT_API_KEYS": KEY, "TRAYMIND_DETECT_URLS": ""}
    )
    window = open_status(detected)
    expected = "none connected — open Models… or start Ollama/LM Studio"
    qtbot.waitUntil(lambda: window.fields["Default model"].text() == expected)
    qtbot.waitUntil(lambda: window.agents.rows()[0][2] == "default → none connected")
    detected.app.quit()

    found = make_app(
        agent_config(None),
        env={"OPENAI_COMPAT_API_KEYS": KEY, "TRAYMIND_DETECT_URLS": upstream.base_url},
    )
    window = open_status(found)
    line = f"test-model at {upstream.base_url} (detected)"
    qtbot.waitUntil(lambda: window.fields["Default model"].text() == line)
    model = f"default → test-model (openai at {upstream.base_url}, detected)"
    qtbot.waitUntil(lambda: window.agents.rows()[0][2] == model)
