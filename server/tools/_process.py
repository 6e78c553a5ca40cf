"""Running a child process for a tool: time limit, output cap, clean kill, small environment.

Shared by ``shell`` and ``python``. The child sees only a small set of
environment variables: the server's own environment holds provider keys a model
must not be able to print. On Linux it runs in the bubblewrap sandbox or under
the reaper (see ``sandbox``), so nothing it starts outlives the call or the
server, ``setsid`` included; elsewhere its own process group is killed at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from server.tools.sandbox import Launch, SandboxMode, launch

# Enough for programs to find each other and behave; nothing secret.
PASSED_ENV = (
    "PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "TZ",
    "TMPDIR", "TEMP", "TMP", "SYSTEMROOT", "SYSTEMDRIVE", "WINDIR", "COMSPEC", "PATHEXT",
    "USERPROFILE",
)  # fmt: skip
DRAIN_GRACE_SECONDS = 1.0  # how long output may keep coming after the command exits
REAPER_GRACE_SECONDS = 2.0  # how long the reaper may take to end what the command left
READ_CHUNK = 65536


@dataclass(frozen=True, slots=True)
class ProcessResult:
    """What a finished (or killed) child produced."""

    exit_code: int | None  # None when killed at the time limit
    output: str  # stdout and stderr interleaved, at most the cap
    omitted_chars: int  # output beyond the cap
    timed_out: bool

    def report(self, timeout_seconds: float) -> str:
        """The result as the model reads it: the output, then how it ended."""
        parts = [self.output.rstrip("\n")] if self.output.strip() else ["(no output)"]
        if self.omitted_chars:
            parts.append(f"[{self.omitted_chars} more characters of output not shown]")
        if self.timed_out:
            parts.append(f"[stopped: still running after {timeout_seconds:g} seconds]")
        else:
            parts.append(f"[exit code {self.exit_code}]")
        return "\n".join(parts)


def child_environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The small environment children get, plus ``extra`` from the config."""
    env = {name: os.environ[name] for name in PASSED_ENV if name in os.environ}
    env.setdefault("PYTHONIOENCODING", "utf-8")
    env.update(extra or {})
    return env


async def run_process(
    command: str | Sequence[str],
    *,
    cwd: str,
    env: Mapping[str, str],
    timeout_seconds: float,
    max_output_chars: int,
    sandbox: SandboxMode = "auto",
) -> ProcessResult:
    """Run ``command`` (a string: through the shell; a list: directly) and collect its output.

    Raises ``SandboxUnavailable`` when ``sandbox`` is ``required`` and bubblewrap cannot run.
    """
    if isinstance(command, str) and os.name == "posix":
        command = ["/bin/sh", "-c", command]
    process, how = await _start(command, cwd=cwd, env=env, sandbox=sandbox)
    collector = _Collector(max_output_chars)
    assert process.stdout is not None
    reader = asyncio.create_task(collector.read(process.stdout))
    timed_out = False
    try:
        try:
            await asyncio.wait_for(process.wait(), timeout_seconds)
        except TimeoutError:
            timed_out = True
            await _stop(process, how)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(reader), DRAIN_GRACE_SECONDS)
    finally:
        await _stop(process, how)
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
        with contextlib.suppress(ProcessLookupError):
            await process.wait()
    output, omitted = collector.text()
    return ProcessResult(None if timed_out else process.returncode, output, omitted, timed_out)


async def _start(
    command: str | Sequence[str], *, cwd: str, env: Mapping[str, str], sandbox: SandboxMode
) -> tuple[asyncio.subprocess.Process, Launch]:
    options = {
        "stdin": subprocess.DEVNULL,
        "stdout": subprocess.PIPE,
        "stderr": subprocess.STDOUT,
        "cwd": cwd,
        "env": dict(env),
        "start_new_session": True,
    }
    if isinstance(command, str):  # Windows: cmd.exe
        how = Launch([command], "plain")
        return await asyncio.create_subprocess_shell(command, **options), how
    how = await asyncio.to_thread(launch, command, cwd=cwd, mode=sandbox)
    return await asyncio.create_subprocess_exec(*how.argv, **options), how


async def _stop(process: asyncio.subprocess.Process, how: Launch) -> None:
    """End the child and everything it started.

    The reaper is asked first (SIGTERM), so it can kill the processes that left
    the group with ``setsid``; then the whole group is killed. bwrap's namespace
    dies with it.
    """
    if how.kind == "reaper" and process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(process.wait()), REAPER_GRACE_SECONDS)
    _kill_group(process)


class _Collector:
    """Keeps the first ``max_chars`` characters of a stream and counts the rest."""

    def __init__(self, max_chars: int) -> None:
        self._max_bytes = max_chars * 4  # a character is at most four bytes of UTF-8
        self._max_chars = max_chars
        self._kept = bytearray()
        self._dropped_bytes = 0

    async def read(self, stream: asyncio.StreamReader) -> None:
        while chunk := await stream.read(READ_CHUNK):
            room = self._max_bytes - len(self._kept)
            self._kept += chunk[:room]
            self._dropped_bytes += max(0, len(chunk) - room)

    def text(self) -> tuple[str, int]:
        text = self._kept.decode("utf-8", errors="replace")
        omitted = max(0, len(text) - self._max_chars) + self._dropped_bytes
        return text[: self._max_chars], omitted


def _kill_group(process: asyncio.subprocess.Process) -> None:
    """Kill the child and everything it started (its process group)."""
    if os.name == "posix":
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
    elif process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
