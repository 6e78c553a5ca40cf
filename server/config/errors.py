"""``ConfigError``: everything wrong with a config file, one human line per problem.

Messages name the file, the dotted key path and what is wrong, and never the
offending value itself: a misplaced API key must not end up in a log.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    """One problem: where (``agents.general.model``, or "" for the whole file) and what."""

    key_path: str
    message: str

    def line(self, source: str) -> str:
        where = f"{source}: {self.key_path}" if self.key_path else source
        return f"{where}: {self.message}"


class ConfigError(Exception):
    """A config file that cannot be used; ``str()`` is ready to show to the user."""

    def __init__(
        self,
        problems: Sequence[ConfigProblem],
        *,
        path: Path | None = None,
        source: str | None = None,
    ) -> None:
        self.path = path
        self.source = source or (path.name if path else "config.yaml")
        self.problems = list(problems)
        super().__init__("\n".join(problem.line(self.source) for problem in self.problems))


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` for the closest candidate, or ``""``."""
    close = difflib.get_close_matches(word, list(candidates), n=1)
    return f"; did you mean '{close[0]}'?" if close else ""


def join_path(parts: Iterable[str | int]) -> str:
    """``("agents", "general", "tools", 0)`` -> ``agents.general.tools[0]``."""
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text
