"""The ``python`` tool: run a Python snippet in a separate interpreter, time- and output-capped.

Never ``exec`` in the server's process: the snippet is written to a file in a
fresh temporary folder and run by another interpreter in isolated mode
(``-I``: no user site-packages, no ``PYTHON*`` variables) with a small
environment, on Linux inside bubblewrap like ``shell`` (see ``sandbox``). The
snippet keeps the user's rights on files. Nothing it starts outlives the call.
The folder is removed afterwards.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, field_validator

from server.tools._process import child_environment, run_process
from server.tools.sandbox import SandboxMode, SandboxUnavailable

if TYPE_CHECKING:
    from pydantic_ai import Tool

SUMMARY = "Runs a Python snippet in a separate interpreter, with a time limit and an output cap."

SNIPPET_NAME = "snippet.py"


class Options(BaseModel):
    """``python`` options."""

    model_config = ConfigDict(extra="forbid")

    interpreter: str | None = None
    """The Python to run snippets with; default: the one running Traymind (or ``python3``)."""
    cwd: str | None = None
    """The folder snippets run in (absolute or ``~/...``); default: a fresh temporary folder."""
    timeout_seconds: float = Field(default=30, gt=0, le=3600)
    """Snippets still running after this long are killed."""
    max_output_chars: int = Field(default=20_000, gt=0)
    """Output beyond this many characters is cut (and counted)."""
    sandbox: SandboxMode = "auto"
    """Linux: run in the bubblewrap sandbox (``auto``: when it works; ``required``: or refuse)."""

    @field_validator("cwd")
    @classmethod
    def _absolute(cls, cwd: str | None) -> str | None:
        if cwd is not None and not (os.path.isabs(cwd) or cwd.startswith("~")):
            raise ValueError(f"'{cwd}' must be an absolute path or start with ~")
        return cwd


def find_interpreter(configured: str | None) -> str | None:
    """The interpreter to use: the configured one, else this one (unless frozen), else python3."""
    if configured:
        return shutil.which(os.path.expanduser(configured))
    if not getattr(sys, "frozen", False) and sys.executable:
        return sys.executable
    return shutil.which("python3") or shutil.which("python")


class PythonTool:
    """``run_python`` bound to one agent's options."""

    def __init__(self, options: Options) -> None:
        self.options = options

    async def run_python(self, code: str) -> str:
        """Run a Python 3 program and return what it printed (stdout and stderr) and its exit code.

        Args:
            code: The complete program. Print the results you need; nothing else is returned.
        """
        interpreter = find_interpreter(self.options.interpreter)
        if interpreter is None:
            return "Error: no Python interpreter was found on this machine"
        with tempfile.TemporaryDirectory(prefix="traymind-python-") as folder:
            script = os.path.join(folder, SNIPPET_NAME)
            with open(script, "w", encoding="utf-8") as handle:
                handle.write(code)
            cwd = os.path.expanduser(self.options.cwd) if self.options.cwd else folder
            if not os.path.isdir(cwd):
                return f"Error: the working folder {cwd} does not exist"
            try:
                result = await run_process(
                    [interpreter, "-I", "-B", script],
                    cwd=cwd,
                    env=child_environment(),
                    timeout_seconds=self.options.timeout_seconds,
                    max_output_chars=self.options.max_output_chars,
                    sandbox=self.options.sandbox,
                )
            except SandboxUnavailable as error:
                return f"Error: not run: {error}"
        return result.report(self.options.timeout_seconds)


def build(options: Options) -> list[Tool]:
    from pydantic_ai import Tool

    tool = PythonTool(options)
    description = (
        "Run a Python 3 program in a separate process and return its printed output and exit "
        f"code. It is stopped after {options.timeout_seconds:g} seconds and cannot read input."
    )
    return [Tool(tool.run_python, name="run_python", takes_ctx=False, description=description)]
