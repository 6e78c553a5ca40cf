"""Tool processes cannot read the server's secrets and cannot outlive the call or the server.

Each test runs in both launch modes on Linux: ``bwrap`` (``sandbox: required``; skipped
where bubblewrap cannot run) and ``fallback`` (``sandbox: off``: the reaper). Survivors are
found with ``ps`` by a sleep duration unique to the test, so PID namespaces do not matter.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import signal
import subprocess
import sys
import sysconfig
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import openai
import pytest

from server.tools import ToolRef, build_tools
from server.tools.sandbox import bwrap_problem
from tests.harness import ROOT, ServeProcess, agent_config, write_config
from tests.upstream import Reply, Upstream

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the sandbox is Linux-only")

CLIENT_KEY = "sk-client-SANDBOX1-secret"
PROVIDER_KEY = "sk-provider-SANDBOX2-secret"
SECRETS = ("SANDBOX1", "SANDBOX2")
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
SCAN = (
    "cat /proc/$PPID/environ; for p in /proc/[0-9]*; do cat $p/environ; done 2>/dev/null"
    " | tr '\\0' '\\n'; echo scanned"
)
PYTHON_SCAN = """\
import os, re
print(open(f"/proc/{os.getppid()}/environ", "rb").read().replace(b"\\0", b"\\n").decode())
for pid in [name for name in os.listdir("/proc") if name.isdigit() and int(name) != os.getpid()]:
    try:
        print(open(f"/proc/{pid}/environ", "rb").read().replace(b"\\0", b"\\n").decode())
        with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/mem", "rb") as mem:
            for line in maps:
                span, perms = line.split()[:2]
                start, end = (int(x, 16) for x in span.split("-"))
                if perms.startswith("r") and end - start < 1 << 28:
                    try:
                        mem.seek(start)
                        for hit in re.finditer(rb"sk-[A-Za-z0-9-]{8,40}", mem.read(end - start)):
                            print("mem:", hit.group().decode())
                    except (OSError, OverflowError, ValueError):
                        pass
    except OSError as error:
        print(pid, "refused:", error.strerror)
print("scanned")
"""
DURATIONS = itertools.count(311)


@pytest.fixture(params=["bwrap", "fallback"])
def mode(request: pytest.FixtureRequest) -> str:
    if request.param == "bwrap" and (problem := bwrap_problem()) is not None:
        pytest.skip(f"bubblewrap cannot run here: {problem}")
    return "required" if request.param == "bwrap" else "off"


@pytest.fixture
def markers() -> Iterator[list[str]]:
    """Unique ``sleep N`` command lines; whatever still runs at the end is killed."""
    made: list[str] = []
    yield made
    for pid in survivors(made, wait=0):
        os.kill(pid, signal.SIGKILL)


def marker(made: list[str]) -> str:
    made.append(f"sleep {next(DURATIONS)}")
    return made[-1]


def survivors(made: list[str], wait: float = 3.0) -> list[int]:
    """PIDs of processes whose command line is one of ``made``, after waiting up to ``wait``."""
    deadline = time.monotonic() + wait
    while True:
        found = []
        for line in subprocess.run(
            ["ps", "-eo", "pid=,args="], capture_output=True, text=True, check=True
        ).stdout.splitlines():
            pid, _, args = line.strip().partition(" ")
            if args.strip() in made:
                found.append(int(pid))
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def tool(name: str, **options: object) -> Callable[[str], str]:
    (built,) = build_tools([ToolRef(name=name, options=options)])
    function: Callable[[str], Awaitable[str]] = built.function
    return lambda argument: asyncio.run(function(argument))


SHELL_SHAPES = {
    "setsid": "setsid {m} &",
    "setsid_sh": "setsid sh -c '{m}' &",
    "nohup": "nohup {m} > /dev/null 2>&1 &",
    "double_fork": "( ( {m} & ) & )",
}


@pytest.mark.parametrize("shape", list(SHELL_SHAPES))
@pytest.mark.parametrize("ending", ["exits", "time_limit"])
def test_nothing_a_shell_command_starts_survives_the_call(
    tmp_path: Path, mode: str, markers: list[str], shape: str, ending: str
) -> None:
    command = SHELL_SHAPES[shape].format(m=marker(markers))
    if ending == "time_limit":
        command += f"\necho waiting; {marker(markers)}"
    shell = tool("shell", cwd=str(tmp_path), timeout_seconds=1.5, sandbox=mode)
    result = shell(command)
    assert result.endswith(
        "[stopped: still running after 1.5 seconds]" if ending == "time_limit" else "[exit code 0]"
    )
    assert survivors(markers) == []


PYTHON_SHAPES = {
    "fork_setsid_exec": (
        "if os.fork() == 0:\n    os.setsid()\n    os.execvp('sleep', '{m}'.split())"
    ),
    "fork_setsid_sleep": (
        "if os.fork() == 0:\n    os.setsid()\n    os.execvp(sys.executable, "
        "[sys.executable, '-c', 'import time; time.sleep(300)', '{m}'])"
    ),
}


@pytest.mark.parametrize("shape", list(PYTHON_SHAPES))
@pytest.mark.parametrize("ending", ["exits", "time_limit"])
def test_nothing_a_python_snippet_forks_survives_the_call(
    mode: str, markers: list[str], shape: str, ending: str
) -> None:
    code = "import os, sys, time\n" + PYTHON_SHAPES[shape].format(m=marker(markers))
    code += "\nprint('forked', flush=True)"
    if ending == "time_limit":
        code += "\ntime.sleep(30)"
    result = tool("python", timeout_seconds=1.5, sandbox=mode)(code)
    assert result.startswith("forked\n")
    if shape == "fork_setsid_sleep":  # its command line is the interpreter's, then the marker
        markers[-1] = f"{sys.executable} -c import time; time.sleep(300) {markers[-1]}"
    assert survivors(markers) == []


def test_a_command_killed_by_a_signal_reports_128_plus_its_number(
    tmp_path: Path, mode: str
) -> None:
    """The same in both modes (bwrap's init reports it so; the reaper follows)."""
    assert tool("shell", cwd=str(tmp_path), sandbox=mode)("kill -9 $$") == (
        "(no output)\n[exit code 137]"
    )
    killed = tool("python", sandbox=mode)("import os, signal; os.kill(os.getpid(), signal.SIGTERM)")
    assert killed == "(no output)\n[exit code 143]"


def test_commands_still_run_and_see_only_their_own_processes_in_the_sandbox(
    tmp_path: Path,
) -> None:
    if (problem := bwrap_problem()) is not None:
        pytest.skip(f"bubblewrap cannot run here: {problem}")
    shell = tool("shell", cwd=str(tmp_path), sandbox="required")
    assert shell("echo $PPID; set -- /proc/[0-9]*; echo $#; echo hi > f; cat f; pwd") == (
        f"1\n2\nhi\n{tmp_path}\n[exit code 0]"
    )
    assert (tmp_path / "f").read_text() == "hi\n"


def test_required_without_a_working_sandbox_refuses(tmp_path: Path) -> None:
    """With PATH holding no bwrap the probe fails: a fresh interpreter, so nothing is cached."""
    driver = f"""\
import asyncio
from server.tools import ToolRef, build_tools
for options in ({{"cwd": "{tmp_path}", "sandbox": "required"}}, {{"cwd": "{tmp_path}"}}):
    (shell,) = build_tools([ToolRef(name="shell", options=options)])
    print(asyncio.run(shell.function("echo ran")))
"""
    done = subprocess.run(
        [sys.executable, "-c", driver],
        cwd=ROOT,
        env={"PATH": "/nowhere:/usr/sbin/none", "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.stdout == (
        "Error: not run: the tool sandbox (bubblewrap) is not available: "
        "bwrap is not installed\nran\n[exit code 0]\n"
    ), done.stderr
    assert "tool commands run without the bubblewrap sandbox (bwrap is not installed)" in (
        done.stderr
    )


def serve(tmp_path: Path, upstream: Upstream, tools: list[object]) -> ServeProcess:
    config = write_config(tmp_path, agent_config(upstream.base_url, ops={"tools": tools}))
    proc = ServeProcess(
        ["-m", "server", "--config", str(config), "--port", "0", "--data-dir", str(tmp_path)],
        env={"OPENAI_COMPAT_API_KEYS": CLIENT_KEY, "OPENAI_API_KEY": PROVIDER_KEY},
    )
    proc.wait_ready()
    return proc


def test_a_killed_server_takes_its_tool_processes_with_it(
    tmp_path: Path, upstream: Upstream, mode: str, markers: list[str]
) -> None:
    first, second, last = marker(markers), marker(markers), marker(markers)
    command = f"setsid {first} & nohup {second} > /dev/null 2>&1 & {last}"
    upstream.script(Reply.tool_calls([("run_shell", {"command": command})]), Reply.text("ok"))
    shell = {"cwd": str(tmp_path), "sandbox": mode, "approval": "auto"}
    proc = serve(tmp_path, upstream, [{"shell": shell}])
    try:
        asking = threading.Thread(target=_ask, args=(proc,), daemon=True)
        asking.start()
        deadline = time.monotonic() + 20
        while len(survivors(markers, wait=0)) < 3:
            assert time.monotonic() < deadline, "the tool's processes never started"
            time.sleep(0.05)
        proc.proc.send_signal(signal.SIGKILL)
        proc.proc.wait(10)
        assert survivors(markers) == []
    finally:
        proc.stop()


def _ask(proc: ServeProcess) -> None:
    with contextlib.suppress(openai.APIError):  # the server is killed mid-answer
        _client(proc).chat.completions.create(
            model="ops", messages=[{"role": "user", "content": "go"}]
        )


def _client(proc: ServeProcess) -> openai.OpenAI:
    return openai.OpenAI(base_url=proc.url, api_key=CLIENT_KEY, max_retries=0, timeout=60)


@pytest.mark.parametrize(("name", "argument"), [("shell", SCAN), ("python", PYTHON_SCAN)])
def test_tool_processes_cannot_read_the_servers_keys(
    tmp_path: Path, upstream: Upstream, mode: str, name: str, argument: str
) -> None:
    if mode == "off" and os.geteuid() == 0:
        pytest.skip(
            "as root, without the PID namespace nothing keeps a process from reading "
            "/proc/<server>/environ; non-root: test_a_hardened_server_keeps_its_keys_without_bwrap"
        )
    function = "run_shell" if name == "shell" else "run_python"
    key = "command" if name == "shell" else "code"
    upstream.script(Reply.tool_calls([(function, {key: argument})]), Reply.text("ok"))
    options = {
        "sandbox": mode,
        "approval": "auto",
        **({"cwd": str(tmp_path)} if name == "shell" else {}),
    }
    proc = serve(tmp_path, upstream, [{name: options}])
    try:
        answer = _client(proc).chat.completions.create(
            model="ops", messages=[{"role": "user", "content": "go"}]
        )
    finally:
        proc.stop()
    assert answer.choices[0].message.content.endswith("ok")
    seen = upstream.chat_requests[1].body["messages"][-1]["content"]
    assert "scanned" in seen and "PATH=" in seen
    assert [secret for secret in SECRETS if secret in seen] == []


def non_root_python() -> tuple[list[str], dict[str, str]]:
    """A command running our Python (with Traymind's packages) as a non-root user, and the
    environment it needs: as we are, or as nobody when the tests run as root. The venv's
    interpreter may live under a folder nobody cannot enter: then the system one, given the
    venv's packages."""
    if os.geteuid() != 0:
        return [sys.executable], {}
    packages = {"PYTHONPATH": sysconfig.get_path("purelib")}
    for python, env in ((sys.executable, {}), ("/usr/bin/python3", packages)):
        # it must also be able to start itself again (the reaper, the python tool)
        code = "import subprocess, sys, server.tools; subprocess.run([sys.executable, '-V'])"
        check = [*NOBODY, python, "-c", code]
        done = subprocess.run(check, cwd=ROOT, env={**os.environ, **env}, capture_output=True)
        if done.returncode == 0 and not done.stderr:
            return [*NOBODY, python], env
    pytest.skip("no Python with Traymind's packages that user nobody can run")


HARDENED_DRIVER = """import asyncio, sys
from server.security.process_hardening import harden_server_process
from server.tools import ToolRef, build_tools
assert sys.argv[1] == "0" or harden_server_process()
(shell,) = build_tools([ToolRef(name="shell", options={"cwd": "/tmp", "sandbox": "off"})])
(python,) = build_tools([ToolRef(name="python", options={"sandbox": "off"})])
print(asyncio.run(shell.function(sys.argv[2])))
print(asyncio.run(python.function(sys.argv[3])))
"""


@pytest.mark.parametrize("hardened", [True, False], ids=["hardened", "control"])
def test_a_hardened_server_keeps_its_keys_without_bwrap(hardened: bool) -> None:
    """A non-root "server" (uid nobody when the tests run as root) with the keys in its
    environment and memory; its tools run without the sandbox. The control run, not
    hardened, shows that the same scans do find the keys."""
    python, env = non_root_python()
    done = subprocess.run(
        [*python, "-c", HARDENED_DRIVER, "1" if hardened else "0", SCAN, PYTHON_SCAN],
        cwd=ROOT,
        env={**env, "PATH": os.environ["PATH"], "HOME": "/tmp",
             "OPENAI_COMPAT_API_KEYS": CLIENT_KEY, "OPENAI_API_KEY": PROVIDER_KEY},
        capture_output=True,
        text=True,
        timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("scanned") == 2
    found = [secret for secret in SECRETS if secret in done.stdout]
    assert found == ([] if hardened else list(SECRETS))
