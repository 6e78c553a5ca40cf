"""Loading config.yaml: read, accept MindRoom configs, validate, explain every problem."""

from __future__ import annotations

from pathlib import Path

from dotenv import load_dotenv
from pydantic import ValidationError

from server.config.errors import ConfigError, ConfigProblem
from server.config.mindroom import strip_mindroom
from server.config.schema import Config
from server.config.translate import problems_from
from server.config.yaml_file import YamlProblem, read_yaml


def load_config(path: Path) -> Config:
    """The config in ``path``; raises ``ConfigError`` listing everything wrong with it.

    A ``.env`` file beside the config is loaded into the environment first, without
    overriding variables that are already set, so ``api_key_env`` names resolve.
    """
    path = Path(path).expanduser()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise _file_error(path, "the file does not exist") from None
    except IsADirectoryError:
        raise _file_error(path, "this is a folder, not a file") from None
    except UnicodeDecodeError:
        raise _file_error(path, "the file is not UTF-8 text") from None
    except OSError as exc:
        raise _file_error(path, f"cannot read the file ({exc.strerror or exc})") from None
    env_file = path.parent / ".env"
    if env_file.is_file():
        load_dotenv(env_file, override=False)
    try:
        data = read_yaml(text)
    except YamlProblem as exc:
        raise ConfigError([exc.problem], path=path) from None
    config = _validate(data, source=path.name, base_dir=path.parent.resolve(), path=path)
    config.source_path = path.resolve()
    return config


def parse_config(
    data: object, *, source: str = "config.yaml", base_dir: Path | None = None
) -> Config:
    """The config in already-parsed YAML ``data`` (``None`` is an empty config).

    ``source`` names the file in messages; relative knowledge base paths are resolved
    against ``base_dir`` when it is given.
    """
    return _validate(data, source=source, base_dir=base_dir, path=None)


def _validate(data: object, *, source: str, base_dir: Path | None, path: Path | None) -> Config:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        problem = ConfigProblem(
            "",
            f"the top level must be a mapping of sections (agents:, models:, ...), "
            f"not {_kind(data)}",
        )
        raise ConfigError([problem], path=path, source=source)
    cleaned, warnings = strip_mindroom(data, source)
    try:
        config = Config.model_validate(cleaned, context={"base_dir": base_dir})
    except ValidationError as exc:
        raise ConfigError(problems_from(exc), path=path, source=source) from None
    config.warnings = warnings
    return config


def _file_error(path: Path, message: str) -> ConfigError:
    return ConfigError([ConfigProblem("", f"{message}: {path}")], path=path)


def _kind(data: object) -> str:
    if isinstance(data, list):
        return "a list"
    if isinstance(data, str):
        return "text"
    return f"a {type(data).__name__}"
