"""``mcp_servers`` in config.yaml and the ``{mcp: {server, allow}}`` tool entry."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from server.config import ConfigError, ToolRef, load_config, parse_config
from server.config.schema import McpServerConfig
from server.mcp.connection import expand_env


def problems(data: object) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(data)
    return str(caught.value).splitlines()


def test_stdio_and_http_servers_and_agent_entries() -> None:
    config = parse_config(
        {
            "mcp_servers": {
                "fs": {"command": "npx", "args": ["-y", "server-filesystem", "/notes"]},
                "web": {"url": "http://127.0.0.1:9000/mcp", "headers": {"X-Key": "${KEY}"}},
            },
            "agents": {
                "general": {
                    "tools": [
                        "calculator",
                        {"mcp": {"server": "fs", "allow": ["read_file", "list_directory"]}},
                        {"mcp": {"server": "web"}},
                    ]
                }
            },
        }
    )
    assert config.mcp_servers == {
        "fs": McpServerConfig(command="npx", args=["-y", "server-filesystem", "/notes"]),
        "web": McpServerConfig(url="http://127.0.0.1:9000/mcp", headers={"X-Key": "${KEY}"}),
    }
    assert config.agents["general"].tools[1:] == [
        ToolRef(name="mcp", options={"server": "fs", "allow": ["read_file", "list_directory"]}),
        ToolRef(name="mcp", options={"server": "web"}),
    ]


def test_a_relative_cwd_starts_at_the_config_folder(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("mcp_servers:\n  fs: {command: ./server, cwd: servers}\n", encoding="utf-8")
    assert load_config(path).mcp_servers["fs"].cwd == str(tmp_path / "servers")


@pytest.mark.parametrize(
    ("server", "message"),
    [
        ({}, "give either command (a server run over stdio) or url (over HTTP)"),
        ({"command": "x", "url": "http://h/mcp"}, "give either command"),
        ({"url": "ftp://h/mcp"}, "url must start with http:// or https://"),
        ({"url": "http://h/mcp", "args": ["a"]}, "args, env and cwd apply to a command"),
        ({"command": "x", "headers": {"A": "b"}}, "headers apply to a url, not to a command"),
        ({"command": "x", "argz": []}, "unknown key; did you mean 'args'?"),
    ],
)
def test_server_mistakes_are_explained(server: dict[str, object], message: str) -> None:
    (line,) = problems({"mcp_servers": {"fs": server}})
    assert line.startswith("config.yaml: mcp_servers.fs")
    assert message in line


def test_an_entry_must_name_a_defined_server() -> None:
    assert problems(
        {
            "mcp_servers": {"files": {"command": "x"}},
            "agents": {"a": {"tools": [{"mcp": {"server": "file"}}]}},
        }
    ) == [
        "config.yaml: agents.a.tools[0].mcp.server: 'file' is not a key under mcp_servers "
        "(known: files); did you mean 'files'?"
    ]
    assert problems({"agents": {"a": {"tools": [{"mcp": {"server": "x"}}]}}}) == [
        "config.yaml: agents.a.tools[0].mcp.server: 'x' is not a key under mcp_servers "
        "(none are defined)"
    ]


def test_entry_option_mistakes_are_explained() -> None:
    assert problems({"agents": {"a": {"tools": [{"mcp": {"server": "x", "alow": []}}]}}}) == [
        "config.yaml: agents.a.tools[0]: unknown option 'alow' for tool 'mcp'; "
        "did you mean 'allow'?"
    ]
    assert problems({"agents": {"a": {"tools": ["mcp"]}}}) == [
        "config.yaml: agents.a.tools[0]: option 'server' of tool 'mcp': Field required"
    ]


def test_one_entry_per_server() -> None:
    servers = {"a": {"command": "x"}, "b": {"command": "y"}}
    parse_config(
        {
            "mcp_servers": servers,
            "agents": {"x": {"tools": [{"mcp": {"server": "a"}}, {"mcp": {"server": "b"}}]}},
        }
    )
    assert problems(
        {
            "mcp_servers": servers,
            "agents": {"x": {"tools": [{"mcp": {"server": "a"}}, {"mcp": {"server": "a"}}]}},
        }
    ) == ["config.yaml: agents.x.tools: each tool may be listed once; repeated: mcp (server a)"]


def test_mindroom_mcp_servers_and_tools_translate(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(
        textwrap.dedent(
            """\
            mcp_servers:
              chrome:
                transport: stdio
                command: npx
                args: [-y, chrome-devtools-mcp@latest]
                tool_prefix: chrome
                startup_timeout_seconds: 20
            agents:
              browser:
                tools:
                  - mcp_chrome:
                      include_tools: [new_page, navigate_page]
                      call_timeout_seconds: 180
                  - calculator
            """
        ),
        encoding="utf-8",
    )
    config = load_config(path)
    assert config.mcp_servers["chrome"] == McpServerConfig(
        command="npx", args=["-y", "chrome-devtools-mcp@latest"]
    )
    assert config.agents["browser"].tools == [
        ToolRef(name="mcp", options={"server": "chrome", "allow": ["new_page", "navigate_page"]}),
        ToolRef(name="calculator"),
    ]
    unused = "(a MindRoom setting Traymind does not use)"
    assert config.warnings == [
        f"config.yaml: ignoring mcp_servers.chrome.transport {unused}",
        f"config.yaml: ignoring mcp_servers.chrome.tool_prefix {unused}",
        f"config.yaml: ignoring mcp_servers.chrome.startup_timeout_seconds {unused}",
        f"config.yaml: ignoring agents.browser.tools[0].call_timeout_seconds {unused}",
    ]


def test_env_references_expand_from_the_environment() -> None:
    assert expand_env("Bearer ${HOME}") == f"Bearer {Path.home()}"
    assert expand_env("${TRAYMIND_SURELY_UNSET_VARIABLE}x") == "x"
    assert expand_env("$HOME and ${not valid}") == "$HOME and ${not valid}"
