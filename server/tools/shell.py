"""The ``shell`` tool: run one shell command in a configured folder, time- and output-capped.

Off unless an agent lists it. The command is the tool call's only argument, so
the tool events in the chat show exactly what ran; the server log records it
too. The command runs with the user's rights (this is not a sandbox), in its
own process group with a small environment (see ``_process``), and everything
it started is killed when it finishes or runs out of time.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, field_validator

from server.tools._process import child_environment, run_process

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
        result = await run_process(
            command,
            cwd=self.cwd,
            env=child_environment(self.options.env),
            timeout_seconds=self.options.timeout_seconds,
            max_output_chars=self.options.max_output_chars,
        )
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
