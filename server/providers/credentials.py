"""The API key Traymind sends to a model's provider.

A model names where its key is, never the key: ``api_key_env`` (an environment
variable, or the ``.env`` file beside config.yaml) wins when that variable is set
and non-empty; else ``api_key_keyring`` names a key stored with
``server.keys.provider_keys.set_provider_key`` (the OS keyring, or
``provider-keys.json`` when ``TRAYMIND_KEYSTORE=file``). The key is never logged.

Both chat paths resolve a model's key once per config generation, when they build
its client, never per request on the event loop (a keyring read is a D-Bus call).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from server.config.schema import ModelConfig
from server.keys.backends import KeyStoreError
from server.keys.provider_keys import get_provider_key

log = logging.getLogger(__name__)


def resolve_api_key(model: ModelConfig, data_dir: Path | None = None) -> str:
    """The model's provider key, or "" when none is configured or found.

    ``data_dir`` only matters for the file backend (default: ``$TRAYMIND_DATA_DIR``,
    else the user data dir); the backend comes from ``$TRAYMIND_KEYSTORE``.
    """
    if model.api_key_env:
        key = os.environ.get(model.api_key_env, "").strip()
        if key:
            return key
    if model.api_key_keyring:
        try:
            key = get_provider_key(model.api_key_keyring, None, data_dir) or ""
        except (KeyStoreError, ValueError) as exc:  # messages never contain a key
            log.warning("cannot read provider key %r: %s", model.api_key_keyring, exc)
            return ""
        if not key:
            log.warning("no provider key named %r is stored", model.api_key_keyring)
        return key
    return ""
