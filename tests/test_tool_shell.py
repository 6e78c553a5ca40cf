"""The ``shell`` tool: output, exit codes, working folder, time limit, output cap, environment.

The last test runs an agent over real HTTP and checks that the chat shows the
exact command, and that the server's secrets do not reach the command.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from server.tools import ToolRef, build_tools, validate_tool_options
from server.tools._process import PASSED_ENV, child_environment
from tests.harness import agent_config, client, running_server
from tests.upstream import Reply, Upstream

pytestmark = pytest.mark.skipif(os.name != "posix", reason="the commands are POSIX sh")

KEY = "sk-test-shell"


def run_shell(cwd: Path, **options: object) -> Callable[[str], str]:
    (tool,) = build_tools([ToolRef(name="shell", options={"cwd": str(cwd), **options})])
    function: Callable[[str], Awaitable[str]] = tool.function
    return lambda command: asyncio.run(function(command))


def test_output_and_exit_code(tmp_path: Path) -> None:
    shell = run_shell(tmp_path)
    assert shell("echo out; echo err >&2; exit 3") == "out\nerr\n[exit code 3]"
    assert shell("true") == "(no output)\n[exit code 0]"
    assert shell("   ") == "Error: the command is empty"


def test_commands_run_in_the_configured_folder(tmp_path: Path) -> None:
    (tmp_path / "marker.txt").write_text("here")
    assert run_shell(tmp_path)("pwd; cat marker.txt") == f"{tmp_path}\nhere\n[exit code 0]"
    missing = tmp_path / "missing"
    assert run_shell(missing)("pwd") == f"Error: the working folder {missing} does not exist"


def test_commands_cannot_read_input(tmp_path: Path) -> None:
    assert run_shell(tmp_path, timeout_seconds=5)("cat; echo done") == "done\n[exit code 0]"


def test_a_command_past_its_time_is_killed_with_all_it_started(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    started = time.monotonic()
    # sandbox off: a PID the command prints is this machine's only outside bwrap's PID
    # namespace; the sandboxed case, found by command line: tests/test_tool_sandbox.py
    result = run_shell(tmp_path, timeout_seconds=0.5, sandbox="off")(
        f"sleep 30 & echo $! > {pid_file}; echo waiting; wait"
    )
    assert time.monotonic() - started < 5
    assert result == "waiting\n[stopped: still running after 0.5 seconds]"
    assert not _alive(int(pid_file.read_text()))


def test_background_processes_are_stopped_when_the_command_ends(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    # sandbox off: see above
    assert run_shell(tmp_path, sandbox="off")(
        f"sleep 30 > /dev/null 2>&1 & echo $! > {pid_file}"
    ) == ("(no output)\n[exit code 0]")
    assert not _alive(int(pid_file.read_text()))


def test_output_is_capped_and_counted(tmp_path: Path) -> None:
    shell = run_shell(tmp_path, max_output_chars=10)
    assert shell("printf '%s' 0123456789abcdef") == (
        "0123456789\n[6 more characters of output not shown]\n[exit code 0]"
    )
    big = shell("head -c 3000000 /dev/zero | tr '\\0' x")
    assert big.startswith("xxxxxxxxxx\n[") and big.endswith("not shown]\n[exit code 0]")


def test_children_get_a_small_environment_plus_the_configured_one(tmp_path: Path) -> None:
    assert os.environ.get("PYTEST_CURRENT_TEST")  # set by pytest: must not be passed on
    env = child_environment({"GREETING": "hi"})
    assert set(env) <= {*PASSED_ENV, "PYTHONIOENCODING", "GREETING"}
    output = run_shell(tmp_path, env={"GREETING": "hi"})("env")
    assert "GREETING=hi" in output
    assert "PYTEST_CURRENT_TEST" not in output


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"cwd": "relative/dir"}, "must be an absolute path or start with ~"),
        ({"timeout_seconds": 0}, "Input should be greater than 0"),
        (
            {"timeout": 5},
            "unknown option 'timeout' for tool 'shell'; did you mean 'timeout_seconds'?",
        ),
        ({"env": {"A": 1}}, "option 'env.A' of tool 'shell': Input should be a valid string"),
        ({"sandbox": "on"}, "Input should be 'auto', 'required' or 'off'"),
    ],
)
def test_option_mistakes_are_explained(options: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError) as caught:
        validate_tool_options("shell", options)
    assert message in str(caught.value)


def test_the_chat_shows_the_exact_command_and_secrets_stay_out(
    tmp_path: Path, upstream: Upstream
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    config = agent_config(
        upstream.base_url,
        ops={"tools": [{"shell": {"cwd": str(work), "timeout_seconds": 10, "approval": "auto"}}]},
    )
    command = "echo 'a<b' && env | grep -c SECRET_MARKER"
    upstream.script(Reply.tool_calls([("run_shell", {"command": command})]), Reply.text("ok"))
    env = {"OPENAI_COMPAT_API_KEYS": KEY, "OPENAI_API_KEY": "sk-SECRET_MARKER"}
    with running_server(tmp_path, config, env=env) as handle:
        answer = client(handle, KEY).chat.completions.create(
            model="ops", messages=[{"role": "user", "content": "go"}]
        )
    shown = "run_shell(command=echo &#x27;a&lt;b&#x27; &amp;&amp; env | grep -c SECRET_MARKER)"
    assert answer.choices[0].message.content == (
        f'<tool id="1" state="start">{shown}</tool>'
        f'<tool id="1" state="done">{shown}\na&lt;b\n0\n[exit code 1]</tool>'
        "ok"
    )
    tool_message = upstream.chat_requests[1].body["messages"][-1]
    assert tool_message["content"] == "a<b\n0\n[exit code 1]"


def _alive(pid: int) -> bool:
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        if _zombie(pid):
            return False
        time.sleep(0.02)
    return True


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"
    except OSError:
        return False
