"""Connecting a model: provider presets, listing a provider's models, writing ``models.<name>``.

Why a text edit instead of load-and-dump: PyYAML drops comments, and config.yaml is
the user's file, full of their comments. The edit finds the ``models.<name>`` entry
through PyYAML's node positions and replaces only those lines (or adds a block), so
everything else stays byte for byte; the result is validated before it is written,
and a file that does not load as it is is not touched. ``saved_default`` reads back
what was saved, so the dialog opens on it. No Qt here: the dialog calls these off the
GUI thread.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import httpx
import yaml
from yaml.nodes import MappingNode, Node, ScalarNode

from server.config import ConfigError, ModelConfig, parse_config
from server.config.yaml_file import YamlProblem, read_yaml
from server.keys.backends import KeyringUnavailable
from server.keys.provider_keys import delete_provider_key, set_provider_key
from server.providers.tls import tls_context

LIST_TIMEOUT = 5.0
KEY_NAME = "default"  # the provider key of models.default, as stored by set_provider_key
DEFAULT_MODEL = "default"  # what agents without a model of their own answer with
MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
ANTHROPIC_URL = "https://api.anthropic.com/v1"


@dataclass(frozen=True, slots=True)
class Preset:
    """A kind of provider, with what the dialog fills in for it."""

    name: str
    provider: str  # "openai" (any OpenAI-compatible server) or "anthropic"
    base_url: str | None
    key_env: str | None


PRESETS: tuple[Preset, ...] = (
    Preset("Ollama (this computer)", "openai", "http://127.0.0.1:11434/v1", None),
    Preset("LM Studio (this computer)", "openai", "http://127.0.0.1:1234/v1", None),
    Preset("OpenAI", "openai", "https://api.openai.com/v1", "OPENAI_API_KEY"),
    Preset("Anthropic", "anthropic", None, "ANTHROPIC_API_KEY"),
    Preset("Other OpenAI-compatible server", "openai", "http://127.0.0.1:8080/v1", None),
)


NOT_LOADABLE = (
    "Not saved: {name} cannot be loaded as it is, so Traymind did not write to it. Fix it "
    "first (Open config in the menu), then save again.\n{problem}"
)


class ModelSetupError(Exception):
    """Listing or saving failed; the message is a sentence for a person."""


@dataclass(frozen=True, slots=True)
class SavedModel:
    """``models.<name>`` as config.yaml holds it now: what the dialog opens on."""

    provider: str
    id: str
    base_url: str | None
    api_key_env: str | None
    api_key_keyring: str | None

    def same_place(self, provider: str, base_url: str | None) -> bool:
        """Is ``provider`` at ``base_url`` where this model is (so its stored key belongs)?"""
        return provider == self.provider and _norm_url(base_url) == _norm_url(self.base_url)


def _norm_url(url: str | None) -> str:
    return (url or "").strip().rstrip("/")


def check_loads(path: Path, text: str) -> dict[str, object]:
    """``text`` (of config file ``path``) parsed as the server loads it, else ``ConfigError``.

    The same reader and schema as the server's, so a problem reads as the status window
    tells it, never as PyYAML's own message (which quotes the line, maybe a secret).
    """
    try:
        data = read_yaml(text)
    except YamlProblem as exc:
        raise ConfigError([exc.problem], path=path) from None
    parse_config(data, source=path.name, base_dir=path.parent.resolve())
    return data if isinstance(data, dict) else {}


def model_names(path: Path) -> list[str]:
    """The named models config.yaml holds, ``default`` first (empty if it does not load)."""
    try:
        text = path.read_text(encoding="utf-8")
        config = parse_config(read_yaml(text), source=path.name, base_dir=path.parent.resolve())
    except (OSError, UnicodeDecodeError, YamlProblem, ConfigError):
        return []
    return sorted(config.models, key=lambda name: (name != DEFAULT_MODEL, name))


def key_name(model: str) -> str:
    """The name a model's typed key is stored under: the model's own name."""
    return KEY_NAME if model == DEFAULT_MODEL else model


def saved_default(path: Path, name: str = DEFAULT_MODEL) -> SavedModel | None:
    """The ``models.<name>`` config.yaml holds, or None (none, or the file is invalid)."""
    try:
        text = path.read_text(encoding="utf-8")
        config = parse_config(read_yaml(text), source=path.name, base_dir=path.parent.resolve())
    except (OSError, UnicodeDecodeError, YamlProblem, ConfigError):
        return None
    model: ModelConfig | None = config.models.get(name)
    if model is None:
        return None
    return SavedModel(
        model.provider, model.id, model.base_url, model.api_key_env, model.api_key_keyring
    )


def preset_index(saved: SavedModel) -> int:
    """The preset a saved model was made with: by provider, then by base URL; else Other."""
    for index, preset in enumerate(PRESETS):
        if preset.provider != saved.provider:
            continue
        if preset.provider == "anthropic" or _norm_url(preset.base_url) == _norm_url(
            saved.base_url
        ):
            return index
    return next(i for i, p in enumerate(PRESETS) if p.name.startswith("Other"))


def list_models(
    provider: str, base_url: str | None, key_env: str | None, key: str | None = None
) -> list[str]:
    """The model ids a provider lists (blocking). The key: ``key`` if given, else ``key_env``."""
    key = (key or "").strip()
    if not key and key_env:
        key = os.environ.get(key_env, "").strip()
    if key_env and not key:
        raise ModelSetupError(
            f"{key_env} is not set: put the key in the environment or in the .env file "
            "beside config.yaml, then test again."
        )
    if provider == "anthropic":
        url = (base_url or ANTHROPIC_URL).rstrip("/") + "/models"
        headers = {"x-api-key": key, "anthropic-version": "2023-06-01"}
    else:
        if not base_url:
            raise ModelSetupError("Give the server's base URL, e.g. http://127.0.0.1:11434/v1.")
        url = base_url.rstrip("/") + "/models"
        headers = {"Authorization": f"Bearer {key}"} if key else {}
    try:
        response = httpx.get(
            url, headers=headers, timeout=LIST_TIMEOUT, trust_env=False, verify=tls_context()
        )
    except httpx.HTTPError as exc:
        raise ModelSetupError(f"{url} does not answer ({type(exc).__name__}).") from None
    if response.status_code in (401, 403):
        raise ModelSetupError(f"{url} refused the key (HTTP {response.status_code}).")
    if response.status_code == 404 and provider != "anthropic" and base_url:
        root = base_url.rstrip("/")
        if not root.endswith("/v1"):
            raise ModelSetupError(
                f"{url} answered HTTP 404. OpenAI-compatible servers serve their API under "
                f"/v1: try {root}/v1 as the base URL."
            )
    if response.status_code != 200:
        raise ModelSetupError(f"{url} answered HTTP {response.status_code}.")
    try:
        data = response.json().get("data") or []
    except (ValueError, AttributeError):
        raise ModelSetupError(f"{url} did not answer with a model list.") from None
    ids = [m.get("id") for m in data if isinstance(m, dict)]
    return [i for i in ids if isinstance(i, str)]


def default_entry(
    provider: str,
    base_url: str | None,
    model_id: str,
    key_env: str | None,
    key_keyring: str | None = None,
) -> dict[str, str]:
    """A ``models.<name>`` mapping: provider, id, and base URL / where the key is, if any.

    A stored key (``key_keyring``) replaces the key variable: the variable would win.
    """
    entry = {"provider": provider, "id": model_id}
    if base_url and provider == "openai":
        entry["base_url"] = base_url
    if key_keyring:
        entry["api_key_keyring"] = key_keyring
    elif key_env:
        entry["api_key_env"] = key_env
    return entry


def _entry_lines(name: str, entry: dict[str, str], indent: int) -> list[str]:
    text = yaml.safe_dump({name: entry}, sort_keys=False, default_flow_style=False)
    return [" " * indent + line + "\n" for line in text.splitlines()]


def _get(mapping: MappingNode, key: str) -> tuple[Node, Node] | None:
    for k, v in mapping.value:
        if isinstance(k, ScalarNode) and k.value == key:
            return k, v
    return None


def _last_line(node: Node) -> int:
    """The index of the last line holding part of ``node`` (its scalars end exactly)."""
    if isinstance(node, ScalarNode):
        end = node.end_mark
        return end.line if end.column > 0 else end.line - 1
    children = [c for pair in node.value for c in pair] if isinstance(node, MappingNode) else []
    if not children and hasattr(node, "value") and isinstance(node.value, list):
        children = list(node.value)
    return max((_last_line(c) for c in children), default=node.start_mark.line)


def with_default_model(text: str, entry: dict[str, str], name: str = DEFAULT_MODEL) -> str:
    """``text`` with ``models.<name>`` set to ``entry``; every other line is kept."""
    try:
        read_yaml(text)
        root = yaml.compose(text)
    except YamlProblem as exc:
        problem = ConfigError([exc.problem])
        raise ModelSetupError(NOT_LOADABLE.format(name="config.yaml", problem=problem)) from None
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    if root is not None and not isinstance(root, MappingNode):
        raise ModelSetupError("config.yaml does not hold a mapping; fix it first.")
    found = _get(root, "models") if root is not None else None
    if found is None:
        block = ["\n", "# Written by Traymind's Models… window.\n", "models:\n"]
        return "".join(lines + block + _entry_lines(name, entry, 2))
    key, models = found
    if isinstance(models, ScalarNode) and models.tag.endswith(":null"):
        at = key.start_mark.line
        lines[at : at + 1] = ["models:\n", *_entry_lines(name, entry, 2)]
        return "".join(lines)
    if not isinstance(models, MappingNode) or models.flow_style:
        raise ModelSetupError(
            f"models: in config.yaml is not a block mapping; set models.{name} by hand."
        )
    existing = _get(models, name)
    if existing is not None:
        model_key, value = existing
        start, end = model_key.start_mark.line, _last_line(value)
        lines[start : end + 1] = _entry_lines(name, entry, model_key.start_mark.column)
    elif name == DEFAULT_MODEL or not models.value:
        indent = models.value[0][0].start_mark.column if models.value else 2
        at = key.start_mark.line + 1
        lines[at:at] = _entry_lines(name, entry, indent)
    else:  # a new named model goes after the last one
        indent = models.value[0][0].start_mark.column
        at = _last_line(models.value[-1][1]) + 1
        lines[at:at] = _entry_lines(name, entry, indent)
    return "".join(lines)


def save_default_model(
    path: Path,
    entry: dict[str, str],
    key: str | None = None,
    backend: str | None = None,
    data_dir: Path | None = None,
    name: str = DEFAULT_MODEL,
) -> bool:
    """Write ``models.<name>`` into the config file, only if the result is a valid config.

    A config file that does not load as it is is left alone (``ModelSetupError`` with the
    server's own description of the problem). With ``key``, the key is first stored
    (``set_provider_key`` under the entry's ``api_key_keyring``, in the OS keyring or, for
    backend ``file``, the data dir) and only its name is written; ``KeyringUnavailable``
    leaves config.yaml untouched. The key this dialog stored for the model (``key_name``)
    is forgotten once nothing in the file names it any more: True when that happened.
    """
    text = path.read_text(encoding="utf-8")
    try:
        before = check_loads(path, text)
    except ConfigError as exc:
        raise ModelSetupError(NOT_LOADABLE.format(name=path.name, problem=exc)) from None
    updated = with_default_model(text, entry, name)
    after = check_loads(path, updated)
    if key:
        stored_as = entry.get("api_key_keyring")
        if not stored_as:
            raise ModelSetupError("a typed key needs api_key_keyring in the entry")
        set_provider_key(stored_as, key, backend, data_dir)
    fd, tmp = tempfile.mkstemp(prefix=".config-", suffix=".yaml", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(updated)
        os.chmod(tmp, path.stat().st_mode & 0o777)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    stored = key_name(name)
    if not names_key(before, stored) or names_key(after, stored):
        return False
    try:
        delete_provider_key(stored, backend, data_dir)
    except (KeyringUnavailable, OSError, ValueError):
        return False  # config.yaml no longer uses it; a key left behind is only untidy
    return True


def names_key(data: object, name: str) -> bool:
    """Does any ``api_key_keyring`` in the parsed config name the stored key ``name``?"""
    if isinstance(data, dict):
        return data.get("api_key_keyring") == name or any(
            names_key(value, name) for value in data.values()
        )
    if isinstance(data, list):
        return any(names_key(value, name) for value in data)
    return False
