"""The tray app's own settings: declared once, saved as JSON, merged under the command line.

Why a JSON file and not QSettings: the file sits beside config.yaml in the user
config folder, a person can read it, and tests point the app at a temporary one
through the constructor. Each field carries its label and help text, so the
Settings dialog and docs/tray.md describe the same things (a test keeps them so).

Precedence for each server setting: a command-line option, then the environment
variable ``traymind serve`` reads, then the value saved here, then the default.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from server.paths import user_config_dir
from server.runner import (
    DEFAULT_HOST,
    DEFAULT_PORT,
    PortInUse,
    ServeOptions,
    StartupError,
    bind_socket,
)
from server.security.auth import env_flag
from server.security.host_guard import is_loopback_host

log = logging.getLogger(__name__)

SETTINGS_FILE = "tray-settings.json"
ALL_INTERFACES = "0.0.0.0"


def _setting(default: Any, label: str, help_text: str) -> Any:
    return field(default=default, metadata={"label": label, "help": help_text})


@dataclass(slots=True)
class Settings:
    """What the tray remembers between runs; every field is a user-visible setting."""

    port: int = _setting(DEFAULT_PORT, "Port", "The port the API listens on (1-65535).")
    host: str = _setting(
        DEFAULT_HOST,
        "Listen address",
        "127.0.0.1 (this computer only) or 0.0.0.0 (all interfaces: other machines and "
        "Docker containers can connect, and every request needs an API key).",
    )
    allow_unauthenticated: bool = _setting(
        False,
        "Allow unauthenticated local access",
        "Let programs on this computer call the API without a key (loopback only).",
    )
    start_at_login: bool = _setting(
        False, "Start at login", "Start Traymind when you log in (an XDG autostart entry on Linux)."
    )
    config_path: str = _setting(
        "", "Config file", "The config.yaml to use; empty means the usual place."
    )
    keystore_file: bool = _setting(
        False,
        "Keep key hashes in a file instead of the OS keyring",
        "The documented fallback where no OS keyring works: a 0600 file in the data folder.",
    )
    welcome_completed: bool = _setting(
        False,
        "Welcome completed",
        "The welcome window was finished, so it no longer opens at start (Welcome… reopens it).",
    )

    @classmethod
    def describe(cls) -> list[tuple[str, str, str]]:
        """(name, label, help) of every setting, for the dialog and the docs."""
        return [(f.name, f.metadata["label"], f.metadata["help"]) for f in fields(cls)]


def listen_problem(host: str, port: int) -> str | None:
    """Why Traymind could not listen on ``host:port`` now (a sentence), or None if it can."""
    try:
        bind_socket(host, port).close()
    except PortInUse:
        return (
            f"Port {port} on {host} is already in use by another program: choose another "
            "port. Nothing was changed; Traymind keeps serving where it is."
        )
    except StartupError as exc:
        return f"{exc} Nothing was changed."
    return None


def default_settings_path() -> Path:
    return user_config_dir() / SETTINGS_FILE


class SettingsFile:
    """One settings file: a broken or missing file reads as the defaults, with a log line."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> Settings:
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return Settings()
        except (OSError, ValueError) as exc:
            log.warning("ignoring unreadable settings file %s: %s", self.path, exc)
            return Settings()
        if not isinstance(raw, dict):
            log.warning("ignoring settings file %s: not a JSON object", self.path)
            return Settings()
        defaults = Settings()
        values: dict[str, Any] = {}
        for f in fields(Settings):
            value = raw.get(f.name, getattr(defaults, f.name))
            wanted = type(getattr(defaults, f.name))
            if isinstance(value, wanted) and not (wanted is int and isinstance(value, bool)):
                values[f.name] = value
            else:
                log.warning("ignoring setting %s in %s: not a %s", f.name, self.path, wanted)
        return Settings(**values)

    def save(self, settings: Settings) -> None:
        """Atomic write, so a crash never leaves half a file."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".settings-", suffix=".json", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(asdict(settings), fh, indent=2)
                fh.write("\n")
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise


@dataclass(frozen=True, slots=True)
class EffectiveOptions:
    """The options the server runs with, and which settings something else decided."""

    options: ServeOptions
    overridden: dict[str, str]  # setting name -> what overrides it, for tooltips


def effective_options(
    cli: ServeOptions, settings: Settings, environ: dict[str, str] | os._Environ[str]
) -> EffectiveOptions:
    """Merge command line, environment and saved settings (in that order of precedence).

    ``app.cli`` fills the defaults for ``--host``/``--port`` when they are not given,
    so a value equal to the default counts as not given.
    """
    overridden: dict[str, str] = {}
    options = replace(cli)
    if cli.host != DEFAULT_HOST:
        overridden["host"] = "--host on the command line"
    else:
        options.host = settings.host
    if cli.port != DEFAULT_PORT:
        overridden["port"] = "--port on the command line"
    else:
        options.port = settings.port
    if cli.config:
        overridden["config_path"] = "--config on the command line"
    elif environ.get("TRAYMIND_CONFIG"):
        overridden["config_path"] = "the TRAYMIND_CONFIG environment variable"
    elif settings.config_path:
        options.config = settings.config_path
    if cli.keystore:
        overridden["keystore_file"] = "--keystore on the command line"
    elif environ.get("TRAYMIND_KEYSTORE"):
        overridden["keystore_file"] = "the TRAYMIND_KEYSTORE environment variable"
    elif settings.keystore_file:
        options.keystore = "file"
    env_allow = environ.get("OPENAI_COMPAT_ALLOW_UNAUTHENTICATED", "").strip()
    if cli.allow_unauthenticated is not None:
        overridden["allow_unauthenticated"] = "the command line"
    elif env_allow:
        overridden["allow_unauthenticated"] = (
            "OPENAI_COMPAT_ALLOW_UNAUTHENTICATED (at start; the menu still switches it)"
        )
        options.allow_unauthenticated = env_flag(env_allow)
    else:
        options.allow_unauthenticated = settings.allow_unauthenticated
    if not is_loopback_host(options.host):
        options.allow_unauthenticated = False
    return EffectiveOptions(options, overridden)
