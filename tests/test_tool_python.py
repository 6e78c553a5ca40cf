"""The ``python`` tool: snippets run in another interpreter, never in the server's process."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from server.tools import ToolRef, build_tools, validate_tool_options
from server.tools.python import find_interpreter
from tests.harness import agent_config, client, running_server
from tests.upstream import Reply, Upstream

KEY = "sk-test-python"


def run_python(**options: object) -> Callable[[str], str]:
    (tool,) = build_tools([ToolRef(name="python", options=options)])
    function: Callable[[str], Awaitable[str]] = tool.function
    return lambda code: asyncio.run(function(code))


def test_prints_come_back_with_the_exit_code() -> None:
    assert run_python()("print(6 * 7)") == "42\n[exit code 0]"


def test_a_snippet_runs_in_another_isolated_process() -> None:
    output = run_python()("import os, sys\nprint(os.getpid(), sys.flags.isolated)")
    pid, isolated = output.splitlines()[0].split()
    assert int(pid) != os.getpid()
    assert isolated == "1"


def test_errors_show_the_traceback_and_exit_code() -> None:
    output = run_python()("1 / 0")
    assert "ZeroDivisionError: division by zero" in output
    assert output.endswith("[exit code 1]")


def test_the_temporary_folder_is_the_default_working_folder_and_is_removed() -> None:
    output = run_python()("import os; print(os.getcwd()); print(sorted(os.listdir()))")
    folder, listing = output.splitlines()[:2]
    assert Path(folder).name.startswith("traymind-python-")
    assert listing == "['snippet.py']"
    assert not Path(folder).exists()


def test_a_configured_working_folder(tmp_path: Path) -> None:
    (tmp_path / "data.csv").write_text("a,b\n")
    assert run_python(cwd=str(tmp_path))("print(open('data.csv').read())") == ("a,b\n[exit code 0]")


def test_a_snippet_past_its_time_is_killed() -> None:
    started = time.monotonic()
    output = run_python(timeout_seconds=0.5)(
        "import time\nprint('start', flush=True)\ntime.sleep(30)"
    )
    assert time.monotonic() - started < 5
    assert output == "start\n[stopped: still running after 0.5 seconds]"


def test_output_is_capped() -> None:
    assert run_python(max_output_chars=5)("print('x' * 100)") == (
        "xxxxx\n[96 more characters of output not shown]\n[exit code 0]"
    )


def test_the_environment_is_not_passed_on() -> None:
    assert os.environ.get("PYTEST_CURRENT_TEST")
    output = run_python()("import os; print('PYTEST_CURRENT_TEST' in os.environ)")
    assert output == "False\n[exit code 0]"


def test_the_interpreter_is_configurable() -> None:
    assert find_interpreter(None) == sys.executable
    assert find_interpreter(sys.executable) == sys.executable
    assert run_python(interpreter="/nowhere/python9")("print(1)") == (
        "Error: no Python interpreter was found on this machine"
    )


def test_unknown_options_have_a_hint() -> None:
    with pytest.raises(ValueError) as caught:
        validate_tool_options("python", {"timeout": 3})
    assert str(caught.value) == (
        "unknown option 'timeout' for tool 'python'; did you mean 'timeout_seconds'?"
    )


def test_an_agent_runs_python_over_http(tmp_path: Path, upstream: Upstream) -> None:
    config = agent_config(upstream.base_url, coder={"tools": [{"python": {"approval": "auto"}}]})
    upstream.script(
        Reply.tool_calls([("run_python", {"code": "print(sum(range(10)))"})]), Reply.text("45")
    )
    with running_server(tmp_path, config, env={"OPENAI_COMPAT_API_KEYS": KEY}) as handle:
        answer = client(handle, KEY).chat.completions.create(
            model="coder", messages=[{"role": "user", "content": "sum 0..9"}]
        )
    call = "run_python(code=print(sum(range(10))))"
    assert answer.choices[0].message.content == (
        f'<tool id="1" state="start">{call}</tool>'
        f'<tool id="1" state="done">{call}\n45\n[exit code 0]</tool>45'
    )


def test_the_sandbox_option_takes_three_values() -> None:
    for value in ("auto", "required", "off"):
        validate_tool_options("python", {"sandbox": value})
    with pytest.raises(ValueError) as caught:
        validate_tool_options("python", {"sandbox": True})
    assert "Input should be 'auto', 'required' or 'off'" in str(caught.value)
