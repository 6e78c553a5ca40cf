"""Which config.yaml to use, and a friendly default one on first run."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from server.paths import resource, user_config_dir

CONFIG_NAME = "config.yaml"
ENV_VAR = "TRAYMIND_CONFIG"


def existing_config(cli_value: str | None) -> Path | None:
    """The config ``locate_config`` would use, without installing the default one: None
    when no config file exists yet (commands that only read it need not make one)."""
    path = locate_config(cli_value) if cli_value or os.environ.get(ENV_VAR) else None
    if path is None:
        for candidate in (Path.cwd() / CONFIG_NAME, user_config_dir() / CONFIG_NAME):
            if candidate.is_file():
                return candidate.resolve()
        return None
    return path if path.is_file() else None


def locate_config(cli_value: str | None) -> Path:
    """``--config``, else ``$TRAYMIND_CONFIG``, else ``./config.yaml`` if present, else the
    user config dir's ``config.yaml`` (created from the bundled default when missing).

    An explicitly named file is returned as is, even if missing: loading it then
    reports the mistake instead of quietly using another config.
    """
    if cli_value:
        return Path(cli_value).expanduser().resolve()
    env_value = os.environ.get(ENV_VAR)
    if env_value:
        return Path(env_value).expanduser().resolve()
    local = Path.cwd() / CONFIG_NAME
    if local.is_file():
        return local.resolve()
    user_file = user_config_dir() / CONFIG_NAME
    if not user_file.exists():
        _install_default(user_file)
    return user_file


def _install_default(target: Path) -> None:
    """Copy the default config to ``target`` atomically, so a crash leaves no half file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".config-", suffix=".yaml")
    os.close(handle)
    try:
        shutil.copyfile(resource("default-config.yaml"), temporary)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
