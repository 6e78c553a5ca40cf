"""Connecting a model: provider presets, listing a provider's models, writing ``models.default``.

Why a text edit instead of load-and-dump: PyYAML drops comments, and config.yaml is
the user's file, full of their comments. The edit finds the ``models.default`` entry
through PyYAML's node positions and replaces only those lines (or adds a block), so
everything else stays byte for byte; the result is validated before it is written.
No Qt here: the dialog calls these off the GUI thread.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import httpx
import yaml
from yaml.nodes import MappingNode, Node, ScalarNode

from server.config import parse_config
from server.keys.provider_keys import set_provider_key

LIST_TIMEOUT = 5.0
KEY_NAME = "default"  # the provider key of models.default, as stored by set_provider_key
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


class ModelSetupError(Exception):
    """Listing or saving failed; the message is a sentence for a person."""


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
        response = httpx.get(url, headers=headers, timeout=LIST_TIMEOUT, trust_env=False)
    except httpx.HTTPError as exc:
        raise ModelSetupError(f"{url} does not answer ({type(exc).__name__}).") from None
    if response.status_code in (401, 403):
        raise ModelSetupError(f"{url} refused the key (HTTP {response.status_code}).")
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
    """The ``models.default`` mapping: provider, id, and base URL / where the key is, if any.

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


def _entry_lines(entry: dict[str, str], indent: int) -> list[str]:
    text = yaml.safe_dump({"default": entry}, sort_keys=False, default_flow_style=False)
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


def with_default_model(text: str, entry: dict[str, str]) -> str:
    """``text`` with ``models.default`` set to ``entry``; every other line is kept."""
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        raise ModelSetupError(f"config.yaml is not valid YAML; fix it first ({exc}).") from None
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    if root is not None and not isinstance(root, MappingNode):
        raise ModelSetupError("config.yaml does not hold a mapping; fix it first.")
    found = _get(root, "models") if root is not None else None
    if found is None:
        block = ["\n", "# Written by Traymind's Models… window.\n", "models:\n"]
        return "".join(lines + block + _entry_lines(entry, 2))
    key, models = found
    if isinstance(models, ScalarNode) and models.tag.endswith(":null"):
        at = key.start_mark.line
        lines[at : at + 1] = ["models:\n", *_entry_lines(entry, 2)]
        return "".join(lines)
    if not isinstance(models, MappingNode) or models.flow_style:
        raise ModelSetupError(
            "models: in config.yaml is not a block mapping; set models.default by hand."
        )
    existing = _get(models, "default")
    if existing is not None:
        default_key, value = existing
        start, end = default_key.start_mark.line, _last_line(value)
        lines[start : end + 1] = _entry_lines(entry, default_key.start_mark.column)
    else:
        indent = models.value[0][0].start_mark.column if models.value else 2
        at = key.start_mark.line + 1
        lines[at:at] = _entry_lines(entry, indent)
    return "".join(lines)


def save_default_model(
    path: Path,
    entry: dict[str, str],
    key: str | None = None,
    backend: str | None = None,
    data_dir: Path | None = None,
) -> None:
    """Write ``models.default`` into the config file, only if the result is a valid config.

    With ``key``, the key is first stored (``set_provider_key`` under the entry's
    ``api_key_keyring``, in the OS keyring or, for backend ``file``, the data dir) and
    only its name is written; ``KeyringUnavailable`` leaves config.yaml untouched.
    """
    text = path.read_text(encoding="utf-8")
    updated = with_default_model(text, entry)
    parse_config(yaml.safe_load(updated), source=path.name, base_dir=path.parent)
    if key:
        name = entry.get("api_key_keyring")
        if not name:
            raise ModelSetupError("a typed key needs api_key_keyring in the entry")
        set_provider_key(name, key, backend, data_dir)
    fd, tmp = tempfile.mkstemp(prefix=".config-", suffix=".yaml", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(updated)
        os.chmod(tmp, path.stat().st_mode & 0o777)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
