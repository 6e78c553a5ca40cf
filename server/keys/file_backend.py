"""Client key hashes in ``keys.secret.json`` (0600): the explicit, non-keyring fallback."""

from __future__ import annotations

from pathlib import Path

from server.keys.backends import ENV_VAR, SECRET_FILE
from server.keys.files import read_private_json, write_json_atomic


class FileSecrets:
    """Hash records by key id, in one 0600 JSON file of the data dir."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / SECRET_FILE

    def _load(self) -> dict[str, str]:
        doc = read_private_json(self.path)
        if doc is None:
            return {}
        hashes = doc.get("hashes")
        return dict(hashes) if isinstance(hashes, dict) else {}

    def _save(self, hashes: dict[str, str]) -> None:
        doc = {
            "warning": (
                "NOT the OS keyring: salted HMAC-SHA256 hashes of Traymind client keys, "
                f"used because --keystore file or {ENV_VAR}=file was chosen. "
                "The keys themselves are not stored. Keep this file private (0600)."
            ),
            "version": 1,
            "hashes": hashes,
        }
        write_json_atomic(self.path, doc)

    def get(self, key_id: str) -> str | None:
        return self._load().get(key_id)

    def set(self, key_id: str, record: str) -> None:
        hashes = self._load()
        hashes[key_id] = record
        self._save(hashes)

    def delete(self, key_id: str) -> None:
        hashes = self._load()
        if hashes.pop(key_id, None) is not None:
            self._save(hashes)

    def describe(self) -> str:
        return f"file {SECRET_FILE} in {self.path.parent} (not the OS keyring)"
