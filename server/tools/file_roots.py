"""``Roots``: the folders a ``files`` tool may touch, and the check that keeps it there.

Every path a model names is resolved the way the operating system would follow
it (``..`` applied, every symlink followed) and accepted only when the result
lies inside one of the roots, itself resolved the same way. A symlink inside a
root that points outside it is therefore refused like ``../`` is. Files are
then opened with ``O_NOFOLLOW``, so the last component cannot be swapped for a
symlink between the check and the open.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

NO_FOLLOW = getattr(os, "O_NOFOLLOW", 0)  # not on Windows, where symlinks need privileges


class OutsideRoots(ValueError):
    """A path that resolves outside every root (or cannot be resolved)."""


class Roots:
    """Resolved root folders; relative paths start at the first one."""

    def __init__(self, roots: Sequence[str]) -> None:
        if not roots:
            raise ValueError("at least one root is needed")
        self.paths: tuple[Path, ...] = tuple(
            Path(os.path.realpath(os.path.expanduser(root))) for root in roots
        )

    @property
    def first(self) -> Path:
        return self.paths[0]

    def describe(self) -> str:
        """The roots as a model should read them."""
        listed = ", ".join(str(path) for path in self.paths)
        return f"Allowed folders: {listed}. Relative paths start at {self.first}."

    def resolve(self, path: str) -> Path:
        """The real path of ``path``; ``OutsideRoots`` unless it lies inside a root."""
        text = path.strip() or "."
        if "\0" in text:
            raise OutsideRoots(f"'{path}' is not a valid path")
        expanded = os.path.expanduser(text)
        candidate = Path(expanded) if os.path.isabs(expanded) else self.first / expanded
        real = Path(os.path.realpath(candidate))
        if self.contains(real):
            return real
        raise OutsideRoots(f"'{path}' is outside the allowed folders")

    def contains(self, real: Path) -> bool:
        """Whether the already resolved ``real`` lies in (or is) a root."""
        return any(real == root or real.is_relative_to(root) for root in self.paths)

    def display(self, real: Path) -> str:
        """How to show ``real`` to the model: relative to the first root, else absolute."""
        if real == self.first:
            return "."
        if real.is_relative_to(self.first):
            return real.relative_to(self.first).as_posix()
        return str(real)

    def inside(self, entry: Path) -> bool:
        """Whether an entry found while walking (maybe a symlink) resolves inside a root."""
        return self.contains(Path(os.path.realpath(entry)))
