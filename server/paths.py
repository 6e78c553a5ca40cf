"""Where Traymind finds its resources, config and data, from source or a frozen bundle."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import platformdirs

APP_NAME = "traymind"


def resources_dir() -> Path:
    """The ``resources/`` folder: beside the packages in a checkout, in ``_MEIPASS`` when frozen."""
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        return Path(bundle) / "resources"
    return Path(__file__).resolve().parent.parent / "resources"


def resource(name: str) -> Path:
    """One file under ``resources/``."""
    return resources_dir() / name


def user_config_dir() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))


def user_log_dir() -> Path:
    return Path(platformdirs.user_log_dir(APP_NAME, appauthor=False))


def resolve_data_dir(cli_value: str | None) -> Path:
    """``--data-dir``, else ``$TRAYMIND_DATA_DIR``, else the user data dir."""
    if cli_value:
        return Path(cli_value).expanduser().resolve()
    env = os.environ.get("TRAYMIND_DATA_DIR")
    if env:
        return Path(env).expanduser().resolve()
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
