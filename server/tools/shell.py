"""The ``shell`` tool: run one shell command in a configured folder, time- and output-capped.

Off unless an agent lists it. The command is the tool call's only argument, so
the tool events in the chat show exactly what ran; the server log records it
too. The command runs with the user's rights and a small environment; on
Linux inside bubblewrap (its own PID namespace and ``/proc``, so it cannot read
the server's memory or environment), see ``sandbox``. Everything it started,
``setsid`` included, is killed when it finishes, runs out of time, or the server dies.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, field_validator

from server.tools._process import child_environment, run_process
from server.tools.sandbox import SandboxMode, SandboxUnavailable

if TYPE_CHECKING:
    from pydantic_ai import Tool

SUMMARY = "Runs a shell command in a configured folder, with a time limit and an output cap."

log = logging.getLogger(__name__)


class Options(BaseModel):
    """``shell`` options."""

    model_config = ConfigDict(extra="forbid")

    cwd: str = "~"
    """The folder commands run in (absolute or ``~/...``)."""
    timeout_seconds: float = Field(default=60, gt=0, le=3600)
    """Commands still running after this long are killed."""
    max_output_chars: int = Field(default=20_000, gt=0)
    """Output beyond this many characters is cut (and counted)."""
    env: dict[str, str] = {}
    """Extra environment variables for commands."""
    sandbox: SandboxMode = "auto"
    """Linux: run in the bubblewrap sandbox (``auto``: when it works; ``required``: or refuse)."""

    @field_validator("cwd")
    @classmethod
    def _absolute(cls, cwd: str) -> str:
        if not (os.path.isabs(cwd) or cwd.startswith("~")):
            raise ValueError(f"'{cwd}' must be an absolute path or start with ~")
        return cwd


class ShellTool:
    """``run_shell`` bound to one agent's options."""

    def __init__(self, options: Options) -> None:
        self.options = options
        self.cwd = os.path.expanduser(options.cwd)

    async def run_shell(self, command: str) -> str:
        """Run a shell command and return its output (stdout and stderr) and exit code.

        Args:
            command: The command line, run by the system shell (sh on Linux and macOS).
        """
        if not command.strip():
            return "Error: the command is empty"
        if not os.path.isdir(self.cwd):
            return f"Error: the working folder {self.cwd} does not exist"
        log.info("run_shell in %s: %s", self.cwd, command)
        try:
            result = await run_process(
                command,
                cwd=self.cwd,
                env=child_environment(self.options.env),
                timeout_seconds=self.options.timeout_seconds,
                max_output_chars=self.options.max_output_chars,
                sandbox=self.options.sandbox,
            )
        except SandboxUnavailable as error:
            return f"Error: not run: {error}"
        return result.report(self.options.timeout_seconds)


def build(options: Options) -> list[Tool]:
    from pydantic_ai import Tool

    shell = ShellTool(options)
    description = (
        f"Run a shell command in {shell.cwd} and return its output and exit code. "
        f"Commands are stopped after {options.timeout_seconds:g} seconds; "
        "they cannot read input."
    )
    return [Tool(shell.run_shell, name="run_shell", takes_ctx=False, description=description)]
