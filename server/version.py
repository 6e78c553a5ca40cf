"""Traymind's version and license, read once from the installed package's metadata.

pyproject.toml is the one place they are written. An installed Traymind (pip, an
editable checkout) has its metadata; a checkout run without installing reads
pyproject.toml itself; a frozen bundle has the metadata only if the build copies it
(``copy_metadata("traymind")`` in build.spec), else the version says it is unknown.
"""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import metadata
from pathlib import Path

DISTRIBUTION = "traymind"
UNKNOWN = "unknown"
PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


@cache
def _project() -> dict[str, object]:
    """``[project]`` of the checkout's pyproject.toml, or empty (installed, or frozen)."""
    try:
        return dict(tomllib.loads(PYPROJECT.read_text(encoding="utf-8")).get("project") or {})
    except (OSError, ValueError):
        return {}


@cache
def version() -> str:
    """``0.1.0``: the package's version, or ``unknown`` when nothing says it."""
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return str(_project().get("version") or UNKNOWN)


@cache
def license_name() -> str:
    """``MIT``: the license the package declares."""
    try:
        declared = metadata.metadata(DISTRIBUTION).get("License")
    except metadata.PackageNotFoundError:
        declared = None
    if not declared:
        license_field = _project().get("license")
        declared = license_field.get("text") if isinstance(license_field, dict) else None
    return str(declared).splitlines()[0] if declared else UNKNOWN
