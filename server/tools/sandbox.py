"""How a tool's child process is launched so that it cannot read the server and cannot outlive it.

On Linux, with bubblewrap (``bwrap``) present and working, the command runs in
its own PID namespace with a fresh ``/proc``: it sees only its own processes,
so neither ``/proc/<server>/environ`` nor ``/proc/<server>/mem`` exists for it,
and when the command ends (or is killed, or the server dies:
``--die-with-parent``) the namespace's init exits and the kernel kills every
process left in it, ``setsid``/``nohup``/double-fork included. The filesystem is
the user's as before (``/`` bound read-write): the tools keep the user's rights.

Without bwrap (not installed, or no user namespaces in a container), or with
``sandbox: off``, a small reaper runs the command instead: it makes itself the
child subreaper, so every orphan of the command is re-parented to it, kills
all of them when the command ends, and does the same when told the server died
(``PR_SET_PDEATHSIG``). The server's secrets are then protected only by
``harden_server_process`` (non-dumpable), which stops same-user non-root
processes. Elsewhere (macOS, Windows) commands run as they are.
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

SandboxMode = Literal["auto", "required", "off"]
LaunchKind = Literal["bwrap", "reaper", "plain"]

# The user's filesystem and devices as they are; a PID namespace and a /proc of its own.
BWRAP_OPTIONS = (
    "--die-with-parent", "--new-session", "--unshare-pid",
    "--bind", "/", "/", "--dev-bind", "/dev", "/dev", "--proc", "/proc",
)  # fmt: skip
PROBE_TIMEOUT_SECONDS = 10

log = logging.getLogger(__name__)

# Run by a separate interpreter (``python -I -S -c``) as: REAPER <server pid> <command...>.
# Plain text so it works from a frozen bundle too; only the standard library.
REAPER = r"""
import ctypes, os, signal, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER: the command's orphans come to us
libc.prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG: told when the server dies
if os.getppid() != int(sys.argv[1]):
    os._exit(137)  # the server died before we could be told

def descendants():
    parents = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open("/proc/" + name + "/stat", "rb") as stat:
                    parents[int(name)] = int(stat.read().rsplit(b")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                pass
    found, frontier = set(), {os.getpid()}
    while frontier:
        frontier = {pid for pid, ppid in parents.items() if ppid in frontier} - found
        found |= frontier
    return found

def end_all():
    while True:
        for pid in descendants():
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return

def on_signal(number, frame):
    end_all()
    os._exit(128 + number)

for number in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
    signal.signal(number, on_signal)
command = sys.argv[2:]
main = os.fork()
if main == 0:
    for number in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT, signal.SIGPIPE, signal.SIGXFSZ):
        signal.signal(number, signal.SIG_DFL)
    try:
        os.execvp(command[0], command)
    except OSError as error:
        os.write(2, ("%s: %s\n" % (command[0], error.strerror)).encode())
    os._exit(127)
while True:
    pid, status = os.waitpid(-1, 0)
    if pid == main:
        break
end_all()
code = os.waitstatus_to_exitcode(status)
os._exit(128 - code if code < 0 else code)  # killed by a signal: 128 + its number, as bwrap
"""


class SandboxUnavailable(Exception):
    """``sandbox: required`` but bubblewrap cannot run here; the message says why."""


@dataclass(frozen=True, slots=True)
class Launch:
    """The argv to start and how it was wrapped (which decides how it is stopped)."""

    argv: list[str]
    kind: LaunchKind


def launch(argv: Sequence[str], *, cwd: str, mode: SandboxMode) -> Launch:
    """Wrap ``argv`` for ``mode``. Blocking the first time (it probes bwrap once)."""
    if not sys.platform.startswith("linux"):
        if mode == "required":
            raise SandboxUnavailable("the tool sandbox (bubblewrap) exists only on Linux")
        return Launch(list(argv), "plain")
    if mode != "off":
        problem = bwrap_problem()
        if problem is None:
            return Launch(["bwrap", *BWRAP_OPTIONS, "--chdir", cwd, "--", *argv], "bwrap")
        if mode == "required":
            raise SandboxUnavailable(f"the tool sandbox (bubblewrap) is not available: {problem}")
    interpreter = reaper_interpreter()
    if interpreter is None:
        return Launch(list(argv), "plain")
    return Launch([interpreter, "-I", "-S", "-c", REAPER, str(os.getpid()), *argv], "reaper")


@functools.cache
def bwrap_problem() -> str | None:
    """Why bwrap cannot sandbox a command here, or None when it can. Probed once per process:
    the answer (installed, user namespaces allowed) does not change while Traymind runs."""
    problem = _probe_bwrap()
    if problem is not None:
        log.warning(
            "tool commands run without the bubblewrap sandbox (%s): they can see this machine's "
            "other processes; install bubblewrap to isolate them",
            problem,
        )
    return problem


def _probe_bwrap() -> str | None:
    path = shutil.which("bwrap")
    if path is None:
        return "bwrap is not installed"
    try:
        done = subprocess.run(
            [path, *BWRAP_OPTIONS, "--", "/bin/sh", "-c", "exit 0"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=PROBE_TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"bwrap failed to start: {error}"
    if done.returncode != 0:
        message = done.stderr.decode(errors="replace").strip() or f"exit code {done.returncode}"
        return f"bwrap does not work here: {message}"
    return None


@functools.cache
def reaper_interpreter() -> str | None:
    """A Python to run the reaper with: this one (unless frozen), else ``python3``."""
    if not getattr(sys, "frozen", False) and sys.executable:
        return sys.executable
    found = shutil.which("python3")
    if found is None:
        log.warning("no python3 found: processes a tool command leaves behind may outlive the call")
    return found
